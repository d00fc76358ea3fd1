"""The CSAT part of the store: survey rows and the conversation facts they depend on.

Surveys live in ``csat_surveys``; the meaning of each state is documented
at that table in :mod:`parley.store.schema`. Every state change is a
conditional UPDATE on the expected current state, so the survey poller and
the event worker never overwrite each other's outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select, update

from parley.models import AGENT_REPLY_KIND
from parley.store import schema
from parley.store.base import StoreBase
from parley.store.engine import as_utc
from parley.store.support import CUSTOMER_ACTOR

# The state names of csat_surveys.state.
PENDING = "pending"
SENT = "sent"
ANSWERED = "answered"
EXPIRED = "expired"
BLOCKED = "blocked"
CANCELLED = "cancelled"


@dataclass(frozen=True)
class SurveyRecord:
    """One CSAT survey: the closing that asked for it and what became of it."""

    id: int
    conversation_id: int
    contact_id: int
    channel: str
    closing_id: int
    message_id: int | None
    state: str
    agent: str | None
    score: int | None
    comment: str | None
    clarified: bool
    created_at: datetime
    sent_at: datetime | None
    answered_at: datetime | None
    expires_at: datetime | None


@dataclass(frozen=True)
class ConversationStatus:
    """A conversation's state and latest state change, read under a row lock."""

    state: str
    latest_change_id: int | None
    closed_at: datetime | None
    last_inbound_at: datetime | None


class CsatStore(StoreBase):
    """Reads and writes of ``csat_surveys``."""

    def add_csat_survey(
        self,
        conversation_id: int,
        closing_id: int,
        now: datetime,
        conn: Connection | None = None,
    ) -> int | None:
        """Insert a pending survey for one closing of a conversation.

        The agent is the conversation's assigned agent, or else the actor
        of the closing.

        Returns:
            The survey id, or None when this closing already has a survey or
            the closing or conversation does not exist.
        """
        conv = schema.conversations
        states = schema.conversation_states
        with self._tx(conn) as tx:
            row = tx.execute(
                select(
                    conv.c.contact_id,
                    conv.c.channel,
                    conv.c.assigned_agent,
                    states.c.actor,
                )
                .join(states, states.c.conversation_id == conv.c.id)
                .where(conv.c.id == conversation_id, states.c.id == closing_id)
            ).first()
            if row is None:
                return None
            values = {
                "conversation_id": conversation_id,
                "contact_id": row.contact_id,
                "channel": row.channel,
                "closing_id": closing_id,
                "state": PENDING,
                "agent": row.assigned_agent or row.actor,
                "clarified": 0,
                "created_at": now,
            }
            if not self._insert_ignore(tx, schema.csat_surveys, values):
                return None
            return int(
                tx.execute(
                    select(schema.csat_surveys.c.id).where(
                        schema.csat_surveys.c.closing_id == closing_id
                    )
                ).scalar_one()
            )

    def csat_survey(
        self, survey_id: int, conn: Connection | None = None
    ) -> SurveyRecord | None:
        """Return one survey, or None."""
        table = schema.csat_surveys
        with self._tx(conn) as tx:
            row = tx.execute(select(table).where(table.c.id == survey_id)).first()
        return _survey(row) if row is not None else None

    def csat_surveys(self, conversation_id: int | None = None) -> list[SurveyRecord]:
        """Return surveys oldest first, optionally of one conversation."""
        table = schema.csat_surveys
        query = select(table).order_by(table.c.id)
        if conversation_id is not None:
            query = query.where(table.c.conversation_id == conversation_id)
        with self.read_engine.connect() as conn:
            return [_survey(row) for row in conn.execute(query)]

    def pending_csat_surveys(
        self, created_before: datetime, limit: int
    ) -> list[SurveyRecord]:
        """Return pending surveys created at or before a time, oldest first."""
        table = schema.csat_surveys
        query = (
            select(table)
            .where(table.c.state == PENDING, table.c.created_at <= created_before)
            .order_by(table.c.created_at, table.c.id)
            .limit(limit)
        )
        with self.read_engine.connect() as conn:
            return [_survey(row) for row in conn.execute(query)]

    def answerable_csat_survey(
        self, conversation_id: int, conn: Connection | None = None
    ) -> SurveyRecord | None:
        """Return the conversation's latest survey that was sent or answered, or None."""
        table = schema.csat_surveys
        with self._tx(conn) as tx:
            row = tx.execute(
                select(table)
                .where(
                    table.c.conversation_id == conversation_id,
                    table.c.state.in_([SENT, ANSWERED]),
                )
                .order_by(table.c.id.desc())
                .limit(1)
            ).first()
        return _survey(row) if row is not None else None

    def team_acted_since(
        self,
        conversation_id: int,
        closing_id: int,
        since: datetime,
        conn: Connection | None = None,
    ) -> bool:
        """Return True when a person changed or answered the conversation after a closing.

        That is a state change after ``closing_id`` by anyone but the
        customer, or an agent reply queued after ``since``.
        """
        states = schema.conversation_states
        msg = schema.messages
        with self._tx(conn) as tx:
            changed = tx.execute(
                select(states.c.id)
                .where(
                    states.c.conversation_id == conversation_id,
                    states.c.id > closing_id,
                    states.c.actor != CUSTOMER_ACTOR,
                )
                .limit(1)
            ).first()
            replied = tx.execute(
                select(msg.c.id)
                .where(
                    msg.c.conversation_id == conversation_id,
                    msg.c.direction == "out",
                    msg.c.kind == AGENT_REPLY_KIND,
                    msg.c.created_at > since,
                )
                .limit(1)
            ).first()
        return changed is not None or replied is not None

    def last_csat_sent_at(
        self, conversation_id: int, conn: Connection | None = None
    ) -> datetime | None:
        """Return when the conversation's latest survey that reached the outbox was queued."""
        table = schema.csat_surveys
        with self._tx(conn) as tx:
            latest = tx.execute(
                select(table.c.sent_at)
                .where(
                    table.c.conversation_id == conversation_id,
                    table.c.state.in_([SENT, ANSWERED, EXPIRED]),
                    table.c.sent_at.is_not(None),
                )
                .order_by(table.c.sent_at.desc())
                .limit(1)
            ).scalar()
        return as_utc(latest)

    def lock_conversation_status(
        self, conversation_id: int, conn: Connection
    ) -> ConversationStatus | None:
        """Lock a conversation row and return its state, or None when it does not exist.

        Storing a customer message locks the same row to reopen the
        conversation on PostgreSQL, and SQLite has one writer at a time, so
        a message cannot reopen the conversation while the caller decides.
        """
        conv = schema.conversations
        states = schema.conversation_states
        msg = schema.messages
        row = conn.execute(
            select(conv.c.state, conv.c.closed_at)
            .where(conv.c.id == conversation_id)
            .with_for_update()
        ).first()
        if row is None:
            return None
        latest_change = conn.execute(
            select(states.c.id)
            .where(states.c.conversation_id == conversation_id)
            .order_by(states.c.id.desc())
            .limit(1)
        ).scalar()
        last_inbound = conn.execute(
            select(msg.c.created_at)
            .where(msg.c.conversation_id == conversation_id, msg.c.direction == "in")
            .order_by(msg.c.created_at.desc())
            .limit(1)
        ).scalar()
        return ConversationStatus(
            state=row.state,
            latest_change_id=latest_change,
            closed_at=as_utc(row.closed_at),
            last_inbound_at=as_utc(last_inbound),
        )

    def mark_csat_sent(
        self,
        survey_id: int,
        state: str,
        message_id: int,
        sent_at: datetime | None,
        expires_at: datetime | None,
        conn: Connection,
    ) -> bool:
        """Move a pending survey to ``sent`` or ``blocked`` with its message."""
        return self._change_state(
            survey_id,
            PENDING,
            conn,
            state=state,
            message_id=message_id,
            sent_at=sent_at,
            expires_at=expires_at,
        )

    def close_csat_survey(
        self, survey_id: int, from_state: str, to_state: str, conn: Connection
    ) -> bool:
        """Move a survey to ``cancelled`` or ``expired``; False when it is no longer in ``from_state``."""
        return self._change_state(survey_id, from_state, conn, state=to_state)

    def expire_earlier_csat_surveys(
        self, conversation_id: int, survey_id: int, conn: Connection
    ) -> int:
        """Expire the unanswered surveys of a conversation older than ``survey_id``.

        Only the newest survey of a conversation takes answers.
        """
        table = schema.csat_surveys
        result = conn.execute(
            update(table)
            .where(
                table.c.conversation_id == conversation_id,
                table.c.id < survey_id,
                table.c.state == SENT,
            )
            .values(state=EXPIRED)
        )
        return int(result.rowcount or 0)

    def expire_csat_surveys(self, now: datetime) -> int:
        """Expire every sent survey whose answer time is over; return how many."""
        table = schema.csat_surveys
        with self.transaction() as conn:
            result = conn.execute(
                update(table)
                .where(table.c.state == SENT, table.c.expires_at <= now)
                .values(state=EXPIRED)
            )
        return int(result.rowcount or 0)

    def record_csat_score(
        self,
        survey_id: int,
        score: int,
        comment: str | None,
        now: datetime,
        conn: Connection,
    ) -> bool:
        """Store the score of a sent survey; False when it is no longer ``sent``."""
        return self._change_state(
            survey_id,
            SENT,
            conn,
            state=ANSWERED,
            score=score,
            comment=comment,
            answered_at=now,
        )

    def add_csat_comment(self, survey_id: int, comment: str, conn: Connection) -> bool:
        """Append a later message to an answered survey's comment."""
        table = schema.csat_surveys
        current = conn.execute(
            select(table.c.comment).where(
                table.c.id == survey_id, table.c.state == ANSWERED
            )
        ).first()
        if current is None:
            return False
        joined = f"{current.comment}\n{comment}" if current.comment else comment
        conn.execute(
            update(table).where(table.c.id == survey_id).values(comment=joined)
        )
        return True

    def mark_csat_clarified(self, survey_id: int, conn: Connection) -> bool:
        """Note that the clarification was sent; False when it was sent before."""
        table = schema.csat_surveys
        result = conn.execute(
            update(table)
            .where(
                table.c.id == survey_id,
                table.c.state == SENT,
                table.c.clarified == 0,
            )
            .values(clarified=1)
        )
        return bool(result.rowcount)

    def undo_customer_reopen(
        self, conversation_id: int, reopened_at: datetime, conn: Connection
    ) -> bool:
        """Close a conversation again that a survey answer has just reopened.

        Storing a customer message reopens a closed conversation in the
        same transaction. When that message answers a survey it is no new
        request, so the reopening state change, which no other transaction
        has seen yet, is deleted and the earlier closing is restored.

        Returns:
            True when the latest state change was the customer's reopening
            of a closed conversation at ``reopened_at`` and was undone.
        """
        conv = schema.conversations
        states = schema.conversation_states
        recent = conn.execute(
            select(states)
            .where(states.c.conversation_id == conversation_id)
            .order_by(states.c.id.desc())
            .limit(2)
        ).all()
        if len(recent) < 2:
            return False
        reopening, closing = recent
        if (
            reopening.actor != CUSTOMER_ACTOR
            or reopening.previous_state != "closed"
            or reopening.state != "open"
            or as_utc(reopening.changed_at) != reopened_at
            or closing.state != "closed"
        ):
            return False
        conn.execute(delete(states).where(states.c.id == reopening.id))
        conn.execute(
            update(conv)
            .where(conv.c.id == conversation_id)
            .values(state="closed", closed_at=closing.changed_at)
        )
        return True

    def _change_state(
        self, survey_id: int, expected: str, conn: Connection, **values: Any
    ) -> bool:
        table = schema.csat_surveys
        result = conn.execute(
            update(table)
            .where(table.c.id == survey_id, table.c.state == expected)
            .values(**values)
        )
        return bool(result.rowcount)


def _survey(row: Any) -> SurveyRecord:
    return SurveyRecord(
        id=row.id,
        conversation_id=row.conversation_id,
        contact_id=row.contact_id,
        channel=row.channel,
        closing_id=row.closing_id,
        message_id=row.message_id,
        state=row.state,
        agent=row.agent,
        score=row.score,
        comment=row.comment,
        clarified=bool(row.clarified),
        created_at=as_utc(row.created_at),  # type: ignore[arg-type]
        sent_at=as_utc(row.sent_at),
        answered_at=as_utc(row.answered_at),
        expires_at=as_utc(row.expires_at),
    )
