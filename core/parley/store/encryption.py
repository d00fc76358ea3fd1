"""Encrypted column types and the store's key check.

Columns holding personal data use :class:`EncryptedText` or
:class:`EncryptedJSON`. They encrypt on write and decrypt on read with the
:class:`~parley.crypto.StoreCipher` that the store attaches to its engines'
dialects, so every query through the schema's tables is covered. A value is
bound to its ``table.column`` as associated data.

Encrypted columns cannot be compared in SQL, because every write uses a new
nonce. Values the store looks up have a ``*_hash`` column beside them, filled
with :meth:`~parley.crypto.LookupHasher.digest`.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Dialect, Text, insert, inspect, select
from sqlalchemy.types import TypeDecorator

from parley.crypto import (
    DecryptionError,
    Keyring,
    StoreCipher,
    new_hash_key,
    unwrap_hash_key,
)
from parley.errors import StoreError

logger = logging.getLogger(__name__)

CIPHER_ATTRIBUTE = "parley_cipher"


def dialect_cipher(dialect: Dialect) -> StoreCipher:
    """Return the cipher attached to a dialect, or raise when the store has none."""
    cipher = getattr(dialect, CIPHER_ATTRIBUTE, None)
    if cipher is None:
        raise StoreError(
            "the store's encryption keys are not loaded; open the store with "
            "open_store() or call Store.migrate() before reading or writing"
        )
    return cipher


def attach_cipher(dialect: Dialect, cipher: StoreCipher) -> None:
    """Make a dialect's encrypted columns use ``cipher``."""
    setattr(dialect, CIPHER_ATTRIBUTE, cipher)


class EncryptedText(TypeDecorator[str]):
    """A string stored encrypted, bound to its ``table.column`` context."""

    impl = Text
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        """Encrypt a value before it is written."""
        if value is None:
            return None
        return dialect_cipher(dialect).keyring.encrypt_text(value, self.context)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        """Decrypt a value that was read."""
        if value is None:
            return None
        return dialect_cipher(dialect).keyring.decrypt_text(value, self.context)


class EncryptedJSON(TypeDecorator[Any]):
    """A JSON document stored encrypted, bound to its ``table.column`` context."""

    impl = Text
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        """Serialize and encrypt a document before it is written."""
        if value is None:
            return None
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        return dialect_cipher(dialect).keyring.encrypt_text(text, self.context)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        """Decrypt and parse a document that was read."""
        if value is None:
            return None
        text = dialect_cipher(dialect).keyring.decrypt_text(value, self.context)
        return json.loads(text)


def encrypted_columns(table: Any) -> list[Any]:
    """Return a table's encrypted columns."""
    return [
        column
        for column in table.columns
        if isinstance(column.type, EncryptedText | EncryptedJSON)
    ]


def unlock(conn: Connection, keyring: Keyring, key_table: Any) -> StoreCipher:
    """Check the configured keys against the store and return its cipher.

    Reads the hash key wrapped under each stored key id. Every configured
    key with a stored row must unwrap it, and every stored key id must be
    configured, so a wrong or missing key stops here, before anything is
    written. A store without rows gets a new hash key, which
    :func:`register_current_key` stores.

    Raises:
        DecryptionError: a configured key does not match the store, or a key
            the store still uses is missing.
    """
    stored = stored_key_ids(conn, key_table)
    hash_key = _verify(keyring, stored)
    if hash_key is None:
        hash_key = new_hash_key()
    return StoreCipher(keyring, hash_key)


def stored_key_ids(conn: Connection, key_table: Any) -> dict[str, str]:
    """Return each stored key id with its wrapped hash key."""
    if not inspect(conn).has_table(key_table.name):
        return {}
    rows = conn.execute(select(key_table)).all()
    return {row.key_id: row.wrapped_hash_key for row in rows}


def register_current_key(
    conn: Connection, cipher: StoreCipher, key_table: Any, now: datetime
) -> None:
    """Store the hash key wrapped under the current key, unless already stored."""
    current = cipher.keyring.current_id
    if current in stored_key_ids(conn, key_table):
        return
    conn.execute(
        insert(key_table).values(
            key_id=current,
            wrapped_hash_key=cipher.wrapped_hash_key(),
            created_at=now,
        )
    )
    logger.info("registered encryption key %s with the store", current)


def _verify(keyring: Keyring, stored: dict[str, str]) -> bytes | None:
    if not stored:
        return None
    configured = set(keyring.key_ids)
    missing = sorted(set(stored) - configured)
    if missing:
        raise DecryptionError(
            f"the store contains data encrypted with key(s) {', '.join(missing)}, which "
            f"are not configured (configured: {', '.join(keyring.key_ids)}). Add them "
            "to PARLEY_KEYS or the key file after the current key, and keep them "
            "until `parley keys rotate` finishes. Nothing was changed."
        )
    hash_keys = set()
    for key_id, wrapped in stored.items():
        try:
            hash_keys.add(unwrap_hash_key(keyring, wrapped))
        except DecryptionError:
            raise DecryptionError(
                f"encryption key {key_id!r} does not match the key this store was "
                "encrypted with: its key material is wrong. Use the key that was "
                "configured when the data was written. Nothing was changed."
            ) from None
    if len(hash_keys) != 1:
        raise DecryptionError(
            "the store's key rows disagree on the lookup hash key; the key table "
            "was altered. Nothing was changed."
        )
    return hash_keys.pop()
