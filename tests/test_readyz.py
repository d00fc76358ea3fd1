"""``/readyz``: ready, store unreachable, and a stuck outbox versus a busy one."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlalchemy.exc import OperationalError
from starlette.testclient import TestClient

from parley.daemon import Daemon
from parley.errors import ConfigError
from parley.metrics import MIN_STUCK_AFTER_SECONDS
from parley.runtime import Runtime

from .conftest import FakeClock

# For tests where the backends do not differ: SQLite alone keeps the file fast.
SQLITE_ONLY = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)

STUCK_AFTER = 60.0


@pytest.fixture
def runtime(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime("\n[outbox]\npoll_interval_seconds = 3600\n")


@pytest.fixture
def daemon(runtime: Runtime) -> Daemon:
    return Daemon(runtime, outbox_stuck_after_seconds=STUCK_AFTER)


@pytest.fixture
def client(daemon: Daemon) -> Iterator[TestClient]:
    # The workers poll once an hour here, so tests run them by hand.
    with TestClient(daemon.app) as test_client:
        yield test_client


def queue_reply(client: TestClient, runtime: Runtime) -> None:
    """Store an inbound message and queue its auto reply in the outbox."""
    payload = json.dumps({"from": "+14155550123", "body": "Hi", "id": "in-1"})
    assert client.post("/webhooks/sandbox", content=payload).status_code == 200
    runtime.event_worker.run_once()


def test_ready_when_all_ok(client: TestClient) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["outbox"] == "ok"
    assert body["causes"] == []
    assert body["outbox_depth"] == 0


@SQLITE_ONLY
def test_store_unreachable_is_503(
    client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime.store, "ping", lambda: False)

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["store"] == "unreachable"
    assert body["outbox"] == "unknown"
    assert any("store is unreachable" in cause for cause in body["causes"])


@SQLITE_ONLY
def test_store_failing_during_outbox_check(
    client: TestClient, daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail() -> None:
        raise OperationalError("SELECT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(daemon.outbox_watch, "check", fail)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["store"] == "unreachable"


def test_stuck_outbox_is_503(
    client: TestClient, runtime: Runtime, clock: FakeClock
) -> None:
    queue_reply(client, runtime)
    clock.advance(STUCK_AFTER + 30)

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["outbox"] == "stuck"
    assert body["outbox_due"] == 1
    assert body["outbox_oldest_due_seconds"] == pytest.approx(STUCK_AFTER + 30)
    [cause] = body["causes"]
    assert "the outbox is stuck" in cause
    assert f"threshold {STUCK_AFTER:.0f} s" in cause


def test_outbox_ready_again_after_send(
    client: TestClient, runtime: Runtime, clock: FakeClock
) -> None:
    queue_reply(client, runtime)
    clock.advance(STUCK_AFTER + 30)
    assert client.get("/readyz").status_code == 503

    runtime.outbox_worker.run_once()

    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["outbox_depth"] == 0


@SQLITE_ONLY
def test_old_due_message_with_recent_progress(
    client: TestClient, runtime: Runtime, clock: FakeClock
) -> None:
    queue_reply(client, runtime)
    clock.advance(STUCK_AFTER + 30)
    # The outbox worker handled another message a moment ago: busy, not stuck.
    runtime.metrics.outbox_progress()
    clock.advance(5)

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["outbox"] == "ok"


def test_deferred_message_is_not_stuck(
    client: TestClient, runtime: Runtime, clock: FakeClock
) -> None:
    queue_reply(client, runtime)
    [message] = [m for m in runtime.store.messages() if m.direction == "out"]
    later = clock() + timedelta(hours=10)
    runtime.store.defer_message(message.id, later, "deferred: quiet hours", clock())
    clock.advance(STUCK_AFTER * 10)

    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["outbox_depth"] == 1
    assert body["outbox_due"] == 0


@SQLITE_ONLY
def test_default_threshold_follows_claim_timeout(
    make_runtime: Callable[..., Runtime],
) -> None:
    short = make_runtime("\n[outbox]\nclaim_timeout_seconds = 30\n")
    assert Daemon(short).outbox_watch.stuck_after_seconds == MIN_STUCK_AFTER_SECONDS

    long = make_runtime("\n[outbox]\nclaim_timeout_seconds = 600\n")
    assert Daemon(long).outbox_watch.stuck_after_seconds == 1200


@SQLITE_ONLY
def test_threshold_must_be_positive(runtime: Runtime) -> None:
    with pytest.raises(ValueError, match="must be positive, got -5"):
        Daemon(runtime, outbox_stuck_after_seconds=-5)


@SQLITE_ONLY
def test_threshold_from_config(make_runtime: Callable[..., Runtime]) -> None:
    configured = make_runtime("\n[outbox]\nstuck_after_seconds = 45\n")
    assert Daemon(configured).outbox_watch.stuck_after_seconds == 45


@SQLITE_ONLY
def test_threshold_in_config_must_be_positive(
    make_runtime: Callable[..., Runtime],
) -> None:
    with pytest.raises(ConfigError, match="stuck_after_seconds"):
        make_runtime("\n[outbox]\nstuck_after_seconds = 0\n")
