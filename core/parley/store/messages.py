"""Conversations and the messages in them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    func,
    insert,
    select,
    update,
)

from parley.models import (
    DeliveryStatus,
)
from parley.store import schema
from parley.store.base import StoreBase
from parley.store.engine import as_utc
from parley.store.records import MessageRecord


class MessageStore(StoreBase):
    """Conversations, inbound and outbound messages, and message reports."""

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
        address_hash = self.lookup_hash(address)
        with self._tx(conn) as tx:
            existing = tx.execute(
                select(table.c.id).where(
                    table.c.channel == channel, table.c.address_hash == address_hash
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
                    "address_hash": address_hash,
                    "state": "open",
                    "opened_at": now,
                    "updated_at": now,
                },
            )
            conversation_id = tx.execute(
                select(table.c.id).where(
                    table.c.channel == channel, table.c.address_hash == address_hash
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
                .where(table.c.address_hash == self.lookup_hash(address))
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
        fields: Mapping[str, str] | None = None,
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
            fields: template field values the channel asked for.

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
            "fields": dict(fields) if fields else None,
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
        return self._count_messages(
            conversation_id, conn, schema.messages.c.direction == "in"
        )

    def count_outbound(
        self, conversation_id: int, conn: Connection | None = None
    ) -> int:
        """Return how many messages were queued or sent in a conversation.

        Blocked messages do not count.
        """
        table = schema.messages
        return self._count_messages(
            conversation_id,
            conn,
            table.c.direction == "out",
            table.c.status != DeliveryStatus.BLOCKED.value,
        )

    def _count_messages(
        self, conversation_id: int, conn: Connection | None, *conditions: Any
    ) -> int:
        table = schema.messages
        with self._tx(conn) as tx:
            query = (
                select(func.count())
                .select_from(table)
                .where(table.c.conversation_id == conversation_id, *conditions)
            )
            return int(tx.execute(query).scalar_one())

    def last_inbound_at(
        self, conversation_id: int, conn: Connection | None = None
    ) -> datetime | None:
        """Return when the customer last wrote in a conversation, or None."""
        table = schema.messages
        with self._tx(conn) as tx:
            latest = tx.execute(
                select(func.max(table.c.created_at)).where(
                    table.c.conversation_id == conversation_id,
                    table.c.direction == "in",
                )
            ).scalar()
        return as_utc(latest)

    def outbound_times(
        self,
        address: str,
        kind: str,
        purpose: str,
        conn: Connection | None = None,
    ) -> list[datetime]:
        """Return when messages of a kind and purpose were queued to an address.

        Blocked messages do not count; the list is oldest first.
        """
        msg = schema.messages
        conv = schema.conversations
        with self._tx(conn) as tx:
            rows = tx.execute(
                select(msg.c.created_at)
                .join(conv, conv.c.id == msg.c.conversation_id)
                .where(
                    conv.c.address_hash == self.lookup_hash(address),
                    msg.c.direction == "out",
                    msg.c.kind == kind,
                    msg.c.purpose == purpose,
                    msg.c.status != DeliveryStatus.BLOCKED.value,
                )
                .order_by(msg.c.created_at, msg.c.id)
            ).all()
        return [as_utc(row.created_at) for row in rows]  # type: ignore[misc]

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
                    conv.c.address_hash == self.lookup_hash(address),
                    msg.c.direction == "out",
                    msg.c.purpose != exclude_purpose,
                    msg.c.status.in_(counted),
                    msg.c.created_at >= since,
                    msg.c.id != (exclude_message_id or 0),
                )
                .order_by(msg.c.created_at)
            ).all()
        return [as_utc(row.created_at) for row in rows]

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
                created_at=as_utc(row.created_at),
                sent_at=as_utc(row.sent_at),
            )
            for row in rows
        ]
