"""GraphQL order nodes in the REST shape, and their events next to the webhooks'."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from shopify_graphql_support import CASSETTES, order_node
from shopify_support import SHOP, load_fixture

from parley import OrderStatus, OrderStatusEvent
from parley_shopify.customer import summarize_order
from parley_shopify.graphql_order import numeric_id, rest_order
from parley_shopify.mapping import (
    OrderRef,
    confirmation_events,
    order_change_events,
    order_state_events,
    order_total,
)

WHEN = datetime(2026, 11, 17, 14, 45, tzinfo=UTC)


def cassette_order(name: str, interaction: int = 0) -> dict[str, Any]:
    data = yaml.safe_load(Path(CASSETTES / name).read_text(encoding="utf-8"))
    body = json.loads(data["interactions"][interaction]["response"]["body"]["string"])
    return body["data"]["orders"]["nodes"][0]


def poll_events(
    node: dict[str, Any], confirmed_on: str = "orders/create"
) -> list[OrderStatusEvent]:
    order = rest_order(node)
    summary = summarize_order(order, order_total(order), "US")
    order_ref = OrderRef(SHOP, str(order["id"]), summary, WHEN)
    return order_state_events(order_ref, order, confirmed_on)


def webhook_events() -> list[OrderStatusEvent]:
    events = []
    for name, topic in (
        ("orders_create", "orders/create"),
        ("orders_fulfilled", "orders/fulfilled"),
    ):
        body, _headers = load_fixture(name)
        order = json.loads(body)
        summary = summarize_order(order, order_total(order), "US")
        order_ref = OrderRef(SHOP, str(order["id"]), summary, WHEN)
        if topic == "orders/create":
            events += confirmation_events(order_ref, topic, "orders/create")
        else:
            events += order_change_events(order_ref, topic, order)
    return events


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("gid://shopify/Fulfillment/5398021177434", "5398021177434"),
        ("gid://shopify/Order/6120459210842", "6120459210842"),
        ("gid://shopify/LineItem/15630291001434?quantity=2", "15630291001434"),
        ("6120459210842", "6120459210842"),
        (6120459210842, "6120459210842"),
        ("gid://shopify/Order/", None),
        ("gid://other/Order/12", None),
        (None, None),
    ],
)
def test_numeric_id(value: object, expected: str | None) -> None:
    assert numeric_id(value) == expected


def test_poll_matches_webhook_events() -> None:
    polled = poll_events(cassette_order("poll_missed_fulfillment.yaml"))
    delivered = webhook_events()

    by_key = {event.dedupe_key: event for event in delivered}
    assert sorted(by_key) == sorted(event.dedupe_key for event in polled)
    for event in polled:
        twin = by_key[event.dedupe_key]
        assert event.fields == twin.fields
        assert event.customer == twin.customer
        assert event.order_name == twin.order_name


def test_poll_event_times_and_order() -> None:
    events = poll_events(cassette_order("poll_missed_fulfillment.yaml"))

    assert [(event.status, event.occurred_at.isoformat()) for event in events] == [
        (OrderStatus.SHIPPED, "2026-11-17T14:41:57+00:00"),
        (OrderStatus.CONFIRMED, "2026-11-16T15:15:22+00:00"),
    ]


def test_rest_order_enums_lowered() -> None:
    order = rest_order(cassette_order("poll_throttled_cancel.yaml", interaction=1))

    assert order["id"] == "1003"
    assert order["cancel_reason"] == "customer"
    assert order["financial_status"] == "voided"
    assert order["customer"]["id"] == "7003"


def test_cancelled_order_events() -> None:
    events = poll_events(cassette_order("poll_throttled_cancel.yaml", interaction=1))

    assert [event.status for event in events] == [
        OrderStatus.CANCELLED,
        OrderStatus.CONFIRMED,
    ]
    assert events[0].fields["Cancel Reason"] == "Customer request"
    assert events[0].dedupe_key == f"shopify:{SHOP}:1003:cancelled"


def test_refunds_are_separate_events() -> None:
    refund = {
        "id": "gid://shopify/Refund/8801",
        "createdAt": "2026-11-18T10:00:00Z",
        "totalRefundedSet": {
            "presentmentMoney": {"amount": "12.5", "currencyCode": "USD"}
        },
    }
    second = dict(
        refund, id="gid://shopify/Refund/8802", createdAt="2026-11-19T10:00:00Z"
    )
    node = order_node(1001, "#1001", "2026-11-19T10:00:01Z", refunds=[refund, second])

    refunded = [e for e in poll_events(node) if e.status is OrderStatus.REFUNDED]

    assert [e.dedupe_key for e in refunded] == [
        f"shopify:{SHOP}:1001:refunded:8802",
        f"shopify:{SHOP}:1001:refunded:8801",
    ]
    assert refunded[0].fields["Refund Amount"] == "12.50 USD"


def test_carrier_status_from_display_status() -> None:
    fulfillment = {
        "id": "gid://shopify/Fulfillment/9001",
        "status": "SUCCESS",
        "displayStatus": "DELIVERED",
        "createdAt": "2026-11-17T15:00:00Z",
        "updatedAt": "2026-11-19T12:00:00Z",
        "deliveredAt": "2026-11-19T11:58:00Z",
        "trackingInfo": [],
    }
    node = order_node(1001, "#1001", "2026-11-19T12:00:00Z", fulfillments=[fulfillment])

    events = poll_events(node)

    assert [(e.status, e.occurred_at.isoformat()) for e in events[:2]] == [
        (OrderStatus.DELIVERED, "2026-11-19T11:58:00+00:00"),
        (OrderStatus.SHIPPED, "2026-11-17T15:00:00+00:00"),
    ]
    assert events[0].dedupe_key == f"shopify:{SHOP}:1001:delivered:9001"


@pytest.mark.parametrize(
    ("status", "confirmed"),
    [
        ("PAID", True),
        ("PARTIALLY_REFUNDED", True),
        ("PENDING", False),
        ("AUTHORIZED", False),
    ],
)
def test_confirmed_on_paid_waits_for_payment(status: str, confirmed: bool) -> None:
    node = order_node(
        1001, "#1001", "2026-11-17T14:56:10Z", displayFinancialStatus=status
    )

    events = poll_events(node, confirmed_on="orders/paid")

    assert (OrderStatus.CONFIRMED in [e.status for e in events]) is confirmed


def test_money_padded_to_minor_units() -> None:
    order = rest_order(order_node(1001, "#1001", "2026-11-17T14:56:10Z"))

    assert order["total_price_set"]["presentment_money"] == {
        "amount": "42.00",
        "currency_code": "USD",
    }


def test_redacted_node_does_not_crash() -> None:
    node = order_node(
        1001,
        "#1001",
        "2026-11-17T14:56:10Z",
        customer=None,
        email=None,
        totalPriceSet=None,
    )

    [event] = poll_events(node)

    assert event.customer.phone is None
    assert event.fields["Order Total"] == ""
