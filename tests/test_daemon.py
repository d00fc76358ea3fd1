"""The daemon's HTTP surface, in process, with the sandbox channel."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator

import pytest
from starlette.testclient import TestClient

from parley.daemon import Daemon
from parley.runtime import Runtime

from .conftest import drain


@pytest.fixture
def runtime(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime(
        "\n[server]\nmax_body_bytes = 2048\n\n[outbox]\npoll_interval_seconds = 3600\n"
    )


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    # The workers poll once an hour here, so tests drive them with drain().
    with TestClient(Daemon(runtime).app) as test_client:
        yield test_client


def _inbound(
    sender: str = "+14155550123", body: str = "Hi", message_id: str = "m-1"
) -> bytes:
    return json.dumps({"from": sender, "body": body, "id": message_id}).encode()


def test_healthz_alive(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


def test_readyz_reports_store_and_plugins(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["store"] == "ok"
    assert "sandbox" in response.json()["plugins"]


def test_sandbox_inbound_gets_auto_reply(client: TestClient, runtime: Runtime) -> None:
    response = client.post("/webhooks/sandbox", content=_inbound())
    assert response.status_code == 200
    drain(runtime)
    sent = [m for m in runtime.store.messages() if m.direction == "out"]
    assert [m.kind for m in sent] == ["auto_reply"]
    assert sent[0].status == "sent"
    assert "Reply STOP to opt out" in sent[0].body


def test_sandbox_redelivery_stored_once(client: TestClient, runtime: Runtime) -> None:
    for _ in range(3):
        assert client.post("/webhooks/sandbox", content=_inbound()).status_code == 200
    drain(runtime)
    inbound = [m for m in runtime.store.messages() if m.direction == "in"]
    assert len(inbound) == 1
    assert runtime.store.counts()["events"] == 1


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (
            json.dumps({"from": "hello", "body": "x"}).encode(),
            400,
            "'from' must be a phone number",
        ),
        (json.dumps({"from": "+14155550123", "body": "  "}).encode(), 400, "'body'"),
        (
            json.dumps({"from": "+14155550123", "body": "x" * 5000}).encode(),
            413,
            "larger than 2048 bytes",
        ),
    ],
    ids=["invalid-json", "not-object", "bad-sender", "empty-body", "too-large"],
)
def test_bad_inbound_rejected_and_not_stored(
    client: TestClient, runtime: Runtime, body: bytes, status: int, reason: str
) -> None:
    response = client.post("/webhooks/sandbox", content=body)
    assert response.status_code == status
    assert reason in response.json()["error"]
    assert runtime.store.counts() == {
        "events": 0,
        "pending_events": 0,
        "outbox": 0,
        "webhook_deliveries": 0,
    }


def test_bad_inbound_log_has_no_phone(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    client.post(
        "/webhooks/sandbox",
        content=json.dumps({"from": "+1415555019", "body": "x"}).encode(),
    )
    assert "rejected with 400" in caplog.text
    assert "415555019" not in caplog.text


def test_unknown_path_404(client: TestClient) -> None:
    assert client.post("/webhooks/nothing-here", content=b"{}").status_code == 404


def test_sandbox_secret_requires_signature(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime('\n[sandbox]\nsecret = "sandbox-secret"\n')
    body = _inbound()
    good = "sha256=" + hmac.new(b"sandbox-secret", body, hashlib.sha256).hexdigest()
    with TestClient(Daemon(runtime).app) as client:
        missing = client.post("/webhooks/sandbox", content=body)
        wrong = client.post(
            "/webhooks/sandbox",
            content=body,
            headers={"X-Sandbox-Signature": "sha256=00"},
        )
        signed = client.post(
            "/webhooks/sandbox", content=body, headers={"X-Sandbox-Signature": good}
        )
    assert missing.status_code == 401
    assert wrong.status_code == 401
    assert signed.status_code == 200
    assert runtime.store.counts()["events"] == 1
