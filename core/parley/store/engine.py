"""SQLAlchemy engines for SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Engine,
    create_engine,
    event,
)
from sqlalchemy.engine import make_url

from parley.errors import StoreError


def safe_url(url: str) -> str:
    """Return a store URL with its password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only used to print a URL
        return "(unparseable URL)"


def create_store_engine(url: str, for_reads: bool = False) -> Engine:
    """Create the engine for a store URL; ``for_reads`` gives SQLite deferred transactions.

    Raises:
        StoreError: the URL is invalid or its driver is missing.
    """
    try:
        parsed = make_url(url)
    except Exception as err:
        raise StoreError(
            f"invalid store URL: {err}. Use sqlite:///path/to/parley.db or "
            "postgresql://user@host:5432/dbname"
        ) from err

    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")

    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, immediate=not for_reads)
    try:
        return create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=10)
    except Exception as err:  # noqa: BLE001 - a missing driver raises several kinds
        raise StoreError(
            f"cannot use store URL {safe_url(url)}: {err}. For PostgreSQL install "
            "parley[postgres]."
        ) from err


def _enable_wal(cursor: Any, timeout: float = 30.0) -> None:
    """Switch a SQLite database to WAL mode, waiting while another connection locks it.

    Changing the journal mode of a new file does not wait on the busy
    timeout: SQLite answers "database is locked" at once when another
    connection holds a lock, so the pragma is retried here.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _sqlite_engine(parsed: Any, immediate: bool = True) -> Engine:
    database = parsed.database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)

    engine = create_engine(
        parsed,
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=10,
        max_overflow=30,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event issue BEGIN IMMEDIATE below, instead of
        # pysqlite's own deferred BEGIN, so writers queue on the busy timeout
        # instead of failing when a read lock cannot be upgraded.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        _enable_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def as_utc(value: datetime | None) -> datetime | None:
    """Attach UTC to a timestamp that came back without an offset."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
