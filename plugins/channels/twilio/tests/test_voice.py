"""The voice webhook: missed calls reported to the core and texted back."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from twilio_support import CUSTOMER, WEBHOOK_URL, fake_twilio, settings, signed_post

import parley.config
from parley.daemon import Daemon
from parley.runtime import Runtime, build_runtime

CALL_SID = "CA" + "1" * 32
OTHER_CALL_SID = "CA" + "2" * 32
TEXT_BACK = "Sorry we missed your call. How can we help?"

CONFIG = """
[business]
name = "Harbor & Pine"

[compliance]
require_informational_consent = false
sending_window = "00:00-00:00"
opt_out_notice = ""

[outbox]
poll_interval_seconds = 3600

[templates]
missed_call_reply = "Sorry we missed your call. How can we help?"

[[automations]]
name = "missed call text-back"
type = "follow_up"
trigger = { kind = "missed_call" }
actions = [{ kind = "send_template", template = "missed_call_reply" }]

[[automations]]
name = "log every call"
type = "routing"
trigger = { kind = "incoming_call" }
actions = [{ kind = "add_note", text = "The customer called." }]
"""


class FixedClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def make_runtime(tmp_path: Path, store_url: str) -> Iterator[Callable[..., Runtime]]:
    built: list[Runtime] = []

    def make(api_base_url: str) -> Runtime:
        section = settings(api_base_url=api_base_url)
        lines = [f"{key} = {json.dumps(value)}" for key, value in section.items()]
        text = (
            f"data_dir = {json.dumps(str(tmp_path / 'data'))}\n"
            '[plugins]\nenabled = ["twilio"]\n'
            f"[store]\nurl = {json.dumps(store_url)}\n"
            + CONFIG
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


def call_form(call_sid: str = CALL_SID, **extra: str) -> list[tuple[str, str]]:
    pairs = [
        ("AccountSid", settings()["account_sid"]),
        ("CallSid", call_sid),
        ("From", CUSTOMER),
        ("To", "+14155550100"),
        ("Direction", "inbound"),
        ("CallStatus", "ringing"),
    ]
    replaced = dict(pairs) | extra
    return list(replaced.items())


def post(client: TestClient, path: str, pairs: list[tuple[str, str]]) -> object:
    body, headers = signed_post(pairs, WEBHOOK_URL + path)
    return client.post(f"/webhooks/twilio{path}", content=body, headers=headers)


def run_automations(runtime: Runtime) -> None:
    """Process events, run the automation job, then send what it queued."""
    [job] = [poller for poller in runtime.pollers if poller.name == "automations"]
    for _ in range(5):
        runtime.event_worker.run_once()
        job.run()
        if not runtime.outbox_worker.run_once():
            break


def test_missed_call_texted_back(make_runtime: Callable[..., Runtime]) -> None:
    with fake_twilio() as fake:
        runtime = make_runtime(fake.url)
        with TestClient(Daemon(runtime).app) as client:
            response = post(client, "/voice", call_form())
        run_automations(runtime)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert '<Reject reason="busy"/>' in response.text
    sent = [m for m in runtime.store.messages() if m.direction == "out"]
    assert [(m.body, m.address, m.kind) for m in sent] == [
        (TEXT_BACK, CUSTOMER, "automation")
    ]
    assert sent[0].provider_message_id is not None
    [request] = fake.requests
    assert request.fields["To"] == CUSTOMER
    assert request.fields["Body"] == TEXT_BACK
    runs = runtime.store.automation_runs()
    assert sorted((run.automation, run.status) for run in runs) == [
        ("log every call", "done"),
        ("missed call text-back", "done"),
    ]


def test_call_reported_once_per_sid(make_runtime: Callable[..., Runtime]) -> None:
    with fake_twilio() as fake:
        runtime = make_runtime(fake.url)
        with TestClient(Daemon(runtime).app) as client:
            first = post(client, "/voice", call_form())
            again = post(client, "/voice", call_form())
            status = post(client, "/voice/status", call_form(CallStatus="no-answer"))
        run_automations(runtime)

    assert first.status_code == again.status_code == status.status_code == 200
    assert len(fake.requests) == 1
    assert len(runtime.store.automation_runs()) == 2


def test_answered_call_is_no_missed_call(
    make_runtime: Callable[..., Runtime],
) -> None:
    with fake_twilio() as fake:
        runtime = make_runtime(fake.url)
        with TestClient(Daemon(runtime).app) as client:
            response = post(
                client,
                "/voice/status",
                call_form(OTHER_CALL_SID, DialCallStatus="completed"),
            )
        run_automations(runtime)

    assert response.status_code == 200
    assert "<Hangup/>" in response.text
    assert fake.requests == []
    runs = runtime.store.automation_runs()
    assert [run.automation for run in runs] == ["log every call"]


def test_dial_no_answer_is_missed(make_runtime: Callable[..., Runtime]) -> None:
    with fake_twilio() as fake:
        runtime = make_runtime(fake.url)
        with TestClient(Daemon(runtime).app) as client:
            response = post(
                client,
                "/voice/status",
                call_form(OTHER_CALL_SID, DialCallStatus="no-answer"),
            )
        run_automations(runtime)

    assert response.status_code == 200
    assert [request.fields["Body"] for request in fake.requests] == [TEXT_BACK]


def test_ringing_status_reports_nothing(make_runtime: Callable[..., Runtime]) -> None:
    with fake_twilio() as fake:
        runtime = make_runtime(fake.url)
        with TestClient(Daemon(runtime).app) as client:
            response = post(client, "/voice/status", call_form())
        run_automations(runtime)

    assert response.status_code == 200
    assert runtime.store.counts()["events"] == 0


def test_bad_signature_rejected(make_runtime: Callable[..., Runtime]) -> None:
    runtime = make_runtime("http://127.0.0.1:9")
    body, headers = signed_post(call_form(), WEBHOOK_URL + "/voice")
    headers["X-Twilio-Signature"] = "c2lnbmF0dXJl"
    with TestClient(Daemon(runtime).app) as client:
        response = client.post("/webhooks/twilio/voice", content=body, headers=headers)

    assert response.status_code == 403
    assert runtime.store.counts()["events"] == 0


def test_signed_for_other_path_rejected(make_runtime: Callable[..., Runtime]) -> None:
    runtime = make_runtime("http://127.0.0.1:9")
    body, headers = signed_post(call_form(), WEBHOOK_URL + "/inbound")
    with TestClient(Daemon(runtime).app) as client:
        response = client.post("/webhooks/twilio/voice", content=body, headers=headers)

    assert response.status_code == 403


def test_missing_call_sid_rejected(make_runtime: Callable[..., Runtime]) -> None:
    runtime = make_runtime("http://127.0.0.1:9")
    pairs = [pair for pair in call_form() if pair[0] != "CallSid"]
    with TestClient(Daemon(runtime).app) as client:
        response = post(client, "/voice", pairs)

    assert response.status_code == 400
    assert "CallSid" in response.text
    assert runtime.store.counts()["events"] == 0


def test_withheld_number_not_recorded(make_runtime: Callable[..., Runtime]) -> None:
    runtime = make_runtime("http://127.0.0.1:9")
    with TestClient(Daemon(runtime).app) as client:
        response = post(client, "/voice", call_form(From="anonymous"))

    assert response.status_code == 200
    assert '<Reject reason="busy"/>' in response.text
    assert runtime.store.counts()["events"] == 0
