"""The HubSpot plugin passes the core contract suite for its hooks."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

import pytest
from hubspot_support import (
    CLIENT_SECRET,
    WEBHOOK_URL,
    base_settings,
    hubspot_vcr,
    sign_v3,
    webhook_request,
)

import parley_hubspot
from parley import AddressKind, ChannelAddress, PluginContext, WebhookRequest
from parley.testing import (
    ContactLookupContract,
    FieldSample,
    FieldsContract,
    RequestFactory,
    SettingsContract,
    WebhookContract,
    make_contact,
)

SETTINGS = base_settings(client_secret=CLIENT_SECRET, webhook_url=WEBHOOK_URL)
AVERY_PHONE = ChannelAddress(AddressKind.PHONE, "+14155550123")


def replay(name: str) -> Iterator[None]:
    with hubspot_vcr().use_cassette(name, allow_playback_repeats=True):
        yield None


class TestHubSpotSettings(SettingsContract):
    plugin = parley_hubspot

    @pytest.fixture
    def plugin_settings(self) -> dict[str, object]:
        return SETTINGS


class TestHubSpotLookup(ContactLookupContract):
    plugin = parley_hubspot

    @pytest.fixture
    def plugin_settings(self) -> dict[str, object]:
        return SETTINGS

    @pytest.fixture
    def provider_http(self) -> Iterator[None]:
        yield from replay("contract_lookup.yaml")

    @pytest.fixture
    def known_address(self) -> ChannelAddress:
        return AVERY_PHONE


class TestHubSpotFields(FieldsContract):
    plugin = parley_hubspot

    @pytest.fixture
    def plugin_settings(self) -> dict[str, object]:
        return SETTINGS

    @pytest.fixture
    def provider_http(self) -> Iterator[None]:
        yield from replay("contract_lookup.yaml")

    @pytest.fixture
    def field_samples(self, parley_context: PluginContext) -> Sequence[FieldSample]:
        [record] = [
            answer
            for answer in parley_context.plugin_manager.hook.lookup_contact(
                address=AVERY_PHONE, context=parley_context
            )
            if answer is not None
        ]
        return [
            FieldSample(make_contact()),
            FieldSample(
                make_contact(first_name=record.first_name, fields=record.fields)
            ),
        ]


class TestHubSpotWebhook(WebhookContract):
    plugin = parley_hubspot

    @pytest.fixture
    def plugin_settings(self) -> dict[str, object]:
        return SETTINGS

    @pytest.fixture
    def provider_http(self) -> Iterator[None]:
        yield from replay("webhook_batch_read.yaml")

    @pytest.fixture
    def webhook_body(self) -> bytes:
        return (
            b'[{"eventId":3813370641,"subscriptionId":2804119,"portalId":24681357,'
            b'"appId":4410286,"occurredAt":1794924340112,'
            b'"subscriptionType":"contact.propertyChange","attemptNumber":0,'
            b'"objectId":86420173501,"propertyName":"loyalty_program",'
            b'"propertyValue":"Platinum","changeSource":"CRM"},'
            b'{"eventId":3813370655,"subscriptionId":2804120,"portalId":24681357,'
            b'"appId":4410286,"occurredAt":1794924341005,'
            b'"subscriptionType":"contact.creation","attemptNumber":0,'
            b'"objectId":86420201944,"changeFlag":"NEW"}]'
        )

    @pytest.fixture
    def make_webhook_request(self) -> RequestFactory:
        # The contract's context reads the real clock, so each request is
        # signed at the current time.
        def build(body: bytes, *, signed: bool = True) -> WebhookRequest:
            timestamp = str(int(time.time() * 1000))
            headers = {
                "Content-Type": "application/json",
                "X-HubSpot-Request-Timestamp": timestamp,
            }
            if signed:
                headers["X-HubSpot-Signature-v3"] = sign_v3(body, timestamp)
            return webhook_request(body, headers)

        return build
