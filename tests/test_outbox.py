from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from parley import Channel, DeliveryError, InboundBatch, SendResult, WebhookRejected
from parley.backoff import retry_delay
from parley.models import (
    AddressKind,
    ChannelAddress,
    ContactRecord,
    DeliveryStatus,
    OutboundMessage,
)
from parley.outbox import OutboxWorker
from parley.runtime import Runtime
from parley.store import Store, schema
from parley.webhooks import WebhookRequest
from tests.conftest import FakeClock

PHONE = "+14155550123"
MAX_BACKOFF = 600.0

# A send either succeeds (None) or raises the exception in its place.
Outcome = Exception | None


class FakeChannel(Channel):
    """A channel that records sends and fails as scripted."""

    id = "fake"
    address_kind = AddressKind.PHONE

    def __init__(
        self,
        outcomes: list[Outcome] | None = None,
        always_raise: Exception | None = None,
    ) -> None:
        self.outcomes = list(outcomes or [])
        self.always_raise = always_raise
        self.sent: list[OutboundMessage] = []

    def send(self, message: OutboundMessage) -> SendResult:
        self.sent.append(message)
        if self.always_raise is not None:
            raise self.always_raise
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        return SendResult(
            provider_message_id=f"FAKE-{message.id}", status=DeliveryStatus.SENT
        )

    def handle_webhook(self, request: WebhookRequest) -> InboundBatch:
        raise WebhookRejected(404, "the fake channel takes no webhooks")


def transient(
    message: str = "provider busy", retry_after: float | None = None
) -> DeliveryError:
    return DeliveryError(message, permanent=False, retry_after=retry_after)


def queue_message(
    runtime: Runtime,
    clock: FakeClock,
    kind: str = "order_update",
    channel: str = "fake",
) -> int:
    store = runtime.store
    contact = store.save_contact(
        ContactRecord(source="test", first_name="Ana"),
        [ChannelAddress(AddressKind.PHONE, PHONE)],
        clock(),
    )
    conversation_id, _created = store.open_conversation(
        contact.id, channel, PHONE, clock()
    )
    message_id = store.queue_message(
        conversation_id,
        channel,
        "Your order #1001 has shipped.",
        kind,
        "informational",
        f"test:{kind}:{channel}",
        clock(),
    )
    assert message_id is not None
    return message_id


def message_row(store: Store, message_id: int) -> Any:
    with store.engine.connect() as conn:
        return conn.execute(
            select(schema.messages).where(schema.messages.c.id == message_id)
        ).one()


def next_attempt_at(store: Store, message_id: int) -> datetime | None:
    """Return the outbox row's next attempt time, or None when the row is gone."""
    with store.engine.connect() as conn:
        value = conn.execute(
            select(schema.outbox.c.next_attempt_at).where(
                schema.outbox.c.message_id == message_id
            )
        ).scalar()
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def retry_in_seconds(store: Store, message_id: int, clock: FakeClock) -> float:
    due = next_attempt_at(store, message_id)
    assert due is not None, "message is no longer in the outbox"
    return (due - clock()).total_seconds()


@pytest.fixture
def build_worker(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> Callable[..., tuple[Runtime, OutboxWorker, int]]:
    """Build a runtime, a worker around a channel, and one queued message."""

    def build(
        channel: Channel, extra: str = "", kind: str = "order_update"
    ) -> tuple[Runtime, OutboxWorker, int]:
        runtime = make_runtime(extra)
        worker = OutboxWorker(runtime.context, {channel.id: channel}, "w1")
        message_id = queue_message(runtime, clock, kind=kind)
        return runtime, worker, message_id

    return build


def test_send_marks_sent(build_worker: Callable[..., Any], clock: FakeClock) -> None:
    channel = FakeChannel()
    runtime, worker, message_id = build_worker(channel)

    claimed = worker.run_once()

    [record] = runtime.store.messages()
    assert claimed == 1
    assert record.status == DeliveryStatus.SENT.value
    assert record.provider_message_id == f"FAKE-{message_id}"
    assert record.sent_at == clock()
    assert next_attempt_at(runtime.store, message_id) is None


def test_send_passes_message_fields(build_worker: Callable[..., Any]) -> None:
    channel = FakeChannel()
    _runtime, worker, message_id = build_worker(channel)

    worker.run_once()

    [sent] = channel.sent
    assert sent.id == message_id
    assert sent.to == PHONE
    assert sent.channel == "fake"
    assert sent.body == "Your order #1001 has shipped."
    assert sent.kind == "order_update"
    assert sent.idempotency_key == f"parley-message-{message_id}"


def test_transient_error_schedules_retry(
    build_worker: Callable[..., Any], clock: FakeClock
) -> None:
    channel = FakeChannel([transient()])
    runtime, worker, message_id = build_worker(channel)
    initial = runtime.context.settings.outbox.backoff_initial_seconds

    worker.run_once()

    record = message_row(runtime.store, message_id)
    assert record.status == DeliveryStatus.QUEUED.value
    assert record.status_reason == "provider busy"
    assert retry_in_seconds(runtime.store, message_id, clock) >= initial
    assert worker.run_once() == 0


def test_retry_delay_grows_per_attempt(
    build_worker: Callable[..., Any], clock: FakeClock
) -> None:
    channel = FakeChannel([transient(), transient(), transient()])
    runtime, worker, message_id = build_worker(channel)
    delays = []

    for _attempt in range(3):
        assert worker.run_once() == 1
        delay = retry_in_seconds(runtime.store, message_id, clock)
        delays.append(delay)
        clock.advance(delay)

    assert delays[0] < delays[1]
    assert delays[1] < delays[2]


def test_retry_then_succeeds(
    build_worker: Callable[..., Any], clock: FakeClock
) -> None:
    channel = FakeChannel([transient(), transient()])
    runtime, worker, message_id = build_worker(channel)

    for _attempt in range(2):
        worker.run_once()
        clock.advance(retry_in_seconds(runtime.store, message_id, clock))
    worker.run_once()

    [record] = runtime.store.messages()
    assert record.status == DeliveryStatus.SENT.value
    assert record.provider_message_id == f"FAKE-{message_id}"
    assert len(channel.sent) == 3
    assert {message.idempotency_key for message in channel.sent} == {
        f"parley-message-{message_id}"
    }


def test_configured_initial_backoff_used(
    build_worker: Callable[..., Any], clock: FakeClock
) -> None:
    channel = FakeChannel([transient()])
    runtime, worker, message_id = build_worker(
        channel, extra="[outbox]\nbackoff_initial_seconds = 5\n"
    )

    worker.run_once()

    assert retry_in_seconds(runtime.store, message_id, clock) >= 5


def test_retry_after_delays_next_attempt(
    build_worker: Callable[..., Any], clock: FakeClock
) -> None:
    channel = FakeChannel([transient("rate limited", retry_after=30)])
    runtime, worker, message_id = build_worker(channel)

    worker.run_once()
    delay = retry_in_seconds(runtime.store, message_id, clock)
    clock.advance(29)
    early = worker.run_once()
    clock.advance(1)
    due = worker.run_once()

    assert delay >= 30
    assert early == 0
    assert due == 1
    assert runtime.store.messages()[0].status == DeliveryStatus.SENT.value


def test_permanent_error_marks_failed(
    build_worker: Callable[..., Any], clock: FakeClock
) -> None:
    error = DeliveryError(
        "the number is not a mobile number", permanent=True, code="21614"
    )
    channel = FakeChannel([error])
    runtime, worker, message_id = build_worker(channel)

    worker.run_once()

    record = message_row(runtime.store, message_id)
    assert record.status == DeliveryStatus.FAILED.value
    assert record.status_reason == "the number is not a mobile number"
    assert record.error_code == "21614"
    assert next_attempt_at(runtime.store, message_id) is None


def test_permanent_error_not_retried(
    build_worker: Callable[..., Any], clock: FakeClock
) -> None:
    channel = FakeChannel([DeliveryError("invalid number", permanent=True)])
    _runtime, worker, _message_id = build_worker(channel)

    worker.run_once()
    clock.advance(2 * MAX_BACKOFF)

    assert worker.run_once() == 0
    assert len(channel.sent) == 1


def test_gives_up_after_max_attempts(
    build_worker: Callable[..., Any], clock: FakeClock
) -> None:
    channel = FakeChannel(always_raise=transient("provider down"))
    runtime, worker, message_id = build_worker(
        channel, extra="[outbox]\nmax_attempts = 3\n"
    )

    for _attempt in range(3):
        assert worker.run_once() == 1
        clock.advance(MAX_BACKOFF + 1)

    record = message_row(runtime.store, message_id)
    assert record.status == DeliveryStatus.FAILED.value
    assert "gave up after 3 attempts" in record.status_reason
    assert "provider down" in record.status_reason
    assert next_attempt_at(runtime.store, message_id) is None
    assert worker.run_once() == 0
    assert len(channel.sent) == 3


def test_opt_out_after_queue_blocks(
    build_worker: Callable[..., Any], clock: FakeClock
) -> None:
    channel = FakeChannel()
    runtime, worker, message_id = build_worker(channel)
    runtime.store.add_consent(
        "fake",
        PHONE,
        "informational",
        "opt_out",
        "keyword",
        "customer",
        "STOP",
        clock(),
    )

    worker.run_once()

    record = message_row(runtime.store, message_id)
    assert channel.sent == []
    assert record.status == DeliveryStatus.BLOCKED.value
    assert "opted out" in record.status_reason
    assert next_attempt_at(runtime.store, message_id) is None


def test_opt_out_confirmation_still_sent(
    build_worker: Callable[..., Any], clock: FakeClock
) -> None:
    channel = FakeChannel()
    runtime, worker, _message_id = build_worker(channel, kind="opt_out_confirmation")
    runtime.store.add_consent(
        "fake",
        PHONE,
        "informational",
        "opt_out",
        "keyword",
        "customer",
        "STOP",
        clock(),
    )

    worker.run_once()

    assert len(channel.sent) == 1
    assert runtime.store.messages()[0].status == DeliveryStatus.SENT.value


def test_channel_crash_is_retried(
    build_worker: Callable[..., Any], clock: FakeClock
) -> None:
    channel = FakeChannel([RuntimeError("socket closed")])
    runtime, worker, message_id = build_worker(channel)

    claimed = worker.run_once()

    record = message_row(runtime.store, message_id)
    assert claimed == 1
    assert record.status == DeliveryStatus.QUEUED.value
    assert record.status_reason == "RuntimeError: socket closed"

    clock.advance(retry_in_seconds(runtime.store, message_id, clock))
    worker.run_once()

    assert message_row(runtime.store, message_id).status == DeliveryStatus.SENT.value


def test_unknown_channel_is_retried(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    runtime = make_runtime()
    worker = OutboxWorker(runtime.context, {"fake": FakeChannel()}, "w1")
    message_id = queue_message(runtime, clock, channel="removed")

    worker.run_once()

    record = message_row(runtime.store, message_id)
    assert record.status == DeliveryStatus.QUEUED.value
    assert "'removed' is not enabled" in record.status_reason
    assert next_attempt_at(runtime.store, message_id) is not None


# retry_delay


def test_retry_delay_grows_with_attempt() -> None:
    delays = [
        retry_delay(attempt, initial=1, maximum=MAX_BACKOFF) for attempt in range(1, 6)
    ]

    for earlier, later in zip(delays, delays[1:], strict=False):
        assert earlier < later


def test_retry_delay_at_least_initial() -> None:
    assert retry_delay(1, initial=1, maximum=MAX_BACKOFF) >= 1
    assert retry_delay(0, initial=1, maximum=MAX_BACKOFF) >= 1


def test_retry_delay_uses_initial() -> None:
    delay = retry_delay(1, initial=10, maximum=MAX_BACKOFF)

    assert delay >= 10
    assert delay <= 20


def test_retry_delay_capped_at_maximum() -> None:
    assert retry_delay(30, initial=1, maximum=60) == 60
    assert retry_delay(5000, initial=1, maximum=60) == 60


def test_retry_delay_honours_retry_after() -> None:
    assert retry_delay(1, initial=1, maximum=MAX_BACKOFF, retry_after=30) >= 30


def test_retry_after_beyond_maximum_wins() -> None:
    assert retry_delay(1, initial=1, maximum=60, retry_after=120) == 120


def test_provider_unsubscribed_records_opt_out(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    runtime = make_runtime()
    unsubscribed = DeliveryError(
        "recipient unsubscribed",
        permanent=False,
        code="21610",
        recipient_opted_out=True,
    )
    worker = OutboxWorker(runtime.context, {"fake": FakeChannel([unsubscribed])}, "w1")
    message_id = queue_message(runtime, clock)

    worker.run_once()

    assert message_row(runtime.store, message_id).status == "failed"
    ledger = runtime.store.ledger(PHONE)
    assert {(e.purpose, e.action, e.source) for e in ledger} == {
        ("conversational", "opt_out", "provider_report"),
        ("informational", "opt_out", "provider_report"),
        ("promotional", "opt_out", "provider_report"),
    }
    assert "21610" in (ledger[0].evidence or "")
