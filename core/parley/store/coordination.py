"""Rows that let several daemons on one database share work and limits.

Both kinds live in ``plugin_state`` under the plugin id ``core``:

* ``lease:<plugin>/<poller>``: which worker runs a poller, until when, and
  when the poller last finished, as JSON;
* ``pace:<sender key>``: the epoch second at which the sender's next send
  slot is free.

Each change reads the row with ``SELECT ... FOR UPDATE`` inside one
transaction, so daemons that race for a lease or a slot queue on the row
lock and see each other's writes. SQLite takes its write lock when the
transaction begins, which serialises them the same way.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, select, text, update

from parley.store import schema
from parley.store.base import StoreBase

CORE_STATE_ID = "core"

_MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class Lease:
    """A poller lease as stored.

    Attributes:
        holder: the worker id that holds it, or None when released.
        expires_at: when the holder's claim ends unless renewed.
        last_run_at: when the poller last finished in any daemon.
    """

    holder: str | None
    expires_at: datetime | None
    last_run_at: datetime | None

    def free_for(self, worker_id: str, now: datetime) -> bool:
        """Return True when ``worker_id`` may take or renew the lease at ``now``."""
        if self.holder is None or self.holder == worker_id:
            return True
        return self.expires_at is None or self.expires_at <= now


def state_key(prefix: str, name: str) -> str:
    """Return the ``plugin_state`` key for a name, hashed when it would be too long."""
    key = f"{prefix}:{name}"
    if len(key) <= _MAX_KEY_LENGTH:
        return key
    return f"{prefix}:sha256:{hashlib.sha256(name.encode()).hexdigest()}"


class CoordinationStore(StoreBase):
    """Poller leases and shared send slots."""

    # Poller leases

    def take_lease(
        self, name: str, worker_id: str, now: datetime, seconds: float
    ) -> Lease | None:
        """Take or renew a lease for ``seconds`` from ``now``; None when another holds it."""
        key = state_key("lease", name)
        with self.transaction() as conn:
            lease = _parse_lease(self._locked_state(conn, key, now))
            if not lease.free_for(worker_id, now):
                return None
            taken = Lease(
                holder=worker_id,
                expires_at=now + timedelta(seconds=seconds),
                last_run_at=lease.last_run_at,
            )
            self._write_state(conn, key, _lease_json(taken), now)
        return taken

    def finish_lease_run(
        self, name: str, worker_id: str, finished_at: datetime
    ) -> bool:
        """Record that the holder finished a run; False when it no longer holds the lease."""
        key = state_key("lease", name)
        with self.transaction() as conn:
            lease = _parse_lease(self._locked_state(conn, key, finished_at))
            if lease.holder != worker_id:
                return False
            finished = Lease(lease.holder, lease.expires_at, finished_at)
            self._write_state(conn, key, _lease_json(finished), finished_at)
        return True

    def release_lease(self, name: str, worker_id: str, now: datetime) -> bool:
        """Give a lease up so another daemon may take it at once; False when not held."""
        key = state_key("lease", name)
        with self.transaction() as conn:
            lease = _parse_lease(self._locked_state(conn, key, now))
            if lease.holder != worker_id:
                return False
            released = Lease(None, None, lease.last_run_at)
            self._write_state(conn, key, _lease_json(released), now)
        return True

    def read_lease(self, name: str) -> Lease:
        """Return a lease as stored; a lease never taken has no holder."""
        table = schema.plugin_state
        with self.read_engine.connect() as conn:
            value = conn.execute(
                select(table.c.value).where(
                    table.c.plugin_id == CORE_STATE_ID,
                    table.c.key == state_key("lease", name),
                )
            ).scalar()
        return _parse_lease(value or "")

    # Shared send slots

    def reserve_send_slot(
        self,
        sender_key: str,
        interval: float,
        max_wait: float,
        now: float | None = None,
    ) -> tuple[bool, float]:
        """Reserve a sender's next send slot when it is free within ``max_wait`` seconds.

        Args:
            sender_key: the sender the rate belongs to.
            interval: seconds between two slots of the sender.
            max_wait: the latest slot worth taking, in seconds from now.
            now: the current epoch second; None reads the database server's
                clock (PostgreSQL) so that daemons on different hosts agree.

        Returns:
            ``(taken, wait)``: whether the slot was reserved, and the seconds
            from now until it. A slot that was not taken stays free.
        """
        key = state_key("pace", sender_key)
        wall = datetime.now(UTC)
        with self.transaction() as conn:
            stored = self._locked_state(conn, key, wall)
            current = self._epoch_now(conn) if now is None else now
            next_free = float(stored) if stored else current
            slot = max(current, next_free)
            wait = slot - current
            if wait > max_wait:
                return False, wait
            self._write_state(conn, key, repr(slot + interval), wall)
        return True, wait

    # Row access

    def _locked_state(self, conn: Connection, key: str, now: datetime) -> str:
        """Create the row when missing, then lock and return its value."""
        table = schema.plugin_state
        conn.execute(
            self._dialect_insert(table)
            .values(plugin_id=CORE_STATE_ID, key=key, value="", updated_at=now)
            .on_conflict_do_nothing()
        )
        query = select(table.c.value).where(
            table.c.plugin_id == CORE_STATE_ID, table.c.key == key
        )
        if not self.is_sqlite:
            query = query.with_for_update()
        return conn.execute(query).scalar_one()

    def _write_state(
        self, conn: Connection, key: str, value: str, now: datetime
    ) -> None:
        table = schema.plugin_state
        conn.execute(
            update(table)
            .where(table.c.plugin_id == CORE_STATE_ID, table.c.key == key)
            .values(value=value, updated_at=now)
        )

    def _epoch_now(self, conn: Connection) -> float:
        if self.is_sqlite:
            return time.time()
        # clock_timestamp() is the time now, after waiting for the row lock;
        # now() would be the start of the transaction.
        return float(
            conn.execute(
                text("SELECT EXTRACT(EPOCH FROM clock_timestamp())")
            ).scalar_one()
        )


def _parse_lease(value: str) -> Lease:
    if not value:
        return Lease(None, None, None)
    data = json.loads(value)
    return Lease(
        holder=data.get("holder"),
        expires_at=_parse_time(data.get("expires_at")),
        last_run_at=_parse_time(data.get("last_run_at")),
    )


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _lease_json(lease: Lease) -> str:
    return json.dumps(
        {
            "holder": lease.holder,
            "expires_at": lease.expires_at.isoformat() if lease.expires_at else None,
            "last_run_at": lease.last_run_at.isoformat() if lease.last_run_at else None,
        }
    )
