"""Both plugins pass the core contract suite for settings and channels."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from messenger_support import (
    IGSID,
    PSID,
    SENT_MID,
    graph_vcr,
    instagram_section,
    load_fixture,
    make_request,
    messenger_section,
    sign,
)

import parley_messenger.instagram
import parley_messenger.messenger
from parley import OutboundMessage, Purpose, WebhookRequest
from parley.testing import ChannelContract, RequestFactory, SettingsContract


def request_factory(channel: str) -> RequestFactory:
    def build(body: bytes, *, signed: bool = True) -> WebhookRequest:
        headers = {"Content-Type": "application/json"}
        if signed:
            headers["X-Hub-Signature-256"] = sign(body)
        return make_request(body, headers, channel=channel)

    return build


def reply(channel: str, to: str, body: str) -> OutboundMessage:
    # The contract's channel reads the real clock, so the customer wrote an
    # hour before now.
    return OutboundMessage(
        id=1,
        idempotency_key="contract-message-1",
        channel=channel,
        to=to,
        body=body,
        conversation_id=1,
        kind="reply",
        purpose=Purpose.CONVERSATIONAL,
        last_inbound_at=datetime.now(UTC) - timedelta(hours=1),
    )


class TestMessengerSettings(SettingsContract):
    plugin = parley_messenger.messenger

    @pytest.fixture
    def plugin_settings(self) -> dict[str, object]:
        return messenger_section()


class TestInstagramSettings(SettingsContract):
    plugin = parley_messenger.instagram

    @pytest.fixture
    def plugin_settings(self) -> dict[str, object]:
        return instagram_section()


class TestMessengerChannel(ChannelContract):
    plugin = parley_messenger.messenger

    @pytest.fixture
    def plugin_settings(self) -> dict[str, object]:
        return messenger_section()

    @pytest.fixture
    def provider_http(self) -> Iterator[None]:
        with graph_vcr().use_cassette("send_text.yaml"):
            yield None

    @pytest.fixture
    def webhook_body(self) -> bytes:
        body, _headers = load_fixture("inbound_text")
        return body

    @pytest.fixture
    def make_webhook_request(self) -> RequestFactory:
        return request_factory("messenger")

    @pytest.fixture
    def outbound_message(self) -> OutboundMessage:
        return reply(
            "messenger",
            PSID,
            "Hi! Order #1042 shipped with UPS, tracking 1Z999AA10123456784.",
        )

    @pytest.fixture
    def expected_provider_message_id(self) -> str:
        return SENT_MID


class TestMessengerDeliveryChannel(TestMessengerChannel):
    """The contract again with the delivery receipt as the signed body."""

    @pytest.fixture
    def webhook_body(self) -> bytes:
        body, _headers = load_fixture("delivery")
        return body


class TestInstagramChannel(ChannelContract):
    plugin = parley_messenger.instagram

    @pytest.fixture
    def plugin_settings(self) -> dict[str, object]:
        return instagram_section()

    @pytest.fixture
    def provider_http(self) -> Iterator[None]:
        with graph_vcr().use_cassette("instagram_send_text.yaml"):
            yield None

    @pytest.fixture
    def webhook_body(self) -> bytes:
        body, _headers = load_fixture("instagram_inbound_text")
        return body

    @pytest.fixture
    def make_webhook_request(self) -> RequestFactory:
        return request_factory("instagram")

    @pytest.fixture
    def outbound_message(self) -> OutboundMessage:
        return reply(
            "instagram", IGSID, "Your beanie order is not cancelled; it ships tomorrow."
        )
