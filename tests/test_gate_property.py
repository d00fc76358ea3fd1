"""Property: no message reaches a channel for an address that opted out.

Random interleavings of customer keywords, order events, agent replies,
campaign sends, consent records, clock jumps and daemon restarts run
against a real store. A recording channel checks every send against the
ledger, judged here independently of the gate's own code.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parley import Channel, InboundBatch, OutboundMessage, SendResult, hookimpl
from parley.config import load_config
from parley.models import (
    AddressKind,
    ChannelAddress,
    ContactRecord,
    InboundMessage,
    OrderStatus,
    OrderStatusEvent,
)
from parley.pipeline import inbound_to_json
from parley.runtime import Runtime, build_runtime
from parley.webhooks import WebhookRequest

from .conftest import FakeClock

ADDRESSES = ["+14155550101", "+14155550102", "+14155550103"]
BODIES = [
    "STOP",
    "stop please",
    "Opt-Out.",
    "START",
    "HELP",
    "YES",
    "hi",
    "when will it stop?",
]
EXEMPT_KINDS = {"opt_out_confirmation", "help"}

CONFIG = """
data_dir = "{data_dir}"

[plugins]
enabled = []

[compliance]
require_informational_consent = true
sending_window = "00:00-00:00"
frequency_cap = 0

[order_updates]
channel = "rec"

[order_updates.templates]
confirmed = "order_confirmed"
shipped = "order_shipped"

[replies]
first_message = "welcome"

[templates]
welcome = "Hi, thanks for writing. Reply STOP to opt out."
order_confirmed = "Order {{{{Order Number}}}} confirmed."
order_shipped = "Order {{{{Order Number}}}} shipped."
opt_out_confirmation = "You are unsubscribed."
opt_in_confirmation = "You are subscribed again."
help = "Reply STOP to opt out."
"""


class RecordingChannel(Channel):
    """Checks the ledger at the moment of every send."""

    id = "rec"
    address_kind = AddressKind.PHONE

    def __init__(self) -> None:
        self.runtime: Runtime | None = None
        self.violations: list[str] = []
        self.sent = 0

    def send(self, message: OutboundMessage) -> SendResult:
        self.sent += 1
        if message.kind not in EXEMPT_KINDS:
            assert self.runtime is not None
            latest = latest_action(self.runtime, message.to, message.purpose.value)
            if latest in ("opt_out", "suspend"):
                self.violations.append(f"{message.kind} to {message.to} after {latest}")
        return SendResult(provider_message_id=f"REC-{message.id}")

    def handle_webhook(self, request: WebhookRequest) -> InboundBatch:
        return InboundBatch()


def latest_action(runtime: Runtime, address: str, purpose: str) -> str | None:
    """The ledger's latest deciding action, computed without the gate's code.

    A ``restore`` (START) ends the opt-outs before it, so it counts as
    deciding too.
    """
    deciding = [
        entry
        for entry in runtime.store.ledger(address)
        if entry.purpose == purpose
        and entry.action in ("opt_in", "opt_out", "suspend", "confirmation", "restore")
    ]
    deciding.sort(key=lambda entry: (entry.recorded_at, entry.id))
    return deciding[-1].action if deciding else None


class ChannelPlugin:
    def __init__(self, channel: RecordingChannel) -> None:
        self.channel = channel

    @hookimpl
    def register_channels(self, register) -> None:  # noqa: ANN001 - hook callback
        register(self.channel)


@dataclass
class World:
    config: Path
    clock: FakeClock
    channel: RecordingChannel
    runtime: Runtime | None = None
    counter: int = 0

    def start(self) -> Runtime:
        loaded = load_config(self.config, environ={})
        loaded.plugin_manager.register(ChannelPlugin(self.channel), name="recording")
        self.runtime = build_runtime(loaded, clock=self.clock)
        self.channel.runtime = self.runtime
        return self.runtime

    def next_id(self) -> str:
        self.counter += 1
        return f"op-{self.counter}"


operations = st.one_of(
    st.tuples(st.just("inbound"), st.sampled_from(ADDRESSES), st.sampled_from(BODIES)),
    st.tuples(
        st.just("order"),
        st.sampled_from(ADDRESSES),
        st.sampled_from(["confirmed", "shipped"]),
    ),
    st.tuples(st.just("agent_reply"), st.sampled_from(ADDRESSES), st.just("")),
    st.tuples(st.just("campaign"), st.sampled_from(ADDRESSES), st.just("")),
    st.tuples(
        st.just("consent"),
        st.sampled_from(ADDRESSES),
        st.sampled_from(["checkout", "web_form", "suspend"]),
    ),
    st.tuples(
        st.just("work"), st.just(""), st.sampled_from(["events", "outbox", "both"])
    ),
    st.tuples(st.just("clock"), st.just(""), st.sampled_from(["1", "90"])),
    st.tuples(st.just("restart"), st.just(""), st.just("")),
)


def apply(world: World, operation: tuple[str, str, str]) -> None:
    name, address, argument = operation
    runtime = world.runtime
    assert runtime is not None
    now = world.clock()
    if name == "inbound":
        message = InboundMessage(
            "rec",
            ChannelAddress(AddressKind.PHONE, address),
            argument,
            world.next_id(),
            now,
        )
        runtime.store.add_event(
            "message_received",
            "rec",
            f"inbound:rec:{message.provider_message_id}",
            inbound_to_json(message),
            now,
        )
    elif name == "order":
        order_id = world.next_id()
        event = OrderStatusEvent(
            "store",
            "s",
            order_id,
            f"#{order_id}",
            OrderStatus(argument),
            now,
            f"store:{order_id}:{argument}",
            ContactRecord(source="store", phone=address),
        )
        runtime.context.accept_order_events("store", order_id, "t", [event])
    elif name in ("agent_reply", "campaign"):
        queue_direct(runtime, address, name, world.next_id(), now)
    elif name == "consent":
        action, source = (
            ("suspend", "import") if argument == "suspend" else ("opt_in", argument)
        )
        for purpose in ("informational", "promotional"):
            runtime.store.add_consent(
                "*", address, purpose, action, source, "test", "property test", now
            )
    elif name == "work":
        if argument in ("events", "both"):
            runtime.event_worker.run_once()
        if argument in ("outbox", "both"):
            runtime.outbox_worker.run_once()
    elif name == "clock":
        world.clock.advance(float(argument))
    elif name == "restart":
        runtime.close()
        world.start()


def queue_direct(
    runtime: Runtime, address: str, kind: str, key: str, now: datetime
) -> None:
    """Queue a message without the queue-time gate, as a buggy caller might."""
    contact = runtime.store.find_contact(ChannelAddress(AddressKind.PHONE, address))
    if contact is None:
        contact = runtime.store.save_contact(
            ContactRecord(source="t", phone=address),
            [ChannelAddress(AddressKind.PHONE, address)],
            now,
        )
    conversation_id, _ = runtime.store.open_conversation(
        contact.id, "rec", address, now
    )
    purpose = "conversational" if kind == "agent_reply" else "promotional"
    runtime.store.queue_message(
        conversation_id, "rec", f"{kind} text", kind, purpose, f"{kind}:{key}", now
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operations, min_size=10, max_size=80))
def test_no_send_after_opt_out(ops: list[tuple[str, str, str]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "parley.toml"
        config.write_text(CONFIG.format(data_dir=Path(folder) / "data"))
        world = World(
            config,
            FakeClock(datetime(2026, 11, 17, 19, 0, tzinfo=UTC)),
            RecordingChannel(),
        )
        world.start()
        try:
            for operation in ops:
                apply(world, operation)
            world.clock.advance(timedelta(hours=1).total_seconds())
            for _ in range(30):
                assert world.runtime is not None
                if not (
                    world.runtime.event_worker.run_once()
                    + world.runtime.outbox_worker.run_once()
                ):
                    break
        finally:
            assert world.runtime is not None
            world.runtime.close()

    assert world.channel.violations == []
