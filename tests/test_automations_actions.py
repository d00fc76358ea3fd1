"""Automation actions: signed webhooks, plugin kinds, retries and start-up checks."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from parley import hookimpl
from parley.automation_webhooks import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookFailed,
    WebhookSender,
    resolve_secret,
    sign,
)
from parley.config import load_config
from parley.conversations import SupportDesk
from parley.errors import ConfigError, PluginError
from parley.models import AddressKind, ChannelAddress
from parley.runtime import Runtime, build_runtime
from parley.store.desk_records import ConversationState

from .conftest import FakeClock, drain
from .desk_helpers import AVERY, inbound

SECRET = "whsec-test-1234"
URL = "https://hooks.example.org/parley"


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """Use SQLite; the run table's queries are tested on both databases elsewhere."""
    return f"sqlite:///{tmp_path / 'parley.db'}"


# Signing and sending


def expected_signature(timestamp: str, body: bytes) -> str:
    digest = hmac.new(
        SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return f"sha256={digest}"


def test_sign_covers_timestamp_and_body() -> None:
    body = b'{"a":1}'

    assert sign(SECRET, "1700000000", body) == expected_signature("1700000000", body)
    assert sign(SECRET, "1700000001", body) != sign(SECRET, "1700000000", body)


def sender_with(
    handler: Callable[[httpx.Request], httpx.Response], waits: list[float]
) -> WebhookSender:
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return WebhookSender(client, sleep=waits.append, clock=lambda: 1_700_000_000.0)


def test_post_signs_request() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    status = sender_with(handler, []).post(URL, {"run_id": 7}, SECRET, "7:0")

    assert status == 204
    [request] = seen
    assert request.headers[TIMESTAMP_HEADER] == "1700000000"
    assert request.headers[SIGNATURE_HEADER] == expected_signature(
        "1700000000", request.content
    )
    assert request.headers[DELIVERY_HEADER] == "7:0"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {"run_id": 7}


def test_post_retries_server_errors() -> None:
    answers = iter([503, 429, 200])
    waits: list[float] = []

    status = sender_with(lambda request: httpx.Response(next(answers)), waits).post(
        URL, {}, SECRET, "1:0"
    )

    assert status == 200
    assert len(waits) == 2


def test_post_gives_up_after_attempts() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(WebhookFailed) as caught:
        sender_with(handler, []).post(URL, {}, SECRET, "1:0")

    assert len(calls) == 3
    assert not caught.value.permanent
    assert "hooks.example.org" in str(caught.value)


def test_client_error_not_retried() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(404)

    with pytest.raises(WebhookFailed) as caught:
        sender_with(handler, []).post(URL, {}, SECRET, "1:0")

    assert len(calls) == 1
    assert caught.value.permanent
    assert "HTTP 404" in str(caught.value)


def test_secret_from_environment() -> None:
    assert resolve_secret(None, "HOOK_SECRET", {"HOOK_SECRET": "abc"}) == "abc"
    with pytest.raises(WebhookFailed, match="HOOK_SECRET") as caught:
        resolve_secret(None, "HOOK_SECRET", {})
    assert caught.value.permanent


# Runtime with test plugins


@pytest.fixture
def build(
    write_config: Callable[..., Path], store_url: str, clock: FakeClock
) -> Iterator[Callable[..., Runtime]]:
    built: list[Runtime] = []

    def make(extra: str, plugins: dict[str, object] | None = None) -> Runtime:
        loaded = load_config(write_config(extra, store_url=store_url), environ={})
        for name, plugin in (plugins or {}).items():
            loaded.plugin_manager.register(plugin, name=name)
        runtime = build_runtime(loaded, clock=clock)
        built.append(runtime)
        return runtime

    yield make
    for runtime in built:
        runtime.close()


def run_job(runtime: Runtime) -> None:
    [job] = [poller for poller in runtime.pollers if poller.name == "automations"]
    job.run()
    drain(runtime)


class AcmePlugin:
    """Adds a trigger and two actions; ``flaky`` fails on its first call."""

    def __init__(self) -> None:
        self.tagged: list[tuple[int | None, dict[str, Any]]] = []
        self.flaky_calls = 0

    @hookimpl
    def register_automation_kinds(self, register: Any) -> None:
        register.trigger("acme.cart_abandoned", "a cart left for an hour")
        register.action("acme.tag", self.tag)
        register.action("acme.flaky", self.flaky)

    def tag(self, action: Any, run: Any, context: Any) -> str:
        self.tagged.append((run.contact_id, dict(action.options)))
        return "tagged"

    def flaky(self, action: Any, run: Any, context: Any) -> str:
        self.flaky_calls += 1
        if self.flaky_calls == 1:
            raise RuntimeError("CRM timed out")
        return "flaky done"


CART = """
[[automations]]
name = "cart reminder"
type = "follow_up"
trigger = { kind = "acme.cart_abandoned" }
actions = [
  { kind = "send_message", text = "You left something in your cart." },
  { kind = "acme.tag", options = { tag = "cart" } },
]
"""


def test_plugin_trigger_and_action(build: Callable[..., Runtime]) -> None:
    plugin = AcmePlugin()
    runtime = build(CART, {"acme": plugin})

    for _ in range(2):
        runtime.context.fire_trigger(
            "acme.cart_abandoned",
            "checkout-77",
            channel="sandbox",
            address=ChannelAddress(AddressKind.PHONE, "(415) 555-0123"),
            details={"checkout": "77"},
        )
    drain(runtime)
    run_job(runtime)

    [run] = runtime.store.automation_runs()
    assert run.status == "done"
    assert run.payload["details"] == {"checkout": "77"}
    assert plugin.tagged == [(run.contact_id, {"tag": "cart"})]
    [message] = [m for m in runtime.store.messages() if m.kind == "automation"]
    assert message.address == AVERY
    assert message.purpose == "informational"
    assert message.status == "sent"


def test_failed_action_resumes(build: Callable[..., Runtime], clock: FakeClock) -> None:
    plugin = AcmePlugin()
    runtime = build(
        """
[[automations]]
name = "flaky routing"
type = "routing"
trigger = { kind = "message" }
actions = [{ kind = "add_note", text = "first" }, { kind = "acme.flaky" }]
""",
        {"acme": plugin},
    )

    conversation_id = inbound(runtime, "hello", "m-1")
    run_job(runtime)
    [run] = runtime.store.automation_runs()
    assert (run.status, run.actions_done) == ("pending", 1)
    assert "CRM timed out" in (run.outcome or "")

    run_job(runtime)
    assert plugin.flaky_calls == 1
    clock.advance(3600)
    run_job(runtime)

    [run] = runtime.store.automation_runs()
    assert run.status == "done"
    assert plugin.flaky_calls == 2
    entries = runtime.store.thread_page(conversation_id, 20, None).entries
    assert (
        sum(
            1
            for entry in entries
            if getattr(entry, "author", "") == "automation:flaky routing"
        )
        == 1
    )


def test_unknown_plugin_kind_stops_start(build: Callable[..., Runtime]) -> None:
    with pytest.raises(ConfigError) as caught:
        build(CART)

    text = str(caught.value)
    assert "automation 'cart reminder': trigger.kind" in text
    assert "acme.cart_abandoned" in text
    assert "actions.1.kind" in text


def test_kind_outside_prefix_rejected(build: Callable[..., Runtime]) -> None:
    class Rogue:
        @hookimpl
        def register_automation_kinds(self, register: Any) -> None:
            register.trigger("shopify.order_paid")

    with pytest.raises(PluginError, match=r"must be named rogue\.<name>"):
        build("", {"rogue": Rogue()})


def test_survey_needs_template(build: Callable[..., Runtime]) -> None:
    extra = """
[[automations]]
name = "survey on close"
type = "feedback_request"
trigger = { kind = "close_chat" }
actions = [{ kind = "send_survey" }]
"""
    with pytest.raises(ConfigError, match=r"send_survey needs the survey template"):
        build(extra)


def test_survey_requested_on_close(build: Callable[..., Runtime]) -> None:
    runtime = build(
        """csat_survey = "How did we do? Reply 1 to 5."

[[automations]]
name = "survey on close"
type = "feedback_request"
trigger = { kind = "close_chat" }
actions = [{ kind = "send_survey" }]
"""
    )
    conversation_id = inbound(runtime, "hello", "m-1")
    SupportDesk(runtime.context, runtime.channels).set_state(
        "avery", conversation_id, ConversationState.CLOSED
    )
    run_job(runtime)

    [run] = runtime.store.automation_runs()
    assert run.status == "done"
    assert "survey" in (run.outcome or "")
    assert "requested" in (run.outcome or "")


# A webhook to a server on 127.0.0.1


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    received: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server name
            length = int(self.headers.get("Content-Length") or 0)
            received.append((dict(self.headers), self.rfile.read(length)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def test_webhook_action_to_local_server(
    build: Callable[..., Runtime],
    receiver: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    url, received = receiver
    runtime = build(
        f"""
[[automations]]
name = "notify crm"
type = "routing"
trigger = {{ kind = "intent", intents = ["human"] }}
actions = [{{ kind = "webhook", url = "{url}", secret = "{SECRET}" }}]
"""
    )

    conversation_id = inbound(runtime, "can I talk to a real person", "m-1")
    run_job(runtime)

    [(headers, body)] = received
    timestamp = headers[TIMESTAMP_HEADER]
    assert headers[SIGNATURE_HEADER] == expected_signature(timestamp, body)
    payload = json.loads(body)
    assert payload["automation"] == "notify crm"
    assert payload["trigger"] == "intent"
    assert payload["conversation_id"] == conversation_id
    assert payload["channel"] == "sandbox"
    assert "real person" not in body.decode()
    [run] = runtime.store.automation_runs()
    assert run.outcome == "webhook answered HTTP 200"
