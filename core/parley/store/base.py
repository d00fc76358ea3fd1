"""The store's connection handling, shared by every part of it."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import (
    Connection,
    text,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from parley.errors import StoreError
from parley.store import migrations
from parley.store.engine import create_store_engine, safe_url

# Key for pg_advisory_xact_lock while migrating, so that daemons starting
# together on one PostgreSQL database migrate one after the other.
_MIGRATION_LOCK_KEY = 0x7061726C6579


class StoreBase:
    """Durable state behind one SQLAlchemy engine."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_store_engine(url)
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

    # Lifecycle

    def migrate(self) -> list[int]:
        """Apply pending migrations; return the versions applied."""
        try:
            with self.transaction() as conn:
                if not self.is_sqlite:
                    conn.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"),
                        {"key": _MIGRATION_LOCK_KEY},
                    )
                return migrations.migrate(conn)
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
