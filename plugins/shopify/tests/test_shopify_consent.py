"""Consent records that orders carry to the core's consent ledger."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from shopify_graphql_support import order_node, shop_settings
from shopify_support import (
    SECRET,
    SHOP,
    ContextFactory,
    compact,
    load_fixture,
    make_request,
    route_of,
    signed_headers,
    stored_events,
)

from parley import (
    AddressKind,
    ChannelAddress,
    ConsentAction,
    ConsentRecord,
    ConsentSource,
    OrderStatus,
    Purpose,
)
from parley_shopify.consent import order_consents
from parley_shopify.customer import OrderSummary
from parley_shopify.graphql_order import rest_order
from parley_shopify.mapping import OrderRef, order_state_events

WHEN = datetime(2026, 11, 17, 14, 41, 59, tzinfo=UTC)
PHONE = ChannelAddress(AddressKind.PHONE, "+14155550123")


def fixture_order(**changes: Any) -> dict[str, Any]:
    body, _headers = load_fixture("orders_create")
    order = json.loads(body)
    order.update(changes)
    return order


def with_marketing(state: str, updated_at: str | None) -> dict[str, Any]:
    order = fixture_order()
    order["customer"]["sms_marketing_consent"] = {
        "state": state,
        "opt_in_level": "confirmed_opt_in",
        "consent_updated_at": updated_at,
        "consent_collected_from": "SHOPIFY",
    }
    return order


def test_checkout_phone_is_opt_in() -> None:
    shop = shop_settings(checkout_phone_is_consent=True)

    [record] = order_consents(fixture_order(), "6120459210842", shop, "US", WHEN)

    assert record == ConsentRecord(
        address=PHONE,
        purpose=Purpose.INFORMATIONAL,
        action=ConsentAction.OPT_IN,
        source=ConsentSource.CHECKOUT,
        occurred_at=datetime.fromisoformat("2026-11-16T10:15:22-05:00"),
        evidence="order 6120459210842, customer phone",
        actor=f"shopify:{SHOP}",
    )


def test_checkout_consent_off_by_default() -> None:
    consents = order_consents(
        fixture_order(), "6120459210842", shop_settings(), "US", WHEN
    )

    assert consents == ()


def test_checkout_consent_names_field() -> None:
    order = fixture_order(customer=None, phone=None)
    shop = shop_settings(checkout_phone_is_consent=True)

    [record] = order_consents(order, "6120459210842", shop, "US", WHEN)

    assert record.evidence == "order 6120459210842, shipping address phone"
    assert record.address == PHONE


def test_checkout_consent_needs_phone() -> None:
    order = fixture_order(
        customer=None, phone=None, shipping_address=None, billing_address=None
    )
    shop = shop_settings(checkout_phone_is_consent=True)

    assert order_consents(order, "6120459210842", shop, "US", WHEN) == ()


def test_marketing_subscribed_is_promotional_opt_in() -> None:
    order = with_marketing("subscribed", "2026-03-14T12:20:11-04:00")

    [record] = order_consents(order, "6120459210842", shop_settings(), "US", WHEN)

    assert record.purpose is Purpose.PROMOTIONAL
    assert record.action is ConsentAction.OPT_IN
    assert record.address == PHONE
    assert record.occurred_at == datetime.fromisoformat("2026-03-14T12:20:11-04:00")
    assert "opt_in_level confirmed_opt_in" in record.evidence
    assert "consent_updated_at 2026-03-14T12:20:11-04:00" in record.evidence
    assert record.actor == f"shopify:{SHOP}"


def test_marketing_unsubscribed_is_opt_out() -> None:
    order = with_marketing("unsubscribed", None)

    [record] = order_consents(order, "6120459210842", shop_settings(), "US", WHEN)

    assert record.purpose is Purpose.PROMOTIONAL
    assert record.action is ConsentAction.OPT_OUT
    assert "consent_updated_at not given" in record.evidence
    assert record.occurred_at == datetime.fromisoformat("2026-11-16T10:15:22-05:00")


def test_marketing_other_states_ignored() -> None:
    for state in ("not_subscribed", "pending", "redacted"):
        order = with_marketing(state, None)

        assert order_consents(order, "1", shop_settings(), "US", WHEN) == ()


def test_both_records_together() -> None:
    order = with_marketing("subscribed", "2026-03-14T12:20:11-04:00")
    shop = shop_settings(checkout_phone_is_consent=True)

    records = order_consents(order, "6120459210842", shop, "US", WHEN)

    assert [(r.purpose, r.action) for r in records] == [
        (Purpose.INFORMATIONAL, ConsentAction.OPT_IN),
        (Purpose.PROMOTIONAL, ConsentAction.OPT_IN),
    ]


def test_every_order_event_carries_consent(make_context: ContextFactory) -> None:
    shop = {"domain": SHOP, "client_secret": SECRET, "checkout_phone_is_consent": True}
    context = make_context([shop])
    handler = route_of(context).handler

    for name in ("orders_create", "orders_fulfilled"):
        body, headers = load_fixture(name)
        assert handler(make_request(body, headers)).status == 200

    confirmed, shipped = stored_events(context)
    assert confirmed.status is OrderStatus.CONFIRMED
    assert [c.evidence for c in confirmed.consents] == [
        "order 6120459210842, customer phone"
    ]
    assert confirmed.consents[0].source is ConsentSource.CHECKOUT
    # A cancellation may arrive for an order whose creation parley never saw,
    # so every event from an Order body carries the checkout consent.
    assert shipped.consents == confirmed.consents


def test_webhook_without_setting_no_checkout_consent(
    make_context: ContextFactory,
) -> None:
    context = make_context()
    order = with_marketing("unsubscribed", "2026-11-01T09:00:00-05:00")
    body = compact(order)

    route_of(context).handler(
        make_request(body, signed_headers(body, "orders/create", "c-1"))
    )

    [confirmed] = stored_events(context)
    assert [(c.purpose, c.action) for c in confirmed.consents] == [
        (Purpose.PROMOTIONAL, ConsentAction.OPT_OUT)
    ]


def test_poll_confirmation_carries_consent() -> None:
    phone = {
        "phoneNumber": "+14155550127",
        "marketingState": "SUBSCRIBED",
        "marketingOptInLevel": "SINGLE_OPT_IN",
        "marketingUpdatedAt": "2026-10-01T08:00:00Z",
        "marketingCollectedFrom": "SHOPIFY",
    }
    node = order_node(1001, "#1001", "2026-11-17T14:56:10Z")
    node["customer"]["defaultPhoneNumber"] = phone
    order = rest_order(node)
    shop = shop_settings(checkout_phone_is_consent=True)
    consents = order_consents(order, "1001", shop, "US", WHEN)
    order_ref = OrderRef(SHOP, "1001", OrderSummary(order_name="#1001"), WHEN)

    [confirmed] = order_state_events(order_ref, order, "orders/create", consents)

    assert [(c.purpose, c.action, c.source) for c in confirmed.consents] == [
        (Purpose.INFORMATIONAL, ConsentAction.OPT_IN, ConsentSource.CHECKOUT),
        (Purpose.PROMOTIONAL, ConsentAction.OPT_IN, ConsentSource.IMPORT),
    ]
    assert confirmed.consents[0].evidence == "order 1001, customer phone"
    assert "opt_in_level single_opt_in" in confirmed.consents[1].evidence
    assert type(confirmed).from_json(confirmed.to_json()) == confirmed
