"""Automations end to end: triggers plan runs, the job carries out their actions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from parley.conversations import SupportDesk
from parley.models import (
    AddressKind,
    ChannelAddress,
    ContactRecord,
    OrderStatus,
    OrderStatusEvent,
)
from parley.runtime import Runtime
from parley.store.desk_records import ConversationState, NoteRecord

from .conftest import FakeClock, drain
from .desk_helpers import AVERY, BLAKE, inbound

NEW_YORK = ZoneInfo("America/New_York")

# Lines at the start of the extra text join the base [templates] table.
TEMPLATES = """
faq_answer = "You can track your order on our site, {{First Name | there}}."
closed_reply = "We are closed and will answer when we open."
thanks_later = "Thanks for chatting with {{Business Name}} today."
shipped_extra = "Order {{Order Number}} is on its way. Questions? Just reply."
hours_reply = "We answer within the hour."
"""

CALENDAR = """
[calendar]
time_zone = "America/New_York"
mon = ["09:00-17:00"]
tue = ["09:00-17:00"]
wed = ["09:00-17:00"]
thu = ["09:00-17:00"]
fri = ["09:00-17:00"]
holidays = ["4th thu nov"]
"""


def at(clock: FakeClock, wall: str) -> None:
    """Set the clock to a New York wall-clock time such as '2026-11-16 10:00'."""
    clock.now = datetime.fromisoformat(wall).replace(tzinfo=NEW_YORK)


def run_automations(runtime: Runtime) -> None:
    """Run the automation job, then the workers, until nothing is left to do."""
    [job] = [poller for poller in runtime.pollers if poller.name == "automations"]
    for _ in range(5):
        job.run()
        drain(runtime)
        now = runtime.context.clock()
        if not any(
            run.status == "pending" and run.due_at <= now
            for run in runtime.store.automation_runs()
        ):
            return
    raise AssertionError("automation runs still due after 5 rounds")


def sent_bodies(runtime: Runtime, kind: str = "automation") -> list[str]:
    return [
        m.body
        for m in sorted(runtime.store.messages(), key=lambda m: m.id)
        if m.direction == "out" and m.kind == kind and m.status == "sent"
    ]


def automation(name: str, body: str) -> str:
    return f'\n[[automations]]\nname = "{name}"\n{body}\n'


FAQ = automation(
    "order faq",
    'type = "faq"\ntrigger = { kind = "keyword", keywords = ["order status"] }\n'
    'actions = [{ kind = "send_template", template = "faq_answer" }]',
)


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """SQLite only: these tests check matching and actions, and building a
    runtime dominates their time. tests/test_automations_store.py runs the
    run table's queries on PostgreSQL too."""
    return f"sqlite:///{tmp_path / 'parley.db'}"


@pytest.fixture
def build(make_runtime: Callable[..., Runtime]) -> Callable[[str], Runtime]:
    def make(automations: str, extra: str = "") -> Runtime:
        return make_runtime(TEMPLATES + extra + automations)

    return make


def test_keyword_faq_answers(build: Callable[[str], Runtime]) -> None:
    runtime = build(FAQ)

    inbound(runtime, "Hi! What's my ORDER status?", "m-1")
    run_automations(runtime)

    assert sent_bodies(runtime) == ["You can track your order on our site, there."]
    [run] = runtime.store.automation_runs()
    assert (run.automation, run.trigger_kind, run.status) == (
        "order faq",
        "keyword",
        "done",
    )


def test_keyword_whole_words_only(build: Callable[[str], Runtime]) -> None:
    runtime = build(FAQ)

    inbound(runtime, "my order statuses page is broken", "m-1")
    run_automations(runtime)

    assert runtime.store.automation_runs() == []


def test_exact_keyword_needs_whole_message(build: Callable[[str], Runtime]) -> None:
    runtime = build(
        automation(
            "hours",
            'type = "faq"\ntrigger = { kind = "keyword", keywords = ["hours"], '
            'match = "exact" }\n'
            'actions = [{ kind = "send_message", text = "Open 9 to 5." }]',
        )
    )

    inbound(runtime, "What are your hours?", "m-1")
    inbound(runtime, "Hours!", "m-2")
    run_automations(runtime)

    assert sent_bodies(runtime) == ["Open 9 to 5."]


def test_redelivered_message_runs_once(build: Callable[[str], Runtime]) -> None:
    runtime = build(FAQ)

    inbound(runtime, "order status?", "m-1")
    inbound(runtime, "order status?", "m-1")
    run_automations(runtime)

    assert len(runtime.store.automation_runs()) == 1
    assert len(sent_bodies(runtime)) == 1


def test_each_matching_message_runs(build: Callable[[str], Runtime]) -> None:
    runtime = build(FAQ)

    inbound(runtime, "order status?", "m-1")
    inbound(runtime, "order status again?", "m-2")
    run_automations(runtime)

    assert len(runtime.store.automation_runs()) == 2


def test_first_message_only_once(build: Callable[[str], Runtime]) -> None:
    runtime = build(
        automation(
            "tag new",
            'type = "routing"\ntrigger = { kind = "first_message" }\n'
            'actions = [{ kind = "add_to_list", list = "New customers" }]',
        )
    )

    inbound(runtime, "hello", "m-1")
    inbound(runtime, "anyone?", "m-2")
    inbound(runtime, "hello from another phone", "m-3", sender=BLAKE)
    run_automations(runtime)

    [new_list] = runtime.store.contact_lists()
    assert new_list.name == "New customers"
    assert new_list.member_count == 2
    assert len(runtime.store.automation_runs()) == 2


def test_intent_routes_and_notes(build: Callable[[str], Runtime]) -> None:
    runtime = build(
        automation(
            "refunds to billing",
            'type = "routing"\ntrigger = { kind = "intent", intents = ["refund"] }\n'
            'actions = [{ kind = "assign", team = "billing" }, '
            '{ kind = "add_note", text = "Refund request" }]',
        )
    )

    conversation_id = inbound(runtime, "I want my money back", "m-1")
    inbound(runtime, "hello", "m-2", sender=BLAKE)
    run_automations(runtime)

    conversation = runtime.store.get_conversation(conversation_id)
    assert conversation is not None
    assert conversation.assigned_team == "billing"
    [assignment] = runtime.store.assignment_history(conversation_id)
    assert assignment.actor == "automation:refunds to billing"
    entries = runtime.store.thread_page(conversation_id, 10, None).entries
    notes = [entry for entry in entries if isinstance(entry, NoteRecord)]
    assert [(note.author, note.body) for note in notes] == [
        ("automation:refunds to billing", "Refund request")
    ]
    assert len(runtime.store.automation_runs()) == 1


def test_calendar_condition(build: Callable[[str], Runtime], clock: FakeClock) -> None:
    runtime = build(
        automation(
            "closed note",
            'type = "auto_reply"\ntrigger = { kind = "calendar", calendar = ["closed"] }\n'
            'actions = [{ kind = "send_template", template = "closed_reply" }]',
        ),
        extra=CALENDAR,
    )

    at(clock, "2026-11-16 10:00")
    inbound(runtime, "hello", "m-1")
    at(clock, "2026-11-26 12:00")
    inbound(runtime, "happy thanksgiving", "m-2", sender=BLAKE)
    run_automations(runtime)

    runs = runtime.store.automation_runs()
    assert len(runs) == 1
    assert sent_bodies(runtime) == ["We are closed and will answer when we open."]


def test_holiday_state(build: Callable[[str], Runtime], clock: FakeClock) -> None:
    runtime = build(
        automation(
            "holiday",
            'type = "routing"\ntrigger = { kind = "message", calendar = ["holiday"] }\n'
            'actions = [{ kind = "add_note", text = "Holiday message" }]',
        ),
        extra=CALENDAR,
    )

    at(clock, "2026-11-25 12:00")
    inbound(runtime, "hello", "m-1")
    at(clock, "2026-11-26 12:00")
    inbound(runtime, "hello again", "m-2")

    [run] = runtime.store.automation_runs()
    assert run.payload["message_id"] == 3


def test_channel_condition(build: Callable[[str], Runtime]) -> None:
    runtime = build(
        automation(
            "whatsapp only",
            'type = "routing"\ntrigger = { kind = "channel", channels = ["whatsapp"] }\n'
            'actions = [{ kind = "close" }]',
        )
    )

    inbound(runtime, "hello", "m-1")

    assert runtime.store.automation_runs() == []


def test_opt_out_triggers_nothing(build: Callable[[str], Runtime]) -> None:
    runtime = build(
        automation(
            "everything",
            'type = "routing"\ntrigger = { kind = "message" }\n'
            'actions = [{ kind = "add_note", text = "seen" }]',
        )
    )

    inbound(runtime, "STOP", "m-1")
    inbound(runtime, "HELP", "m-2")

    assert runtime.store.automation_runs() == []


def test_delayed_send_waits(build: Callable[[str], Runtime], clock: FakeClock) -> None:
    runtime = build(
        automation(
            "follow up",
            'type = "follow_up"\ntrigger = { kind = "keyword", keywords = ["order status"] }\n'
            'delay = "2h"\n'
            'actions = [{ kind = "send_message", text = "Did that answer it?" }]',
        )
    )

    inbound(runtime, "order status", "m-1")
    clock.advance(3600)
    run_automations(runtime)
    assert sent_bodies(runtime) == []

    clock.advance(3600)
    run_automations(runtime)
    assert sent_bodies(runtime) == ["Did that answer it?"]


def test_follow_up_skipped_after_reply(
    build: Callable[[str], Runtime], clock: FakeClock
) -> None:
    runtime = build(
        automation(
            "follow up",
            'type = "follow_up"\ntrigger = { kind = "keyword", keywords = ["order status"] }\n'
            'delay = "2h"\n'
            'actions = [{ kind = "send_message", text = "Did that answer it?" }]',
        )
    )

    inbound(runtime, "order status", "m-1")
    clock.advance(600)
    inbound(runtime, "Never mind, it just arrived", "m-2")
    clock.advance(7200)
    run_automations(runtime)

    assert sent_bodies(runtime) == []
    [run] = runtime.store.automation_runs()
    assert run.status == "done"
    assert run.outcome == "skipped: the customer wrote after it was planned"


def test_gate_blocks_delayed_after_stop(
    build: Callable[[str], Runtime], clock: FakeClock
) -> None:
    runtime = build(
        automation(
            "survey later",
            'type = "feedback_request"\ntrigger = { kind = "keyword", keywords = ["order status"] }\n'
            'delay = "10m"\n'
            'actions = [{ kind = "send_message", text = "Did that answer it?" }]',
        )
    )

    inbound(runtime, "order status", "m-1")
    inbound(runtime, "STOP", "m-2")
    clock.advance(600)
    run_automations(runtime)

    [message] = [m for m in runtime.store.messages() if m.kind == "automation"]
    assert message.status == "blocked"
    assert "opted out" in (message.status_reason or "")
    [run] = runtime.store.automation_runs()
    assert run.status == "done"
    assert "blocked" in (run.outcome or "")


def test_close_chat_follow_up(build: Callable[[str], Runtime]) -> None:
    runtime = build(
        automation(
            "thanks after close",
            'type = "feedback_request"\ntrigger = { kind = "close_chat" }\n'
            'actions = [{ kind = "send_template", template = "thanks_later" }]',
        )
    )
    conversation_id = inbound(runtime, "hello", "m-1")

    support = SupportDesk(runtime.context, runtime.channels)
    support.set_state("avery", conversation_id, ConversationState.CLOSED)
    support.set_state("avery", conversation_id, ConversationState.CLOSED)
    run_automations(runtime)

    assert sent_bodies(runtime) == ["Thanks for chatting with Harbor & Pine today."]
    [run] = runtime.store.automation_runs()
    assert run.payload["closed_by"] == "avery"


def test_close_action_triggers_close_chat(build: Callable[[str], Runtime]) -> None:
    runtime = build(
        automation(
            "close thanks",
            'type = "routing"\ntrigger = { kind = "keyword", keywords = ["thanks"] }\n'
            'actions = [{ kind = "close" }]',
        )
        + automation(
            "after close",
            'type = "feedback_request"\ntrigger = { kind = "close_chat" }\n'
            'actions = [{ kind = "add_note", text = "closed by the bot" }]',
        )
    )

    conversation_id = inbound(runtime, "thanks, that's all", "m-1")
    run_automations(runtime)

    conversation = runtime.store.get_conversation(conversation_id)
    assert conversation is not None
    assert conversation.state is ConversationState.CLOSED
    runs = runtime.store.automation_runs()
    assert [(run.automation, run.status) for run in runs] == [
        ("close thanks", "done"),
        ("after close", "done"),
    ]
    [change] = [
        c
        for c in runtime.store.state_history(conversation_id)
        if c.state is ConversationState.CLOSED
    ]
    assert change.actor == "automation:close thanks"


def order_event(status: OrderStatus) -> OrderStatusEvent:
    return OrderStatusEvent(
        source="teststore",
        store="harbor",
        order_id="1042",
        order_name="#1042",
        status=status,
        occurred_at=datetime(2026, 11, 17, 14, 0, tzinfo=UTC),
        dedupe_key=f"teststore:1042:{status.value}",
        customer=ContactRecord(source="teststore", first_name="Avery", phone=AVERY),
    )


def test_order_status_trigger(build: Callable[[str], Runtime]) -> None:
    runtime = build(
        automation(
            "shipped extra",
            'type = "follow_up"\n'
            'trigger = { kind = "order_status", order_statuses = ["shipped"] }\n'
            'actions = [{ kind = "send_template", template = "shipped_extra" }]',
        )
    )

    events = [order_event(OrderStatus.CONFIRMED), order_event(OrderStatus.SHIPPED)]
    runtime.context.accept_order_events("teststore", "d-1", "orders", events)
    runtime.context.accept_order_events("teststore", "d-2", "orders", events[1:])
    drain(runtime)
    run_automations(runtime)

    assert sent_bodies(runtime) == ["Order #1042 is on its way. Questions? Just reply."]
    [message] = [m for m in runtime.store.messages() if m.kind == "automation"]
    assert message.purpose == "informational"


def test_order_status_needs_consent(make_runtime: Callable[..., Runtime]) -> None:
    runtime = make_runtime(
        TEMPLATES
        + automation(
            "shipped extra",
            'type = "follow_up"\n'
            'trigger = { kind = "order_status" }\n'
            'actions = [{ kind = "send_template", template = "shipped_extra" }]',
        ),
        compliance_extra="",
        compliance='[compliance]\nsending_window = "00:00-00:00"\nopt_out_notice = ""\n',
    )

    runtime.context.accept_order_events(
        "teststore", "d-1", "orders", [order_event(OrderStatus.SHIPPED)]
    )
    drain(runtime)
    run_automations(runtime)

    [message] = [m for m in runtime.store.messages() if m.kind == "automation"]
    assert message.status == "blocked"
    assert "no informational consent" in (message.status_reason or "")


def test_auto_reply_yields_to_standard(
    build: Callable[[str], Runtime], clock: FakeClock
) -> None:
    standard = '\n[auto_replies]\nafter_hours = "closed_reply"\n'
    runtime = build(
        automation(
            "hours note",
            'type = "auto_reply"\ntrigger = { kind = "message" }\n'
            'actions = [{ kind = "send_template", template = "hours_reply" }]',
        ),
        extra=CALENDAR + standard,
    )

    at(clock, "2026-11-16 22:00")
    inbound(runtime, "hello", "m-1")
    at(clock, "2026-11-17 10:00")
    inbound(runtime, "hello again", "m-2")
    at(clock, "2026-11-17 11:00")
    inbound(runtime, "still there?", "m-3")
    run_automations(runtime)

    assert sent_bodies(runtime, "auto_reply")[-1] == (
        "We are closed and will answer when we open."
    )
    assert sent_bodies(runtime) == ["We answer within the hour."]


def test_unknown_agent_fails_run(build: Callable[[str], Runtime]) -> None:
    runtime = build(
        automation(
            "to sam",
            'type = "routing"\ntrigger = { kind = "message" }\n'
            'actions = [{ kind = "assign", agent = "sam" }]',
        )
    )

    inbound(runtime, "hello", "m-1")
    run_automations(runtime)

    [run] = runtime.store.automation_runs()
    assert run.status == "failed"
    assert "'sam' is not the name of an active agent" in (run.outcome or "")


def test_remove_from_list(build: Callable[[str], Runtime]) -> None:
    runtime = build(
        automation(
            "vip in",
            'type = "routing"\ntrigger = { kind = "keyword", keywords = ["vip"] }\n'
            'actions = [{ kind = "add_to_list", list = "VIP" }]',
        )
        + automation(
            "vip out",
            'type = "routing"\ntrigger = { kind = "keyword", keywords = ["bye"] }\n'
            'actions = [{ kind = "remove_from_list", list = "VIP" }, '
            '{ kind = "remove_from_list", list = "VIP" }]',
        )
    )

    inbound(runtime, "vip", "m-1")
    run_automations(runtime)
    inbound(runtime, "bye", "m-2")
    run_automations(runtime)

    [vip] = runtime.store.contact_lists()
    assert vip.member_count == 0
    runs = runtime.store.automation_runs(automation="vip out")
    assert "was not in list 'VIP'" in (runs[0].outcome or "")


def test_disabled_automation_ignored(build: Callable[[str], Runtime]) -> None:
    runtime = build(FAQ + "enabled = false\n")

    inbound(runtime, "order status", "m-1")

    assert runtime.store.automation_runs() == []
    assert not [p for p in runtime.pollers if p.name == "automations"]


def test_sender_address_not_stored(build: Callable[[str], Runtime]) -> None:
    runtime = build(FAQ)

    inbound(runtime, "order status please", "m-1")

    [run] = runtime.store.automation_runs()
    assert "order status please" not in str(run.payload)
    assert AVERY not in str(run.payload)
    contact = runtime.store.find_contact(ChannelAddress(AddressKind.PHONE, AVERY))
    assert contact is not None
    assert run.contact_id == contact.id
