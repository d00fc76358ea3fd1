"""Webhook deliveries and the event queue."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    or_,
    select,
    update,
)

from parley.context import DeliveryReceipt
from parley.store import schema
from parley.store.base import StoreBase
from parley.store.records import ClaimedEvent


class EventStore(StoreBase):
    """Webhook deliveries and the events the event worker claims."""

    # Webhook deliveries and events

    def accept_delivery(
        self,
        source: str,
        delivery_id: str,
        topic: str,
        events: Sequence[tuple[str, str, Mapping[str, Any]]],
        now: datetime,
    ) -> DeliveryReceipt:
        """Claim a delivery id and store its events, all or nothing.

        Args:
            source: plugin id the delivery came through.
            delivery_id: the provider's id for this delivery.
            topic: provider topic, kept for the record.
            events: ``(kind, dedupe_key, payload)`` for each event.
            now: the current time.
        """
        with self.transaction() as conn:
            claimed = self._claim_delivery(
                conn, source, delivery_id, topic, len(events), now
            )
            if not claimed:
                return DeliveryReceipt(duplicate_delivery=True, events_stored=0)

            stored = 0
            for kind, dedupe_key, payload in events:
                if self.add_event(kind, source, dedupe_key, payload, now, conn=conn):
                    stored += 1
            return DeliveryReceipt(duplicate_delivery=False, events_stored=stored)

    def _claim_delivery(
        self,
        conn: Connection,
        source: str,
        delivery_id: str,
        topic: str,
        count: int,
        now: datetime,
    ) -> bool:
        values = {
            "source": source,
            "delivery_id": delivery_id,
            "topic": topic,
            "events": count,
            "received_at": now,
        }
        return self._insert_ignore(conn, schema.webhook_deliveries, values)

    def add_event(
        self,
        kind: str,
        source: str,
        dedupe_key: str,
        payload: Mapping[str, Any],
        now: datetime,
        conn: Connection | None = None,
    ) -> bool:
        """Queue an event for the event worker; False when its key was seen."""
        values = {
            "source": source,
            "kind": kind,
            "dedupe_key": dedupe_key,
            "payload": dict(payload),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "received_at": now,
        }
        with self._tx(conn) as tx:
            return self._insert_ignore(tx, schema.events, values)

    def claim_events(
        self, worker_id: str, limit: int, now: datetime, lease_seconds: float
    ) -> list[ClaimedEvent]:
        """Claim due events for one worker, skipping those other workers hold."""
        table = schema.events
        due = and_(
            table.c.status == "pending",
            table.c.next_attempt_at <= now,
            or_(table.c.claimed_until.is_(None), table.c.claimed_until < now),
        )
        with self.transaction() as conn:
            query = select(table).where(due).order_by(table.c.id).limit(limit)
            if not self.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            rows = conn.execute(query).all()
            if not rows:
                return []

            until = now + timedelta(seconds=lease_seconds)
            conn.execute(
                update(table)
                .where(table.c.id.in_([row.id for row in rows]))
                .values(
                    claimed_by=worker_id,
                    claimed_until=until,
                    attempts=table.c.attempts + 1,
                )
            )
        return [
            ClaimedEvent(
                id=row.id,
                source=row.source,
                kind=row.kind,
                dedupe_key=row.dedupe_key,
                payload=row.payload,
                attempts=row.attempts + 1,
            )
            for row in rows
        ]

    def complete_event(
        self,
        event_id: int,
        now: datetime,
        conn: Connection | None = None,
        outcome: str | None = None,
    ) -> None:
        """Mark an event processed, with what came of it."""
        with self._tx(conn) as tx:
            tx.execute(
                update(schema.events)
                .where(schema.events.c.id == event_id)
                .values(
                    status="done",
                    processed_at=now,
                    outcome=outcome,
                    claimed_by=None,
                    claimed_until=None,
                )
            )

    def event_outcomes(self) -> list[tuple[str, str, str | None]]:
        """Return ``(dedupe_key, status, outcome)`` of every event, oldest first."""
        table = schema.events
        with self.read_engine.connect() as conn:
            rows = conn.execute(
                select(table.c.dedupe_key, table.c.status, table.c.outcome).order_by(
                    table.c.id
                )
            ).all()
        return [(row.dedupe_key, row.status, row.outcome) for row in rows]

    def retry_event(self, event_id: int, error: str, retry_at: datetime) -> None:
        """Release an event to be tried again at ``retry_at``."""
        with self.transaction() as conn:
            conn.execute(
                update(schema.events)
                .where(schema.events.c.id == event_id)
                .values(
                    next_attempt_at=retry_at,
                    last_error=error,
                    claimed_by=None,
                    claimed_until=None,
                )
            )

    def fail_event(self, event_id: int, error: str, now: datetime) -> None:
        """Give up on an event; it stays in the store with its error."""
        with self.transaction() as conn:
            conn.execute(
                update(schema.events)
                .where(schema.events.c.id == event_id)
                .values(
                    status="failed",
                    last_error=error,
                    processed_at=now,
                    claimed_by=None,
                    claimed_until=None,
                )
            )

    def release_claims(self) -> None:
        """Release every claim; only safe when no other worker uses this store."""
        with self.transaction() as conn:
            conn.execute(
                update(schema.events).values(claimed_by=None, claimed_until=None)
            )
            conn.execute(
                update(schema.outbox).values(claimed_by=None, claimed_until=None)
            )
