"""The WhatsApp plugin passes the core contract suite for its hooks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from whatsapp_support import (
    WAMID_SENT,
    load_fixture,
    post_request,
    settings_values,
    sign,
    whatsapp_vcr,
)

import parley_whatsapp
from parley import OutboundMessage, Purpose, WebhookRequest
from parley.testing import ChannelContract, RequestFactory, SettingsContract


class TestWhatsAppSettings(SettingsContract):
    plugin = parley_whatsapp

    @pytest.fixture
    def plugin_settings(self) -> dict[str, object]:
        return settings_values()


class TestWhatsAppChannel(ChannelContract):
    plugin = parley_whatsapp

    @pytest.fixture
    def plugin_settings(self) -> dict[str, object]:
        return settings_values()

    @pytest.fixture
    def provider_http(self) -> Iterator[None]:
        with whatsapp_vcr().use_cassette("send_template.yaml"):
            yield None

    @pytest.fixture
    def outbound_message(self) -> OutboundMessage:
        # An order update to a customer who never wrote goes out as the
        # configured template, which needs its fields.
        return OutboundMessage(
            id=1,
            idempotency_key="contract-message-1",
            channel="whatsapp",
            to="+14155550123",
            body="Hi Avery, your order #1042 has shipped.",
            conversation_id=1,
            kind="order_update",
            purpose=Purpose.INFORMATIONAL,
            fields={
                "First Name": "Avery",
                "Order Number": "#1042",
                "Carrier": "UPS",
                "Tracking Number": "1Z999AA10123456784",
            },
        )

    @pytest.fixture
    def expected_provider_message_id(self) -> str:
        return WAMID_SENT

    @pytest.fixture
    def webhook_body(self) -> bytes:
        body, _headers = load_fixture("inbound_text")
        return body

    @pytest.fixture
    def make_webhook_request(self) -> RequestFactory:
        def build(body: bytes, *, signed: bool = True) -> WebhookRequest:
            headers: dict[str, str] = {"Content-Type": "application/json"}
            if signed:
                headers["X-Hub-Signature-256"] = sign(body)
            return post_request(body, headers)

        return build
