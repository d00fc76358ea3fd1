"""The agent API's operations: conversations, threads, replies, notes and lists."""

from __future__ import annotations

import re
from typing import TypeVar

from pydantic import BaseModel

from parley.api import schemas
from parley.api.framework import (
    ALL_ROLES,
    IDEMPOTENCY_HEADER,
    IDEMPOTENCY_PATTERN,
    LEADS,
    OVERSEERS,
    WRITERS,
    Answer,
    Call,
    Operation,
)
from parley.conversations import (
    InvalidValue,
    ReplyOutcome,
    SupportDesk,
    decode_conversation_cursor,
)
from parley.store.desk_records import (
    ConversationFilter,
    ConversationRecord,
    ConversationState,
    NoteRecord,
    ThreadMessage,
)

OutT = TypeVar("OutT", bound=BaseModel)

CONVERSATION = "/api/conversations/{conversation_id}"
NOT_FOUND = "The conversation does not exist."


class AgentApi:
    """The handlers of the agent API, over one :class:`SupportDesk`."""

    def __init__(self, desk: SupportDesk) -> None:
        self.desk = desk

    def operations(self) -> list[Operation]:
        """Return every operation of the API."""
        return [
            *self._conversation_operations(),
            *self._write_operations(),
            *self._list_operations(),
            Operation(
                "GET",
                "/api/audit",
                "listAudit",
                "List audit rows, newest first",
                OVERSEERS,
                self.list_audit,
                {200: (schemas.AuditPage, "A page of audit rows.")},
                query=schemas.AuditQuery,
            ),
            Operation(
                "GET",
                "/api/me",
                "whoAmI",
                "Show the token the request is made with",
                ALL_ROLES,
                self.who_am_i,
                {200: (schemas.WhoAmIOut, "The token's name, role and team.")},
            ),
        ]

    def _conversation_operations(self) -> list[Operation]:
        return [
            Operation(
                "GET",
                "/api/conversations",
                "listConversations",
                "List conversations, most recently updated first",
                ALL_ROLES,
                self.list_conversations,
                {200: (schemas.ConversationPage, "A page of conversations.")},
                query=schemas.ConversationQuery,
            ),
            Operation(
                "GET",
                CONVERSATION,
                "readThread",
                "Read a conversation's messages, internal notes and history",
                ALL_ROLES,
                self.read_thread,
                {200: (schemas.ThreadOut, "The thread, oldest entry first.")},
                errors={404: NOT_FOUND},
                query=schemas.ThreadQuery,
            ),
        ]

    def _write_operations(self) -> list[Operation]:
        return [
            Operation(
                "POST",
                f"{CONVERSATION}/reply",
                "reply",
                "Reply to the customer through the send gate",
                WRITERS,
                self.reply,
                {
                    201: (schemas.ReplyOut, "Queued for sending."),
                    202: (schemas.ReplyOut, "Accepted; waits until not_before."),
                    200: (
                        schemas.ReplyOut,
                        "The Idempotency-Key was used before; the earlier message.",
                    ),
                    409: (
                        schemas.ReplyBlockedOut,
                        "Not sent: the send gate blocked it (the message is "
                        "stored with the reason), the conversation is closed, or "
                        "its channel is not enabled.",
                    ),
                },
                errors={404: NOT_FOUND},
                body=schemas.ReplyRequest,
                headers={
                    IDEMPOTENCY_HEADER: "Any unique value per reply; a retried "
                    "request with the same key does not send again."
                },
            ),
            Operation(
                "POST",
                f"{CONVERSATION}/notes",
                "addNote",
                "Add an internal note; it is never sent to the customer",
                WRITERS,
                self.add_note,
                {201: (schemas.NoteCreatedOut, "The note.")},
                errors={404: NOT_FOUND},
                body=schemas.NoteRequest,
            ),
            Operation(
                "POST",
                f"{CONVERSATION}/assign",
                "assign",
                "Assign a conversation to an agent and/or a team",
                LEADS,
                self.assign,
                {200: (schemas.AssignOut, "The conversation after the assignment.")},
                errors={404: NOT_FOUND},
                body=schemas.AssignRequest,
            ),
            *(
                Operation(
                    "POST",
                    f"{CONVERSATION}/{verb}",
                    f"{verb}Conversation",
                    summary,
                    WRITERS,
                    self._state_handler(state),
                    {200: (schemas.StateOut, "The conversation afterwards.")},
                    errors={404: NOT_FOUND},
                )
                for verb, state, summary in (
                    ("close", ConversationState.CLOSED, "Close a conversation"),
                    (
                        "reopen",
                        ConversationState.OPEN,
                        "Reopen a closed or pending conversation",
                    ),
                    (
                        "pending",
                        ConversationState.PENDING,
                        "Mark a conversation as waiting for the customer",
                    ),
                )
            ),
        ]

    def _list_operations(self) -> list[Operation]:
        members = "/api/lists/{list_id}/members"
        no_list = "The contact list does not exist."
        return [
            Operation(
                "GET",
                "/api/lists",
                "listContactLists",
                "List contact lists",
                ALL_ROLES,
                self.list_lists,
                {200: (schemas.ContactListsOut, "Every contact list.")},
            ),
            Operation(
                "POST",
                "/api/lists",
                "createContactList",
                "Create a contact list",
                LEADS,
                self.create_list,
                {201: (schemas.ContactListOut, "The new list.")},
                errors={409: "A list with this name exists."},
                body=schemas.ListCreateRequest,
            ),
            Operation(
                "GET",
                members,
                "listMembers",
                "List a contact list's members",
                ALL_ROLES,
                self.list_members,
                {200: (schemas.MembersPage, "A page of members.")},
                errors={404: no_list},
                query=schemas.MembersQuery,
            ),
            Operation(
                "PUT",
                f"{members}/{{contact_id}}",
                "addMember",
                "Add a contact to a list",
                WRITERS,
                self.add_member,
                {
                    201: (schemas.MembershipOut, "Added."),
                    200: (schemas.MembershipOut, "It already was a member."),
                },
                errors={404: "The list or the contact does not exist."},
            ),
            Operation(
                "DELETE",
                f"{members}/{{contact_id}}",
                "removeMember",
                "Remove a contact from a list",
                WRITERS,
                self.remove_member,
                {204: (None, "Removed.")},
                errors={404: "The list does not exist or the contact is not in it."},
            ),
        ]

    # Conversations

    def list_conversations(self, call: Call) -> Answer:
        """Return a filtered page of conversations."""
        query: schemas.ConversationQuery = call.query
        assignee = query.assignee
        if assignee == "me":
            assignee = call.token.name
        wanted = ConversationFilter(
            state=query.state,
            assigned_agent=None if assignee == "none" else assignee,
            unassigned=assignee == "none",
            team=query.team,
            channel=query.channel,
            list_id=query.list,
            updated_since=query.updated_since,
            after=decode_conversation_cursor(query.cursor) if query.cursor else None,
            limit=query.limit,
        )
        found, next_cursor = self.desk.conversations(wanted)
        page = schemas.ConversationPage(
            conversations=[conversation_out(record) for record in found],
            next_cursor=next_cursor,
        )
        return Answer(200, page)

    def read_thread(self, call: Call) -> Answer:
        """Return a conversation's latest entries and its history."""
        query: schemas.ThreadQuery = call.query
        thread, older = self.desk.thread(
            call.path["conversation_id"], query.limit, query.before
        )
        body = schemas.ThreadOut(
            conversation=conversation_out(thread.conversation),
            entries=[_entry_out(entry) for entry in thread.page.entries],
            older_cursor=older,
            assignments=[
                _out(schemas.AssignmentOut, item) for item in thread.assignments
            ],
            states=[_out(schemas.StateChangeOut, item) for item in thread.states],
        )
        return Answer(200, body)

    # Writes

    def reply(self, call: Call) -> Answer:
        """Queue a reply, or return 409 with the send gate's reason."""
        key = call.headers.get(IDEMPOTENCY_HEADER.lower())
        if key is not None and re.fullmatch(IDEMPOTENCY_PATTERN, key) is None:
            raise InvalidValue(
                f"header.{IDEMPOTENCY_HEADER}",
                "use 1 to 100 characters: letters, digits, '.', '_', ':' or '-'",
            )
        request: schemas.ReplyRequest = call.body
        outcome = self.desk.reply(
            call.token.name, call.path["conversation_id"], request.body, key
        )
        return _reply_answer(outcome)

    def add_note(self, call: Call) -> Answer:
        """Store an internal note."""
        request: schemas.NoteRequest = call.body
        note = self.desk.add_note(
            call.token.name, call.path["conversation_id"], request.body
        )
        return Answer(201, schemas.NoteCreatedOut(note=_note_out(note)))

    def assign(self, call: Call) -> Answer:
        """Assign a conversation."""
        request: schemas.AssignRequest = call.body
        changes = {name: getattr(request, name) for name in request.model_fields_set}
        conversation, assignment = self.desk.assign(
            call.token.name, call.path["conversation_id"], changes
        )
        body = schemas.AssignOut(
            conversation=conversation_out(conversation),
            assignment=_out(schemas.AssignmentOut, assignment),
        )
        return Answer(200, body)

    def _state_handler(self, state: ConversationState):  # noqa: ANN202 - a handler
        def handle(call: Call) -> Answer:
            conversation, changed = self.desk.set_state(
                call.token.name, call.path["conversation_id"], state
            )
            body = schemas.StateOut(
                conversation=conversation_out(conversation), changed=changed
            )
            return Answer(200, body)

        return handle

    # Contact lists

    def list_lists(self, call: Call) -> Answer:
        """Return every contact list."""
        found = self.desk.contact_lists()
        return Answer(
            200,
            schemas.ContactListsOut(
                lists=[_out(schemas.ContactListOut, item) for item in found]
            ),
        )

    def create_list(self, call: Call) -> Answer:
        """Create a contact list."""
        request: schemas.ListCreateRequest = call.body
        created = self.desk.create_list(call.token.name, request.name)
        return Answer(201, _out(schemas.ContactListOut, created))

    def list_members(self, call: Call) -> Answer:
        """Return a page of a list's members."""
        query: schemas.MembersQuery = call.query
        list_id = call.path["list_id"]
        found = self.desk.list_members(list_id, query.limit + 1, query.offset)
        page = found[: query.limit]
        more = len(found) > query.limit
        body = schemas.MembersPage(
            list_id=list_id,
            members=[_out(schemas.MemberOut, member) for member in page],
            next_offset=query.offset + query.limit if more else None,
        )
        return Answer(200, body)

    def add_member(self, call: Call) -> Answer:
        """Add a contact to a list."""
        list_id, contact_id = call.path["list_id"], call.path["contact_id"]
        added = self.desk.add_member(call.token.name, list_id, contact_id)
        body = schemas.MembershipOut(
            list_id=list_id, contact_id=contact_id, added=added
        )
        return Answer(201 if added else 200, body)

    def remove_member(self, call: Call) -> Answer:
        """Remove a contact from a list."""
        self.desk.remove_member(
            call.token.name, call.path["list_id"], call.path["contact_id"]
        )
        return Answer(204)

    # Audit and identity

    def list_audit(self, call: Call) -> Answer:
        """Return a page of audit rows."""
        query: schemas.AuditQuery = call.query
        rows, next_before = self.desk.audit(
            query.limit,
            before=query.before,
            conversation_id=query.conversation,
            actor=query.actor,
            action=query.action,
            since=query.since,
        )
        body = schemas.AuditPage(
            entries=[_out(schemas.AuditOut, row) for row in rows],
            next_before=next_before,
        )
        return Answer(200, body)

    def who_am_i(self, call: Call) -> Answer:
        """Return the caller's token name, role and team."""
        token = call.token
        return Answer(
            200, schemas.WhoAmIOut(name=token.name, role=token.role, team=token.team)
        )


def _reply_answer(outcome: ReplyOutcome) -> Answer:
    message = _message_out(outcome.message)
    if outcome.message.status == "blocked":
        error = (
            f"not sent: {outcome.message.status_reason or 'blocked by the send gate'}"
        )
        return Answer(409, schemas.ReplyBlockedOut(error=error, message=message))

    status = {"queued": 201, "deferred": 202, "duplicate": 200}[outcome.outcome]
    body = schemas.ReplyOut(
        outcome=outcome.outcome,  # type: ignore[arg-type]
        message=message,
        reason=outcome.reason,
        not_before=outcome.not_before,
    )
    return Answer(status, body)


def conversation_out(record: ConversationRecord) -> schemas.ConversationOut:
    """Return the API form of a conversation."""
    return schemas.ConversationOut(
        id=record.id,
        contact=schemas.ContactOut(
            id=record.contact_id,
            first_name=record.contact_first_name,
            last_name=record.contact_last_name,
        ),
        channel=record.channel,
        address=record.address,
        state=record.state,
        assigned_agent=record.assigned_agent,
        assigned_team=record.assigned_team,
        opened_at=record.opened_at,
        updated_at=record.updated_at,
        closed_at=record.closed_at,
        last_inbound_at=record.last_inbound_at,
    )


def _entry_out(
    entry: ThreadMessage | NoteRecord,
) -> schemas.MessageOut | schemas.NoteOut:
    if isinstance(entry, NoteRecord):
        return _note_out(entry)
    return _message_out(entry)


def _message_out(message: ThreadMessage) -> schemas.MessageOut:
    return schemas.MessageOut(
        id=message.id,
        direction=message.direction,  # type: ignore[arg-type]
        kind=message.kind,
        purpose=message.purpose,
        status=message.status,
        status_reason=message.status_reason,
        error_code=message.error_code,
        body=message.body,
        author=message.author,
        created_at=message.created_at,
        sent_at=message.sent_at,
    )


def _note_out(note: NoteRecord) -> schemas.NoteOut:
    return schemas.NoteOut(
        id=note.id, author=note.author, body=note.body, created_at=note.created_at
    )


def _out(schema: type[OutT], record: object) -> OutT:
    """Build a response model from a store record with the same field names."""
    return schema.model_validate(record, from_attributes=True)
