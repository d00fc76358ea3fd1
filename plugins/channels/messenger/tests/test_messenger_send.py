"""Sends through the Send API, replayed from hand-written cassettes."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from messenger_support import (
    INBOUND_AT,
    PAGE_TOKEN,
    PSID,
    SENT_MID,
    FakeClock,
    graph_vcr,
    instagram_channel,
    load_json,
    messenger_channel,
    messenger_section,
    outbound,
)

from parley import AGENT_REPLY_KIND, DeliveryError, DeliveryStatus, Purpose, SendBlocked
from parley_messenger.channel import MetaChannel, build_payload
from parley_messenger.settings import MessengerSettings
from parley_messenger.window import SendPlan

SHIPPED = "Update on order #1042: UPS reports it is out for delivery today."
AGENT_TEXT = "Sorry for the wait: order #1042 left our warehouse this morning."


def test_reply_inside_window_matches_fixture() -> None:
    clock = FakeClock(INBOUND_AT + timedelta(hours=2))
    channel = messenger_channel(clock)
    message = outbound("reply")

    with graph_vcr().use_cassette("send_text.yaml") as cassette:
        result = channel.send(message)

    assert result.provider_message_id == SENT_MID
    assert result.status is DeliveryStatus.SENT
    assert cassette.play_count == 1
    sent = json.loads(cassette.requests[0].body)
    assert sent == load_json("send_text_request")


def test_payload_keys_follow_meta_order() -> None:
    payload = build_payload(outbound("reply"), SendPlan("RESPONSE"))
    fixture = load_json("send_text_request")

    assert list(payload) == list(fixture)
    assert payload == fixture


def test_tagged_payload_matches_fixture() -> None:
    message = outbound("order_update", body=SHIPPED)
    payload = build_payload(message, SendPlan("MESSAGE_TAG", "POST_PURCHASE_UPDATE"))
    fixture = load_json("send_tagged_update_request")

    assert list(payload) == list(fixture)
    assert payload == fixture


def test_agent_reply_day_three_tagged() -> None:
    clock = FakeClock(INBOUND_AT + timedelta(days=3))
    channel = messenger_channel(clock)
    message = outbound(AGENT_REPLY_KIND, body=AGENT_TEXT)

    with graph_vcr().use_cassette("send_human_agent.yaml") as cassette:
        result = channel.send(message)

    assert result.provider_message_id == SENT_MID
    sent = json.loads(cassette.requests[0].body)
    assert sent["messaging_type"] == "MESSAGE_TAG"
    assert sent["tag"] == "HUMAN_AGENT"


def test_order_update_after_window_uses_tag() -> None:
    clock = FakeClock(INBOUND_AT + timedelta(days=2))
    channel = messenger_channel(
        clock, message_tags={"order_update": "POST_PURCHASE_UPDATE"}
    )
    message = outbound("order_update", body=SHIPPED, purpose=Purpose.INFORMATIONAL)

    with graph_vcr().use_cassette("send_post_purchase.yaml") as cassette:
        channel.send(message)

    sent = json.loads(cassette.requests[0].body)
    assert sent == load_json("send_tagged_update_request")


def test_order_update_inside_window_is_update() -> None:
    clock = FakeClock(INBOUND_AT + timedelta(hours=5))
    channel = messenger_channel(
        clock, message_tags={"order_update": "POST_PURCHASE_UPDATE"}
    )
    message = outbound("order_update", body=SHIPPED, purpose=Purpose.INFORMATIONAL)

    with graph_vcr().use_cassette("send_update.yaml") as cassette:
        channel.send(message)

    assert json.loads(cassette.requests[0].body)["messaging_type"] == "UPDATE"


def test_agent_reply_after_seven_days_blocked() -> None:
    clock = FakeClock(INBOUND_AT + timedelta(days=7, minutes=1))
    channel = messenger_channel(clock)
    message = outbound(AGENT_REPLY_KIND, body=AGENT_TEXT)

    with graph_vcr().use_cassette("no_requests.yaml") as cassette:
        with pytest.raises(SendBlocked) as blocked:
            channel.send(message)

    assert cassette.play_count == 0
    assert "7-day HUMAN_AGENT window" in blocked.value.reason
    assert "7.0 days ago" in blocked.value.reason


def test_window_judged_at_send_time() -> None:
    # Queued while the window was open, sent after it closed: the channel
    # reads its clock when sending, so the send is blocked, not attempted.
    clock = FakeClock(INBOUND_AT + timedelta(hours=23))
    channel = messenger_channel(clock)
    message = outbound("auto_reply")
    assert channel.window_rule(message, clock()) is None

    clock.advance(hours=2)
    with graph_vcr().use_cassette("no_requests.yaml") as cassette:
        with pytest.raises(SendBlocked) as blocked:
            channel.send(message)

    assert cassette.play_count == 0
    assert "no message tag configured for auto_reply" in blocked.value.reason


def test_instagram_reply_through_page() -> None:
    channel = instagram_channel(FakeClock(INBOUND_AT + timedelta(minutes=5)))
    message = outbound(
        "reply",
        body="Your beanie order is not cancelled; it ships tomorrow.",
        to="5467382910293847",
        channel="instagram",
    )

    with graph_vcr().use_cassette("instagram_send_text.yaml") as cassette:
        result = channel.send(message)

    assert cassette.play_count == 1
    assert result.provider_message_id.startswith("aWdfZAG1faXRlbTox")


def test_instagram_login_sends_to_account() -> None:
    channel = instagram_channel(
        FakeClock(INBOUND_AT + timedelta(minutes=5)), page_id=""
    )
    message = outbound(
        "reply",
        body="Your beanie order is not cancelled; it ships tomorrow.",
        to="5467382910293847",
        channel="instagram",
    )

    with graph_vcr().use_cassette("instagram_login_send_text.yaml") as cassette:
        channel.send(message)

    assert cassette.play_count == 1


def _send_inside_window(cassette_name: str) -> DeliveryError:
    channel = messenger_channel(FakeClock(INBOUND_AT + timedelta(hours=1)))
    with graph_vcr().use_cassette(cassette_name):
        with pytest.raises(DeliveryError) as failure:
            channel.send(outbound("reply"))
    return failure.value


@pytest.mark.parametrize(
    ("cassette_name", "code"),
    [
        ("send_error_613.yaml", "613"),
        ("send_error_80006.yaml", "80006"),
        ("send_error_1200.yaml", "1200"),
    ],
)
def test_rate_limits_and_temporary_errors_retried(
    cassette_name: str, code: str
) -> None:
    error = _send_inside_window(cassette_name)

    assert error.permanent is False
    assert error.code == code
    assert "retried later" in str(error)


def test_rate_limit_names_the_limit() -> None:
    error = _send_inside_window("send_error_613.yaml")

    assert "rate limit reached" in str(error)
    assert "fbtrace_id AxT3bq9LmZk" in str(error)


def test_server_error_retried_with_retry_after() -> None:
    error = _send_inside_window("send_error_503.yaml")

    assert error.permanent is False
    assert error.retry_after == 120.0
    assert error.code is None
    assert "HTTP 503" in str(error)


def test_invalid_token_names_the_setting() -> None:
    error = _send_inside_window("send_error_190.yaml")

    assert error.permanent is True
    assert error.code == "190/460"
    assert "[messenger] page_access_token" in str(error)
    assert "PARLEY_MESSENGER__PAGE_ACCESS_TOKEN" in str(error)
    assert PAGE_TOKEN not in str(error)


def test_outside_window_error_is_permanent() -> None:
    error = _send_inside_window("send_error_outside_window.yaml")

    assert error.permanent is True
    assert error.code == "10/2018278"
    assert "outside the allowed messaging window" in str(error)


def test_unavailable_recipient_is_permanent() -> None:
    error = _send_inside_window("send_error_551.yaml")

    assert error.permanent is True
    assert error.code == "551/1545041"
    assert "not available on Messenger" in str(error)
    assert error.recipient_opted_out is False


def test_unknown_recipient_is_permanent() -> None:
    error = _send_inside_window("send_error_no_user.yaml")

    assert error.permanent is True
    assert error.code == "100/2018001"
    assert "knows no person with this id" in str(error)


def test_unknown_code_with_400_is_permanent() -> None:
    error = _send_inside_window("send_error_unknown_code.yaml")

    assert error.permanent is True
    assert error.code == "9999"


def test_accepted_without_message_id_not_retried() -> None:
    error = _send_inside_window("send_no_message_id.yaml")

    assert error.permanent is True
    assert "without a message_id" in str(error)


class _FailingTransport(httpx.BaseTransport):
    def __init__(self, error: Exception) -> None:
        self.error = error

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("no answer")],
)
def test_network_errors_retried(error: Exception) -> None:
    settings = MessengerSettings(**messenger_section())
    channel = MetaChannel(
        settings,
        FakeClock(INBOUND_AT),
        logging.getLogger("parley.plugin.messenger"),
        transport=_FailingTransport(error),
    )

    with pytest.raises(DeliveryError) as failure:
        channel.send(outbound("reply"))

    assert failure.value.permanent is False
    assert isinstance(failure.value.__cause__, type(error))


# A Send API stand-in on 127.0.0.1, to check what goes over the wire beyond
# the body: the path, the Authorization header and an empty query string.


class _RecordingHandler(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        length = int(self.headers.get("Content-Length", "0"))
        self.requests.append(
            {
                "path": self.path,
                "authorization": self.headers.get("Authorization"),
                "content_type": self.headers.get("Content-Type"),
                "body": self.rfile.read(length),
            }
        )
        answer = json.dumps({"recipient_id": PSID, "message_id": SENT_MID}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def graph_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    handler = type("Handler", (_RecordingHandler,), {"requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}", handler.requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_token_sent_as_bearer_header(
    graph_server: tuple[str, list[dict[str, Any]]],
) -> None:
    base_url, requests = graph_server
    channel = messenger_channel(
        FakeClock(INBOUND_AT + timedelta(minutes=1)), base_url=base_url
    )
    try:
        result = channel.send(outbound("reply"))
    finally:
        channel.close()

    assert result.provider_message_id == SENT_MID
    [request] = requests
    assert request["path"] == "/v26.0/112233445566778/messages"
    assert request["authorization"] == f"Bearer {PAGE_TOKEN}"
    assert request["content_type"] == "application/json"
    assert json.loads(request["body"]) == load_json("send_text_request")
