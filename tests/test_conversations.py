"""The support desk: states, reopening, assignments, notes, lists, replies, audit."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy import delete, func, select, update

from parley.conversations import Conflict, InvalidValue, NotFound, SupportDesk
from parley.models import AGENT_REPLY_KIND, ContactRecord
from parley.runtime import Runtime
from parley.store import Store, schema
from parley.store.desk_records import ConversationState
from parley.store.migrations import MIGRATIONS
from parley.tokens import Role

from .conftest import FakeClock, drain
from .desk_helpers import BLAKE, inbound, issue

NOTICE_COMPLIANCE = """
[compliance]
require_informational_consent = false
sending_window = "00:00-00:00"
opt_out_notice = "Reply STOP to opt out."
"""


@pytest.fixture
def runtime(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime()


@pytest.fixture
def desk(runtime: Runtime) -> SupportDesk:
    return SupportDesk(runtime.context, runtime.channels)


def rows(store: Store, table: sqlalchemy.Table) -> int:
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def audit_actions(store: Store) -> list[str]:
    return [entry.action for entry in reversed(store.audit_entries(limit=100))]


def sandbox_sent(runtime: Runtime) -> list[dict[str, object]]:
    path = Path(runtime.context.settings.data_dir) / "sandbox-outbox.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


# States and reopening


def test_new_conversation_is_open(runtime: Runtime, desk: SupportDesk) -> None:
    conversation_id = inbound(runtime, "Hi", "m-1")
    conversation = desk.conversation(conversation_id)
    assert conversation.state is ConversationState.OPEN
    assert conversation.closed_at is None
    assert conversation.last_inbound_at == runtime.context.clock()


def test_close_records_state_and_audit(
    runtime: Runtime, desk: SupportDesk, clock: FakeClock
) -> None:
    conversation_id = inbound(runtime, "Hi", "m-1")
    clock.advance(60)

    closed, changed = desk.set_state("ana", conversation_id, ConversationState.CLOSED)

    assert changed is True
    assert closed.state is ConversationState.CLOSED
    assert closed.closed_at == clock.now
    history = runtime.store.state_history(conversation_id)
    assert [(c.previous_state, c.state, c.actor) for c in history] == [
        (ConversationState.OPEN, ConversationState.CLOSED, "ana")
    ]
    assert audit_actions(runtime.store)[-1] == "conversation.close"


def test_close_twice_changes_nothing(runtime: Runtime, desk: SupportDesk) -> None:
    conversation_id = inbound(runtime, "Hi", "m-1")
    desk.set_state("ana", conversation_id, ConversationState.CLOSED)
    audited = len(audit_actions(runtime.store))

    _closed, changed = desk.set_state("ana", conversation_id, ConversationState.CLOSED)

    assert changed is False
    assert len(runtime.store.state_history(conversation_id)) == 1
    assert len(audit_actions(runtime.store)) == audited


def test_customer_message_reopens_closed(
    runtime: Runtime, desk: SupportDesk, clock: FakeClock
) -> None:
    conversation_id = inbound(runtime, "Hi", "m-1")
    desk.set_state("ana", conversation_id, ConversationState.CLOSED)
    clock.advance(3600)

    assert inbound(runtime, "One more thing", "m-2") == conversation_id

    reopened = desk.conversation(conversation_id)
    assert reopened.state is ConversationState.OPEN
    assert reopened.closed_at is None
    last = runtime.store.state_history(conversation_id)[-1]
    assert (last.previous_state, last.state, last.actor) == (
        ConversationState.CLOSED,
        ConversationState.OPEN,
        "customer",
    )
    assert last.changed_at == clock.now


def test_customer_message_reopens_pending(runtime: Runtime, desk: SupportDesk) -> None:
    conversation_id = inbound(runtime, "Hi", "m-1")
    desk.set_state("ana", conversation_id, ConversationState.PENDING)

    inbound(runtime, "Here is my order number", "m-2")

    assert desk.conversation(conversation_id).state is ConversationState.OPEN


def test_redelivered_message_reopens_nothing(
    runtime: Runtime, desk: SupportDesk
) -> None:
    conversation_id = inbound(runtime, "Hi", "m-1")
    desk.set_state("ana", conversation_id, ConversationState.CLOSED)

    # The same provider message id again is a redelivery, not a new message.
    runtime.store.add_inbound_message(
        conversation_id, "sandbox", "Hi", "m-1", runtime.context.clock()
    )

    assert desk.conversation(conversation_id).state is ConversationState.CLOSED


def test_message_on_open_adds_no_state(runtime: Runtime) -> None:
    conversation_id = inbound(runtime, "Hi", "m-1")
    inbound(runtime, "Hello?", "m-2")
    assert runtime.store.state_history(conversation_id) == []


def test_unknown_conversation_not_found(desk: SupportDesk) -> None:
    with pytest.raises(NotFound, match="conversation 999 not found"):
        desk.set_state("ana", 999, ConversationState.CLOSED)


# Assignment


def test_assignment_history_kept(
    runtime: Runtime, desk: SupportDesk, clock: FakeClock
) -> None:
    issue(runtime, "ana", Role.AGENT, team="billing")
    issue(runtime, "ben", Role.LEAD, team="billing")
    conversation_id = inbound(runtime, "Hi", "m-1")

    desk.assign("ben", conversation_id, {"agent": "ana"})
    clock.advance(60)
    desk.assign("ben", conversation_id, {"team": "billing"})
    clock.advance(60)
    current, _ = desk.assign("ben", conversation_id, {"agent": None})

    assert current.assigned_agent is None
    assert current.assigned_team == "billing"
    history = runtime.store.assignment_history(conversation_id)
    assert [(a.agent, a.team, a.actor) for a in history] == [
        ("ana", None, "ben"),
        ("ana", "billing", "ben"),
        (None, "billing", "ben"),
    ]
    assert history[0].assigned_at < history[2].assigned_at
    assert audit_actions(runtime.store).count("conversation.assign") == 3


def test_assign_unknown_agent_rejected(runtime: Runtime, desk: SupportDesk) -> None:
    conversation_id = inbound(runtime, "Hi", "m-1")
    with pytest.raises(InvalidValue) as raised:
        desk.assign("ben", conversation_id, {"agent": "nobody"})
    assert raised.value.field == "agent"
    assert runtime.store.assignment_history(conversation_id) == []


def test_assign_to_manager_rejected(runtime: Runtime, desk: SupportDesk) -> None:
    issue(runtime, "mia", Role.MANAGER)
    conversation_id = inbound(runtime, "Hi", "m-1")
    with pytest.raises(InvalidValue, match="not the name of an active agent"):
        desk.assign("ben", conversation_id, {"agent": "mia"})


# Notes


def test_note_never_sent_or_counted(runtime: Runtime, desk: SupportDesk) -> None:
    conversation_id = inbound(runtime, "Hi", "m-1")
    messages_before = len(runtime.store.messages(conversation_id))
    outbound_before = runtime.store.count_outbound(conversation_id)

    note = desk.add_note("ana", conversation_id, "Customer is a wholesale buyer")
    drain(runtime)

    assert note.author == "ana"
    assert len(runtime.store.messages(conversation_id)) == messages_before
    assert runtime.store.count_outbound(conversation_id) == outbound_before
    assert rows(runtime.store, schema.outbox) == 0
    assert all("wholesale" not in str(sent) for sent in sandbox_sent(runtime))
    page = runtime.store.thread_page(conversation_id, limit=10)
    assert page.entries[-1] == note


def test_note_audited_without_body(runtime: Runtime, desk: SupportDesk) -> None:
    conversation_id = inbound(runtime, "Hi", "m-1")
    note = desk.add_note("ana", conversation_id, "secret detail")

    entry = runtime.store.audit_entries(limit=1)[0]

    assert (entry.actor, entry.action, entry.target_id) == (
        "ana",
        "conversation.note",
        str(note.id),
    )
    assert entry.conversation_id == conversation_id
    assert "secret detail" not in json.dumps(entry.detail)


# Thread paging


def test_thread_pages_back_in_order(
    runtime: Runtime, desk: SupportDesk, clock: FakeClock
) -> None:
    conversation_id = inbound(runtime, "first", "m-1")
    for index in range(4):
        desk.add_note("ana", conversation_id, f"note {index}")
        if index % 2:
            clock.advance(1)
    inbound(runtime, "last", "m-2")

    every = runtime.store.thread_page(conversation_id, limit=100).entries
    seen = []
    cursor = None
    while True:
        thread, cursor = desk.thread(conversation_id, limit=2, before=cursor)
        seen = list(thread.page.entries) + seen
        if cursor is None:
            break

    assert seen == list(every)
    assert len(every) == len(set(every))
    bodies = [entry.body for entry in every]
    assert bodies.index("first") < bodies.index("note 0") < bodies.index("last")


def test_thread_bad_cursor_rejected(runtime: Runtime, desk: SupportDesk) -> None:
    conversation_id = inbound(runtime, "Hi", "m-1")
    with pytest.raises(InvalidValue) as raised:
        desk.thread(conversation_id, limit=2, before="bm90LWpzb24")
    assert raised.value.field == "cursor"


# Contact lists


def test_list_add_and_remove_member(runtime: Runtime, desk: SupportDesk) -> None:
    conversation_id = inbound(runtime, "Hi", "m-1")
    contact_id = desk.conversation(conversation_id).contact_id
    vip = desk.create_list("ben", "VIP")

    assert desk.add_member("ana", vip.id, contact_id) is True
    assert desk.add_member("ana", vip.id, contact_id) is False
    members = desk.list_members(vip.id, limit=10, offset=0)
    assert [(m.contact_id, m.added_by) for m in members] == [(contact_id, "ana")]
    assert desk.contact_list(vip.id).member_count == 1

    desk.remove_member("ana", vip.id, contact_id)

    assert desk.list_members(vip.id, limit=10, offset=0) == []
    with pytest.raises(NotFound, match=f"contact {contact_id} is not in"):
        desk.remove_member("ana", vip.id, contact_id)
    assert audit_actions(runtime.store)[-3:] == [
        "list.create",
        "list.add_member",
        "list.remove_member",
    ]


def test_list_name_taken(desk: SupportDesk) -> None:
    desk.create_list("ben", "VIP")
    with pytest.raises(Conflict, match="'VIP' already exists"):
        desk.create_list("ben", "VIP")


def test_list_unknown_contact(desk: SupportDesk) -> None:
    vip = desk.create_list("ben", "VIP")
    with pytest.raises(NotFound, match="contact 404 not found"):
        desk.add_member("ana", vip.id, 404)


# Replies


def test_reply_queued_and_sent(runtime: Runtime, desk: SupportDesk) -> None:
    conversation_id = inbound(runtime, "Where is my order?", "m-1")

    outcome = desk.reply("ana", conversation_id, "It ships today.")
    drain(runtime)

    assert outcome.outcome == "queued"
    assert outcome.message.kind == AGENT_REPLY_KIND
    assert outcome.message.author == "ana"
    sent = [
        m for m in runtime.store.messages(conversation_id) if m.kind == AGENT_REPLY_KIND
    ]
    assert [(m.status, m.body) for m in sent] == [("sent", "It ships today.")]
    audit = runtime.store.audit_entries(limit=1)[0]
    assert (audit.action, audit.target_id, audit.detail["outcome"]) == (
        "conversation.reply",
        str(outcome.message.id),
        "queued",
    )


def test_reply_to_opted_out_blocked(runtime: Runtime, desk: SupportDesk) -> None:
    conversation_id = inbound(runtime, "Hi", "m-1")
    inbound(runtime, "STOP", "m-2")
    drain(runtime)

    outcome = desk.reply("ana", conversation_id, "Are you still there?")
    drain(runtime)

    assert outcome.outcome == "blocked"
    assert outcome.message.status == "blocked"
    assert "opted out" in (outcome.reason or "")
    assert rows(runtime.store, schema.outbox) == 0
    assert all("still there" not in str(sent) for sent in sandbox_sent(runtime))


def test_reply_without_customer_message_blocked(
    runtime: Runtime, desk: SupportDesk, clock: FakeClock
) -> None:
    conversation_id, _ = runtime.store.open_conversation(
        _contact_id(runtime, BLAKE), "sandbox", BLAKE, clock.now
    )

    outcome = desk.reply("ana", conversation_id, "Hello")

    assert outcome.outcome == "blocked"
    assert "customer has not written" in (outcome.reason or "")
    assert rows(runtime.store, schema.outbox) == 0


def test_reply_in_closed_conversation_conflicts(
    runtime: Runtime, desk: SupportDesk
) -> None:
    conversation_id = inbound(runtime, "Hi", "m-1")
    desk.set_state("ana", conversation_id, ConversationState.CLOSED)
    with pytest.raises(Conflict, match="closed; reopen it"):
        desk.reply("ana", conversation_id, "Hello")


def test_reply_idempotency_key_sends_once(runtime: Runtime, desk: SupportDesk) -> None:
    conversation_id = inbound(runtime, "Hi", "m-1")

    first = desk.reply("ana", conversation_id, "Hello", idempotency_key="k-1")
    again = desk.reply("ana", conversation_id, "Hello", idempotency_key="k-1")
    drain(runtime)

    assert (first.outcome, again.outcome) == ("queued", "duplicate")
    assert again.message.id == first.message.id
    replies = [m for m in runtime.store.messages() if m.kind == AGENT_REPLY_KIND]
    assert len(replies) == 1


def test_first_reply_carries_opt_out_notice(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    runtime = make_runtime(compliance=NOTICE_COMPLIANCE)
    desk = SupportDesk(runtime.context, runtime.channels)
    # Stored without the event worker, so no auto reply goes out first.
    conversation_id, _ = runtime.store.open_conversation(
        _contact_id(runtime, BLAKE), "sandbox", BLAKE, clock.now
    )
    runtime.store.add_inbound_message(
        conversation_id, "sandbox", "Hi", "m-1", clock.now
    )

    first = desk.reply("ana", conversation_id, "Hello Blake")
    second = desk.reply("ana", conversation_id, "Anything else?")

    assert first.message.body == "Hello Blake Reply STOP to opt out."
    assert second.message.body == "Anything else?"


# Audit log


def test_audit_log_rejects_update(runtime: Runtime) -> None:
    runtime.store.add_audit("ana", "test.write", "test", 1, {}, runtime.context.clock())
    table = schema.audit_log
    with pytest.raises(sqlalchemy.exc.DatabaseError, match="append-only"):
        with runtime.store.transaction() as conn:
            conn.execute(update(table).values(actor="someone else"))
    with pytest.raises(sqlalchemy.exc.DatabaseError, match="append-only"):
        with runtime.store.transaction() as conn:
            conn.execute(delete(table))
    assert [entry.actor for entry in runtime.store.audit_entries(limit=10)] == ["ana"]


def test_migration_4_upgrades_version_3(store_url: str) -> None:
    store = Store(store_url)
    try:
        store.migrate()
        _downgrade_to_version_3(store)

        assert store.migrate() == [4]

        with store.engine.connect() as conn:
            columns = {
                column["name"]
                for column in sqlalchemy.inspect(conn).get_columns("conversations")
            }
        assert {"assigned_agent", "assigned_team", "closed_at"} <= columns
        store.add_audit("ana", "test.write", "test", 1, {}, FakeClock().now)
        with pytest.raises(sqlalchemy.exc.DatabaseError, match="append-only"):
            with store.transaction() as conn:
                conn.execute(delete(schema.audit_log))
    finally:
        store.close()


def test_migrations_list_ends_at_4() -> None:
    assert MIGRATIONS[3][0] == 4


def _downgrade_to_version_3(store: Store) -> None:
    """Remove what migration 4 adds, as on a store last migrated by version 3."""
    new_tables = [
        "audit_log",
        "api_tokens",
        "contact_list_members",
        "contact_lists",
        "conversation_notes",
        "conversation_states",
        "conversation_assignments",
    ]
    with store.transaction() as conn:
        for table in new_tables:
            conn.exec_driver_sql(f"DROP TABLE {table}")
        for column in ("assigned_agent", "assigned_team", "closed_at"):
            conn.exec_driver_sql(f"ALTER TABLE conversations DROP COLUMN {column}")
        conn.exec_driver_sql("ALTER TABLE messages DROP COLUMN author")
        conn.execute(
            delete(schema.schema_migrations).where(
                schema.schema_migrations.c.version == 4
            )
        )


def _contact_id(runtime: Runtime, phone: str) -> int:
    contact = runtime.context.sync_contact(
        ContactRecord(source="test", external_id="c-2", first_name="Blake", phone=phone)
    )
    return contact.id
