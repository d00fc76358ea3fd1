"""``/metrics``: counters after webhooks, sends, blocks and failures, parsed back."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from parley.daemon import Daemon
from parley.errors import DeliveryError
from parley.metrics import Metrics, outbox_stats
from parley.models import OrderStatus
from parley.runtime import Runtime

from .conftest import FakeClock, drain
from .test_pipeline import order_event

# For tests where the backends do not differ: SQLite alone keeps the file fast.
SQLITE_ONLY = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


class StepTimer:
    """A monotonic timer that moves by ``step`` seconds on every reading."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.now = 0.0

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@pytest.fixture
def runtime(make_runtime: Callable[..., Runtime]) -> Runtime:
    # One send thread, so that the step timer's readings come in order.
    built = make_runtime(
        "\n[outbox]\npoll_interval_seconds = 3600\nmax_attempts = 2\nconcurrency = 1\n"
        "\n[sandbox]\nper_second = 1000\n"
    )
    built.metrics.monotonic = StepTimer(0.25)
    return built


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    # The workers poll once an hour here, so tests drive them with drain().
    with TestClient(Daemon(runtime).app) as test_client:
        yield test_client


def scrape(client: TestClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def post_inbound(client: TestClient, sender: str, body: str, message_id: str) -> None:
    payload = json.dumps({"from": sender, "body": body, "id": message_id})
    response = client.post("/webhooks/sandbox", content=payload)
    assert response.status_code == 200


def test_metrics_after_traffic(client: TestClient, runtime: Runtime) -> None:
    post_inbound(client, "+14155550188", "Hi", "in-1")
    # The order event's customer is +14155550123, who opts out first.
    post_inbound(client, "+14155550123", "STOP", "in-2")
    rejected = client.post("/webhooks/sandbox", content=b"not json")
    assert rejected.status_code == 400
    drain(runtime)
    runtime.context.accept_order_events(
        "teststore",
        "d-1",
        "orders/test",
        [order_event(OrderStatus.SHIPPED)],
    )
    drain(runtime)

    samples = scrape(client)

    webhooks = "parley_webhooks_received_total"
    assert value(samples, webhooks, plugin="sandbox", outcome="accepted") == 2
    assert value(samples, webhooks, plugin="sandbox", outcome="rejected") == 1
    events = "parley_events_processed_total"
    assert value(samples, events, kind="message_received", outcome="processed") == 2
    assert value(samples, events, kind="order_status", outcome="processed") == 1
    messages = "parley_messages_total"
    # The welcome reply and the opt-out confirmation went out.
    assert (
        value(samples, messages, channel="sandbox", status="sent", reason="none") == 2
    )
    blocked = value(
        samples, messages, channel="sandbox", status="blocked", reason="opt_out"
    )
    assert blocked == 1
    provider = "parley_provider_request_seconds"
    assert value(samples, f"{provider}_count", channel="sandbox") == 2
    assert value(samples, f"{provider}_sum", channel="sandbox") == pytest.approx(0.5)
    waits = "parley_rate_limiter_wait_seconds_count"
    assert value(samples, waits, channel="sandbox") == 2
    assert value(samples, "parley_outbox_depth") == 0


def test_metrics_count_failures_and_retries(
    client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail_transiently(message: object) -> None:
        raise DeliveryError("provider timed out", permanent=False)

    channel = runtime.outbox_worker.channels["sandbox"]
    monkeypatch.setattr(channel, "send", fail_transiently)
    post_inbound(client, "+14155550123", "Hi", "in-1")
    runtime.event_worker.run_once()
    runtime.outbox_worker.run_once()

    samples = scrape(client)
    assert value(samples, "parley_provider_retries_total", channel="sandbox") == 1
    assert value(samples, "parley_outbox_depth") == 1
    assert value(samples, "parley_outbox_due_messages") == 0

    runtime.context.clock.advance(3600)  # type: ignore[attr-defined]
    runtime.outbox_worker.run_once()

    samples = scrape(client)
    failed = value(
        samples,
        "parley_messages_total",
        channel="sandbox",
        status="failed",
        reason="attempts_exhausted",
    )
    assert failed == 1
    assert value(samples, "parley_provider_retries_total", channel="sandbox") == 1
    assert value(samples, "parley_outbox_depth") == 0


@SQLITE_ONLY
def test_metrics_count_permanent_failure(
    client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail_permanently(message: object) -> None:
        raise DeliveryError("invalid number", permanent=True, code="21211")

    channel = runtime.outbox_worker.channels["sandbox"]
    monkeypatch.setattr(channel, "send", fail_permanently)
    post_inbound(client, "+14155550123", "Hi", "in-1")
    drain(runtime)

    samples = scrape(client)
    failed = value(
        samples,
        "parley_messages_total",
        channel="sandbox",
        status="failed",
        reason="permanent_error",
    )
    assert failed == 1
    assert value(samples, "parley_provider_retries_total", channel="sandbox") == 0


def test_outbox_gauges_measure_oldest(
    client: TestClient, runtime: Runtime, clock: FakeClock
) -> None:
    post_inbound(client, "+14155550123", "Hi", "in-1")
    runtime.event_worker.run_once()
    clock.advance(90)

    samples = scrape(client)
    assert value(samples, "parley_outbox_depth") == 1
    assert value(samples, "parley_outbox_due_messages") == 1
    assert value(samples, "parley_outbox_oldest_age_seconds") == pytest.approx(90)
    assert value(samples, "parley_outbox_oldest_due_seconds") == pytest.approx(90)

    stats = outbox_stats(runtime.store, clock() + timedelta(seconds=10))
    assert stats.oldest_age_seconds == pytest.approx(100)


def test_registries_are_separate() -> None:
    first = Metrics()
    second = Metrics()
    first.webhook_received("sandbox", "accepted")
    first_text = first.render().decode()
    second_text = second.render().decode()
    assert (
        'parley_webhooks_received_total{outcome="accepted",plugin="sandbox"} 1.0'
        in (first_text)
    )
    assert "parley_webhooks_received_total{" not in second_text


@SQLITE_ONLY
def test_metrics_labels_have_no_ids(client: TestClient, runtime: Runtime) -> None:
    post_inbound(client, "+14155550123", "Hi", "in-1")
    drain(runtime)
    text = client.get("/metrics").text
    assert "4155550123" not in text
    assert "in-1" not in text
