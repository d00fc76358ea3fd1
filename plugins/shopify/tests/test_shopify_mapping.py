"""Mapping of Shopify bodies to order-status events, without a store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from shopify_support import SHOP, load_fixture

from parley import AddressKind, ChannelAddress, OrderStatus
from parley_shopify.customer import OrderSummary, summarize_order
from parley_shopify.mapping import (
    OrderRef,
    PayloadError,
    cancellation_event,
    confirmation_events,
    order_change_events,
    order_id_of,
    order_total,
    refund_events,
    refunded_amount,
    shipment_events,
)
from parley_shopify.values import format_money, parse_amount, parse_timestamp

WHEN = datetime(2026, 11, 17, 14, 41, 59, tzinfo=UTC)
FIELD_NAMES = {
    "Order Status URL",
    "Tracking URL",
    "Tracking Number",
    "Carrier",
    "Cancel Reason",
    "Refund Amount",
    "Order Total",
    "Last Order ID",
}


def fixture_body(name: str) -> dict[str, Any]:
    body, _headers = load_fixture(name)
    return json.loads(body)


def ref_for(order: dict[str, Any]) -> OrderRef:
    summary = summarize_order(order, order_total(order), "US")
    return OrderRef(SHOP, str(order["id"]), summary, WHEN)


def fulfillment(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": 77,
        "status": "success",
        "shipment_status": None,
        "tracking_company": "DHL Express",
        "tracking_number": "JD014600006000000001",
        "tracking_url": None,
    }
    base.update(changes)
    return base


def test_fulfilled_carries_tracking() -> None:
    order = fixture_body("orders_fulfilled")

    [event] = order_change_events(ref_for(order), "orders/fulfilled", order)

    assert event.status is OrderStatus.SHIPPED
    assert event.fields["Carrier"] == "UPS"
    assert event.fields["Tracking Number"] == "1Z999AA10123456784"
    assert event.fields["Tracking URL"] == (
        "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1Z999AA10123456784"
    )
    assert event.dedupe_key == f"shopify:{SHOP}:6120459210842:shipped:5398021177434"


def test_fulfilled_event_shape() -> None:
    order = fixture_body("orders_fulfilled")

    [event] = order_change_events(ref_for(order), "orders/fulfilled", order)

    assert event.source == "shopify"
    assert event.store == SHOP
    assert event.order_id == "6120459210842"
    assert event.order_name == "#1042"
    assert event.occurred_at == WHEN
    assert set(event.fields) == FIELD_NAMES
    assert event.fields["Order Total"] == "116.63 USD"
    assert event.fields["Order Status URL"].startswith("https://harbor-and-pine-test")


def test_fulfilled_customer() -> None:
    order = fixture_body("orders_fulfilled")

    [event] = order_change_events(ref_for(order), "orders/fulfilled", order)

    customer = event.customer
    assert customer.source == "shopify"
    assert customer.external_id == "7410238472295"
    assert (customer.first_name, customer.last_name) == ("Avery", "Quinlan")
    assert customer.email == "avery.quinlan@example.com"
    assert customer.phone == "+14155550123"
    assert customer.addresses == (
        ChannelAddress(AddressKind.PHONE, "+14155550123"),
        ChannelAddress(AddressKind.EMAIL, "avery.quinlan@example.com"),
    )


def test_event_survives_json_round_trip() -> None:
    order = fixture_body("orders_fulfilled")
    [event] = order_change_events(ref_for(order), "orders/fulfilled", order)

    assert type(event).from_json(event.to_json()) == event


def test_partial_fulfillments_are_separate_events() -> None:
    order = {
        "id": 5,
        "name": "#1005",
        "fulfillments": [fulfillment(), fulfillment(id=78)],
    }

    events = order_change_events(ref_for(order), "orders/partially_fulfilled", order)

    assert [event.dedupe_key for event in events] == [
        f"shopify:{SHOP}:5:shipped:77",
        f"shopify:{SHOP}:5:shipped:78",
    ]


@pytest.mark.parametrize(
    ("shipment_status", "extra"),
    [
        ("out_for_delivery", OrderStatus.OUT_FOR_DELIVERY),
        ("delivered", OrderStatus.DELIVERED),
    ],
)
def test_shipment_status_adds_event(shipment_status: str, extra: OrderStatus) -> None:
    order = {"id": 5, "name": "#1005"}

    events = shipment_events(
        ref_for(order), fulfillment(shipment_status=shipment_status)
    )

    assert [event.status for event in events] == [OrderStatus.SHIPPED, extra]
    assert events[1].dedupe_key == f"shopify:{SHOP}:5:{extra.value}:77"
    assert events[1].fields["Carrier"] == "DHL Express"


@pytest.mark.parametrize(
    "shipment_status", ["in_transit", "label_printed", "failure", "attempted_delivery"]
)
def test_other_shipment_status_only_shipped(shipment_status: str) -> None:
    events = shipment_events(
        ref_for({"id": 5}), fulfillment(shipment_status=shipment_status)
    )

    assert [event.status for event in events] == [OrderStatus.SHIPPED]


@pytest.mark.parametrize("status", ["cancelled", "pending", "open", "error", "failure"])
def test_unsuccessful_fulfillment_no_events(status: str) -> None:
    events = shipment_events(
        ref_for({"id": 5}), fulfillment(status=status, shipment_status="delivered")
    )

    assert events == []


def test_fulfillment_without_id_no_events() -> None:
    assert shipment_events(ref_for({"id": 5}), fulfillment(id=None)) == []


def test_tracking_lists_used() -> None:
    shipment = fulfillment(
        tracking_number=None,
        tracking_numbers=["A1", "B2"],
        tracking_url=None,
        tracking_urls=[
            "https://carrier.example.com/A1",
            "https://carrier.example.com/B2",
        ],
    )

    [event] = shipment_events(ref_for({"id": 5}), shipment)

    assert event.fields["Tracking Number"] == "A1, B2"
    assert event.fields["Tracking URL"] == "https://carrier.example.com/A1"


def test_shipped_without_tracking() -> None:
    shipment = fulfillment(tracking_company=None, tracking_number=None)

    [event] = shipment_events(ref_for({"id": 5}), shipment)

    assert event.fields["Tracking URL"] == ""
    assert event.fields["Tracking Number"] == ""
    assert event.fields["Carrier"] == ""


def test_cancelled_fixture() -> None:
    order = fixture_body("orders_cancelled")

    [event] = order_change_events(ref_for(order), "orders/cancelled", order)

    assert event.status is OrderStatus.CANCELLED
    assert event.dedupe_key == f"shopify:{SHOP}:6120461537370:cancelled"
    assert event.fields["Cancel Reason"] == "Customer request"
    assert event.fields["Refund Amount"] == ""
    assert event.fields["Order Total"] == "51.62 USD"
    assert event.customer.phone == "+14155550147"


def test_cancelled_with_refund() -> None:
    order = {
        "id": 9,
        "cancel_reason": "declined",
        "refunds": [
            {
                "transactions": [
                    {
                        "kind": "refund",
                        "status": "success",
                        "amount": "20.00",
                        "currency": "USD",
                    }
                ]
            },
            {
                "transactions": [
                    {
                        "kind": "refund",
                        "status": "success",
                        "amount": "5.5",
                        "currency": "USD",
                    }
                ]
            },
        ],
    }

    event = cancellation_event(ref_for(order), order)

    assert event.fields["Cancel Reason"] == "Payment declined"
    assert event.fields["Refund Amount"] == "25.50 USD"


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("customer", "Customer request"),
        ("fraud", "Suspected fraud"),
        ("inventory", "Items unavailable"),
        ("declined", "Payment declined"),
        ("other", "Other"),
        ("STAFF", "Staff error"),
        ("price_change", "Price change"),
        (None, ""),
    ],
)
def test_cancel_reason_readable(reason: str | None, expected: str) -> None:
    order = {"id": 9, "cancel_reason": reason}

    event = cancellation_event(ref_for(order), order)

    assert event.fields["Cancel Reason"] == expected


def test_updated_with_cancelled_at() -> None:
    order = {
        "id": 9,
        "cancelled_at": "2026-11-17T11:00:00-05:00",
        "fulfillments": [fulfillment()],
    }

    events = order_change_events(ref_for(order), "orders/updated", order)

    assert [event.status for event in events] == [
        OrderStatus.SHIPPED,
        OrderStatus.CANCELLED,
    ]


def test_updated_without_changes_no_events() -> None:
    order = {"id": 9, "fulfillments": [], "cancelled_at": None}

    assert order_change_events(ref_for(order), "orders/updated", order) == []


def test_fulfilled_ignores_cancelled_at() -> None:
    order = {"id": 9, "cancelled_at": "2026-11-17T11:00:00-05:00", "fulfillments": []}

    assert order_change_events(ref_for(order), "orders/fulfilled", order) == []


@pytest.mark.parametrize(
    ("topic", "confirmed_on", "count"),
    [
        ("orders/create", "orders/create", 1),
        ("orders/paid", "orders/create", 0),
        ("orders/create", "orders/paid", 0),
        ("orders/paid", "orders/paid", 1),
    ],
)
def test_confirmation_topic_choice(topic: str, confirmed_on: str, count: int) -> None:
    order = fixture_body("orders_create")

    events = confirmation_events(ref_for(order), topic, confirmed_on)

    assert len(events) == count
    assert all(event.status is OrderStatus.CONFIRMED for event in events)
    assert all(
        event.dedupe_key == f"shopify:{SHOP}:6120459210842:confirmed"
        for event in events
    )


def test_refund_event() -> None:
    refund = {
        "id": 3,
        "order_id": 9,
        "transactions": [
            {
                "kind": "refund",
                "status": "success",
                "amount": "1250.00",
                "currency": "CAD",
            },
        ],
    }
    order_ref = OrderRef(SHOP, "9", OrderSummary(order_name="#1009"), WHEN)

    [event] = refund_events(order_ref, refund)

    assert event.status is OrderStatus.REFUNDED
    assert event.dedupe_key == f"shopify:{SHOP}:9:refunded:3"
    assert event.order_name == "#1009"
    assert event.fields["Refund Amount"] == "1,250.00 CAD"


def test_refunded_amount_skips_failed_and_other_kinds() -> None:
    refunds = [
        {
            "transactions": [
                {
                    "kind": "refund",
                    "status": "success",
                    "amount": "10.00",
                    "currency": "USD",
                },
                {
                    "kind": "refund",
                    "status": "failure",
                    "amount": "99.00",
                    "currency": "USD",
                },
                {
                    "kind": "refund",
                    "status": "error",
                    "amount": "98.00",
                    "currency": "USD",
                },
                {
                    "kind": "void",
                    "status": "success",
                    "amount": "97.00",
                    "currency": "USD",
                },
                {
                    "kind": "refund",
                    "status": "success",
                    "amount": "oops",
                    "currency": "USD",
                },
                "not an object",
            ]
        },
        {"transactions": None},
        None,
    ]

    assert refunded_amount(refunds) == "10.00 USD"


def test_refunded_amount_per_currency() -> None:
    refunds = [
        {
            "transactions": [
                {
                    "kind": "refund",
                    "status": "success",
                    "amount": "10.00",
                    "currency": "USD",
                },
                {
                    "kind": "refund",
                    "status": "success",
                    "amount": "8.00",
                    "currency": "EUR",
                },
            ]
        }
    ]

    assert refunded_amount(refunds) == "10.00 USD + 8.00 EUR"


def test_refunded_amount_empty() -> None:
    assert refunded_amount([]) == ""
    assert refunded_amount([{"transactions": []}]) == ""


def test_order_total_prefers_presentment_money() -> None:
    order = {
        "total_price": "100.00",
        "currency": "USD",
        "total_price_set": {
            "shop_money": {"amount": "100.00", "currency_code": "USD"},
            "presentment_money": {"amount": "92.10", "currency_code": "EUR"},
        },
    }

    assert order_total(order) == "92.10 EUR"


def test_order_total_falls_back_to_total_price() -> None:
    assert order_total({"total_price": "1234.5", "currency": "USD"}) == "1,234.5 USD"
    assert order_total({"total_price": None}) is None


def test_order_id_required() -> None:
    with pytest.raises(PayloadError) as caught:
        order_id_of({"id": None}, "id")

    assert "id" in str(caught.value)
    assert order_id_of({"order_id": 6120459210842}, "order_id") == "6120459210842"


def test_redacted_order_does_not_crash() -> None:
    order = {
        "id": 9,
        "customer": None,
        "email": None,
        "phone": None,
        "shipping_address": None,
        "billing_address": None,
        "fulfillments": [None, "x", fulfillment()],
        "total_price_set": None,
    }

    events = order_change_events(ref_for(order), "orders/fulfilled", order)

    assert [event.status for event in events] == [OrderStatus.SHIPPED]
    assert events[0].customer.addresses == ()
    assert events[0].order_name == ""


def test_parse_timestamp() -> None:
    assert parse_timestamp("2026-11-16T10:15:22-05:00") == datetime(
        2026, 11, 16, 15, 15, 22, tzinfo=UTC
    )
    assert parse_timestamp("2026-11-17T14:41:58.411Z") == datetime(
        2026, 11, 17, 14, 41, 58, 411000, tzinfo=UTC
    )
    assert parse_timestamp("2026-11-17T14:41:58") == datetime(
        2026, 11, 17, 14, 41, 58, tzinfo=UTC
    )
    assert parse_timestamp("yesterday") is None
    assert parse_timestamp(None) is None


def test_parse_amount() -> None:
    assert parse_amount("116.63") == Decimal("116.63")
    assert parse_amount(12) == Decimal(12)
    assert parse_amount("NaN") is None
    assert parse_amount("Infinity") is None
    assert parse_amount(True) is None
    assert parse_amount(None) is None


def test_format_money() -> None:
    assert format_money(Decimal("1234567.80"), "USD") == "1,234,567.80 USD"
    assert format_money(Decimal("1200"), "JPY") == "1,200 JPY"
    assert format_money(Decimal("5.00"), None) == "5.00"
