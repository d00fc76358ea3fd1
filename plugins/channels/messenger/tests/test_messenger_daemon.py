"""Messenger through the daemon's HTTP app and the outbox, with a controlled clock.

The window is judged with the outbox's clock: a person's reply
queued while the 24-hour window was open goes with the HUMAN_AGENT tag once
the window has closed, and is blocked without a request after 7 days.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from messenger_support import (
    INBOUND_AT,
    PSID,
    SENT_MID,
    VERIFY_TOKEN,
    FakeClock,
    graph_vcr,
    load_fixture,
    messenger_section,
)
from starlette.testclient import TestClient

import parley.config
from parley import AGENT_REPLY_KIND
from parley.daemon import Daemon
from parley.runtime import Runtime, build_runtime
from parley.store import MessageRecord

AGENT_TEXT = "Sorry for the wait: order #1042 left our warehouse this morning."


def write_config(tmp_path: Path) -> Path:
    store_url = f"sqlite:///{tmp_path / 'parley.db'}"
    section = "\n".join(
        f"{key} = {json.dumps(value)}" for key, value in messenger_section().items()
    )
    text = (
        f"data_dir = {json.dumps(str(tmp_path / 'data'))}\n"
        "[plugins]\n"
        'enabled = ["messenger"]\n'
        "[store]\n"
        f"url = {json.dumps(store_url)}\n"
        # These tests check the channel's window, at any hour and without
        # consent records; the core's gate tests cover those rules.
        "[compliance]\n"
        "require_informational_consent = false\n"
        'sending_window = "00:00-00:00"\n'
        'opt_out_notice = ""\n'
        "[outbox]\n"
        "poll_interval_seconds = 3600\n"
        "[messenger]\n"
        f"{section}\n"
    )
    path = tmp_path / "parley.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(INBOUND_AT + timedelta(seconds=2))


@pytest.fixture
def runtime(tmp_path: Path, clock: FakeClock) -> Iterator[Runtime]:
    loaded = parley.config.load_config(write_config(tmp_path), environ={})
    built = build_runtime(loaded, clock=clock)
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    # The workers poll once an hour here, so each test drives them with drain().
    with TestClient(Daemon(runtime).app) as test_client:
        yield test_client


def drain(runtime: Runtime) -> None:
    for _ in range(20):
        busy = runtime.event_worker.run_once() + runtime.outbox_worker.run_once()
        if not busy:
            return
    raise AssertionError("workers still busy after 20 rounds")


def receive_fixture(client: TestClient, runtime: Runtime) -> int:
    """Post the signed inbound fixture and return its conversation id."""
    body, headers = load_fixture("inbound_text")
    response = client.post("/webhooks/messenger", content=body, headers=headers)
    assert response.status_code == 200, response.text
    drain(runtime)

    conversation_id = runtime.store.latest_conversation(PSID)
    assert conversation_id is not None
    return conversation_id


def queue_agent_reply(runtime: Runtime, conversation_id: int, clock: FakeClock) -> int:
    message_id = runtime.store.queue_message(
        conversation_id,
        "messenger",
        AGENT_TEXT,
        AGENT_REPLY_KIND,
        "conversational",
        "agent-reply-1",
        clock(),
    )
    assert message_id is not None
    return message_id


def message(runtime: Runtime, message_id: int) -> MessageRecord:
    [found] = [m for m in runtime.store.messages() if m.id == message_id]
    return found


def test_handshake_over_http(client: TestClient) -> None:
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }

    answered = client.get("/webhooks/messenger", params=query)
    refused = client.get(
        "/webhooks/messenger", params={**query, "hub.verify_token": "wrong-token"}
    )

    assert answered.status_code == 200
    assert answered.text == "1158201444"
    assert refused.status_code == 403


def test_tampered_inbound_forbidden_over_http(
    client: TestClient, runtime: Runtime
) -> None:
    body, headers = load_fixture("inbound_text")

    response = client.post(
        "/webhooks/messenger", content=body.replace(b"#1042", b"#1043"), headers=headers
    )
    drain(runtime)

    assert response.status_code == 403
    assert runtime.store.messages() == []


def test_inbound_fixture_stored(client: TestClient, runtime: Runtime) -> None:
    conversation_id = receive_fixture(client, runtime)

    [stored] = runtime.store.messages(conversation_id)
    assert stored.direction == "in"
    assert stored.address == PSID
    assert stored.body == "Where is my order #1042?"


def test_agent_reply_after_window_tagged(
    client: TestClient, runtime: Runtime, clock: FakeClock
) -> None:
    conversation_id = receive_fixture(client, runtime)
    clock.advance(hours=1)
    message_id = queue_agent_reply(runtime, conversation_id, clock)

    clock.advance(days=3)
    with graph_vcr().use_cassette("send_human_agent.yaml") as cassette:
        drain(runtime)

    sent = message(runtime, message_id)
    assert sent.status == "sent", sent.status_reason
    assert sent.provider_message_id == SENT_MID
    assert cassette.play_count == 1
    request = json.loads(cassette.requests[0].body)
    assert request["messaging_type"] == "MESSAGE_TAG"
    assert request["tag"] == "HUMAN_AGENT"

    body, headers = load_fixture("delivery")
    response = client.post("/webhooks/messenger", content=body, headers=headers)
    assert response.status_code == 200
    assert message(runtime, message_id).status == "delivered"


def test_agent_reply_after_seven_days_blocked(
    client: TestClient, runtime: Runtime, clock: FakeClock
) -> None:
    conversation_id = receive_fixture(client, runtime)
    clock.advance(hours=1)
    message_id = queue_agent_reply(runtime, conversation_id, clock)

    clock.advance(days=8)
    with graph_vcr().use_cassette("no_requests.yaml") as cassette:
        drain(runtime)

    blocked = message(runtime, message_id)
    assert cassette.play_count == 0
    assert blocked.status == "blocked"
    assert blocked.status_reason is not None
    assert "7-day HUMAN_AGENT window" in blocked.status_reason
