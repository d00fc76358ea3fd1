"""The append-only consent ledger."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    func,
    insert,
    select,
)

from parley.consent import LedgerEntry
from parley.store import schema
from parley.store.base import StoreBase
from parley.store.engine import as_utc


class ConsentStore(StoreBase):
    """The consent ledger's records and the addresses gone quiet."""

    # Consent

    def add_consent(
        self,
        channel: str,
        address: str,
        purpose: str,
        action: str,
        source: str,
        actor: str,
        evidence: str | None,
        now: datetime,
        contact_id: int | None = None,
        conn: Connection | None = None,
    ) -> None:
        """Append a consent record; records are never changed afterwards.

        When ``emit_consent_events`` is set, a ``consent_changed`` event is
        queued in the same transaction, so the hook call survives a crash.
        """
        with self._tx(conn) as tx:
            result = tx.execute(
                insert(schema.consent_records).values(
                    contact_id=contact_id,
                    channel=channel,
                    address=address,
                    address_hash=self.lookup_hash(address),
                    purpose=purpose,
                    action=action,
                    source=source,
                    actor=actor,
                    evidence=evidence,
                    recorded_at=now,
                )
            )
            if self.emit_consent_events:
                record_id = int(result.inserted_primary_key[0])
                self._queue_consent_event(tx, record_id, now)

    def _queue_consent_event(
        self, conn: Connection, record_id: int, now: datetime
    ) -> None:
        row = conn.execute(
            select(schema.consent_records).where(
                schema.consent_records.c.id == record_id
            )
        ).one()
        payload = {
            "record_id": record_id,
            "contact_id": row.contact_id,
            "channel": row.channel,
            "address": row.address,
            "purpose": row.purpose,
            "action": row.action,
            "source": row.source,
            "actor": row.actor,
            "evidence": row.evidence or "",
            "occurred_at": as_utc(row.recorded_at).isoformat(),  # type: ignore[union-attr]
        }
        self.add_event(  # type: ignore[attr-defined]
            "consent_changed", "ledger", f"consent:{record_id}", payload, now, conn=conn
        )

    def consent_entries(
        self, address: str, purpose: str, conn: Connection | None = None
    ) -> list[LedgerEntry]:
        """Return an address's consent records for one purpose, oldest first.

        Records are ordered by when the customer acted, then by when they
        were stored, so consent collected long ago and imported late does not
        override a newer opt-out.
        """
        table = schema.consent_records
        with self._tx(conn) as tx:
            rows = tx.execute(
                select(table)
                .where(
                    table.c.address_hash == self.lookup_hash(address),
                    table.c.purpose == purpose,
                )
                .order_by(table.c.recorded_at, table.c.id)
            ).all()
        return [_entry(row) for row in rows]

    def ledger(self, address: str | None = None) -> list[LedgerEntry]:
        """Return every consent record, or one address's, in storage order."""
        table = schema.consent_records
        query = select(table).order_by(table.c.id)
        if address is not None:
            query = query.where(table.c.address_hash == self.lookup_hash(address))
        with self.read_engine.connect() as conn:
            rows = conn.execute(query).all()
        return [_entry(row) for row in rows]

    def signup_ledgers(
        self, sources: Collection[str]
    ) -> dict[tuple[str, str], list[LedgerEntry]]:
        """Return the records of every address and purpose that had a sign-up.

        Only addresses with an opt-in from one of ``sources`` are read. The
        result is keyed by address and purpose, each list oldest first in the
        order :meth:`consent_entries` uses.
        """
        table = schema.consent_records
        signed_up = (
            select(table.c.address_hash)
            .where(table.c.action == "opt_in", table.c.source.in_(list(sources)))
            .distinct()
        )
        query = (
            select(table)
            .where(table.c.address_hash.in_(signed_up))
            .order_by(table.c.recorded_at, table.c.id)
        )
        ledgers: dict[tuple[str, str], list[LedgerEntry]] = {}
        with self.read_engine.connect() as conn:
            for row in conn.execute(query):
                ledgers.setdefault((row.address, row.purpose), []).append(_entry(row))
        return ledgers

    def inactive_addresses(self, cutoff: datetime) -> list[str]:
        """Return addresses with no message and no consent record since ``cutoff``.

        Addresses whose latest record is already a suspension are left out.
        Rows are grouped by the address's lookup hash, because the address
        itself is encrypted; ``min`` picks one stored copy to decrypt.
        """
        msg, conv, consent = (
            schema.messages,
            schema.conversations,
            schema.consent_records,
        )
        message_activity = (
            select(
                conv.c.address_hash.label("address_hash"),
                func.min(conv.c.address).label("address"),
                func.max(msg.c.created_at).label("last"),
            )
            .join(msg, msg.c.conversation_id == conv.c.id)
            .group_by(conv.c.address_hash)
        )
        consent_activity = select(
            consent.c.address_hash.label("address_hash"),
            func.min(consent.c.address).label("address"),
            func.max(consent.c.recorded_at).label("last"),
        ).group_by(consent.c.address_hash)
        with self.read_engine.connect() as conn:
            last: dict[str, datetime] = {}
            addresses: dict[str, str] = {}
            for query in (message_activity, consent_activity):
                for row in conn.execute(query):
                    addresses.setdefault(row.address_hash, row.address)
                    moment = as_utc(_timestamp(row.last))
                    if moment is not None and (
                        row.address_hash not in last or moment > last[row.address_hash]
                    ):
                        last[row.address_hash] = moment
            latest_action: dict[str, str] = {}
            for row in conn.execute(
                select(consent.c.address_hash, consent.c.action).order_by(
                    consent.c.recorded_at, consent.c.id
                )
            ):
                latest_action[row.address_hash] = row.action
        suspended = {
            digest for digest, action in latest_action.items() if action == "suspend"
        }
        stale = [digest for digest, moment in last.items() if moment < cutoff]
        return sorted(addresses[digest] for digest in stale if digest not in suspended)


def _timestamp(value: datetime | str | None) -> datetime | None:
    """Read an aggregate timestamp, which SQLite may return as text."""
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry(
        id=row.id,
        address=row.address,
        purpose=row.purpose,
        action=row.action,
        source=row.source,
        actor=row.actor,
        evidence=row.evidence,
        recorded_at=as_utc(row.recorded_at),
    )
