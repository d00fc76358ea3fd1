"""The store's connection handling, shared by every part of it."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    inspect,
    text,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from parley.crypto import (
    Keyring,
    StoreCipher,
    add_key_to_file,
    default_key_file,
    generate_key,
    keys_configured,
)
from parley.errors import StoreError
from parley.store import migrations, schema
from parley.store.encryption import attach_cipher, register_current_key, unlock
from parley.store.engine import create_store_engine, safe_url

logger = logging.getLogger(__name__)

# Key for pg_advisory_xact_lock while migrating, so that daemons starting
# together on one PostgreSQL database migrate one after the other.
_MIGRATION_LOCK_KEY = 0x7061726C6579


class StoreBase:
    """Durable state behind one SQLAlchemy engine."""

    def __init__(self, url: str, keyring: Keyring | None = None) -> None:
        """Create the engines and check the encryption keys against the store.

        Args:
            url: the SQLAlchemy URL.
            keyring: the data keys; None reads them from PARLEY_KEYS,
                PARLEY_KEY_FILE or the per-user key file.

        Raises:
            StoreError: no key is configured, or a key does not match the
                store; nothing is written in that case.
        """
        self.url = url
        self.cipher: StoreCipher | None = None
        self.engine = create_store_engine(url)
        self.keyring = keyring if keyring is not None else self._resolve_keyring()
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        # Set by the runtime when a plugin implements consent_changed, so the
        # ledger queues an event for each new record.
        self.emit_consent_events = False
        # SQLite allows one writer at a time. Queueing this process's writers
        # on a lock wakes the next one as soon as a commit ends, where
        # SQLite's own busy handler would poll with sleeps of up to 100 ms.
        # Reads use a second engine with deferred transactions, which WAL
        # mode lets run beside the writer.
        self._write_lock = threading.RLock() if self.is_sqlite else None
        in_memory = self.engine.url.database in (None, "", ":memory:")
        separate_reads = self.is_sqlite and not in_memory
        self.read_engine = (
            create_store_engine(url, for_reads=True) if separate_reads else self.engine
        )
        try:
            self._check_keys()
        except StoreError:
            self.close()
            raise

    # Lifecycle

    def _resolve_keyring(self) -> Keyring:
        """Read the configured keys, or create the per-user key for a new store.

        A new store with no configured key gets a new key
        in the per-user key file, away from the data, so that the embedded
        default starts with no setup. A store that already has keys never
        gets a new one: its missing key is an error.
        """
        if keys_configured() or self._has_keys_table():
            try:
                return Keyring.resolve()
            except StoreError:
                self.engine.dispose()
                raise
        path = default_key_file()
        entry = generate_key()
        add_key_to_file(path, entry)
        logger.warning(
            "created encryption key %s in %s for this new store; back up that "
            "file, because the stored data cannot be read without it",
            entry.split(":", 1)[0],
            path,
        )
        return Keyring.resolve()

    def _has_keys_table(self) -> bool:
        try:
            with self.engine.connect() as conn:
                return inspect(conn).has_table(schema.encryption_keys.name)
        except SQLAlchemyError:
            # Unreachable: Keyring.resolve() reports the missing key first,
            # and migrate() reports the connection error.
            return True

    def _check_keys(self) -> None:
        """Verify the keys of an existing store without writing anything.

        A database that cannot be reached yet is checked again by
        :meth:`migrate`, which reports the connection error.
        """
        try:
            with self.read_engine.connect() as conn:
                cipher = unlock(conn, self.keyring, schema.encryption_keys)
                conn.rollback()
        except SQLAlchemyError:
            return
        self._use_cipher(cipher)

    def _use_cipher(self, cipher: StoreCipher) -> None:
        self.cipher = cipher
        attach_cipher(self.engine.dialect, cipher)
        attach_cipher(self.read_engine.dialect, cipher)

    def lookup_hash(self, value: str) -> str:
        """Return the keyed hash stored beside an encrypted address."""
        if self.cipher is None:
            raise StoreError(
                "the store's encryption keys are not loaded; call migrate() first"
            )
        return self.cipher.hasher.digest(value)

    def migrate(self) -> list[int]:
        """Check the keys, then apply pending migrations; return the versions applied.

        The key check runs first in the same transaction, so a wrong or
        missing key leaves the store unchanged.
        """
        try:
            with self.transaction() as conn:
                if not self.is_sqlite:
                    conn.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"),
                        {"key": _MIGRATION_LOCK_KEY},
                    )
                # Checked again under the lock: two daemons starting on a new
                # database must agree on one hash key.
                cipher = unlock(conn, self.keyring, schema.encryption_keys)
                self._use_cipher(cipher)
                applied = migrations.migrate(conn)
                register_current_key(conn, cipher, schema.encryption_keys, _utc_now())
                return applied
        except SQLAlchemyError as err:
            raise StoreError(
                f"cannot open or migrate the store at {safe_url(self.url)}: {err.__class__.__name__}: "
                f"{err.orig if hasattr(err, 'orig') else err}. Check [store] url and that the "
                "database is running."
            ) from err

    def ping(self) -> bool:
        """Return True when the database answers a trivial query."""
        try:
            with self.read_engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()
        self.read_engine.dispose()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """Open a transaction that commits on success and rolls back on error."""
        if self._write_lock is None:
            with self.engine.begin() as conn:
                yield conn
            return
        with self._write_lock, self.engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def _tx(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
            return
        with self.transaction() as own:
            yield own

    def _dialect_insert(self, table: Any) -> Any:
        """Return the dialect's INSERT, which has ON CONFLICT clauses."""
        if self.is_sqlite:
            return sqlite_insert(table)
        return postgresql_insert(table)

    def _insert_ignore(
        self, conn: Connection, table: Any, values: Mapping[str, Any]
    ) -> bool:
        """Insert a row unless a unique key already exists; True when inserted."""
        # RETURNING shows whether a row went in; rowcount is -1 on PostgreSQL
        # when SQLAlchemy adds RETURNING itself to fetch the primary key.
        statement = (
            self._dialect_insert(table)
            .values(**values)
            .on_conflict_do_nothing()
            .returning(*table.primary_key.columns)
        )
        return conn.execute(statement).first() is not None


def _utc_now() -> datetime:
    return datetime.now(UTC)
