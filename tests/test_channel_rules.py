"""Channel rules in the send gate and the outbox: windows, templates, pacing."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from parley import (
    AddressKind,
    Channel,
    ChannelAddress,
    ContactRecord,
    InboundBatch,
    InboundMessage,
    OrderStatus,
    OrderStatusEvent,
    OutboundMessage,
    SendBlocked,
    SendResult,
    Throughput,
    WebhookRequest,
    hookimpl,
)
from parley.config import load_config
from parley.daemon import Daemon
from parley.pacing import SendPacer
from parley.runtime import Runtime, build_runtime

from .conftest import FakeClock, drain

PHONE = "+14155550123"
WINDOW = timedelta(hours=24)


class WindowChannel(Channel):
    """A channel with a 24-hour window; outside it only kinds with a template go."""

    id = "chat"
    address_kind = AddressKind.PHONE
    service_window = WINDOW
    max_concurrent_requests = 1

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.templates = {"order_update": ["First Name"]}
        self.per_second: float | None = None
        self.block_reason: str | None = None
        self.sent: list[OutboundMessage] = []

    def _outside(self, message: OutboundMessage, now: datetime) -> bool:
        last = message.last_inbound_at
        return last is None or now - last >= WINDOW

    def window_rule(self, message: OutboundMessage, now: datetime) -> str | None:
        if not self._outside(message, now):
            return None
        parameters = self.templates.get(message.kind)
        if parameters is None:
            return f"outside the 24-hour window and no template for {message.kind}"
        empty = [name for name in parameters if not message.fields.get(name)]
        if empty:
            return f"template parameter {empty[0]!r} is empty"
        return None

    def fields_for(self, kind: str) -> Sequence[str]:
        return self.templates.get(kind, ())

    def throughput(self, message: OutboundMessage) -> Throughput | None:
        if self.per_second is None:
            return None
        return Throughput("sender-1", self.per_second)

    def send(self, message: OutboundMessage) -> SendResult:
        if self.block_reason:
            raise SendBlocked(self.block_reason)
        self.sent.append(message)
        return SendResult(provider_message_id=f"chat-{len(self.sent)}")

    def handle_webhook(self, request: WebhookRequest) -> InboundBatch:
        data = json.loads(request.body)
        message = InboundMessage(
            channel=self.id,
            sender=ChannelAddress(AddressKind.PHONE, data["from"]),
            body=data["body"],
            provider_message_id=data["id"],
            received_at=self.clock(),
        )
        return InboundBatch(messages=(message,))


class WindowPlugin:
    def __init__(self, channel: WindowChannel) -> None:
        self.channel = channel

    @hookimpl
    def register_channels(self, register: Callable[[Channel], None]) -> None:
        register(self.channel)


ORDER_CHANNEL = """
[order_updates]
channel = "chat"
"""


@pytest.fixture
def chat(
    write_config: Callable[..., Path], store_url: str, clock: FakeClock
) -> Iterator[tuple[Runtime, WindowChannel]]:
    path = write_config(ORDER_CHANNEL, store_url=store_url)
    loaded = load_config(path, environ={})
    channel = WindowChannel(clock)
    loaded.plugin_manager.register(WindowPlugin(channel), name="window")
    runtime = build_runtime(loaded, clock=clock)
    yield runtime, channel
    runtime.close()


def order_event(
    first_name: str | None = "Jo", order_id: str = "1042"
) -> OrderStatusEvent:
    return OrderStatusEvent(
        source="teststore",
        store="harbor",
        order_id=order_id,
        order_name=f"#{order_id}",
        status=OrderStatus.CONFIRMED,
        occurred_at=datetime(2026, 11, 16, 15, 0, tzinfo=UTC),
        dedupe_key=f"teststore:{order_id}:confirmed",
        customer=ContactRecord(source="teststore", first_name=first_name, phone=PHONE),
    )


def customer_writes(runtime: Runtime, message_id: str, body: str = "Hi") -> None:
    # Without the lifespan the daemon's own workers do not start, so the test
    # decides when events are processed.
    client = TestClient(Daemon(runtime).app)
    response = client.post(
        "/webhooks/chat", json={"from": PHONE, "body": body, "id": message_id}
    )
    assert response.status_code == 200


def outbound(runtime: Runtime) -> list:
    return [m for m in runtime.store.messages() if m.direction == "out"]


def test_template_fields_resolved_at_queue(chat) -> None:
    runtime, channel = chat
    runtime.context.accept_order_events("teststore", "d-1", "t", [order_event()])
    drain(runtime)

    assert len(channel.sent) == 1
    assert channel.sent[0].fields == {"First Name": "Jo"}
    assert channel.sent[0].last_inbound_at is None


def test_empty_template_parameter_blocks_at_queue(chat) -> None:
    runtime, channel = chat
    runtime.context.accept_order_events(
        "teststore", "d-1", "t", [order_event(first_name=None)]
    )
    drain(runtime)

    assert channel.sent == []
    [message] = outbound(runtime)
    assert message.status == "blocked"
    assert message.status_reason == "chat: template parameter 'First Name' is empty"


def test_kind_without_template_blocked_outside_window(chat) -> None:
    runtime, channel = chat
    del channel.templates["order_update"]
    runtime.context.accept_order_events("teststore", "d-1", "t", [order_event()])
    drain(runtime)

    [message] = outbound(runtime)
    assert message.status == "blocked"
    assert "no template for order_update" in (message.status_reason or "")


def test_window_decided_at_send_time(chat, clock: FakeClock) -> None:
    runtime, channel = chat
    customer_writes(runtime, "m-1")
    runtime.event_worker.run_once()
    [welcome] = outbound(runtime)
    assert welcome.status == "queued"

    clock.advance(WINDOW.total_seconds() + 60)
    drain(runtime)

    assert channel.sent == []
    [blocked] = outbound(runtime)
    assert blocked.status == "blocked"
    assert "no template for auto_reply" in (blocked.status_reason or "")


def test_last_inbound_at_passed_to_send(chat, clock: FakeClock) -> None:
    runtime, channel = chat
    customer_writes(runtime, "m-1")
    written_at = clock()
    clock.advance(60)
    drain(runtime)

    assert [message.last_inbound_at for message in channel.sent] == [written_at]


def test_send_blocked_by_channel_not_retried(chat) -> None:
    runtime, channel = chat
    channel.block_reason = "body is longer than 1600 characters"
    runtime.context.accept_order_events("teststore", "d-1", "t", [order_event()])
    drain(runtime)

    [message] = outbound(runtime)
    assert message.status == "blocked"
    assert message.status_reason == "chat: body is longer than 1600 characters"
    assert runtime.store.counts()["outbox"] == 0


def test_sender_rate_defers_second_message(chat, clock: FakeClock) -> None:
    runtime, channel = chat
    channel.per_second = 0.01
    runtime.context.accept_order_events(
        "teststore",
        "d-1",
        "t",
        [order_event(order_id="1"), order_event(order_id="2")],
    )
    drain(runtime)

    assert len(channel.sent) == 1
    waiting = [m for m in outbound(runtime) if m.status == "queued"]
    assert len(waiting) == 1
    assert (waiting[0].status_reason or "").startswith("deferred: sender rate 0.01/s")


def test_pacer_spaces_slots() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = SendPacer(monotonic=lambda: now[0], sleep=sleep)

    assert pacer.acquire("a", 2.0, max_wait=1.0) is None
    assert pacer.acquire("a", 2.0, max_wait=1.0) is None
    assert slept == [0.5]
    assert pacer.acquire("b", 2.0, max_wait=1.0) is None
    assert slept == [0.5]


def test_pacer_reports_wait_beyond_limit() -> None:
    pacer = SendPacer(monotonic=lambda: 0.0, sleep=lambda seconds: None)

    assert pacer.acquire("a", 0.1, max_wait=2.0) is None
    wait = pacer.acquire("a", 0.1, max_wait=2.0)

    assert wait == pytest.approx(10.0)
    # The refused slot was not taken, so the next caller sees the same wait.
    assert pacer.acquire("a", 0.1, max_wait=2.0) == pytest.approx(10.0)


def test_pacer_no_limit_for_zero_rate() -> None:
    pacer = SendPacer(monotonic=lambda: 0.0, sleep=lambda seconds: None)

    assert pacer.acquire("a", 0, max_wait=0.0) is None
    assert pacer.acquire("a", 0, max_wait=0.0) is None


def test_explain_names_channel_window(chat) -> None:
    import io

    from rich.console import Console

    from parley.explain import explain_send
    from parley.models import Purpose

    runtime, _channel = chat
    output = io.StringIO()
    code = explain_send(
        runtime.loaded,
        PHONE,
        Purpose.CONVERSATIONAL,
        "agent_reply",
        Console(file=output, width=200),
        channel="chat",
    )

    assert code == 3
    text = output.getvalue()
    assert "channel_window" in text
    assert "no template for agent_reply" in text


def test_explain_rejects_unknown_channel(chat) -> None:
    import io

    from rich.console import Console

    from parley.errors import ParleyError
    from parley.explain import explain_send
    from parley.models import Purpose

    runtime, _channel = chat
    with pytest.raises(ParleyError, match="--channel 'fax' is not an enabled channel"):
        explain_send(
            runtime.loaded,
            PHONE,
            Purpose.INFORMATIONAL,
            "order_update",
            Console(file=io.StringIO()),
            channel="fax",
        )


def test_one_contact_across_channels_and_formats(chat) -> None:
    runtime, _channel = chat
    client = TestClient(Daemon(runtime).app)
    sent = [
        ("/webhooks/chat", {"from": PHONE, "body": "Hi", "id": "c-1"}),
        ("/webhooks/sandbox", {"from": "(415) 555-0123", "body": "Hi", "id": "s-1"}),
        (
            "/webhooks/sandbox",
            {"from": "+1 415 555 0123", "body": "Again", "id": "s-2"},
        ),
    ]
    for path, payload in sent:
        assert client.post(path, json=payload).status_code == 200
    drain(runtime)

    inbound = [m for m in runtime.store.messages() if m.direction == "in"]
    conversations = {m.conversation_id for m in inbound}
    contacts = {
        runtime.store.find_contact(ChannelAddress(AddressKind.PHONE, m.address)).id
        for m in inbound
    }
    assert len(inbound) == 3
    assert len(conversations) == 2
    assert len(contacts) == 1
