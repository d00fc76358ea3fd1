"""Sends through the Cloud API, replayed from hand-written cassettes."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
import vcr
from whatsapp_support import (
    ACCESS_TOKEN,
    BSUID,
    CASSETTES,
    INBOUND_AT,
    WAMID_SENT,
    cassette_body,
    load_json,
    make_settings,
    no_http,
    outbound,
    whatsapp_vcr,
)

from parley import DeliveryError, DeliveryStatus, SendBlocked
from parley_whatsapp.channel import WhatsAppChannel
from parley_whatsapp.payloads import message_body
from parley_whatsapp.window import plan_message

REPLY = (
    "Yes! Order #1042 shipped with UPS: https://www.ups.com/WebTracking?loc=en_US"
    "&requester=ST&trackNums=1Z999AA10123456784"
)
# One hour after the customer's last message: inside the window.
INSIDE = INBOUND_AT + timedelta(hours=1)


def make_channel(**changes: object) -> WhatsAppChannel:
    return WhatsAppChannel(make_settings(**changes), clock=lambda: INSIDE)


def text_reply(**changes: object):
    values: dict[str, object] = {
        "body": REPLY,
        "kind": "agent_reply",
        "last_inbound_at": INBOUND_AT,
        "fields": {},
    }
    values.update(changes)
    return outbound(**values)


def test_text_request_matches_documented_shape() -> None:
    documented = load_json("send_text_request")
    # The quoted inbound message (context) is optional; parley sends none.
    del documented["context"]

    assert cassette_body("send_text.yaml") == documented


def test_template_request_matches_documented_shape() -> None:
    documented = load_json("send_template_request")
    del documented["biz_opaque_callback_data"]

    assert cassette_body("send_template.yaml") == documented


def test_text_inside_window_sent() -> None:
    channel = make_channel()

    with whatsapp_vcr().use_cassette("send_text.yaml") as cassette:
        result = channel.send(text_reply())

    assert result.provider_message_id == WAMID_SENT
    assert result.status is DeliveryStatus.SENT
    assert cassette.all_played


def test_idempotency_key_sent_as_callback_data() -> None:
    message = text_reply()
    plan = plan_message(message, INSIDE, make_settings())

    body = message_body(message, plan, preview_url=True)

    assert body["biz_opaque_callback_data"] == "parley-message-42"


def test_template_outside_window_sent() -> None:
    channel = make_channel()
    message = outbound(last_inbound_at=INBOUND_AT - timedelta(hours=30))

    with whatsapp_vcr().use_cassette("send_template.yaml") as cassette:
        result = channel.send(message)

    assert result.provider_message_id == WAMID_SENT
    assert cassette.all_played


def test_business_initiated_uses_template() -> None:
    channel = make_channel()

    with whatsapp_vcr().use_cassette("send_template.yaml") as cassette:
        channel.send(outbound(last_inbound_at=None))

    assert cassette.all_played


def test_bsuid_recipient_sent_in_recipient_field() -> None:
    channel = make_channel()

    with whatsapp_vcr().use_cassette("send_bsuid.yaml") as cassette:
        result = channel.send(text_reply(to=BSUID))

    assert result.provider_message_id.startswith("wamid.")
    assert cassette.all_played
    assert "to" not in cassette_body("send_bsuid.yaml")


def test_rate_limit_retriable() -> None:
    channel = make_channel()

    with whatsapp_vcr().use_cassette("send_rate_limited.yaml"):
        with pytest.raises(DeliveryError) as caught:
            channel.send(outbound())

    assert caught.value.permanent is False
    assert caught.value.code == "130429"
    assert caught.value.retry_after is None
    assert "rate limit" in str(caught.value)


def test_rate_limit_honours_retry_after() -> None:
    channel = make_channel()

    with whatsapp_vcr().use_cassette("send_retry_after.yaml"):
        with pytest.raises(DeliveryError) as caught:
            channel.send(outbound())

    assert caught.value.permanent is False
    assert caught.value.retry_after == 30.0


def test_pair_rate_waits_six_seconds() -> None:
    channel = make_channel()

    with whatsapp_vcr().use_cassette("send_pair_rate.yaml"):
        with pytest.raises(DeliveryError) as caught:
            channel.send(text_reply())

    assert caught.value.permanent is False
    assert caught.value.code == "131056"
    assert caught.value.retry_after == 6.0


@pytest.mark.parametrize(
    ("cassette", "code"), [("send_503.yaml", None), ("send_500_unknown.yaml", "131000")]
)
def test_server_errors_retriable(cassette: str, code: str | None) -> None:
    channel = make_channel()

    with whatsapp_vcr().use_cassette(cassette):
        with pytest.raises(DeliveryError) as caught:
            channel.send(text_reply())

    assert caught.value.permanent is False
    assert caught.value.code == code
    assert "retried later" in str(caught.value)


def test_reengagement_error_permanent() -> None:
    channel = make_channel()

    with whatsapp_vcr().use_cassette("send_reengagement.yaml"):
        with pytest.raises(DeliveryError) as caught:
            channel.send(text_reply())

    message = str(caught.value)
    assert caught.value.permanent is True
    assert caught.value.code == "131047"
    assert "24-hour customer service window" in message
    assert "[whatsapp.templates.agent_reply]" in message


def test_invalid_token_names_setting() -> None:
    channel = make_channel()

    with whatsapp_vcr().use_cassette("send_unauthorized.yaml"):
        with pytest.raises(DeliveryError) as caught:
            channel.send(text_reply())

    message = str(caught.value)
    assert caught.value.permanent is True
    assert caught.value.code == "190"
    assert "access_token" in message
    assert "PARLEY_WHATSAPP__ACCESS_TOKEN" in message
    assert ACCESS_TOKEN not in message


def test_recipient_not_on_whatsapp_permanent() -> None:
    channel = make_channel()

    with whatsapp_vcr().use_cassette("send_not_on_whatsapp.yaml"):
        with pytest.raises(DeliveryError) as caught:
            channel.send(text_reply())

    assert caught.value.permanent is True
    assert caught.value.code == "131026"
    assert caught.value.recipient_opted_out is False
    assert "cannot receive" in str(caught.value)


def test_template_mismatch_names_template() -> None:
    channel = make_channel()

    with whatsapp_vcr().use_cassette("send_template_mismatch.yaml"):
        with pytest.raises(DeliveryError) as caught:
            channel.send(outbound())

    message = str(caught.value)
    assert caught.value.permanent is True
    assert caught.value.code == "132000"
    assert "order_shipped_v2" in message
    assert "[whatsapp.templates.order_update]" in message


def test_success_without_id_not_retried() -> None:
    channel = make_channel()

    with whatsapp_vcr().use_cassette("send_without_id.yaml"):
        with pytest.raises(DeliveryError) as caught:
            channel.send(text_reply())

    assert caught.value.permanent is True
    assert "messages[0].id" in str(caught.value)


def test_unreachable_api_retriable() -> None:
    def connect_error(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    channel = WhatsAppChannel(
        make_settings(),
        clock=lambda: INSIDE,
        transport=httpx.MockTransport(connect_error),
    )

    with pytest.raises(DeliveryError) as caught:
        channel.send(text_reply())

    assert caught.value.permanent is False
    assert "could not reach" in str(caught.value)


def test_timeout_retriable() -> None:
    def stall(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("read timed out", request=request)

    channel = WhatsAppChannel(
        make_settings(), clock=lambda: INSIDE, transport=httpx.MockTransport(stall)
    )

    with pytest.raises(DeliveryError) as caught:
        channel.send(text_reply())

    assert caught.value.permanent is False
    assert "did not respond within 30 s" in str(caught.value)


def no_http_channel(**changes: object) -> WhatsAppChannel:
    return WhatsAppChannel(
        make_settings(**changes), clock=lambda: INSIDE, transport=no_http()
    )


def test_no_template_blocks_before_request() -> None:
    channel = no_http_channel(templates={})

    with pytest.raises(SendBlocked) as caught:
        channel.send(outbound(last_inbound_at=INBOUND_AT - timedelta(days=2)))

    reason = caught.value.reason
    assert "outside the 24-hour customer service window" in reason
    assert "no template configured for order_update" in reason
    assert "[whatsapp.templates.order_update]" in reason


def test_empty_parameter_blocks_before_request() -> None:
    channel = no_http_channel()
    fields = {"First Name": "Avery", "Order Number": "  ", "Carrier": "UPS"}

    with pytest.raises(SendBlocked) as caught:
        channel.send(outbound(fields=fields))

    reason = caught.value.reason
    assert "order_shipped_v2" in reason
    assert "{{2}}" in reason
    assert "'Order Number'" in reason


def test_missing_button_value_blocks() -> None:
    channel = no_http_channel()
    fields = {"First Name": "Avery", "Order Number": "#1042", "Carrier": "UPS"}

    with pytest.raises(SendBlocked) as caught:
        channel.send(outbound(fields=fields))

    assert "the URL button 'Tracking Number'" in caught.value.reason


def test_long_text_blocks_before_request() -> None:
    channel = no_http_channel()

    with pytest.raises(SendBlocked) as caught:
        channel.send(text_reply(body="x" * 4097))

    assert "4097 characters" in caught.value.reason
    assert "at most 4096" in caught.value.reason


def test_invalid_recipient_permanent() -> None:
    channel = no_http_channel()

    with pytest.raises(DeliveryError) as caught:
        channel.send(text_reply(to="avery@example.com"))

    assert caught.value.permanent is True
    assert "neither an E.164 phone number" in str(caught.value)


def test_send_logs_no_secrets_or_numbers(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    channel = make_channel()

    with whatsapp_vcr().use_cassette("send_text.yaml"):
        channel.send(text_reply())

    plugin_logs = "\n".join(
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("parley_whatsapp")
    )
    assert "phone ...23" in plugin_logs
    assert "4155550123" not in plugin_logs
    assert "Order #1042" not in plugin_logs
    assert ACCESS_TOKEN not in caplog.text


def test_rate_limit_cassette_uses_fixture() -> None:
    cassette = vcr.cassette.Cassette.load(
        path=str(CASSETTES / "send_rate_limited.yaml")
    )
    recorded = json.loads(cassette.responses[0]["body"]["string"])

    assert recorded == load_json("error_130429_response")
