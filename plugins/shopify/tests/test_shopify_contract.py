"""The Shopify plugin passes the core contract suite for its hooks."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import pytest
from shopify_graphql_support import ADMIN_URL, TOKEN, shopify_vcr
from shopify_support import (
    FIXTURE_NAMES,
    SECRET,
    SHOP,
    compact,
    load_fixture,
    make_request,
    route_of,
    signed_headers,
)

import parley_shopify
from parley import OrderStatusEvent, PluginContext, WebhookRequest
from parley.testing import (
    FieldSample,
    FieldsContract,
    RequestFactory,
    SettingsContract,
    WebhookContract,
    make_contact,
)

SETTINGS = {"shops": [{"domain": SHOP, "client_secret": SECRET}]}

# Orders Count has a value only for a shop with an Admin API access token.
POLLED_SETTINGS = {
    "shops": [
        {
            "domain": SHOP,
            "client_secret": SECRET,
            "access_token": TOKEN,
            "admin_base_url": ADMIN_URL,
        }
    ]
}

# A refund of the cancelled fixture order, which no recorded fixture covers.
REFUND = {
    "id": 929361465434,
    "order_id": 6120461537370,
    "created_at": "2026-11-16T16:50:12-05:00",
    "transactions": [
        {"kind": "refund", "status": "success", "amount": "51.62", "currency": "USD"}
    ],
}


def deliver_all(context: PluginContext) -> list[OrderStatusEvent]:
    """Send each fixture delivery and a refund through the route; return the events."""
    handler = route_of(context).handler

    deliveries = [load_fixture(name) for name in FIXTURE_NAMES]
    refund_body = compact(REFUND)
    deliveries.append(
        (
            refund_body,
            signed_headers(refund_body, "refunds/create", "refund-delivery-1"),
        )
    )
    for body, headers in deliveries:
        response = handler(make_request(body, headers))
        assert response.status == 200, response.body

    claimed = context.store.claim_events("contract", 1000, datetime.now(UTC), 60)
    return [OrderStatusEvent.from_json(event.payload) for event in claimed]


class TestShopifySettings(SettingsContract):
    plugin = parley_shopify

    @pytest.fixture
    def plugin_settings(self) -> dict[str, object]:
        return SETTINGS


class TestShopifyFields(FieldsContract):
    plugin = parley_shopify

    @pytest.fixture
    def plugin_settings(self) -> dict[str, object]:
        return POLLED_SETTINGS

    @pytest.fixture
    def provider_http(self) -> Iterator[None]:
        cassette = shopify_vcr().use_cassette(
            "contract_customer_stats.yaml", allow_playback_repeats=True
        )
        with cassette:
            yield None

    @pytest.fixture
    def field_samples(self, parley_context: PluginContext) -> Sequence[FieldSample]:
        contact = make_contact(first_name="Avery", phone="+14155550123")
        return [FieldSample(contact, event) for event in deliver_all(parley_context)]


class TestShopifyWebhook(WebhookContract):
    plugin = parley_shopify

    @pytest.fixture
    def plugin_settings(self) -> dict[str, object]:
        return SETTINGS

    @pytest.fixture
    def webhook_body(self) -> bytes:
        body, _headers = load_fixture("orders_create")
        return body

    @pytest.fixture
    def make_webhook_request(self) -> RequestFactory:
        def build(body: bytes, *, signed: bool = True) -> WebhookRequest:
            headers = signed_headers(body, "orders/create", "contract-delivery-1")
            if not signed:
                del headers["X-Shopify-Hmac-Sha256"]
            return make_request(body, headers)

        return build
