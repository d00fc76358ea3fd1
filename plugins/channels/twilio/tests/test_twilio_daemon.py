"""Twilio webhooks and sends through the daemon's HTTP app and its workers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from twilio_support import (
    AUTH_TOKEN,
    CUSTOMER,
    SERVICE_SID,
    FakeTwilio,
    check_create_request,
    fake_twilio,
    inbound_form,
    load_form,
    load_json,
    message_sid,
    settings,
    signed_post,
    twilio_vcr,
)

import parley.config
from parley.daemon import Daemon
from parley.runtime import Runtime, build_runtime
from parley.store import MessageRecord

INBOUND_URL = "https://hooks.example.com/twilio/sms/inbound"
WELCOME = "Hi there, thanks for texting Harbor & Pine. Reply STOP to opt out."

CONFIG = """
[business]
name = "Harbor & Pine"

[order_updates]
channel = "twilio"

[replies]
first_message = "welcome"

[compliance]
require_informational_consent = false
sending_window = "00:00-00:00"
opt_out_notice = ""
{compliance_extra}

[outbox]
# The workers wait an hour between rounds, so each test drives them.
poll_interval_seconds = 3600

[templates]
welcome = "Hi {{{{First Name | there}}}}, thanks for texting {{{{Business Name}}}}. Reply STOP to opt out."
opt_out_confirmation = "You are unsubscribed from {{{{Business Name}}}}. Reply START to resubscribe."
opt_in_confirmation = "You are subscribed to {{{{Business Name}}}} again."
opt_in_prompt = "Reply YES to confirm texts from {{{{Business Name}}}}."
double_opt_in_confirmed = "Thanks, you are confirmed."
help = "{{{{Business Name}}}} help: reply here. STOP to opt out."
"""


class FixedClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


RuntimeFactory = Callable[..., Runtime]


@pytest.fixture
def make_runtime(tmp_path: Path, store_url: str) -> Iterator[RuntimeFactory]:
    built: list[Runtime] = []

    def make(compliance_extra: str = "", **twilio: Any) -> Runtime:
        section = settings(**twilio)
        lines = [f"{key} = {json.dumps(value)}" for key, value in section.items()]
        text = (
            f"data_dir = {json.dumps(str(tmp_path / 'data'))}\n"
            '[plugins]\nenabled = ["twilio"]\n'
            f"[store]\nurl = {json.dumps(store_url)}\n"
            + CONFIG.format(compliance_extra=compliance_extra)
            + "\n[twilio]\n"
            + "\n".join(lines)
            + "\n"
        )
        path = tmp_path / "parley.toml"
        path.write_text(text, encoding="utf-8")
        runtime = build_runtime(
            parley.config.load_config(path, environ={}), clock=FixedClock()
        )
        built.append(runtime)
        return runtime

    yield make
    for runtime in built:
        runtime.close()


def drain(runtime: Runtime) -> None:
    for _ in range(20):
        busy = runtime.event_worker.run_once() + runtime.outbox_worker.run_once()
        if not busy:
            return
    raise AssertionError("workers still busy after 20 rounds")


def post(client: TestClient, path: str, body: bytes, headers: dict[str, str]) -> int:
    return client.post(
        f"/webhooks/twilio{path}", content=body, headers=headers
    ).status_code


def outbound(runtime: Runtime, kind: str | None = None) -> list[MessageRecord]:
    return [
        m
        for m in runtime.store.messages()
        if m.direction == "out" and (kind is None or m.kind == kind)
    ]


def test_fixture_text_answered_through_twilio(
    make_runtime: RuntimeFactory, store_url: str
) -> None:
    runtime = make_runtime(from_number=None, messaging_service_sid=SERVICE_SID)
    body, headers, _url = load_form("inbound_sms")

    with TestClient(Daemon(runtime).app) as client:
        response = client.post(
            "/webhooks/twilio/inbound", content=body, headers=headers
        )
        with twilio_vcr().use_cassette("daemon_first_reply.yaml") as cassette:
            drain(runtime)

    assert response.status_code == 200
    assert response.text == '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    assert response.headers["content-type"].startswith("text/xml")
    [inbound] = [m for m in runtime.store.messages() if m.direction == "in"]
    assert inbound.body == "Hi, any update on order #1042? Thanks!"
    assert inbound.address == CUSTOMER
    [reply] = outbound(runtime)
    assert reply.body == WELCOME
    assert reply.conversation_id == inbound.conversation_id
    assert reply.provider_message_id == "SM3b7b9dd70d2f646de1127320ca906108"
    [request] = cassette.requests
    fields = check_create_request(request.path, request.body)
    assert fields["To"] == CUSTOMER
    assert fields["MessagingServiceSid"] == SERVICE_SID


def test_status_callbacks_move_forward_only(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(from_number=None, messaging_service_sid=SERVICE_SID)
    body, headers, _url = load_form("inbound_sms")

    with TestClient(Daemon(runtime).app) as client:
        assert post(client, "/inbound", body, headers) == 200
        with twilio_vcr().use_cassette("daemon_first_reply.yaml"):
            drain(runtime)
        for name in ("status_callback_delivered", "status_callback_sent"):
            callback, callback_headers, _url = load_form(name)
            assert post(client, "/status", callback, callback_headers) == 200

    [reply] = outbound(runtime)
    assert reply.status == "delivered"


def test_undelivered_callback_records_code(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(from_number=None, messaging_service_sid=SERVICE_SID)
    body, headers, _url = load_form("inbound_sms")

    with TestClient(Daemon(runtime).app) as client:
        assert post(client, "/inbound", body, headers) == 200
        with twilio_vcr().use_cassette("daemon_first_reply.yaml"):
            drain(runtime)
        callback, callback_headers, _url = load_form("status_callback_undelivered")
        assert post(client, "/status", callback, callback_headers) == 200

    [reply] = outbound(runtime)
    assert reply.status == "undelivered"


def test_body_changed_after_signing_leaves_no_trace(
    make_runtime: RuntimeFactory,
) -> None:
    runtime = make_runtime()
    body, headers, _url = load_form("inbound_sms")
    changed = body.replace(b"order+%231042", b"order+%231043")
    assert changed != body

    with fake_twilio() as fake:
        with TestClient(Daemon(runtime).app) as client:
            response = client.post(
                "/webhooks/twilio/inbound", content=changed, headers=headers
            )
        drain(runtime)

    assert response.status_code == 403
    assert "X-Twilio-Signature" in response.json()["error"]
    assert AUTH_TOKEN not in response.text
    assert runtime.store.counts()["events"] == 0
    assert runtime.store.messages() == []
    assert fake.requests == []


def test_redelivered_text_stored_once(make_runtime: RuntimeFactory) -> None:
    with fake_twilio() as fake:
        runtime = make_runtime(api_base_url=fake.url)
        body, headers, _url = load_form("inbound_sms")
        with TestClient(Daemon(runtime).app) as client:
            statuses = [post(client, "/inbound", body, headers) for _ in range(3)]
        drain(runtime)

    assert statuses == [200, 200, 200]
    assert len([m for m in runtime.store.messages() if m.direction == "in"]) == 1
    assert [m.body for m in outbound(runtime)] == [WELCOME]
    assert len(fake.requests) == 1
    assert fake.invalid == []


def test_opted_out_at_twilio_not_retried(make_runtime: RuntimeFactory) -> None:
    with fake_twilio() as fake:
        fake.replies.append((400, load_json("error_21610_response.json"), {}))
        runtime = make_runtime(api_base_url=fake.url)
        body, headers, _url = load_form("inbound_sms")
        with TestClient(Daemon(runtime).app) as client:
            assert post(client, "/inbound", body, headers) == 200
        drain(runtime)
        [welcome] = outbound(runtime)
        requests_after_21610 = len(fake.requests)

        now = runtime.context.clock()
        runtime.store.queue_message(
            welcome.conversation_id,
            "twilio",
            "Your order #1042 has shipped.",
            "agent_reply",
            "conversational",
            "test-agent-reply-1",
            now,
        )
        drain(runtime)

    assert requests_after_21610 == 1
    assert welcome.status == "failed"
    actions = {(e.action, e.source) for e in runtime.store.ledger(CUSTOMER)}
    assert ("opt_out", "provider_report") in actions
    [agent_reply] = outbound(runtime, "agent_reply")
    assert agent_reply.status == "blocked"
    assert len(fake.requests) == 1


# Keywords through the signed webhook

OPT_OUT_BODIES = [
    "STOP",
    "STOPALL",
    "END",
    "CANCEL",
    "UNSUBSCRIBE",
    "QUIT",
    "REVOKE",
    "OPTOUT",
    "opt out",
    "opt-out",
    "Opt-Out.",
    "stop",
    "  stop!! ",
    "STOP 🛑",
    "ｓｔｏｐ",
    "Stop please",
    "Stop. Thank you",
]


def text_in(
    client: TestClient, runtime: Runtime, body: str, sid: str, times: int = 1
) -> None:
    pairs = inbound_form(body, sid)
    form, headers = signed_post(pairs, INBOUND_URL)
    for _ in range(times):
        assert post(client, "/inbound", form, headers) == 200
    drain(runtime)


def sent_bodies(fake: FakeTwilio) -> list[object]:
    return [request.fields["Body"] for request in fake.requests]


@pytest.mark.parametrize("body", OPT_OUT_BODIES)
def test_opt_out_keyword_confirmed_once(
    make_runtime: RuntimeFactory, body: str
) -> None:
    with fake_twilio() as fake:
        runtime = make_runtime(api_base_url=fake.url)
        with TestClient(Daemon(runtime).app) as client:
            text_in(client, runtime, body, message_sid(), times=2)

    confirmations = outbound(runtime, "opt_out_confirmation")
    assert [m.status for m in confirmations] == ["queued"]
    assert sent_bodies(fake).count(confirmations[0].body) == 1
    purposes = {
        e.purpose for e in runtime.store.ledger(CUSTOMER) if e.action == "opt_out"
    }
    assert purposes == {"conversational", "informational", "promotional"}
    assert fake.invalid == []


@pytest.mark.parametrize("body", ["START", "UNSTOP", "start"])
def test_opt_in_keyword_confirmed_once(make_runtime: RuntimeFactory, body: str) -> None:
    with fake_twilio() as fake:
        runtime = make_runtime(api_base_url=fake.url)
        with TestClient(Daemon(runtime).app) as client:
            text_in(client, runtime, "STOP", message_sid())
            text_in(client, runtime, body, message_sid(), times=2)

    assert len(outbound(runtime, "opt_in_confirmation")) == 1
    assert sent_bodies(fake).count("You are subscribed to Harbor & Pine again.") == 1
    assert fake.invalid == []


@pytest.mark.parametrize("body", ["HELP", "INFO", "help"])
def test_help_keyword_answered_once(make_runtime: RuntimeFactory, body: str) -> None:
    with fake_twilio() as fake:
        runtime = make_runtime(api_base_url=fake.url)
        with TestClient(Daemon(runtime).app) as client:
            text_in(client, runtime, body, message_sid(), times=2)

    assert len(outbound(runtime, "help")) == 1
    help_text = "Harbor & Pine help: reply here. STOP to opt out."
    assert sent_bodies(fake).count(help_text) == 1


def test_mention_of_stop_does_not_opt_out(make_runtime: RuntimeFactory) -> None:
    with fake_twilio() as fake:
        runtime = make_runtime(api_base_url=fake.url)
        with TestClient(Daemon(runtime).app) as client:
            text_in(client, runtime, "when will the delay stop?", message_sid())

    assert runtime.store.ledger(CUSTOMER) == []
    assert outbound(runtime, "opt_out_confirmation") == []
    assert sent_bodies(fake) == [WELCOME]


def test_twilio_answers_keywords_itself(make_runtime: RuntimeFactory) -> None:
    with fake_twilio() as fake:
        runtime = make_runtime(
            compliance_extra='provider_keyword_replies = ["twilio"]',
            api_base_url=fake.url,
        )
        stop, stop_headers, _url = load_form("inbound_sms_stop")
        with TestClient(Daemon(runtime).app) as client:
            assert post(client, "/inbound", stop, stop_headers) == 200
        drain(runtime)

    assert outbound(runtime, "opt_out_confirmation") == []
    assert fake.requests == []
    actions = {e.action for e in runtime.store.ledger(CUSTOMER)}
    assert actions == {"opt_out"}
