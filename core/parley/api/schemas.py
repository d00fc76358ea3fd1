"""Request and response bodies of the agent API, as pydantic models.

The same models validate requests and generate the OpenAPI document, so the
document cannot drift from what the API accepts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    WithJsonSchema,
    model_validator,
)

from parley.store.desk_records import ConversationState
from parley.tokens import NAME_PATTERN, Role

MAX_ID = 2**63 - 1

# Largest reply accepted. Channels split or reject long texts by their own
# rules (Twilio's Messages API takes at most 1,600 characters), so this
# only bounds input.
MAX_REPLY_CHARACTERS = 4096
MAX_NOTE_CHARACTERS = 10_000


def _storable(value: str) -> str:
    """Reject text the databases cannot store, and blank text."""
    # PostgreSQL cannot store NUL in text. Lone surrogates, the other
    # unstorable case, are rejected by pydantic's str validation already.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _parse_moment(value: object) -> datetime:
    """Parse an ISO 8601 time with an offset and convert it to UTC.

    pydantic's own datetime parsing also takes Unix timestamps such as
    ``0.5``, which a filter would read as 1970, so only ISO 8601 is accepted.
    """
    problem = "must be an ISO 8601 time with an offset, such as 2026-11-17T15:00:00Z"
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError as err:
            raise ValueError(problem) from err
    else:
        raise ValueError(problem)
    if moment.tzinfo is None:
        raise ValueError(problem)
    try:
        return moment.astimezone(UTC)
    except OverflowError as err:
        raise ValueError("is out of range") from err


Identifier = Annotated[int, Field(ge=1, le=MAX_ID)]
Name = Annotated[str, Field(pattern=f"^{NAME_PATTERN.pattern}$")]
ChannelId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
Cursor = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,512}$")]
Moment = Annotated[
    datetime,
    PlainValidator(_parse_moment),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
ReplyText = Annotated[
    str, Field(min_length=1, max_length=MAX_REPLY_CHARACTERS), AfterValidator(_storable)
]
NoteText = Annotated[
    str, Field(min_length=1, max_length=MAX_NOTE_CHARACTERS), AfterValidator(_storable)
]
ListName = Annotated[
    str,
    Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$"),
    AfterValidator(_storable),
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Requests


class ReplyRequest(_Request):
    """An agent's reply to the customer."""

    body: ReplyText = Field(description="The text sent to the customer.")


class NoteRequest(_Request):
    """An internal note for the team; it is never sent to the customer."""

    body: NoteText = Field(description="The note's text.")


class AssignRequest(_Request):
    """A new assignment. A key left out keeps its value; null clears it."""

    agent: Name | None = Field(
        None, description="Token name of an active agent or lead."
    )
    team: Name | None = Field(None, description="Team name.")

    @model_validator(mode="after")
    def _check_not_empty(self) -> AssignRequest:
        if not self.model_fields_set:
            raise ValueError("give agent, team or both")
        return self


class ListCreateRequest(_Request):
    """A new contact list."""

    name: ListName = Field(description="Unique list name, such as VIP.")


# Query parameters


class ConversationQuery(_Request):
    """Filters and paging of the conversation listing."""

    state: ConversationState | None = Field(None, description="Only this state.")
    assignee: Name | None = Field(
        None,
        description="Only conversations assigned to this agent; 'me' is the "
        "caller's token name and 'none' means unassigned.",
    )
    team: Name | None = Field(None, description="Only conversations of this team.")
    channel: ChannelId | None = Field(None, description="Only this channel id.")
    list: Identifier | None = Field(
        None, description="Only conversations whose contact is in this list id."
    )
    updated_since: Moment | None = Field(
        None,
        description="Only conversations updated at or after this time "
        "(ISO 8601 with an offset).",
    )
    cursor: Cursor | None = Field(
        None, description="The next_cursor of the previous page."
    )
    limit: int = Field(50, ge=1, le=200, description="Conversations per page.")


class ThreadQuery(_Request):
    """Paging of a thread, from the newest entry backwards."""

    before: Cursor | None = Field(
        None, description="The older_cursor of the previous page."
    )
    limit: int = Field(100, ge=1, le=500, description="Entries per page.")


class MembersQuery(_Request):
    """Paging of a contact list's members."""

    limit: int = Field(100, ge=1, le=500, description="Members per page.")
    offset: int = Field(0, ge=0, le=1_000_000_000, description="Members to skip.")


class AuditQuery(_Request):
    """Filters and paging of the audit log, newest first."""

    conversation: Identifier | None = Field(
        None, description="Only rows about this conversation id."
    )
    actor: Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,80}$")] | None = Field(
        None, description="Only rows written by this actor, such as a token name."
    )
    action: Annotated[str, Field(pattern=r"^[a-z_.]{1,64}$")] | None = Field(
        None, description="Only this action, such as conversation.assign."
    )
    since: Moment | None = Field(None, description="Only rows at or after this time.")
    before: Identifier | None = Field(
        None, description="The next_before of the previous page."
    )
    limit: int = Field(100, ge=1, le=500, description="Rows per page.")


# Responses


class FieldError(BaseModel):
    """One invalid value in a request."""

    field: str = Field(description="The parameter or body field, such as body.agent.")
    message: str


class ErrorOut(BaseModel):
    """An error: what failed and what to do next."""

    error: str
    fields: list[FieldError] | None = None


class ContactOut(BaseModel):
    """The contact a conversation is with."""

    id: int
    first_name: str | None
    last_name: str | None


class ConversationOut(BaseModel):
    """A conversation with one contact on one channel address."""

    id: int
    contact: ContactOut
    channel: str
    address: str = Field(description="Phone number in E.164, email or provider id.")
    state: ConversationState
    assigned_agent: str | None
    assigned_team: str | None
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    last_inbound_at: datetime | None = Field(
        description="When the customer last wrote, or null."
    )


class ConversationPage(BaseModel):
    """A page of conversations, most recently updated first."""

    conversations: list[ConversationOut]
    next_cursor: str | None = Field(description="Pass as cursor for the next page.")


class MessageOut(BaseModel):
    """A message sent to or received from the customer."""

    type: Literal["message"] = "message"
    internal: Literal[False] = False
    id: int
    direction: Literal["in", "out"]
    kind: str = Field(description="customer, agent_reply, auto_reply, order_update...")
    purpose: str
    status: str = Field(description="received, queued, sending, sent, delivered...")
    status_reason: str | None
    error_code: str | None
    body: str
    author: str | None = Field(description="Token name of the agent who wrote it.")
    created_at: datetime
    sent_at: datetime | None


class NoteOut(BaseModel):
    """An internal note; never sent to the customer."""

    type: Literal["note"] = "note"
    internal: Literal[True] = True
    id: int
    author: str
    body: str
    created_at: datetime


class AssignmentOut(BaseModel):
    """One assignment of a conversation."""

    id: int
    agent: str | None
    team: str | None
    actor: str
    assigned_at: datetime


class StateChangeOut(BaseModel):
    """One change of a conversation's state."""

    id: int
    previous_state: ConversationState
    state: ConversationState
    actor: str = Field(description="Token name, or 'customer' for a reopen by message.")
    changed_at: datetime


class ThreadOut(BaseModel):
    """A conversation with its latest entries and its history."""

    conversation: ConversationOut
    entries: list[Annotated[MessageOut | NoteOut, Field(discriminator="type")]] = Field(
        description="Messages and internal notes, oldest first."
    )
    older_cursor: str | None = Field(
        description="Pass as before for older entries; null when there are none."
    )
    assignments: list[AssignmentOut]
    states: list[StateChangeOut]


class ReplyOut(BaseModel):
    """What became of a reply."""

    outcome: Literal["queued", "deferred", "duplicate"]
    message: MessageOut
    reason: str | None = Field(description="Why the message waits, if it does.")
    not_before: datetime | None = Field(description="When a deferred message may go.")


class ReplyBlockedOut(BaseModel):
    """A reply the send gate blocked, or one that cannot be made."""

    error: str
    message: MessageOut | None = Field(
        None, description="The stored blocked message, when the send gate blocked it."
    )


class NoteCreatedOut(BaseModel):
    """A note just added."""

    note: NoteOut


class AssignOut(BaseModel):
    """A conversation after its assignment changed."""

    conversation: ConversationOut
    assignment: AssignmentOut


class StateOut(BaseModel):
    """A conversation after a state change."""

    conversation: ConversationOut
    changed: bool = Field(description="False when it already was in that state.")


class ContactListOut(BaseModel):
    """A contact list."""

    id: int
    name: str
    created_by: str
    created_at: datetime
    member_count: int


class ContactListsOut(BaseModel):
    """Every contact list, by name."""

    lists: list[ContactListOut]


class MemberOut(BaseModel):
    """A contact in a list."""

    contact_id: int
    first_name: str | None
    last_name: str | None
    added_by: str
    added_at: datetime


class MembersPage(BaseModel):
    """A page of a list's members, in the order they were added."""

    list_id: int
    members: list[MemberOut]
    next_offset: int | None = Field(description="Pass as offset for the next page.")


class MembershipOut(BaseModel):
    """The result of adding a contact to a list."""

    list_id: int
    contact_id: int
    added: bool = Field(description="False when the contact already was a member.")


class AuditOut(BaseModel):
    """One audit row."""

    id: int
    occurred_at: datetime
    actor: str
    action: str
    target_type: str
    target_id: str
    conversation_id: int | None
    detail: dict[str, object]


class AuditPage(BaseModel):
    """A page of audit rows, newest first."""

    entries: list[AuditOut]
    next_before: int | None = Field(description="Pass as before for older rows.")


class WhoAmIOut(BaseModel):
    """The token a request was made with."""

    name: str
    role: Role
    team: str | None
