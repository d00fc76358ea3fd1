"""The channel inside a runtime: webhooks over HTTP, the workers and a moved clock.

The key case: a reply queued 23 h 59 min after the customer's last message,
inside the 24-hour window, but sent after the window closed, goes out as
the configured template. The workers are driven by hand and the clock is
moved between them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient
from whatsapp_support import (
    INBOUND_AT,
    WAMID_FAILED,
    WAMID_SENT,
    compact,
    load_fixture,
    settings_values,
    sign,
    whatsapp_vcr,
)

import parley.config
from parley import ContactRecord, OrderStatus, OrderStatusEvent
from parley.daemon import Daemon
from parley.runtime import Runtime, build_runtime
from parley.store import MessageRecord, schema

TEMPLATES = {
    "welcome": "Thanks for writing to {{Business Name}}. We will reply shortly.",
    "order_shipped": "Hi {{First Name | there}}, order {{Order Number}} has shipped.",
}

WHATSAPP_TEMPLATES = {
    "auto_reply": {
        "name": "reply_waiting",
        "language": "en_US",
        "parameters": ["Business Name"],
    },
    "order_update": {
        "name": "order_shipped_v2",
        "language": "en_US",
        "parameters": ["First Name", "Order Number", "Carrier"],
        "url_button": "Tracking Number",
    },
}


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment


def config_text(tmp_path: Path, store_url: str) -> str:
    whatsapp = settings_values(templates=WHATSAPP_TEMPLATES)
    lines = [
        f"data_dir = {json.dumps(str(tmp_path / 'data'))}",
        "[plugins]",
        'enabled = ["whatsapp"]',
        "[store]",
        f"url = {json.dumps(store_url)}",
        # Consent rules and quiet hours have their own tests in the core.
        "[compliance]",
        "require_informational_consent = false",
        'sending_window = "00:00-00:00"',
        'opt_out_notice = ""',
        "[business]",
        'name = "Harbor & Pine"',
        "[replies]",
        'first_message = "welcome"',
        "[order_updates]",
        'channel = "whatsapp"',
        "[order_updates.templates]",
        'shipped = "order_shipped"',
        "[outbox]",
        "poll_interval_seconds = 3600",
        "[templates]",
        *(f"{name} = {json.dumps(text)}" for name, text in TEMPLATES.items()),
        "[whatsapp]",
        *(
            f"{key} = {json.dumps(value)}"
            for key, value in whatsapp.items()
            if key != "templates"
        ),
    ]
    for kind, template in WHATSAPP_TEMPLATES.items():
        lines.append(f"[whatsapp.templates.{kind}]")
        lines.extend(f"{key} = {json.dumps(value)}" for key, value in template.items())
    return "\n".join(lines) + "\n"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(INBOUND_AT + timedelta(seconds=5))


@pytest.fixture
def runtime(tmp_path: Path, clock: FakeClock) -> Iterator[Runtime]:
    path = tmp_path / "parley.toml"
    path.write_text(config_text(tmp_path, f"sqlite:///{tmp_path / 'parley.db'}"))
    built = build_runtime(parley.config.load_config(path, environ={}), clock=clock)
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    # Without a "with" block the app's lifespan does not run, so no worker
    # thread starts and each test drives the workers itself.
    return TestClient(Daemon(runtime).app)


def post_fixture(client: TestClient, name: str) -> int:
    body, headers = load_fixture(name)
    return client.post("/webhooks/whatsapp", content=body, headers=headers).status_code


def outbound_messages(runtime: Runtime) -> list[MessageRecord]:
    return [m for m in runtime.store.messages() if m.direction == "out"]


def error_code_of(runtime: Runtime, message_id: int) -> str | None:
    table = schema.messages
    with runtime.store.engine.connect() as conn:
        return conn.execute(
            select(table.c.error_code).where(table.c.id == message_id)
        ).scalar()


def test_reply_after_window_sent_as_template(
    client: TestClient, runtime: Runtime, clock: FakeClock
) -> None:
    assert post_fixture(client, "inbound_text") == 200

    clock.set(INBOUND_AT + timedelta(hours=23, minutes=59))
    runtime.event_worker.run_once()
    [queued] = outbound_messages(runtime)
    assert queued.kind == "auto_reply"
    assert queued.status == "queued"

    clock.set(INBOUND_AT + timedelta(hours=24, minutes=1))
    with whatsapp_vcr().use_cassette("daemon_reply_template.yaml") as cassette:
        runtime.outbox_worker.run_once()

    assert cassette.all_played
    [sent] = outbound_messages(runtime)
    assert sent.status == "sent"
    assert sent.provider_message_id == WAMID_SENT


def test_order_update_after_window_sent_as_template(
    runtime: Runtime, client: TestClient, clock: FakeClock
) -> None:
    assert post_fixture(client, "inbound_text") == 200
    runtime.event_worker.run_once()

    clock.set(INBOUND_AT + timedelta(hours=23, minutes=59))
    event = OrderStatusEvent(
        source="test",
        store="harbor-and-pine-test.myshopify.com",
        order_id="6120459210842",
        order_name="#1042",
        status=OrderStatus.SHIPPED,
        occurred_at=clock.now,
        dedupe_key="6120459210842:shipped:5398021177434",
        customer=ContactRecord(source="test", first_name="Avery", phone="+14155550123"),
        fields={"Carrier": "UPS", "Tracking Number": "1Z999AA10123456784"},
    )
    runtime.context.accept_order_events("test", "delivery-1", "test", [event])
    runtime.event_worker.run_once()
    queued = [m for m in outbound_messages(runtime) if m.kind == "order_update"]
    assert [m.status for m in queued] == ["queued"]

    clock.set(INBOUND_AT + timedelta(hours=24, minutes=1))
    with whatsapp_vcr().use_cassette("daemon_order_template.yaml") as cassette:
        runtime.outbox_worker.run_once()

    assert cassette.all_played
    [sent] = [m for m in outbound_messages(runtime) if m.kind == "order_update"]
    assert sent.status == "sent"


def test_failed_status_marks_message_failed(
    client: TestClient, runtime: Runtime, clock: FakeClock
) -> None:
    assert post_fixture(client, "inbound_text") == 200
    clock.set(INBOUND_AT + timedelta(minutes=1))
    runtime.event_worker.run_once()
    with whatsapp_vcr().use_cassette("daemon_reply_text.yaml") as cassette:
        runtime.outbox_worker.run_once()
    assert cassette.all_played

    assert post_fixture(client, "status_failed_131047") == 200
    assert post_fixture(client, "status_failed_131047") == 200

    [message] = outbound_messages(runtime)
    assert message.provider_message_id == WAMID_FAILED
    assert message.status == "failed"
    assert error_code_of(runtime, message.id) == "131047"


def test_handshake_over_http(client: TestClient) -> None:
    response = client.get(
        "/webhooks/whatsapp",
        params={
            "hub.mode": "subscribe",
            "hub.verify_token": settings_values()["verify_token"],
            "hub.challenge": "8675309",
        },
    )

    assert response.status_code == 200
    assert response.text == "8675309"
    assert response.headers["content-type"].startswith("text/plain")


def test_bad_handshake_over_http(client: TestClient) -> None:
    response = client.get(
        "/webhooks/whatsapp",
        params={"hub.mode": "subscribe", "hub.verify_token": "x", "hub.challenge": "1"},
    )

    assert response.status_code == 403


def test_tampered_delivery_stores_nothing(client: TestClient, runtime: Runtime) -> None:
    body, headers = load_fixture("inbound_text")
    tampered = body.replace(b"shipped", b"shopped")

    response = client.post("/webhooks/whatsapp", content=tampered, headers=headers)
    runtime.event_worker.run_once()

    assert response.status_code == 403
    assert runtime.store.messages() == []


def test_redelivered_message_stored_once(client: TestClient, runtime: Runtime) -> None:
    assert post_fixture(client, "inbound_text") == 200
    assert post_fixture(client, "inbound_text") == 200
    runtime.event_worker.run_once()

    inbound = [m for m in runtime.store.messages() if m.direction == "in"]
    assert len(inbound) == 1


def test_malformed_delivery_rejected_over_http(client: TestClient) -> None:
    body = compact({"object": "whatsapp_business_account", "entry": {}})
    response = client.post(
        "/webhooks/whatsapp",
        content=body,
        headers={"X-Hub-Signature-256": sign(body)},
    )

    assert response.status_code == 400
    assert "entry is not a list" in response.json()["error"]
