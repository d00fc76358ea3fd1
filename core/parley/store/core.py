"""The :class:`Store`: every read and write the core makes."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from parley.consent import LedgerEntry
from parley.context import DeliveryReceipt
from parley.errors import StoreError
from parley.models import (
    AddressKind,
    ChannelAddress,
    Contact,
    ContactRecord,
    DeliveryStatus,
)
from parley.store import migrations, schema
from parley.store.records import ClaimedEvent, ClaimedMessage, MessageRecord

logger = logging.getLogger(__name__)

# Key for pg_advisory_xact_lock while migrating, so that daemons starting
# together on one PostgreSQL database migrate one after the other.
_MIGRATION_LOCK_KEY = 0x7061726C6579


def open_store(url: str) -> Store:
    """Open the store at a SQLAlchemy URL and apply pending migrations.

    Raises:
        StoreError: the database cannot be reached or migrated.
    """
    store = Store(url)
    store.migrate()
    return store


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


class Store:
    """Durable state behind one SQLAlchemy engine."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _create_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        # SQLite allows one writer at a time. Queueing this process's writers
        # on a lock wakes the next one as soon as a commit ends, where
        # SQLite's own busy handler would poll with sleeps of up to 100 ms.
        # Reads use a second engine with deferred transactions, which WAL
        # mode lets run beside the writer.
        self._write_lock = threading.RLock() if self.is_sqlite else None
        in_memory = self.engine.url.database in (None, "", ":memory:")
        separate_reads = self.is_sqlite and not in_memory
        self.read_engine = (
            _create_engine(url, for_reads=True) if separate_reads else self.engine
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
                f"cannot open or migrate the store at {_safe_url(self.url)}: {err.__class__.__name__}: "
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

    def _dialect_insert(self, table: Any) -> Any:
        """Return the dialect's INSERT, which has ON CONFLICT clauses."""
        if self.is_sqlite:
            return sqlite_insert(table)
        return postgresql_insert(table)

    def _insert_ignore(
        self, conn: Connection, table: Any, values: Mapping[str, Any]
    ) -> bool:
        """Insert a row unless a unique key already exists; True when inserted."""
        # RETURNING tells whether a row went in; rowcount is -1 on PostgreSQL
        # when SQLAlchemy adds RETURNING itself to fetch the primary key.
        statement = (
            self._dialect_insert(table)
            .values(**values)
            .on_conflict_do_nothing()
            .returning(*table.primary_key.columns)
        )
        return conn.execute(statement).first() is not None

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

    # Contacts

    def find_contact(
        self, address: ChannelAddress, conn: Connection | None = None
    ) -> Contact | None:
        """Return the contact that owns an address, or None."""
        table = schema.contact_addresses
        with self._tx(conn) as tx:
            contact_id = tx.execute(
                select(table.c.contact_id).where(
                    table.c.kind == address.kind.value, table.c.value == address.value
                )
            ).scalar()
            if contact_id is None:
                return None
            return self.get_contact(contact_id, conn=tx)

    def find_contact_any(
        self, addresses: Sequence[ChannelAddress], conn: Connection | None = None
    ) -> Contact | None:
        """Return the contact that owns any of the addresses, trying them in order."""
        with self._tx(conn) as tx:
            for address in addresses:
                contact = self.find_contact(address, conn=tx)
                if contact is not None:
                    return contact
        return None

    def get_contact(
        self, contact_id: int, conn: Connection | None = None
    ) -> Contact | None:
        """Return a contact by id, or None."""
        with self._tx(conn) as tx:
            row = tx.execute(
                select(schema.contacts).where(schema.contacts.c.id == contact_id)
            ).first()
            if row is None:
                return None
            address_rows = tx.execute(
                select(schema.contact_addresses)
                .where(schema.contact_addresses.c.contact_id == contact_id)
                .order_by(schema.contact_addresses.c.id)
            ).all()
        return Contact(
            id=row.id,
            first_name=row.first_name,
            last_name=row.last_name,
            email=row.email,
            phone=row.phone,
            time_zone=row.time_zone,
            fields=dict(row.fields or {}),
            addresses=tuple(
                ChannelAddress(AddressKind(a.kind), a.value) for a in address_rows
            ),
        )

    def save_contact(
        self,
        merged: ContactRecord,
        addresses: Sequence[ChannelAddress],
        now: datetime,
        contact_id: int | None = None,
        sources: Mapping[str, str] | None = None,
        conn: Connection | None = None,
    ) -> Contact:
        """Create or update a contact and attach addresses it does not have yet.

        An address already attached to another contact stays with that
        contact; the conflict is logged by contact id.
        """
        values = {
            "first_name": merged.first_name,
            "last_name": merged.last_name,
            "email": merged.email,
            "phone": merged.phone,
            "time_zone": merged.time_zone,
            "fields": dict(merged.fields),
            "sources": dict(sources or {}),
            "updated_at": now,
        }
        with self._tx(conn) as tx:
            if contact_id is None:
                result = tx.execute(
                    insert(schema.contacts).values(created_at=now, **values)
                )
                contact_id = int(result.inserted_primary_key[0])
            else:
                tx.execute(
                    update(schema.contacts)
                    .where(schema.contacts.c.id == contact_id)
                    .values(**values)
                )
            for address in addresses:
                self._attach_address(tx, contact_id, address, now)
            contact = self.get_contact(contact_id, conn=tx)
        assert contact is not None
        return contact

    def _attach_address(
        self, conn: Connection, contact_id: int, address: ChannelAddress, now: datetime
    ) -> None:
        table = schema.contact_addresses
        owner = conn.execute(
            select(table.c.contact_id).where(
                table.c.kind == address.kind.value, table.c.value == address.value
            )
        ).scalar()
        if owner == contact_id:
            return
        if owner is not None:
            logger.warning(
                "address of kind %s already belongs to contact %s; not attached to contact %s",
                address.kind.value,
                owner,
                contact_id,
            )
            return
        self._insert_ignore(
            conn,
            table,
            {
                "contact_id": contact_id,
                "kind": address.kind.value,
                "value": address.value,
                "created_at": now,
            },
        )

    # Conversations and messages

    def open_conversation(
        self,
        contact_id: int,
        channel: str,
        address: str,
        now: datetime,
        conn: Connection | None = None,
    ) -> tuple[int, bool]:
        """Return the conversation for a channel address, creating it if needed.

        Returns:
            The conversation id and whether it was created now.
        """
        table = schema.conversations
        with self._tx(conn) as tx:
            existing = tx.execute(
                select(table.c.id).where(
                    table.c.channel == channel, table.c.address == address
                )
            ).scalar()
            if existing is not None:
                tx.execute(
                    update(table).where(table.c.id == existing).values(updated_at=now)
                )
                return int(existing), False

            created = self._insert_ignore(
                tx,
                table,
                {
                    "contact_id": contact_id,
                    "channel": channel,
                    "address": address,
                    "state": "open",
                    "opened_at": now,
                    "updated_at": now,
                },
            )
            conversation_id = tx.execute(
                select(table.c.id).where(
                    table.c.channel == channel, table.c.address == address
                )
            ).scalar_one()
            return int(conversation_id), created

    def latest_conversation(
        self, address: str, conn: Connection | None = None
    ) -> int | None:
        """Return the most recently active conversation with an address, or None."""
        table = schema.conversations
        with self._tx(conn) as tx:
            return tx.execute(
                select(table.c.id)
                .where(table.c.address == address)
                .order_by(table.c.updated_at.desc(), table.c.id.desc())
                .limit(1)
            ).scalar()

    def add_inbound_message(
        self,
        conversation_id: int,
        channel: str,
        body: str,
        provider_message_id: str,
        received_at: datetime,
        conn: Connection | None = None,
    ) -> int | None:
        """Store a customer message; None when that provider id is already stored."""
        values = {
            "conversation_id": conversation_id,
            "direction": "in",
            "channel": channel,
            "kind": "customer",
            "purpose": "conversational",
            "body": body,
            "status": "received",
            "provider_message_id": provider_message_id,
            "created_at": received_at,
            "updated_at": received_at,
        }
        with self._tx(conn) as tx:
            if not self._insert_ignore(tx, schema.messages, values):
                return None
            return int(
                tx.execute(
                    select(schema.messages.c.id).where(
                        schema.messages.c.channel == channel,
                        schema.messages.c.provider_message_id == provider_message_id,
                    )
                ).scalar_one()
            )

    def queue_message(
        self,
        conversation_id: int,
        channel: str,
        body: str,
        kind: str,
        purpose: str,
        dedupe_key: str,
        now: datetime,
        conn: Connection | None = None,
        not_before: datetime | None = None,
        reason: str | None = None,
    ) -> int | None:
        """Store an outbound message and put it in the outbox.

        Args:
            conversation_id: the conversation it belongs to.
            channel: the channel id it goes out on.
            body: the rendered text.
            kind: what produced it, such as ``order_update``.
            purpose: its consent purpose.
            dedupe_key: unique per business event and message.
            now: the current time.
            conn: an open transaction to join.
            not_before: the earliest time to send it, for a message the send
                gate deferred; None sends it as soon as possible.
            reason: why it waits, kept on the message.

        Returns:
            The message id, or None when a message with this dedupe key
            already exists (it was queued, sent or blocked before).
        """
        values = {
            "conversation_id": conversation_id,
            "direction": "out",
            "channel": channel,
            "kind": kind,
            "purpose": purpose,
            "body": body,
            "status": DeliveryStatus.QUEUED.value,
            "status_reason": reason,
            "dedupe_key": dedupe_key,
            "created_at": now,
            "updated_at": now,
        }
        with self._tx(conn) as tx:
            message_id = self._insert_message(tx, values)
            if message_id is None:
                return None
            tx.execute(
                insert(schema.outbox).values(
                    message_id=message_id,
                    attempts=0,
                    next_attempt_at=not_before or now,
                    created_at=now,
                )
            )
            return message_id

    def record_blocked(
        self,
        conversation_id: int,
        channel: str,
        body: str,
        kind: str,
        purpose: str,
        dedupe_key: str,
        reason: str,
        now: datetime,
        conn: Connection | None = None,
    ) -> int | None:
        """Store a message that was not sent, with the reason; None if seen before."""
        values = {
            "conversation_id": conversation_id,
            "direction": "out",
            "channel": channel,
            "kind": kind,
            "purpose": purpose,
            "body": body,
            "status": DeliveryStatus.BLOCKED.value,
            "status_reason": reason,
            "dedupe_key": dedupe_key,
            "created_at": now,
            "updated_at": now,
        }
        with self._tx(conn) as tx:
            return self._insert_message(tx, values)

    def _insert_message(
        self, conn: Connection, values: Mapping[str, Any]
    ) -> int | None:
        if not self._insert_ignore(conn, schema.messages, values):
            return None
        return int(
            conn.execute(
                select(schema.messages.c.id).where(
                    schema.messages.c.dedupe_key == values["dedupe_key"]
                )
            ).scalar_one()
        )

    def count_inbound(
        self, conversation_id: int, conn: Connection | None = None
    ) -> int:
        """Return how many customer messages a conversation holds."""
        table = schema.messages
        with self._tx(conn) as tx:
            return int(
                tx.execute(
                    select(func.count())
                    .select_from(table)
                    .where(
                        table.c.conversation_id == conversation_id,
                        table.c.direction == "in",
                    )
                ).scalar_one()
            )

    # Outbox

    def claim_outbox(
        self, worker_id: str, limit: int, now: datetime, lease_seconds: float
    ) -> list[ClaimedMessage]:
        """Claim due outbound messages for one worker."""
        box = schema.outbox
        msg = schema.messages
        conv = schema.conversations
        due = and_(
            box.c.next_attempt_at <= now,
            or_(box.c.claimed_until.is_(None), box.c.claimed_until < now),
        )
        with self.transaction() as conn:
            query = (
                select(box.c.message_id)
                .where(due)
                .order_by(box.c.next_attempt_at, box.c.message_id)
                .limit(limit)
            )
            if not self.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            ids = [row.message_id for row in conn.execute(query)]
            if not ids:
                return []

            until = now + timedelta(seconds=lease_seconds)
            conn.execute(
                update(box)
                .where(box.c.message_id.in_(ids))
                .values(
                    claimed_by=worker_id,
                    claimed_until=until,
                    attempts=box.c.attempts + 1,
                )
            )
            conn.execute(
                update(msg)
                .where(msg.c.id.in_(ids))
                .values(status=DeliveryStatus.SENDING.value, updated_at=now)
            )
            rows = conn.execute(
                select(
                    msg.c.id,
                    msg.c.conversation_id,
                    msg.c.channel,
                    msg.c.body,
                    msg.c.kind,
                    msg.c.purpose,
                    conv.c.address,
                    box.c.attempts,
                )
                .join(conv, conv.c.id == msg.c.conversation_id)
                .join(box, box.c.message_id == msg.c.id)
                .where(msg.c.id.in_(ids))
                .order_by(box.c.next_attempt_at, msg.c.id)
            ).all()
        return [
            ClaimedMessage(
                message_id=row.id,
                conversation_id=row.conversation_id,
                channel=row.channel,
                to=row.address,
                body=row.body,
                kind=row.kind,
                purpose=row.purpose,
                attempts=row.attempts,
            )
            for row in rows
        ]

    def mark_sent(
        self,
        message_id: int,
        provider_message_id: str,
        status: DeliveryStatus,
        now: datetime,
    ) -> None:
        """Record the provider's acceptance and take the message out of the outbox."""
        with self.transaction() as conn:
            conn.execute(
                update(schema.messages)
                .where(schema.messages.c.id == message_id)
                .values(
                    status=status.value,
                    provider_message_id=provider_message_id,
                    sent_at=now,
                    updated_at=now,
                )
            )
            conn.execute(
                delete(schema.outbox).where(schema.outbox.c.message_id == message_id)
            )

    def schedule_retry(
        self, message_id: int, error: str, retry_at: datetime, now: datetime
    ) -> None:
        """Put a message back in the outbox to be tried at ``retry_at``."""
        with self.transaction() as conn:
            conn.execute(
                update(schema.outbox)
                .where(schema.outbox.c.message_id == message_id)
                .values(
                    next_attempt_at=retry_at,
                    last_error=error,
                    claimed_by=None,
                    claimed_until=None,
                )
            )
            conn.execute(
                update(schema.messages)
                .where(schema.messages.c.id == message_id)
                .values(
                    status=DeliveryStatus.QUEUED.value,
                    status_reason=error,
                    updated_at=now,
                )
            )

    def defer_message(
        self, message_id: int, until: datetime, reason: str, now: datetime
    ) -> None:
        """Hold a claimed message back until ``until`` without using up an attempt."""
        box = schema.outbox
        with self.transaction() as conn:
            conn.execute(
                update(box)
                .where(box.c.message_id == message_id)
                .values(
                    next_attempt_at=until,
                    attempts=box.c.attempts - 1,
                    claimed_by=None,
                    claimed_until=None,
                )
            )
            conn.execute(
                update(schema.messages)
                .where(schema.messages.c.id == message_id)
                .values(
                    status=DeliveryStatus.QUEUED.value,
                    status_reason=reason,
                    updated_at=now,
                )
            )

    def mark_unsent(
        self,
        message_id: int,
        status: DeliveryStatus,
        reason: str,
        now: datetime,
        error_code: str | None = None,
    ) -> None:
        """Take a message out of the outbox as failed or blocked, with the reason."""
        with self.transaction() as conn:
            conn.execute(
                update(schema.messages)
                .where(schema.messages.c.id == message_id)
                .values(
                    status=status.value,
                    status_reason=reason,
                    error_code=error_code,
                    updated_at=now,
                )
            )
            conn.execute(
                delete(schema.outbox).where(schema.outbox.c.message_id == message_id)
            )

    def apply_status(
        self,
        channel: str,
        provider_message_id: str,
        status: DeliveryStatus,
        now: datetime,
        error_code: str | None = None,
    ) -> bool:
        """Move a message's delivery status forward; False when it would go back."""
        table = schema.messages
        with self.transaction() as conn:
            row = conn.execute(
                select(table.c.id, table.c.status).where(
                    table.c.channel == channel,
                    table.c.provider_message_id == provider_message_id,
                )
            ).first()
            if row is None:
                return False
            current = DeliveryStatus(row.status)
            if status.rank <= current.rank:
                return False
            conn.execute(
                update(table)
                .where(table.c.id == row.id)
                .values(status=status.value, error_code=error_code, updated_at=now)
            )
        return True

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
        return [
            LedgerEntry(
                id=row.id,
                address=row.address,
                purpose=row.purpose,
                action=row.action,
                source=row.source,
                actor=row.actor,
                evidence=row.evidence,
                recorded_at=_aware(row.recorded_at),
            )
            for row in rows
        ]

    def ledger(self, address: str | None = None) -> list[LedgerEntry]:
        """Return every consent record, or one address's, in storage order."""
        table = schema.consent_records
        query = select(table).order_by(table.c.id)
        if address is not None:
            query = query.where(table.c.address == address)
        with self.read_engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            LedgerEntry(
                id=row.id,
                address=row.address,
                purpose=row.purpose,
                action=row.action,
                source=row.source,
                actor=row.actor,
                evidence=row.evidence,
                recorded_at=_aware(row.recorded_at),
            )
            for row in rows
        ]

    def count_outbound(
        self, conversation_id: int, conn: Connection | None = None
    ) -> int:
        """Return how many messages were queued or sent in a conversation; blocked ones do not count."""
        table = schema.messages
        with self._tx(conn) as tx:
            return int(
                tx.execute(
                    select(func.count())
                    .select_from(table)
                    .where(
                        table.c.conversation_id == conversation_id,
                        table.c.direction == "out",
                        table.c.status != DeliveryStatus.BLOCKED.value,
                    )
                ).scalar_one()
            )

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
                    moment = _aware(row.last)
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

    def has_inbound(self, conversation_id: int, conn: Connection | None = None) -> bool:
        """Return True when the customer has written in a conversation."""
        return self.count_inbound(conversation_id, conn=conn) > 0

    def recent_outbound_times(
        self,
        address: str,
        since: datetime,
        exclude_purpose: str,
        exclude_message_id: int | None = None,
        conn: Connection | None = None,
    ) -> list[datetime]:
        """Return creation times of messages queued or sent to an address since a time.

        Blocked and failed messages do not count, nor messages of
        ``exclude_purpose``.
        """
        msg = schema.messages
        conv = schema.conversations
        counted = [
            DeliveryStatus.QUEUED.value,
            DeliveryStatus.SENDING.value,
            DeliveryStatus.SENT.value,
            DeliveryStatus.DELIVERED.value,
        ]
        with self._tx(conn) as tx:
            rows = tx.execute(
                select(msg.c.created_at)
                .join(conv, conv.c.id == msg.c.conversation_id)
                .where(
                    conv.c.address == address,
                    msg.c.direction == "out",
                    msg.c.purpose != exclude_purpose,
                    msg.c.status.in_(counted),
                    msg.c.created_at >= since,
                    msg.c.id != (exclude_message_id or 0),
                )
                .order_by(msg.c.created_at)
            ).all()
        return [_aware(row.created_at) for row in rows]

    # Plugin state

    def get_plugin_state(
        self, plugin_id: str, key: str, conn: Connection | None = None
    ) -> str | None:
        """Return a stored plugin value, or None."""
        table = schema.plugin_state
        with self._tx(conn) as tx:
            return tx.execute(
                select(table.c.value).where(
                    table.c.plugin_id == plugin_id, table.c.key == key
                )
            ).scalar()

    def set_plugin_state(
        self,
        plugin_id: str,
        key: str,
        value: str,
        now: datetime,
        conn: Connection | None = None,
    ) -> None:
        """Store a plugin value, replacing the previous one atomically."""
        table = schema.plugin_state
        insert_statement = self._dialect_insert(table).values(
            plugin_id=plugin_id, key=key, value=value, updated_at=now
        )
        upsert = insert_statement.on_conflict_do_update(
            index_elements=[table.c.plugin_id, table.c.key],
            set_={"value": value, "updated_at": now},
        )
        with self._tx(conn) as tx:
            tx.execute(upsert)

    # Reports

    def messages(self, conversation_id: int | None = None) -> list[MessageRecord]:
        """Return stored messages in order, optionally of one conversation."""
        msg = schema.messages
        conv = schema.conversations
        query = (
            select(msg, conv.c.address)
            .join(conv, conv.c.id == msg.c.conversation_id)
            .order_by(msg.c.id)
        )
        if conversation_id is not None:
            query = query.where(msg.c.conversation_id == conversation_id)
        with self.read_engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            MessageRecord(
                id=row.id,
                conversation_id=row.conversation_id,
                direction=row.direction,
                channel=row.channel,
                address=row.address,
                kind=row.kind,
                purpose=row.purpose,
                body=row.body,
                status=row.status,
                status_reason=row.status_reason,
                provider_message_id=row.provider_message_id,
                created_at=_aware(row.created_at),
                sent_at=_aware(row.sent_at),
            )
            for row in rows
        ]

    def counts(self) -> dict[str, int]:
        """Return row counts that tell whether work is pending."""
        with self.read_engine.connect() as conn:
            pending_events = conn.execute(
                select(func.count())
                .select_from(schema.events)
                .where(schema.events.c.status == "pending")
            ).scalar_one()
            outbox_rows = conn.execute(
                select(func.count()).select_from(schema.outbox)
            ).scalar_one()
            events_total = conn.execute(
                select(func.count()).select_from(schema.events)
            ).scalar_one()
            deliveries = conn.execute(
                select(func.count()).select_from(schema.webhook_deliveries)
            ).scalar_one()
        return {
            "events": events_total,
            "pending_events": pending_events,
            "outbox": outbox_rows,
            "webhook_deliveries": deliveries,
        }


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only used to print a URL
        return "(unparseable URL)"


def _create_engine(url: str, for_reads: bool = False) -> Engine:
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
            f"cannot use store URL {_safe_url(url)}: {err}. For PostgreSQL install "
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


__all__ = ["IntegrityError", "OperationalError", "Store", "open_store"]
