"""Keywords from a customer, through the sandbox webhook, to the ledger and replies."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from parley.daemon import Daemon
from parley.gate import SendGate, SendRequest
from parley.models import Purpose
from parley.runtime import Runtime

from .conftest import drain

PHONE = "+14155550123"

TEMPLATES = """
opt_in_confirmation = "You are subscribed again."
opt_in_prompt = "Reply YES to confirm texts from Harbor & Pine."
double_opt_in_confirmed = "Thanks, you are confirmed."
"""


@pytest.fixture
def runtime(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime(TEMPLATES)


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(Daemon(runtime).app) as test_client:
        yield test_client


def send(client: TestClient, runtime: Runtime, body: str, message_id: str) -> None:
    response = client.post(
        "/webhooks/sandbox", json={"from": PHONE, "body": body, "id": message_id}
    )
    assert response.status_code == 200
    drain(runtime)


def replies(runtime: Runtime, kind: str) -> list[str]:
    return [
        m.body
        for m in runtime.store.messages()
        if m.direction == "out" and m.kind == kind
    ]


def actions(runtime: Runtime) -> list[tuple[str, str, str]]:
    return [(e.purpose, e.action, e.source) for e in runtime.store.ledger(PHONE)]


@pytest.mark.parametrize(
    "body",
    [
        "STOP",
        "Stop. Thank you",
        "  stop!! ",
        "Stop please",
        "STOP 🛑",
        "ｓｔｏｐ",
        "STOPALL",
        "END",
        "cancel",
        "UNSUBSCRIBE",
        "quit",
        "REVOKE",
        "OPTOUT",
        "Opt out",
        "opt-out",
        "Opt-Out.",
    ],
)
def test_opt_out_form_confirmed_once(
    client: TestClient, runtime: Runtime, body: str
) -> None:
    send(client, runtime, body, "in-1")
    send(client, runtime, body, "in-1")
    assert len(replies(runtime, "opt_out_confirmation")) == 1
    assert actions(runtime) == [
        ("conversational", "opt_out", "keyword"),
        ("informational", "opt_out", "keyword"),
        ("promotional", "opt_out", "keyword"),
    ]


def test_opt_out_evidence_keeps_raw_body(client: TestClient, runtime: Runtime) -> None:
    send(client, runtime, "Stop please", "in-7")
    entry = runtime.store.ledger(PHONE)[0]
    assert entry.evidence is not None
    assert "in-7" in entry.evidence
    assert "sandbox" in entry.evidence
    assert "keyword stop" in entry.evidence
    assert entry.evidence.endswith("Stop please")


def test_mention_of_stop_only_flagged(
    client: TestClient, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.INFO, logger="parley")
    send(client, runtime, "When will the delay stop?", "in-1")
    assert actions(runtime) == []
    assert replies(runtime, "opt_out_confirmation") == []
    assert "flagged for review" in caplog.text


@pytest.mark.parametrize("body", ["START", "unstop", "Start please"])
def test_start_restores_and_confirms(
    client: TestClient, runtime: Runtime, body: str
) -> None:
    earlier = runtime.context.clock() - timedelta(days=1)
    runtime.store.add_consent(
        "*", PHONE, "informational", "opt_in", "checkout", "shop", "order 1", earlier
    )
    send(client, runtime, "STOP", "in-1")
    send(client, runtime, body, "in-2")
    assert replies(runtime, "opt_in_confirmation") == ["You are subscribed again."]
    assert actions(runtime)[-3:] == [
        ("conversational", "restore", "keyword"),
        ("informational", "restore", "keyword"),
        ("promotional", "restore", "keyword"),
    ]
    gate = SendGate(runtime.store, runtime.context.settings)
    now = runtime.context.clock()
    informational = gate.check(
        SendRequest(PHONE, Purpose.INFORMATIONAL, "order_update"), now
    )
    assert informational.results[0].passed


def test_stop_then_start_grants_no_new_consent(
    make_runtime: Callable[..., Runtime],
) -> None:
    strict = '\n[compliance]\nrequire_informational_consent = true\nsending_window = "00:00-00:00"\n'
    runtime = make_runtime(TEMPLATES, compliance=strict)
    with TestClient(Daemon(runtime).app) as client:
        send(client, runtime, "STOP", "in-1")
        send(client, runtime, "START", "in-2")
    gate = SendGate(runtime.store, runtime.context.settings)
    now = runtime.context.clock()
    for purpose in (Purpose.INFORMATIONAL, Purpose.PROMOTIONAL):
        decision = gate.check(SendRequest(PHONE, purpose, "campaign"), now)
        assert not decision.allowed
        assert "no " + purpose.value + " consent" in (decision.reason or "")


def test_start_grants_nothing_new(client: TestClient, runtime: Runtime) -> None:
    send(client, runtime, "START", "in-1")
    assert actions(runtime) == []


@pytest.mark.parametrize("body", ["HELP", "info", "Help!"])
def test_help_answered_while_opted_out(
    client: TestClient, runtime: Runtime, body: str
) -> None:
    send(client, runtime, "STOP", "in-1")
    send(client, runtime, body, "in-2")
    assert len(replies(runtime, "help")) == 1
    assert [m.status for m in runtime.store.messages() if m.kind == "help"] == ["sent"]


def test_yes_confirms_pending_sign_up(client: TestClient, runtime: Runtime) -> None:
    now = runtime.context.clock()
    runtime.store.add_consent(
        "*",
        PHONE,
        "promotional",
        "opt_in",
        "web_form",
        "form",
        "footer form",
        now - timedelta(hours=1),
    )
    send(client, runtime, "YES", "in-1")
    assert replies(runtime, "double_opt_in_confirmed") == ["Thanks, you are confirmed."]
    assert actions(runtime)[-1] == ("promotional", "confirmation", "keyword")


def test_yes_without_pending_is_plain_message(
    client: TestClient, runtime: Runtime
) -> None:
    send(client, runtime, "yes", "in-1")
    assert replies(runtime, "double_opt_in_confirmed") == []
    assert actions(runtime) == []
    assert len(replies(runtime, "auto_reply")) == 1


def test_provider_answers_keywords_itself(make_runtime: Callable[..., Runtime]) -> None:
    runtime = make_runtime(
        TEMPLATES, compliance_extra='provider_keyword_replies = ["sandbox"]\n'
    )
    with TestClient(Daemon(runtime).app) as client:
        send(client, runtime, "STOP", "in-1")
    assert replies(runtime, "opt_out_confirmation") == []
    assert ("informational", "opt_out", "keyword") in actions(runtime)


def test_provider_opt_out_type_trusted(runtime: Runtime) -> None:
    from parley.models import AddressKind, ChannelAddress, InboundMessage
    from parley.pipeline import inbound_to_json

    message = InboundMessage(
        channel="sandbox",
        sender=ChannelAddress(AddressKind.PHONE, PHONE),
        body="Please stop texting me",
        provider_message_id="SM-1",
        received_at=runtime.context.clock(),
        opt_out_type="STOP",
    )
    runtime.store.add_event(
        "message_received",
        "sandbox",
        "inbound:sandbox:SM-1",
        inbound_to_json(message),
        runtime.context.clock(),
    )
    drain(runtime)
    assert ("informational", "opt_out", "provider_report") in actions(runtime)
