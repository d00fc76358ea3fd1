"""The support desk: what agents do with conversations, for the API and the CLI.

Every write runs in one transaction together with its audit row, so the
audit log never misses a change and never records one that was rolled
back. Replies pass the send gate exactly as the event pipeline's messages
do: a blocked reply is stored with the gate's reason and never sent.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection

from parley.automations import plan_close_chat
from parley.channels import Channel
from parley.context import PluginContext
from parley.csat import survey_on_close
from parley.errors import ParleyError
from parley.gate import SendGate, SendRequest
from parley.models import AGENT_REPLY_KIND, Purpose
from parley.store.desk_records import (
    AssignmentRecord,
    AuditEntry,
    ContactList,
    ConversationFilter,
    ConversationRecord,
    ConversationState,
    ListMember,
    NoteRecord,
    StateChange,
    ThreadMessage,
    ThreadPage,
)
from parley.store.support import thread_position
from parley.templates import normalize_field_name
from parley.tokens import Role

logger = logging.getLogger(__name__)

# The audit action of each state a person can move a conversation to.
STATE_ACTIONS = {
    ConversationState.OPEN: "conversation.reopen",
    ConversationState.PENDING: "conversation.pending",
    ConversationState.CLOSED: "conversation.close",
}


class DeskError(ParleyError):
    """A support-desk request cannot be carried out; the message gives the reason."""


class NotFound(DeskError):
    """The conversation, list or contact does not exist."""


class Conflict(DeskError):
    """The request clashes with the current state, such as replying in a closed thread."""


class InvalidValue(DeskError):
    """A value in the request is invalid; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.detail = message


@dataclass(frozen=True)
class ReplyOutcome:
    """What became of an agent's reply.

    Attributes:
        outcome: ``queued`` (will be sent), ``deferred`` (will be sent at
            ``not_before``), ``blocked`` (stored, never sent) or
            ``duplicate`` (the idempotency key was used before; ``message``
            is the earlier message).
        message: the stored message.
        reason: why it was blocked or deferred.
        not_before: when a deferred message may go.
    """

    outcome: str
    message: ThreadMessage
    reason: str | None = None
    not_before: datetime | None = None


@dataclass(frozen=True)
class Thread:
    """A conversation with a page of its messages and notes and its history."""

    conversation: ConversationRecord
    page: ThreadPage
    assignments: list[AssignmentRecord]
    states: list[StateChange]


class SupportDesk:
    """Reads and changes conversations on behalf of the people using the API."""

    def __init__(self, context: PluginContext, channels: Mapping[str, Channel]) -> None:
        self.context = context
        self.store = context.store
        self.settings = context.settings
        self.channels = channels
        self.clock = context.clock
        self.gate = SendGate(self.store, self.settings, channels)

    # Reading

    def conversations(
        self, wanted: ConversationFilter
    ) -> tuple[list[ConversationRecord], str | None]:
        """Return a page of conversations and the cursor of the next page, if any."""
        if wanted.list_id is not None and self.store.get_list(wanted.list_id) is None:
            raise InvalidValue("list", f"no contact list has id {wanted.list_id}")

        found = self.store.list_conversations(
            dataclasses.replace(wanted, limit=wanted.limit + 1)
        )
        page = found[: wanted.limit]
        if len(found) <= wanted.limit:
            return page, None
        last = page[-1]
        return page, encode_cursor([last.updated_at.isoformat(), last.id])

    def conversation(self, conversation_id: int) -> ConversationRecord:
        """Return one conversation.

        Raises:
            NotFound: no conversation has this id.
        """
        found = self.store.get_conversation(conversation_id)
        if found is None:
            raise NotFound(f"conversation {conversation_id} not found")
        return found

    def thread(
        self, conversation_id: int, limit: int, before: str | None = None
    ) -> tuple[Thread, str | None]:
        """Return a conversation's latest messages and notes, and the cursor for older ones."""
        conversation = self.conversation(conversation_id)
        position = decode_thread_cursor(before) if before is not None else None
        page = self.store.thread_page(conversation_id, limit, position)
        thread = Thread(
            conversation=conversation,
            page=page,
            assignments=self.store.assignment_history(conversation_id),
            states=self.store.state_history(conversation_id),
        )
        older = None
        if page.has_more and page.entries:
            moment, rank, entry_id = thread_position(page.entries[0])
            older = encode_cursor([moment.isoformat(), rank, entry_id])
        return thread, older

    # Replies and notes

    def reply(
        self,
        actor: str,
        conversation_id: int,
        text: str,
        idempotency_key: str | None = None,
    ) -> ReplyOutcome:
        """Queue an agent's reply through the send gate, or store it as blocked.

        Raises:
            NotFound: no conversation has this id.
            Conflict: the conversation is closed, or its channel is not enabled.
        """
        conversation = self.conversation(conversation_id)
        if conversation.state is ConversationState.CLOSED:
            raise Conflict(
                f"conversation {conversation_id} is closed; reopen it before replying"
            )
        channel = self.channels.get(conversation.channel)
        if channel is None:
            raise Conflict(
                f"channel {conversation.channel!r} of conversation {conversation_id} "
                "is not enabled; enable its plugin in [plugins] enabled"
            )

        # Plugins may call their provider to resolve fields, so this runs
        # before the transaction takes the store's write lock.
        fields = self._channel_fields(conversation, channel)
        key = idempotency_key or uuid.uuid4().hex
        dedupe_key = f"{AGENT_REPLY_KIND}:{conversation_id}:{actor}:{key}"
        now = self.clock()
        with self.store.transaction() as conn:
            earlier = self.store.message_by_dedupe_key(dedupe_key, conn=conn)
            if earlier is not None:
                return ReplyOutcome("duplicate", earlier, earlier.status_reason)
            outcome = self._gate_and_store(
                actor, conversation, text, fields, dedupe_key, now, conn
            )
        logger.info(
            "reply %s in conversation %s by %s: %s",
            outcome.message.id,
            conversation_id,
            actor,
            outcome.outcome,
        )
        return outcome

    def _gate_and_store(
        self,
        actor: str,
        conversation: ConversationRecord,
        text: str,
        fields: Mapping[str, str],
        dedupe_key: str,
        now: datetime,
        conn: Connection,
    ) -> ReplyOutcome:
        request = SendRequest(
            conversation.address,
            Purpose.CONVERSATIONAL,
            AGENT_REPLY_KIND,
            conversation.id,
            channel=conversation.channel,
            body=text,
            fields=fields,
        )
        decision = self.gate.check(request, now, conn=conn)
        blocked = not decision.allowed and not decision.deferred

        if blocked:
            reason = decision.reason or "blocked"
            message_id = self.store.record_blocked(
                conversation.id,
                conversation.channel,
                text,
                AGENT_REPLY_KIND,
                Purpose.CONVERSATIONAL.value,
                dedupe_key,
                reason,
                now,
                conn=conn,
            )
            outcome = "blocked"
        else:
            reason = f"deferred: {decision.reason}" if decision.deferred else None
            message_id = self.store.queue_message(
                conversation.id,
                conversation.channel,
                self._with_opt_out_notice(text, conversation.id, conn),
                AGENT_REPLY_KIND,
                Purpose.CONVERSATIONAL.value,
                dedupe_key,
                now,
                conn=conn,
                not_before=decision.defer_until,
                reason=reason,
                fields=fields,
            )
            outcome = "deferred" if decision.deferred else "queued"
        # The dedupe key contains an idempotency key that this transaction
        # found unused, so the message is always new here.
        assert message_id is not None

        self.store.set_message_author(message_id, actor, conn=conn)
        self.store.touch_conversation(conversation.id, now, conn=conn)
        self.store.add_audit(
            actor,
            "conversation.reply",
            "message",
            message_id,
            {
                "outcome": outcome,
                "reason": reason,
                "characters": len(text),
            },
            now,
            conversation_id=conversation.id,
            conn=conn,
        )
        message = self.store.message_by_dedupe_key(dedupe_key, conn=conn)
        assert message is not None
        return ReplyOutcome(outcome, message, reason, decision.defer_until)

    def _with_opt_out_notice(
        self, text: str, conversation_id: int, conn: Connection
    ) -> str:
        """Append the opt-out notice when this is the conversation's first outbound message.

        The event pipeline does the same for the messages it queues, and
        leaves the notice off when the text already mentions STOP.
        """
        notice = self.settings.compliance.opt_out_notice.strip()
        if not notice or "stop" in text.casefold():
            return text
        if self.store.count_outbound(conversation_id, conn=conn):
            return text
        return f"{text} {notice}"

    def _channel_fields(
        self, conversation: ConversationRecord, channel: Channel
    ) -> dict[str, str]:
        """Resolve the template fields a channel needs to send a reply outside its window."""
        names = list(channel.fields_for(AGENT_REPLY_KIND))
        if not names:
            return {}
        contact = self.store.get_contact(conversation.contact_id)
        hook = self.context.plugin_manager.hook
        values = {}
        for name in names:
            value = hook.resolve_field(
                name=normalize_field_name(name),
                contact=contact,
                event=None,
                context=self.context,
            )
            values[name] = value or ""
        return values

    def add_note(self, actor: str, conversation_id: int, text: str) -> NoteRecord:
        """Store an internal note; it is never sent and never counts as a message.

        Raises:
            NotFound: no conversation has this id.
        """
        self.conversation(conversation_id)
        now = self.clock()
        with self.store.transaction() as conn:
            note = self.store.add_note(conversation_id, actor, text, now, conn=conn)
            self.store.add_audit(
                actor,
                "conversation.note",
                "note",
                note.id,
                {"characters": len(text)},
                now,
                conversation_id=conversation_id,
                conn=conn,
            )
        logger.info(
            "note %s added to conversation %s by %s", note.id, conversation_id, actor
        )
        return note

    # Assignment and state

    def assign(
        self,
        actor: str,
        conversation_id: int,
        changes: Mapping[str, str | None],
    ) -> tuple[ConversationRecord, AssignmentRecord]:
        """Assign a conversation to an agent and/or a team.

        Args:
            actor: the token name of the person assigning.
            conversation_id: the conversation.
            changes: ``agent`` and/or ``team``; a key that is absent keeps
                the current value and None clears it.

        Raises:
            NotFound: no conversation has this id.
            InvalidValue: the agent is not the name of an active agent or
                lead token.
        """
        current = self.conversation(conversation_id)
        agent = changes.get("agent", current.assigned_agent)
        team = changes.get("team", current.assigned_team)
        if "agent" in changes and agent is not None:
            self._check_assignee(agent)

        now = self.clock()
        with self.store.transaction() as conn:
            assignment = self.store.assign_conversation(
                conversation_id, agent, team, actor, now, conn=conn
            )
            self.store.add_audit(
                actor,
                "conversation.assign",
                "conversation",
                conversation_id,
                {
                    "agent": agent,
                    "team": team,
                    "previous_agent": current.assigned_agent,
                    "previous_team": current.assigned_team,
                },
                now,
                conversation_id=conversation_id,
                conn=conn,
            )
        logger.info(
            "conversation %s assigned to agent %s, team %s by %s",
            conversation_id,
            agent or "(none)",
            team or "(none)",
            actor,
        )
        return self.conversation(conversation_id), assignment

    def _check_assignee(self, agent: str) -> None:
        token = self.store.active_token(agent)
        if token is None or token.role == Role.MANAGER.value:
            raise InvalidValue(
                "agent",
                f"{agent!r} is not the name of an active agent or lead token; "
                "'parley tokens list' shows the names",
            )

    def set_state(
        self, actor: str, conversation_id: int, state: ConversationState
    ) -> tuple[ConversationRecord, bool]:
        """Open, close or mark a conversation pending.

        Returns:
            The conversation afterwards, and False when it already was in
            that state (nothing is changed or audited then).

        Raises:
            NotFound: no conversation has this id.
        """
        self.conversation(conversation_id)
        now = self.clock()
        with self.store.transaction() as conn:
            change = self.store.set_conversation_state(
                conversation_id, state, actor, now, conn=conn
            )
            if change is not None:
                self.store.add_audit(
                    actor,
                    STATE_ACTIONS[state],
                    "conversation",
                    conversation_id,
                    {"from": change.previous_state.value, "to": state.value},
                    now,
                    conversation_id=conversation_id,
                    conn=conn,
                )
                survey_on_close(self.context, change, conn)
                plan_close_chat(self.context, change, conn)
        if change is not None:
            logger.info(
                "conversation %s moved from %s to %s by %s",
                conversation_id,
                change.previous_state.value,
                state.value,
                actor,
            )
        return self.conversation(conversation_id), change is not None

    # Contact lists

    def contact_lists(self) -> list[ContactList]:
        """Return every contact list with its member count."""
        return self.store.contact_lists()

    def contact_list(self, list_id: int) -> ContactList:
        """Return one contact list.

        Raises:
            NotFound: no list has this id.
        """
        found = self.store.get_list(list_id)
        if found is None:
            raise NotFound(f"contact list {list_id} not found")
        return found

    def create_list(self, actor: str, name: str) -> ContactList:
        """Create a contact list.

        Raises:
            Conflict: a list with this name exists.
        """
        now = self.clock()
        with self.store.transaction() as conn:
            created = self.store.create_list(name, actor, now, conn=conn)
            if created is None:
                raise Conflict(f"a contact list named {name!r} already exists")
            self.store.add_audit(
                actor, "list.create", "list", created.id, {"name": name}, now, conn=conn
            )
        logger.info("contact list %s created by %s", created.id, actor)
        return created

    def list_members(self, list_id: int, limit: int, offset: int) -> list[ListMember]:
        """Return a page of a list's members.

        Raises:
            NotFound: no list has this id.
        """
        self.contact_list(list_id)
        return self.store.list_members(list_id, limit, offset)

    def add_member(self, actor: str, list_id: int, contact_id: int) -> bool:
        """Add a contact to a list; False when it already was a member.

        Raises:
            NotFound: the list or the contact does not exist.
        """
        self.contact_list(list_id)
        now = self.clock()
        with self.store.transaction() as conn:
            if not self.store.contact_exists(contact_id, conn=conn):
                raise NotFound(f"contact {contact_id} not found")
            added = self.store.add_list_member(
                list_id, contact_id, actor, now, conn=conn
            )
            if added:
                self.store.add_audit(
                    actor,
                    "list.add_member",
                    "list",
                    list_id,
                    {"contact_id": contact_id},
                    now,
                    conn=conn,
                )
        if added:
            logger.info("contact %s added to list %s by %s", contact_id, list_id, actor)
        return added

    def remove_member(self, actor: str, list_id: int, contact_id: int) -> None:
        """Remove a contact from a list.

        Raises:
            NotFound: the list does not exist or the contact is not in it.
        """
        self.contact_list(list_id)
        now = self.clock()
        with self.store.transaction() as conn:
            if not self.store.remove_list_member(list_id, contact_id, conn=conn):
                raise NotFound(f"contact {contact_id} is not in contact list {list_id}")
            self.store.add_audit(
                actor,
                "list.remove_member",
                "list",
                list_id,
                {"contact_id": contact_id},
                now,
                conn=conn,
            )
        logger.info("contact %s removed from list %s by %s", contact_id, list_id, actor)

    # Audit log

    def audit(
        self,
        limit: int,
        before: int | None = None,
        conversation_id: int | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
    ) -> tuple[list[AuditEntry], int | None]:
        """Return audit rows, newest first, and the id to page on from, if more exist."""
        rows = self.store.audit_entries(
            limit + 1,
            before_id=before,
            conversation_id=conversation_id,
            actor=actor,
            action=action,
            since=since,
        )
        page = rows[:limit]
        more = len(rows) > limit
        return page, page[-1].id if more else None


def encode_cursor(parts: list[object]) -> str:
    """Return an opaque page cursor for a list of JSON values."""
    raw = json.dumps(parts, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode_cursor(cursor: str, size: int) -> list[object]:
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        parts = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (binascii.Error, UnicodeError, ValueError) as err:
        raise InvalidValue(
            "cursor", "invalid cursor; pass the next_cursor of the previous page"
        ) from err
    if not isinstance(parts, list) or len(parts) != size:
        raise InvalidValue(
            "cursor", "invalid cursor; pass the next_cursor of the previous page"
        )
    return parts


def decode_conversation_cursor(cursor: str) -> tuple[datetime, int]:
    """Return the ``(updated_at, id)`` a conversation cursor points after.

    Raises:
        InvalidValue: the cursor was not made by :meth:`SupportDesk.conversations`.
    """
    moment, conversation_id = _decode_cursor(cursor, 2)
    return _cursor_time(moment), _cursor_int(conversation_id)


def decode_thread_cursor(cursor: str) -> tuple[datetime, int, int]:
    """Return the ``(created_at, rank, id)`` a thread cursor points before.

    Raises:
        InvalidValue: the cursor was not made by :meth:`SupportDesk.thread`.
    """
    moment, rank, entry_id = _decode_cursor(cursor, 3)
    return _cursor_time(moment), _cursor_int(rank), _cursor_int(entry_id)


def _cursor_time(value: object) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError as err:
        raise InvalidValue("cursor", "invalid cursor time") from err
    if moment.tzinfo is None:
        raise InvalidValue("cursor", "invalid cursor time")
    try:
        return moment.astimezone(UTC)
    except OverflowError as err:
        raise InvalidValue("cursor", "invalid cursor time") from err


def _cursor_int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
        raise InvalidValue("cursor", "invalid cursor position")
    return value
