"""Rewriting encrypted columns: the first encryption and key rotation.

Both work on raw column values, read and written as text so that the
encrypted column types do not decrypt or encrypt them again. Migration 7
encrypts the plaintext rows of a store written before encryption existed;
:func:`rotate_batch` re-encrypts one batch of a table under the current key.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Text,
    and_,
    func,
    literal,
    select,
    tuple_,
    type_coerce,
    update,
)

from parley.crypto import StoreCipher, key_id_of
from parley.store import schema
from parley.store.encryption import encrypted_columns

logger = logging.getLogger(__name__)

# Lookup hash columns and the encrypted column each one hashes.
HASHED_COLUMNS: dict[str, tuple[str, str]] = {
    "contact_addresses": ("value_hash", "value"),
    "conversations": ("address_hash", "address"),
    "consent_records": ("address_hash", "address"),
}


@dataclass(frozen=True)
class BatchResult:
    """The outcome of one batch: rows read, rows rewritten, and the last primary key."""

    rows_read: int
    rows_rewritten: int
    last_key: list[Any] | None


def encrypted_tables() -> list[Any]:
    """Return every table with an encrypted column, in dependency order."""
    return [
        table for table in schema.metadata.sorted_tables if encrypted_columns(table)
    ]


def encrypt_existing_rows(
    conn: Connection, cipher: StoreCipher, tables: Sequence[Any]
) -> int:
    """Encrypt every plaintext value and fill the lookup hashes; return rows changed."""
    changed = 0
    for table in tables:
        after: list[Any] | None = None
        while True:
            result = _rewrite_batch(conn, cipher, table, after, 500, first_time=True)
            changed += result.rows_rewritten
            if result.last_key is None:
                break
            after = result.last_key
    return changed


def rotate_batch(
    conn: Connection,
    cipher: StoreCipher,
    table: Any,
    after: list[Any] | None,
    batch_size: int,
) -> BatchResult:
    """Re-encrypt one batch of rows after the primary key ``after``."""
    return _rewrite_batch(conn, cipher, table, after, batch_size, first_time=False)


def count_rows(conn: Connection, table: Any) -> int:
    """Return the number of rows in a table."""
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _rewrite_batch(
    conn: Connection,
    cipher: StoreCipher,
    table: Any,
    after: list[Any] | None,
    batch_size: int,
    first_time: bool,
) -> BatchResult:
    keys = list(table.primary_key.columns)
    columns = encrypted_columns(table)
    query = select(*keys, *[_raw(column).label(column.name) for column in columns])
    if after is not None:
        query = query.where(_after(keys, after))
    rows = conn.execute(query.order_by(*keys).limit(batch_size)).all()
    if not rows:
        return BatchResult(0, 0, None)

    rewritten = 0
    for row in rows:
        values = _new_values(cipher, table, columns, row, first_time)
        if not values:
            continue
        old = [
            _raw(column) == getattr(row, column.name)
            for column in columns
            if column in values
        ]
        match = and_(*[key == getattr(row, key.name) for key in keys], *old)
        written = conn.execute(
            update(table)
            .where(match)
            .values({column: literal(value, Text) for column, value in values.items()})
        )
        # A row that a daemon changed meanwhile was written with that daemon's
        # first key, which rotation requires to be the new key, so a missed
        # compare-and-set needs no retry.
        rewritten += 1 if written.rowcount else 0
    last = rows[-1]
    return BatchResult(len(rows), rewritten, [getattr(last, key.name) for key in keys])


def _new_values(
    cipher: StoreCipher,
    table: Any,
    columns: Sequence[Any],
    row: Any,
    first_time: bool,
) -> dict[Any, str]:
    keyring = cipher.keyring
    values: dict[Any, str] = {}
    for column in columns:
        raw = getattr(row, column.name)
        if raw is None:
            continue
        if not isinstance(raw, str):
            # PostgreSQL hands back JSON it parsed itself.
            raw = json.dumps(raw, separators=(",", ":"), ensure_ascii=False)
        key_id = key_id_of(raw)
        if key_id == keyring.current_id:
            continue
        context = column.type.context
        if key_id is None or (first_time and key_id not in keyring.key_ids):
            plaintext = raw.encode("utf-8")
        else:
            plaintext = keyring.decrypt(raw, context)
        values[column] = keyring.encrypt(plaintext, context)
        if first_time:
            _add_hash(cipher, table, column, plaintext, values)
    return values


def _add_hash(
    cipher: StoreCipher,
    table: Any,
    column: Any,
    plaintext: bytes,
    values: dict[Any, str],
) -> None:
    hashed = HASHED_COLUMNS.get(table.name)
    if hashed is None or hashed[1] != column.name:
        return
    values[table.c[hashed[0]]] = cipher.hasher.digest(plaintext.decode("utf-8"))


def _raw(column: Any) -> Any:
    """Return a column read and compared as plain text, bypassing encryption."""
    return type_coerce(column, Text)


def _after(keys: Sequence[Any], after: Sequence[Any]) -> Any:
    if len(keys) == 1:
        return keys[0] > after[0]
    return tuple_(*keys) > tuple_(*[literal(value) for value in after])
