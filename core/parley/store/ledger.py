"""The append-only consent ledger."""

from __future__ import annotations

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
        """Append a consent record; records are never changed afterwards."""
        with self._tx(conn) as tx:
            tx.execute(
                insert(schema.consent_records).values(
                    contact_id=contact_id,
                    channel=channel,
                    address=address,
                    purpose=purpose,
                    action=action,
                    source=source,
                    actor=actor,
                    evidence=evidence,
                    recorded_at=now,
                )
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
                .where(table.c.address == address, table.c.purpose == purpose)
                .order_by(table.c.recorded_at, table.c.id)
            ).all()
        return [_entry(row) for row in rows]

    def ledger(self, address: str | None = None) -> list[LedgerEntry]:
        """Return every consent record, or one address's, in storage order."""
        table = schema.consent_records
        query = select(table).order_by(table.c.id)
        if address is not None:
            query = query.where(table.c.address == address)
        with self.read_engine.connect() as conn:
            rows = conn.execute(query).all()
        return [_entry(row) for row in rows]

    def inactive_addresses(self, cutoff: datetime) -> list[str]:
        """Return addresses with no message and no consent record since ``cutoff``.

        Addresses whose latest record is already a suspension are left out.
        """
        msg, conv, consent = (
            schema.messages,
            schema.conversations,
            schema.consent_records,
        )
        message_activity = (
            select(
                conv.c.address.label("address"),
                func.max(msg.c.created_at).label("last"),
            )
            .join(msg, msg.c.conversation_id == conv.c.id)
            .group_by(conv.c.address)
        )
        consent_activity = select(
            consent.c.address.label("address"),
            func.max(consent.c.recorded_at).label("last"),
        ).group_by(consent.c.address)
        with self.read_engine.connect() as conn:
            last: dict[str, datetime] = {}
            for query in (message_activity, consent_activity):
                for row in conn.execute(query):
                    moment = as_utc(row.last)
                    if moment is not None and (
                        row.address not in last or moment > last[row.address]
                    ):
                        last[row.address] = moment
            latest_action: dict[str, str] = {}
            for row in conn.execute(
                select(consent.c.address, consent.c.action).order_by(
                    consent.c.recorded_at, consent.c.id
                )
            ):
                latest_action[row.address] = row.action
        suspended = {
            address for address, action in latest_action.items() if action == "suspend"
        }
        stale = [address for address, moment in last.items() if moment < cutoff]
        return sorted(address for address in stale if address not in suspended)


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
