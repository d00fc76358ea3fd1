"""The Twilio plugin passes the core contract suite for its hooks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from twilio_support import (
    SHIPPED_TEXT,
    form_pairs,
    load_form,
    make_request,
    settings,
    sign,
    twilio_vcr,
)

import parley_twilio
from parley import OutboundMessage, Purpose, WebhookRequest
from parley.testing import ChannelContract, RequestFactory, SettingsContract

INBOUND_URL = "https://hooks.example.com/twilio/sms/inbound"


class TestTwilioSettings(SettingsContract):
    plugin = parley_twilio

    @pytest.fixture
    def plugin_settings(self) -> dict[str, object]:
        return settings(api_key_sid="SK" + "0" * 32, api_key_secret="key-secret-0001")


class TestTwilioChannel(ChannelContract):
    plugin = parley_twilio

    @pytest.fixture
    def plugin_settings(self) -> dict[str, object]:
        return settings()

    @pytest.fixture
    def provider_http(self) -> Iterator[None]:
        with twilio_vcr().use_cassette("send_from_number.yaml"):
            yield None

    @pytest.fixture
    def outbound_message(self) -> OutboundMessage:
        return OutboundMessage(
            id=1,
            idempotency_key="contract-message-1",
            channel="twilio",
            to="+14155550123",
            body=SHIPPED_TEXT,
            conversation_id=1,
            kind="order_update",
            purpose=Purpose.INFORMATIONAL,
        )

    @pytest.fixture
    def expected_provider_message_id(self) -> str:
        return "SM9484a870196769e6e8c5b381b880e8e0"

    @pytest.fixture
    def webhook_body(self) -> bytes:
        body, _headers, _url = load_form("inbound_sms")
        return body

    @pytest.fixture
    def make_webhook_request(self) -> RequestFactory:
        def build(body: bytes, *, signed: bool = True) -> WebhookRequest:
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            if signed:
                headers["X-Twilio-Signature"] = sign(INBOUND_URL, form_pairs(body))
            return make_request(body, headers)

        return build
