"""The webhook handler against a real SQLite store."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from shopify_support import (
    FIXTURE_NAMES,
    SECRET,
    SHOP,
    ContextFactory,
    Handler,
    compact,
    load_fixture,
    make_request,
    route_of,
    sign,
    signed_headers,
    stored_events,
)

from parley import (
    OrderStatus,
    PluginContext,
    SignatureError,
    WebhookRejected,
    WebhookResponse,
)

EXPECTED_STATUSES = {
    "orders_create": [OrderStatus.CONFIRMED],
    "orders_fulfilled": [OrderStatus.SHIPPED],
    "orders_cancelled": [OrderStatus.CANCELLED],
    "fulfillments_create": [OrderStatus.SHIPPED],
    "fulfillments_update": [OrderStatus.SHIPPED],
}

# The raw body of the re-serialisation case, byte for byte: escaped "é" and "/".
RAW_CASE_BODY = (
    b'{"id":1001,"name":"#1001","customer":{"first_name":"Jos\\u00e9"},'
    b'"note":"gift\\/wrap"}'
)
RAW_CASE_SECRET = "test_secret"


def assert_nothing_stored(context: PluginContext) -> None:
    counts = context.store.counts()
    assert counts["events"] == 0
    assert counts["webhook_deliveries"] == 0


def order_1001(**changes: Any) -> dict[str, Any]:
    """An order #1001 for Ana, fulfilled with one shipment."""
    order: dict[str, Any] = {
        "id": 1001,
        "name": "#1001",
        "email": "ana.rivera@example.com",
        "phone": None,
        "updated_at": "2026-11-17T09:41:58-05:00",
        "cancelled_at": None,
        "cancel_reason": None,
        "fulfillment_status": "fulfilled",
        "tags": "",
        "currency": "USD",
        "total_price": "42.00",
        "customer": {
            "id": 7001,
            "first_name": "Ana",
            "last_name": "Rivera",
            "email": "ana.rivera@example.com",
            "phone": "+14155550127",
        },
        "fulfillments": [
            {
                "id": 9001,
                "order_id": 1001,
                "name": "#1001.1",
                "status": "success",
                "shipment_status": None,
                "tracking_company": "USPS",
                "tracking_number": "9400100000000000000001",
                "tracking_url": "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400100000000000000001",
            }
        ],
        "refunds": [],
    }
    order.update(changes)
    return order


def deliver(
    handler: Handler, data: Any, topic: str, webhook_id: str
) -> WebhookResponse:
    body = compact(data)
    return handler(make_request(body, signed_headers(body, topic, webhook_id)))


# Every fixture


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_accepted(name: str, handler: Handler, context: PluginContext) -> None:
    body, headers = load_fixture(name)

    response = handler(make_request(body, headers))

    assert response.status == 200
    assert response.body == {"status": "accepted", "events": 1}
    assert context.store.counts()["webhook_deliveries"] == 1
    statuses = [event.status for event in stored_events(context)]
    assert statuses == EXPECTED_STATUSES[name]


def test_fixture_events_carry_shop_and_customer(
    handler: Handler, context: PluginContext
) -> None:
    body, headers = load_fixture("orders_create")

    handler(make_request(body, headers))

    [event] = stored_events(context)
    assert event.source == "shopify"
    assert event.store == SHOP
    assert event.order_id == "6120459210842"
    assert event.order_name == "#1042"
    assert event.dedupe_key == f"shopify:{SHOP}:6120459210842:confirmed"
    assert event.occurred_at == datetime(2026, 11, 16, 15, 15, 24, 318000, UTC)
    assert event.customer.first_name == "Avery"
    assert event.customer.phone == "+14155550123"
    assert event.fields["Order Total"] == "116.63 USD"


def test_header_spelling_without_x_prefix(
    handler: Handler, context: PluginContext
) -> None:
    body, headers = load_fixture("orders_create")
    events_headers = {key.removeprefix("X-"): value for key, value in headers.items()}

    response = handler(make_request(body, events_headers))

    assert response.status == 200
    assert context.store.counts()["events"] == 1


# Signature over the raw bytes


@pytest.fixture
def raw_case(make_context: ContextFactory) -> tuple[Handler, PluginContext]:
    context = make_context(shops=[{"domain": SHOP, "client_secret": RAW_CASE_SECRET}])
    return route_of(context).handler, context


def raw_case_headers(signature: str | None) -> dict[str, str]:
    headers = signed_headers(RAW_CASE_BODY, "orders/create", "raw-case-1")
    del headers["X-Shopify-Hmac-Sha256"]
    if signature is not None:
        headers["X-Shopify-Hmac-Sha256"] = signature
    return headers


def test_raw_bytes_as_sent_accepted(raw_case: tuple[Handler, PluginContext]) -> None:
    handler, context = raw_case
    headers = raw_case_headers(sign(RAW_CASE_BODY, RAW_CASE_SECRET))

    response = handler(make_request(RAW_CASE_BODY, headers))

    assert response.status == 200
    [event] = stored_events(context)
    assert event.order_name == "#1001"
    assert event.customer.first_name == "José"


def test_raw_bytes_reencoded_rejected(raw_case: tuple[Handler, PluginContext]) -> None:
    handler, context = raw_case
    headers = raw_case_headers(sign(RAW_CASE_BODY, RAW_CASE_SECRET))
    reencoded = json.dumps(json.loads(RAW_CASE_BODY), ensure_ascii=False).encode()
    assert reencoded != RAW_CASE_BODY

    with pytest.raises(SignatureError) as caught:
        handler(make_request(reencoded, headers))

    assert caught.value.status == 401
    assert_nothing_stored(context)


def test_raw_bytes_hex_signature_rejected(
    raw_case: tuple[Handler, PluginContext],
) -> None:
    handler, context = raw_case
    digest = hmac.new(
        RAW_CASE_SECRET.encode(), RAW_CASE_BODY, hashlib.sha256
    ).hexdigest()

    with pytest.raises(SignatureError) as caught:
        handler(make_request(RAW_CASE_BODY, raw_case_headers(digest)))

    assert caught.value.status == 401
    assert "hex" in caught.value.reason
    assert_nothing_stored(context)


def test_raw_bytes_missing_signature_rejected(
    raw_case: tuple[Handler, PluginContext],
) -> None:
    handler, context = raw_case

    with pytest.raises(SignatureError) as caught:
        handler(make_request(RAW_CASE_BODY, raw_case_headers(None)))

    assert caught.value.status == 401
    assert "X-Shopify-Hmac-Sha256" in caught.value.reason
    assert_nothing_stored(context)


# Tampered bodies and wrong secrets


def flip_byte(body: bytes) -> bytes:
    index = body.index(b"Avery")
    return body[:index] + b"B" + body[index + 1 :]


@pytest.mark.parametrize(
    "tamper",
    [flip_byte, lambda body: body + b"\n"],
    ids=["flipped_byte", "trailing_newline"],
)
def test_tampered_body_rejected(
    tamper: Callable[[bytes], bytes], handler: Handler, context: PluginContext
) -> None:
    body, headers = load_fixture("orders_create")

    with pytest.raises(SignatureError) as caught:
        handler(make_request(tamper(body), headers))

    assert caught.value.status == 401
    assert_nothing_stored(context)


def test_wrong_secret_rejected(handler: Handler, context: PluginContext) -> None:
    body, headers = load_fixture("orders_create")
    headers["X-Shopify-Hmac-Sha256"] = sign(body, "not_the_client_secret")

    with pytest.raises(SignatureError) as caught:
        handler(make_request(body, headers))

    assert caught.value.status == 401
    assert SECRET not in caught.value.reason
    assert_nothing_stored(context)


def test_previous_secret_accepted(make_context: ContextFactory) -> None:
    shops = [
        {
            "domain": SHOP,
            "client_secret": "new_client_secret_after_rotation",
            "previous_client_secret": SECRET,
        }
    ]
    context = make_context(shops=shops)
    body, headers = load_fixture("orders_create")

    response = route_of(context).handler(make_request(body, headers))

    assert response.status == 200
    assert context.store.counts()["events"] == 1


def test_current_secret_accepted_during_rotation(make_context: ContextFactory) -> None:
    shops = [
        {
            "domain": SHOP,
            "client_secret": SECRET,
            "previous_client_secret": "old_client_secret_before_rotation",
        }
    ]
    context = make_context(shops=shops)
    body, headers = load_fixture("orders_create")

    response = route_of(context).handler(make_request(body, headers))

    assert response.status == 200


def test_unknown_secret_rejected_during_rotation(make_context: ContextFactory) -> None:
    shops = [
        {
            "domain": SHOP,
            "client_secret": "new_client_secret_after_rotation",
            "previous_client_secret": "old_client_secret_before_rotation",
        }
    ]
    context = make_context(shops=shops)
    body, headers = load_fixture("orders_create")

    with pytest.raises(SignatureError) as caught:
        route_of(context).handler(make_request(body, headers))

    assert caught.value.status == 401
    assert "rotation" not in caught.value.reason
    assert_nothing_stored(context)


def test_unknown_shop_rejected(handler: Handler, context: PluginContext) -> None:
    body, headers = load_fixture("orders_create")
    headers["X-Shopify-Shop-Domain"] = "another-shop.myshopify.com"

    with pytest.raises(SignatureError) as caught:
        handler(make_request(body, headers))

    assert caught.value.status == 401
    assert "another-shop.myshopify.com" in caught.value.reason
    assert_nothing_stored(context)


def test_missing_shop_domain_rejected(handler: Handler, context: PluginContext) -> None:
    body, headers = load_fixture("orders_create")
    del headers["X-Shopify-Shop-Domain"]

    with pytest.raises(SignatureError) as caught:
        handler(make_request(body, headers))

    assert caught.value.status == 401
    assert_nothing_stored(context)


def test_shop_domain_header_any_case(handler: Handler, context: PluginContext) -> None:
    body, headers = load_fixture("orders_create")
    headers["X-Shopify-Shop-Domain"] = SHOP.upper()

    response = handler(make_request(body, headers))

    assert response.status == 200


def test_second_shop_uses_own_secret(make_context: ContextFactory) -> None:
    shops = [
        {"domain": SHOP, "client_secret": SECRET},
        {"domain": "second-shop.myshopify.com", "client_secret": "second_secret"},
    ]
    context = make_context(shops=shops)
    handler = route_of(context).handler
    body = compact(order_1001())
    headers = signed_headers(
        body, "orders/create", "w-2", shop="second-shop.myshopify.com", secret=SECRET
    )

    with pytest.raises(SignatureError):
        handler(make_request(body, headers))

    headers["X-Shopify-Hmac-Sha256"] = sign(body, "second_secret")
    assert handler(make_request(body, headers)).status == 200
    [event] = stored_events(context)
    assert event.store == "second-shop.myshopify.com"


# Malformed deliveries


def test_unknown_topic_rejected(handler: Handler, context: PluginContext) -> None:
    body = compact(order_1001())
    headers = signed_headers(body, "products/update", "w-topic")

    with pytest.raises(WebhookRejected) as caught:
        handler(make_request(body, headers))

    assert caught.value.status == 400
    assert "products/update" in caught.value.reason
    assert "orders/fulfilled" in caught.value.reason
    assert_nothing_stored(context)


def test_invalid_json_rejected(handler: Handler, context: PluginContext) -> None:
    body = b'{"id": 1001, "name": '
    headers = signed_headers(body, "orders/create", "w-json")

    with pytest.raises(WebhookRejected) as caught:
        handler(make_request(body, headers))

    assert caught.value.status == 400
    assert "JSON" in caught.value.reason
    assert_nothing_stored(context)


def test_json_array_rejected(handler: Handler, context: PluginContext) -> None:
    body = b"[1001]"
    headers = signed_headers(body, "orders/create", "w-array")

    with pytest.raises(WebhookRejected) as caught:
        handler(make_request(body, headers))

    assert caught.value.status == 400
    assert_nothing_stored(context)


def test_missing_order_id_rejected(handler: Handler, context: PluginContext) -> None:
    fulfillment = {"id": 9001, "status": "success"}

    with pytest.raises(WebhookRejected) as caught:
        deliver(handler, fulfillment, "fulfillments/create", "w-no-order")

    assert caught.value.status == 400
    assert "order_id" in caught.value.reason
    assert_nothing_stored(context)


@pytest.mark.parametrize("header", ["X-Shopify-Webhook-Id", "X-Shopify-Topic"])
def test_missing_header_rejected(
    header: str, handler: Handler, context: PluginContext
) -> None:
    body, headers = load_fixture("orders_create")
    del headers[header]

    with pytest.raises(WebhookRejected) as caught:
        handler(make_request(body, headers))

    assert caught.value.status == 400
    assert header in caught.value.reason
    assert_nothing_stored(context)


def test_overlong_webhook_id_rejected(handler: Handler, context: PluginContext) -> None:
    body, headers = load_fixture("orders_create")
    headers["X-Shopify-Webhook-Id"] = "w" * 201

    with pytest.raises(WebhookRejected) as caught:
        handler(make_request(body, headers))

    assert caught.value.status == 400
    assert "longer than 200" in caught.value.reason
    assert_nothing_stored(context)


# Duplicates


def test_repeated_delivery_stores_one_event(
    handler: Handler, context: PluginContext
) -> None:
    order = order_1001()
    responses: list[WebhookResponse] = []

    def send() -> None:
        responses.append(deliver(handler, order, "orders/updated", "dup-1"))

    send()
    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert [response.status for response in responses] == [200, 200, 200]
    assert responses[0].body == {"status": "accepted", "events": 1}
    assert responses[1].body == {"status": "duplicate", "events": 0}
    assert responses[2].body == {"status": "duplicate", "events": 0}
    counts = context.store.counts()
    assert counts["events"] == 1
    assert counts["webhook_deliveries"] == 1

    tag_edit = order_1001(tags="vip", updated_at="2026-11-17T10:05:00-05:00")
    fourth = deliver(handler, tag_edit, "orders/updated", "dup-2")

    assert fourth.status == 200
    assert fourth.body == {"status": "accepted", "events": 0}
    counts = context.store.counts()
    assert counts["events"] == 1
    assert counts["webhook_deliveries"] == 2
    [event] = stored_events(context)
    assert event.status is OrderStatus.SHIPPED
    assert event.customer.first_name == "Ana"
    assert event.order_name == "#1001"


def test_fulfilled_after_fulfillment_create_is_same_event(
    handler: Handler, context: PluginContext
) -> None:
    for name in ("fulfillments_create", "orders_fulfilled"):
        body, headers = load_fixture(name)
        handler(make_request(body, headers))

    assert context.store.counts()["events"] == 1


def test_partial_fulfillment_is_own_event(
    handler: Handler, context: PluginContext
) -> None:
    first = order_1001(fulfillment_status="partial")
    second_shipment = dict(first["fulfillments"][0], id=9002, name="#1001.2")
    second_shipment["tracking_number"] = "9400100000000000000002"
    both = order_1001(fulfillments=[first["fulfillments"][0], second_shipment])

    partial = deliver(handler, first, "orders/partially_fulfilled", "p-1")
    fulfilled = deliver(handler, both, "orders/fulfilled", "p-2")

    assert partial.body == {"status": "accepted", "events": 1}
    assert fulfilled.body == {"status": "accepted", "events": 1}
    keys = [event.dedupe_key for event in stored_events(context)]
    assert keys == [
        f"shopify:{SHOP}:1001:shipped:9001",
        f"shopify:{SHOP}:1001:shipped:9002",
    ]


# Topics and settings


def test_confirmed_on_paid_skips_create(make_context: ContextFactory) -> None:
    context = make_context(confirmed_on="orders/paid")
    handler = route_of(context).handler

    created = deliver(handler, order_1001(fulfillments=[]), "orders/create", "c-1")
    paid = deliver(handler, order_1001(fulfillments=[]), "orders/paid", "c-2")

    assert created.status == 200
    assert created.body == {"status": "accepted", "events": 0}
    assert paid.body == {"status": "accepted", "events": 1}
    [event] = stored_events(context)
    assert event.status is OrderStatus.CONFIRMED


def test_orders_paid_ignored_by_default(
    handler: Handler, context: PluginContext
) -> None:
    response = deliver(handler, order_1001(fulfillments=[]), "orders/paid", "c-3")

    assert response.status == 200
    assert response.body == {"status": "accepted", "events": 0}
    assert context.store.counts()["webhook_deliveries"] == 1


def test_cancelled_fixture_fields(handler: Handler, context: PluginContext) -> None:
    body, headers = load_fixture("orders_cancelled")

    handler(make_request(body, headers))

    [event] = stored_events(context)
    assert event.status is OrderStatus.CANCELLED
    assert event.order_name == "#1043"
    assert event.dedupe_key == f"shopify:{SHOP}:6120461537370:cancelled"
    assert event.fields["Cancel Reason"] == "Customer request"
    assert event.fields["Refund Amount"] == ""
    assert event.customer.first_name == "Jordan"
    assert event.customer.phone == "+14155550147"


def test_cancelled_update_matches_cancelled_topic(
    handler: Handler, context: PluginContext
) -> None:
    cancelled = order_1001(
        fulfillments=[],
        cancelled_at="2026-11-17T11:00:00-05:00",
        cancel_reason="inventory",
    )

    deliver(handler, cancelled, "orders/updated", "x-1")
    second = deliver(handler, cancelled, "orders/cancelled", "x-2")

    assert second.body == {"status": "accepted", "events": 0}
    [event] = stored_events(context)
    assert event.status is OrderStatus.CANCELLED
    assert event.fields["Cancel Reason"] == "Items unavailable"


def test_refund_uses_remembered_order(handler: Handler, context: PluginContext) -> None:
    refund = {
        "id": 8801,
        "order_id": 1001,
        "created_at": "2026-11-18T12:00:00-05:00",
        "transactions": [
            {
                "kind": "refund",
                "status": "success",
                "amount": "12.50",
                "currency": "USD",
            }
        ],
    }

    deliver(handler, order_1001(), "orders/create", "r-1")
    deliver(handler, refund, "refunds/create", "r-2")

    refunded = stored_events(context)[-1]
    assert refunded.status is OrderStatus.REFUNDED
    assert refunded.dedupe_key == f"shopify:{SHOP}:1001:refunded:8801"
    assert refunded.fields["Refund Amount"] == "12.50 USD"
    assert refunded.order_name == "#1001"
    assert refunded.customer.phone == "+14155550127"


# Fulfillment bodies and the remembered customer


def fulfillment_without_customer() -> dict[str, Any]:
    body, _headers = load_fixture("fulfillments_create")
    fulfillment = json.loads(body)
    del fulfillment["email"]
    del fulfillment["destination"]
    return fulfillment


def test_fulfillment_resolves_remembered_customer(
    handler: Handler, context: PluginContext
) -> None:
    body, headers = load_fixture("orders_create")
    handler(make_request(body, headers))

    deliver(handler, fulfillment_without_customer(), "fulfillments/create", "f-1")

    shipped = stored_events(context)[-1]
    assert shipped.status is OrderStatus.SHIPPED
    assert shipped.order_name == "#1042"
    assert shipped.customer.external_id == "7410238472295"
    assert shipped.customer.first_name == "Avery"
    assert shipped.customer.last_name == "Quinlan"
    assert shipped.customer.email == "avery.quinlan@example.com"
    assert shipped.customer.phone == "+14155550123"
    assert shipped.fields["Order Status URL"].startswith("https://harbor-and-pine")
    assert shipped.fields["Order Total"] == "116.63 USD"
    assert shipped.fields["Tracking Number"] == "1Z999AA10123456784"


def test_fulfillment_with_unknown_order_still_emitted(
    handler: Handler, context: PluginContext
) -> None:
    response = deliver(
        handler, fulfillment_without_customer(), "fulfillments/create", "f-2"
    )

    assert response.body == {"status": "accepted", "events": 1}
    [event] = stored_events(context)
    assert event.order_name == "#1042"
    assert event.customer.first_name is None
    assert event.customer.phone is None
    assert event.customer.addresses == ()


def test_fulfillment_body_customer_used(
    handler: Handler, context: PluginContext
) -> None:
    body, headers = load_fixture("fulfillments_create")

    handler(make_request(body, headers))

    [event] = stored_events(context)
    assert event.customer.first_name == "Avery"
    assert event.customer.email == "avery.quinlan@example.com"
    assert event.customer.phone == "+14155550123"


def test_cancelled_fulfillment_stores_nothing_new(
    handler: Handler, context: PluginContext
) -> None:
    fulfillment = fulfillment_without_customer()
    fulfillment["status"] = "cancelled"

    response = deliver(handler, fulfillment, "fulfillments/update", "f-3")

    assert response.status == 200
    assert response.body == {"status": "accepted", "events": 0}
    assert context.store.counts()["events"] == 0


def test_delivered_update_adds_delivered_event(
    handler: Handler, context: PluginContext
) -> None:
    body, headers = load_fixture("fulfillments_create")
    handler(make_request(body, headers))
    delivered = fulfillment_without_customer()
    delivered["shipment_status"] = "delivered"

    response = deliver(handler, delivered, "fulfillments/update", "f-4")

    assert response.body == {"status": "accepted", "events": 1}
    keys = [event.dedupe_key for event in stored_events(context)]
    assert keys == [
        f"shopify:{SHOP}:6120459210842:shipped:5398021177434",
        f"shopify:{SHOP}:6120459210842:delivered:5398021177434",
    ]


def test_redacted_order_keeps_remembered_customer(
    handler: Handler, context: PluginContext
) -> None:
    deliver(handler, order_1001(fulfillments=[]), "orders/create", "d-1")
    redacted = copy.deepcopy(order_1001())
    redacted.update(customer=None, email=None, updated_at="2026-11-17T12:00:00-05:00")

    deliver(handler, redacted, "orders/fulfilled", "d-2")

    shipped = stored_events(context)[-1]
    assert shipped.status is OrderStatus.SHIPPED
    assert shipped.customer.first_name == "Ana"
    assert shipped.customer.phone == "+14155550127"


def test_null_customer_data_accepted(handler: Handler, context: PluginContext) -> None:
    order = order_1001(
        customer=None,
        email=None,
        phone=None,
        shipping_address=None,
        billing_address=None,
        fulfillments=None,
    )

    response = deliver(handler, order, "orders/create", "n-1")

    assert response.status == 200
    [event] = stored_events(context)
    assert event.customer.source == "shopify"
    assert event.customer.first_name is None
    assert event.customer.addresses == ()


def test_parallel_first_deliveries_all_accepted(
    handler: Handler, context: PluginContext
) -> None:
    order = order_1001()
    barrier = threading.Barrier(3)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def send() -> None:
        barrier.wait(timeout=10)
        try:
            statuses.append(deliver(handler, order, "orders/updated", "race-1").status)
        except Exception as err:  # noqa: BLE001 - the assertion below reports it
            errors.append(err)

    threads = [threading.Thread(target=send) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert statuses == [200, 200, 200]
    assert context.store.counts()["events"] == 1


def test_parallel_topics_of_new_order_accepted(
    handler: Handler, context: PluginContext
) -> None:
    order = order_1001()
    topics = ["orders/create", "orders/paid", "orders/fulfilled"]
    barrier = threading.Barrier(len(topics))
    statuses: list[int] = []
    errors: list[BaseException] = []

    def send(topic: str) -> None:
        barrier.wait(timeout=10)
        try:
            statuses.append(deliver(handler, order, topic, f"topic-{topic}").status)
        except Exception as err:  # noqa: BLE001 - the assertion below reports it
            errors.append(err)

    threads = [threading.Thread(target=send, args=(topic,)) for topic in topics]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert statuses == [200, 200, 200]
    assert context.store.counts()["events"] == 2


# Phone numbers in the shop's country


def test_shop_country_reads_national_phone(make_context: ContextFactory) -> None:
    context = make_context([{"domain": SHOP, "client_secret": SECRET, "country": "GB"}])
    order = order_1001(
        customer={"id": 7001, "first_name": "Ana", "phone": "07700 900123"}
    )

    deliver(route_of(context).handler, order, "orders/create", "gb-1")

    [event] = stored_events(context)
    assert event.customer.phone == "+447700900123"


def test_default_region_used_without_country(
    handler: Handler, context: PluginContext
) -> None:
    order = order_1001(customer={"id": 7001, "phone": "(415) 555-0127"})

    deliver(handler, order, "orders/create", "us-1")

    [event] = stored_events(context)
    assert event.customer.phone == "+14155550127"


# Refunds


def test_second_partial_refund_is_own_event(
    handler: Handler, context: PluginContext
) -> None:
    def refund(refund_id: int, amount: str) -> dict[str, Any]:
        transaction = {
            "kind": "refund",
            "status": "success",
            "amount": amount,
            "currency": "USD",
        }
        return {"id": refund_id, "order_id": 1001, "transactions": [transaction]}

    deliver(handler, order_1001(), "orders/create", "p-1")
    first = deliver(handler, refund(8801, "5.00"), "refunds/create", "p-2")
    second = deliver(handler, refund(8802, "7.50"), "refunds/create", "p-3")

    assert first.body == {"status": "accepted", "events": 1}
    assert second.body == {"status": "accepted", "events": 1}
    amounts = [
        event.fields["Refund Amount"]
        for event in stored_events(context)
        if event.status is OrderStatus.REFUNDED
    ]
    assert amounts == ["5.00 USD", "7.50 USD"]


def test_refund_without_id_rejected(handler: Handler, context: PluginContext) -> None:
    with pytest.raises(WebhookRejected) as caught:
        deliver(
            handler, {"order_id": 1001, "transactions": []}, "refunds/create", "p-4"
        )

    assert caught.value.status == 400
    assert "refund has no id" in caught.value.reason
    assert_nothing_stored(context)
