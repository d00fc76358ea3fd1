"""The durable outbox the outbox worker claims from."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import (
    and_,
    delete,
    or_,
    select,
    update,
)

from parley.models import (
    DeliveryStatus,
)
from parley.store import schema
from parley.store.base import StoreBase
from parley.store.records import ClaimedMessage


class OutboxStore(StoreBase):
    """The outbox: claims, sends, retries, deferrals and delivery statuses."""

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
                    msg.c.fields,
                    conv.c.address,
                    conv.c.contact_id,
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
                contact_id=row.contact_id,
                fields=dict(row.fields or {}),
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
        self._finish(
            message_id,
            status=status.value,
            provider_message_id=provider_message_id,
            sent_at=now,
            updated_at=now,
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
        self._finish(
            message_id,
            status=status.value,
            status_reason=reason,
            error_code=error_code,
            updated_at=now,
        )

    def _finish(self, message_id: int, **values: object) -> None:
        """Update a message and take it out of the outbox, in one transaction."""
        with self.transaction() as conn:
            conn.execute(
                update(schema.messages)
                .where(schema.messages.c.id == message_id)
                .values(**values)
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
        error_message: str | None = None,
    ) -> bool:
        """Move a message's delivery status forward; False when it would go back.

        A provider's error code and description are kept on the message.
        """
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
                .values(
                    status=status.value,
                    error_code=error_code,
                    status_reason=error_message
                    if error_code or error_message
                    else None,
                    updated_at=now,
                )
            )
        return True
