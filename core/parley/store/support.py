"""The support desk's part of the store: states, assignments, notes and lists."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from parley.store import schema
from parley.store.desk_records import (
    AssignmentRecord,
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
from parley.store.engine import as_utc
from parley.store.messages import MessageStore

# The actor recorded when a customer message reopens a conversation.
CUSTOMER_ACTOR = "customer"

# Within one timestamp a thread shows messages before notes.
_MESSAGE_RANK = 0
_NOTE_RANK = 1


class SupportStore(MessageStore):
    """Conversation states, assignments, internal notes and contact lists.

    It extends :class:`MessageStore` so that storing a customer message
    reopens its conversation in the same transaction.
    """

    # Conversations

    def get_conversation(
        self, conversation_id: int, conn: Connection | None = None
    ) -> ConversationRecord | None:
        """Return one conversation, or None when the id is unknown."""
        query = _conversation_query().where(
            schema.conversations.c.id == conversation_id
        )
        with self._tx(conn) as tx:
            row = tx.execute(query).first()
        return _conversation(row) if row is not None else None

    def list_conversations(
        self, wanted: ConversationFilter
    ) -> list[ConversationRecord]:
        """Return conversations that match a filter, most recently updated first."""
        conv = schema.conversations
        query = _conversation_query()
        for condition in _filter_conditions(wanted):
            query = query.where(condition)

        if wanted.after is not None:
            updated_at, last_id = wanted.after
            query = query.where(
                or_(
                    conv.c.updated_at < updated_at,
                    and_(conv.c.updated_at == updated_at, conv.c.id < last_id),
                )
            )
        query = query.order_by(conv.c.updated_at.desc(), conv.c.id.desc()).limit(
            wanted.limit
        )
        with self.read_engine.connect() as conn:
            rows = conn.execute(query).all()
        return [_conversation(row) for row in rows]

    def touch_conversation(
        self, conversation_id: int, now: datetime, conn: Connection | None = None
    ) -> None:
        """Mark a conversation as updated, so listings sort it first."""
        table = schema.conversations
        with self._tx(conn) as tx:
            tx.execute(
                update(table)
                .where(table.c.id == conversation_id)
                .values(updated_at=now)
            )

    def set_conversation_state(
        self,
        conversation_id: int,
        state: ConversationState,
        actor: str,
        now: datetime,
        conn: Connection | None = None,
    ) -> StateChange | None:
        """Move a conversation to a state and record the change.

        Returns:
            The recorded change, or None when the conversation was already in
            that state or does not exist.
        """
        table = schema.conversations
        with self._tx(conn) as tx:
            current = tx.execute(
                select(table.c.state)
                .where(table.c.id == conversation_id)
                .with_for_update()
            ).scalar()
            if current is None or current == state.value:
                return None

            tx.execute(
                update(table)
                .where(table.c.id == conversation_id)
                .values(
                    state=state.value,
                    updated_at=now,
                    closed_at=now if state is ConversationState.CLOSED else None,
                )
            )
            values = {
                "conversation_id": conversation_id,
                "previous_state": current,
                "state": state.value,
                "actor": actor,
                "changed_at": now,
            }
            result = tx.execute(insert(schema.conversation_states).values(**values))
            change_id = int(result.inserted_primary_key[0])
        return StateChange(
            id=change_id,
            conversation_id=conversation_id,
            previous_state=ConversationState(current),
            state=state,
            actor=actor,
            changed_at=now,
        )

    def reopen_on_inbound(
        self, conversation_id: int, now: datetime, conn: Connection | None = None
    ) -> bool:
        """Reopen a pending or closed conversation because the customer wrote.

        Returns:
            True when the conversation was pending or closed and is open now.
        """
        change = self.set_conversation_state(
            conversation_id, ConversationState.OPEN, CUSTOMER_ACTOR, now, conn=conn
        )
        return change is not None

    def add_inbound_message(
        self,
        conversation_id: int,
        channel: str,
        body: str,
        provider_message_id: str,
        received_at: datetime,
        conn: Connection | None = None,
    ) -> int | None:
        """Store a customer message and reopen its conversation if it was not open.

        Returns:
            The message id, or None when that provider id is already stored;
            a message seen before reopens nothing.
        """
        with self._tx(conn) as tx:
            message_id = super().add_inbound_message(
                conversation_id,
                channel,
                body,
                provider_message_id,
                received_at,
                conn=tx,
            )
            if message_id is not None:
                self.reopen_on_inbound(conversation_id, received_at, conn=tx)
        return message_id

    def state_history(self, conversation_id: int) -> list[StateChange]:
        """Return a conversation's state changes, oldest first."""
        table = schema.conversation_states
        with self.read_engine.connect() as conn:
            rows = conn.execute(
                select(table)
                .where(table.c.conversation_id == conversation_id)
                .order_by(table.c.id)
            ).all()
        return [
            StateChange(
                id=row.id,
                conversation_id=row.conversation_id,
                previous_state=ConversationState(row.previous_state),
                state=ConversationState(row.state),
                actor=row.actor,
                changed_at=as_utc(row.changed_at),  # type: ignore[arg-type]
            )
            for row in rows
        ]

    # Assignments

    def assign_conversation(
        self,
        conversation_id: int,
        agent: str | None,
        team: str | None,
        actor: str,
        now: datetime,
        conn: Connection | None = None,
    ) -> AssignmentRecord:
        """Set a conversation's agent and team and append the assignment to its history.

        None clears the agent or the team.
        """
        conv = schema.conversations
        with self._tx(conn) as tx:
            tx.execute(
                update(conv)
                .where(conv.c.id == conversation_id)
                .values(assigned_agent=agent, assigned_team=team, updated_at=now)
            )
            result = tx.execute(
                insert(schema.conversation_assignments).values(
                    conversation_id=conversation_id,
                    agent=agent,
                    team=team,
                    actor=actor,
                    assigned_at=now,
                )
            )
            assignment_id = int(result.inserted_primary_key[0])
        return AssignmentRecord(
            id=assignment_id,
            conversation_id=conversation_id,
            agent=agent,
            team=team,
            actor=actor,
            assigned_at=now,
        )

    def assignment_history(self, conversation_id: int) -> list[AssignmentRecord]:
        """Return every assignment of a conversation, oldest first."""
        table = schema.conversation_assignments
        with self.read_engine.connect() as conn:
            rows = conn.execute(
                select(table)
                .where(table.c.conversation_id == conversation_id)
                .order_by(table.c.id)
            ).all()
        return [
            AssignmentRecord(
                id=row.id,
                conversation_id=row.conversation_id,
                agent=row.agent,
                team=row.team,
                actor=row.actor,
                assigned_at=as_utc(row.assigned_at),  # type: ignore[arg-type]
            )
            for row in rows
        ]

    # Notes and threads

    def add_note(
        self,
        conversation_id: int,
        author: str,
        body: str,
        now: datetime,
        conn: Connection | None = None,
    ) -> NoteRecord:
        """Store an internal note; notes live apart from messages and are never sent."""
        with self._tx(conn) as tx:
            result = tx.execute(
                insert(schema.conversation_notes).values(
                    conversation_id=conversation_id,
                    author=author,
                    body=body,
                    created_at=now,
                )
            )
            note_id = int(result.inserted_primary_key[0])
            self.touch_conversation(conversation_id, now, conn=tx)
        return NoteRecord(note_id, conversation_id, author, body, now)

    def thread_page(
        self,
        conversation_id: int,
        limit: int,
        before: tuple[datetime, int, int] | None = None,
    ) -> ThreadPage:
        """Return the latest messages and notes of a conversation, oldest first.

        Args:
            conversation_id: the conversation.
            limit: the maximum number of entries.
            before: ``(created_at, rank, id)`` of the oldest entry of the
                previous page, where rank is 0 for a message and 1 for a
                note; the page contains the entries written before it.
        """
        msg = schema.messages
        notes = schema.conversation_notes
        message_query = (
            select(msg)
            .where(msg.c.conversation_id == conversation_id)
            .order_by(msg.c.created_at.desc(), msg.c.id.desc())
            .limit(limit + 1)
        )
        note_query = (
            select(notes)
            .where(notes.c.conversation_id == conversation_id)
            .order_by(notes.c.created_at.desc(), notes.c.id.desc())
            .limit(limit + 1)
        )
        if before is not None:
            message_query = message_query.where(
                _before(msg.c.created_at, msg.c.id, _MESSAGE_RANK, before)
            )
            note_query = note_query.where(
                _before(notes.c.created_at, notes.c.id, _NOTE_RANK, before)
            )

        with self.read_engine.connect() as conn:
            entries: list[ThreadMessage | NoteRecord] = [
                _thread_message(row) for row in conn.execute(message_query)
            ]
            entries += [_note(row) for row in conn.execute(note_query)]
        entries.sort(key=thread_position, reverse=True)
        newest = entries[:limit]
        newest.reverse()
        return ThreadPage(entries=tuple(newest), has_more=len(entries) > limit)

    def message_by_dedupe_key(
        self, dedupe_key: str, conn: Connection | None = None
    ) -> ThreadMessage | None:
        """Return the message stored under a dedupe key, or None."""
        msg = schema.messages
        with self._tx(conn) as tx:
            row = tx.execute(select(msg).where(msg.c.dedupe_key == dedupe_key)).first()
        return _thread_message(row) if row is not None else None

    def set_message_author(
        self, message_id: int, author: str, conn: Connection | None = None
    ) -> None:
        """Record which person wrote an outbound message."""
        msg = schema.messages
        with self._tx(conn) as tx:
            tx.execute(update(msg).where(msg.c.id == message_id).values(author=author))

    # Contact lists

    def create_list(
        self, name: str, actor: str, now: datetime, conn: Connection | None = None
    ) -> ContactList | None:
        """Create a contact list; None when a list with that name exists."""
        table = schema.contact_lists
        values = {"name": name, "created_by": actor, "created_at": now}
        with self._tx(conn) as tx:
            if not self._insert_ignore(tx, table, values):
                return None
            list_id = tx.execute(
                select(table.c.id).where(table.c.name == name)
            ).scalar_one()
        return ContactList(int(list_id), name, actor, now, 0)

    def get_list(
        self, list_id: int, conn: Connection | None = None
    ) -> ContactList | None:
        """Return a contact list with its member count, or None."""
        found = self._lists(schema.contact_lists.c.id == list_id, conn=conn)
        return found[0] if found else None

    def contact_lists(self) -> list[ContactList]:
        """Return every contact list, by name."""
        return self._lists()

    def _lists(
        self, *conditions: Any, conn: Connection | None = None
    ) -> list[ContactList]:
        table = schema.contact_lists
        members = schema.contact_list_members
        count = (
            select(func.count())
            .select_from(members)
            .where(members.c.list_id == table.c.id)
            .scalar_subquery()
        )
        query = select(table, count.label("member_count")).order_by(table.c.name)
        for condition in conditions:
            query = query.where(condition)
        with self._tx(conn) as tx:
            rows = tx.execute(query).all()
        return [
            ContactList(
                id=row.id,
                name=row.name,
                created_by=row.created_by,
                created_at=as_utc(row.created_at),  # type: ignore[arg-type]
                member_count=int(row.member_count),
            )
            for row in rows
        ]

    def contact_exists(self, contact_id: int, conn: Connection | None = None) -> bool:
        """Return True when a contact with this id is stored."""
        table = schema.contacts
        with self._tx(conn) as tx:
            found = tx.execute(select(table.c.id).where(table.c.id == contact_id))
            return found.first() is not None

    def add_list_member(
        self,
        list_id: int,
        contact_id: int,
        actor: str,
        now: datetime,
        conn: Connection | None = None,
    ) -> bool:
        """Add a contact to a list; False when it was already a member."""
        values = {
            "list_id": list_id,
            "contact_id": contact_id,
            "added_by": actor,
            "added_at": now,
        }
        with self._tx(conn) as tx:
            return self._insert_ignore(tx, schema.contact_list_members, values)

    def remove_list_member(
        self, list_id: int, contact_id: int, conn: Connection | None = None
    ) -> bool:
        """Remove a contact from a list; False when it was not a member."""
        table = schema.contact_list_members
        with self._tx(conn) as tx:
            removed = tx.execute(
                delete(table)
                .where(table.c.list_id == list_id, table.c.contact_id == contact_id)
                .returning(table.c.contact_id)
            ).first()
        return removed is not None

    def list_members(self, list_id: int, limit: int, offset: int) -> list[ListMember]:
        """Return a page of a list's members, in the order they were added."""
        members = schema.contact_list_members
        contacts = schema.contacts
        query = (
            select(
                members.c.contact_id,
                members.c.added_by,
                members.c.added_at,
                contacts.c.first_name,
                contacts.c.last_name,
            )
            .join(contacts, contacts.c.id == members.c.contact_id)
            .where(members.c.list_id == list_id)
            .order_by(members.c.added_at, members.c.contact_id)
            .limit(limit)
            .offset(offset)
        )
        with self.read_engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            ListMember(
                contact_id=row.contact_id,
                first_name=row.first_name,
                last_name=row.last_name,
                added_by=row.added_by,
                added_at=as_utc(row.added_at),  # type: ignore[arg-type]
            )
            for row in rows
        ]


def thread_position(entry: ThreadMessage | NoteRecord) -> tuple[datetime, int, int]:
    """Return where an entry sorts in a thread: time, then messages before notes."""
    rank = _NOTE_RANK if isinstance(entry, NoteRecord) else _MESSAGE_RANK
    return (entry.created_at, rank, entry.id)


def _before(
    created_at: Any, row_id: Any, rank: int, cursor: tuple[datetime, int, int]
) -> Any:
    """Return the condition for rows that sort before a thread cursor."""
    moment, cursor_rank, cursor_id = cursor
    same_moment: Any
    if rank < cursor_rank:
        same_moment = created_at == moment
    elif rank == cursor_rank:
        same_moment = and_(created_at == moment, row_id < cursor_id)
    else:
        return created_at < moment
    return or_(created_at < moment, same_moment)


def _conversation_query() -> Any:
    conv = schema.conversations
    contacts = schema.contacts
    msg = schema.messages
    last_inbound = (
        select(func.max(msg.c.created_at))
        .where(msg.c.conversation_id == conv.c.id, msg.c.direction == "in")
        .scalar_subquery()
    )
    return select(
        conv,
        contacts.c.first_name,
        contacts.c.last_name,
        last_inbound.label("last_inbound_at"),
    ).join(contacts, contacts.c.id == conv.c.contact_id)


def _filter_conditions(wanted: ConversationFilter) -> Sequence[Any]:
    conv = schema.conversations
    members = schema.contact_list_members
    conditions: list[Any] = []
    if wanted.state is not None:
        conditions.append(conv.c.state == wanted.state.value)
    if wanted.assigned_agent is not None:
        conditions.append(conv.c.assigned_agent == wanted.assigned_agent)
    if wanted.unassigned:
        conditions.append(conv.c.assigned_agent.is_(None))
    if wanted.team is not None:
        conditions.append(conv.c.assigned_team == wanted.team)
    if wanted.channel is not None:
        conditions.append(conv.c.channel == wanted.channel)
    if wanted.list_id is not None:
        in_list = select(members.c.contact_id).where(
            members.c.list_id == wanted.list_id
        )
        conditions.append(conv.c.contact_id.in_(in_list))
    if wanted.updated_since is not None:
        conditions.append(conv.c.updated_at >= wanted.updated_since)
    return conditions


def _conversation(row: Any) -> ConversationRecord:
    return ConversationRecord(
        id=row.id,
        contact_id=row.contact_id,
        contact_first_name=row.first_name,
        contact_last_name=row.last_name,
        channel=row.channel,
        address=row.address,
        state=ConversationState(row.state),
        assigned_agent=row.assigned_agent,
        assigned_team=row.assigned_team,
        opened_at=as_utc(row.opened_at),  # type: ignore[arg-type]
        updated_at=as_utc(row.updated_at),  # type: ignore[arg-type]
        closed_at=as_utc(row.closed_at),
        last_inbound_at=_timestamp(row.last_inbound_at),
    )


def _timestamp(value: datetime | str | None) -> datetime | None:
    """Read an aggregate timestamp, which SQLite may return as text."""
    if isinstance(value, str):
        return as_utc(datetime.fromisoformat(value))
    return as_utc(value)


def _thread_message(row: Any) -> ThreadMessage:
    return ThreadMessage(
        id=row.id,
        direction=row.direction,
        kind=row.kind,
        purpose=row.purpose,
        status=row.status,
        status_reason=row.status_reason,
        error_code=row.error_code,
        body=row.body,
        author=row.author,
        created_at=as_utc(row.created_at),  # type: ignore[arg-type]
        sent_at=as_utc(row.sent_at),
    )


def _note(row: Any) -> NoteRecord:
    return NoteRecord(
        id=row.id,
        conversation_id=row.conversation_id,
        author=row.author,
        body=row.body,
        created_at=as_utc(row.created_at),  # type: ignore[arg-type]
    )
