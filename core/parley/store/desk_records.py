"""Rows the store hands to the support desk: conversations, notes, lists, tokens."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class ConversationState(enum.StrEnum):
    """The state of a conversation for the support team.

    ``pending`` means the team waits for the customer; a customer message
    moves a pending or closed conversation back to ``open``.
    """

    OPEN = "open"
    PENDING = "pending"
    CLOSED = "closed"


@dataclass(frozen=True)
class ConversationRecord:
    """One conversation with its contact's name and current assignment."""

    id: int
    contact_id: int
    contact_first_name: str | None
    contact_last_name: str | None
    channel: str
    address: str
    state: ConversationState
    assigned_agent: str | None
    assigned_team: str | None
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    last_inbound_at: datetime | None


@dataclass(frozen=True)
class ConversationFilter:
    """The filter and page position of a conversation listing.

    Attributes:
        state: only conversations in this state.
        assigned_agent: only conversations assigned to this agent.
        unassigned: only conversations with no agent.
        team: only conversations assigned to this team.
        channel: only conversations on this channel id.
        list_id: only conversations whose contact is in this contact list.
        updated_since: only conversations updated at or after this time.
        after: the ``(updated_at, id)`` of the last conversation of the
            previous page; the page continues after it.
        limit: the maximum number of conversations returned.
    """

    state: ConversationState | None = None
    assigned_agent: str | None = None
    unassigned: bool = False
    team: str | None = None
    channel: str | None = None
    list_id: int | None = None
    updated_since: datetime | None = None
    after: tuple[datetime, int] | None = None
    limit: int = 50


@dataclass(frozen=True)
class ThreadMessage:
    """A customer message or an outbound message, as a thread shows it."""

    id: int
    direction: str
    kind: str
    purpose: str
    status: str
    status_reason: str | None
    error_code: str | None
    body: str
    author: str | None
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True)
class NoteRecord:
    """An internal note: seen by the team, never sent to the customer."""

    id: int
    conversation_id: int
    author: str
    body: str
    created_at: datetime


@dataclass(frozen=True)
class ThreadPage:
    """Part of a thread, oldest entry first.

    Attributes:
        entries: messages and notes in the order they were written.
        has_more: True when older entries exist before the first one.
    """

    entries: tuple[ThreadMessage | NoteRecord, ...]
    has_more: bool


@dataclass(frozen=True)
class AssignmentRecord:
    """One assignment of a conversation, kept as history."""

    id: int
    conversation_id: int
    agent: str | None
    team: str | None
    actor: str
    assigned_at: datetime


@dataclass(frozen=True)
class StateChange:
    """One change of a conversation's state, kept as history."""

    id: int
    conversation_id: int
    previous_state: ConversationState
    state: ConversationState
    actor: str
    changed_at: datetime


@dataclass(frozen=True)
class ContactList:
    """A named list of contacts, such as ``VIP`` or ``Wholesale``."""

    id: int
    name: str
    created_by: str
    created_at: datetime
    member_count: int


@dataclass(frozen=True)
class ListMember:
    """A contact in a contact list."""

    contact_id: int
    first_name: str | None
    last_name: str | None
    added_by: str
    added_at: datetime


@dataclass(frozen=True)
class TokenRecord:
    """An API token without its secret: the store keeps only a hash."""

    id: int
    name: str
    role: str
    team: str | None
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class AuditEntry:
    """One row of the append-only audit log."""

    id: int
    occurred_at: datetime
    actor: str
    action: str
    target_type: str
    target_id: str
    conversation_id: int | None
    detail: dict[str, Any]
