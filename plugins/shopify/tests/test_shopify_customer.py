"""Customer details from order and fulfillment bodies."""

from __future__ import annotations

import json

import pytest
from shopify_support import load_fixture

from parley_shopify.customer import (
    OrderSummary,
    order_phone,
    order_phone_source,
    summarize_fulfillment,
    summarize_order,
)


def test_summarize_order_fixture() -> None:
    body, _headers = load_fixture("orders_create")

    summary = summarize_order(json.loads(body), "116.63 USD", "US")

    assert summary.order_name == "#1042"
    assert summary.external_id == "7410238472295"
    assert summary.first_name == "Avery"
    assert summary.last_name == "Quinlan"
    assert summary.email == "avery.quinlan@example.com"
    assert summary.phone == "+14155550123"
    assert summary.order_total == "116.63 USD"
    assert summary.updated_at == "2026-11-16T10:15:24-05:00"


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        (
            {"customer": {"phone": "(415) 555-0123"}, "phone": "+14155550147"},
            "+14155550123",
        ),
        ({"customer": {"phone": None}, "phone": "415-555-0147"}, "+14155550147"),
        (
            {"customer": None, "shipping_address": {"phone": "+1 415 555 0186"}},
            "+14155550186",
        ),
        (
            {
                "shipping_address": {"phone": None},
                "billing_address": {"phone": "4155550123"},
            },
            "+14155550123",
        ),
        ({"customer": {"phone": "not a number"}, "phone": "12"}, None),
        ({}, None),
    ],
    ids=["customer", "order", "shipping", "billing", "invalid", "none"],
)
def test_order_phone_fallbacks(order: dict[str, object], expected: str | None) -> None:
    assert order_phone(order, "US") == expected


def test_address_phone_uses_address_country() -> None:
    order = {"shipping_address": {"phone": "020 7946 0018", "country_code": "GB"}}

    assert order_phone(order, "US") == "+442079460018"


def test_names_from_billing_when_no_customer() -> None:
    order = {
        "customer": None,
        "billing_address": {"first_name": "Ana", "last_name": "Rivera"},
        "shipping_address": {"first_name": "Gift", "last_name": "Recipient"},
    }

    summary = summarize_order(order, None, "US")

    assert (summary.first_name, summary.last_name) == ("Ana", "Rivera")


def test_names_never_mixed_between_sources() -> None:
    order = {
        "customer": {"first_name": "Ana", "last_name": None},
        "billing_address": {"first_name": "Other", "last_name": "Person"},
    }

    summary = summarize_order(order, None, "US")

    assert (summary.first_name, summary.last_name) == ("Ana", None)


def test_email_fallbacks() -> None:
    order = {
        "customer": {"email": None},
        "email": "",
        "contact_email": "Ana@Example.com ",
    }

    assert summarize_order(order, None, "US").email == "ana@example.com"


def test_order_name_from_number() -> None:
    assert summarize_order({"order_number": 1042}, None, "US").order_name == "#1042"


def test_summarize_fulfillment_fixture() -> None:
    body, _headers = load_fixture("fulfillments_create")

    summary = summarize_fulfillment(json.loads(body), "US")

    assert summary.order_name == "#1042"
    assert summary.first_name == "Avery"
    assert summary.email == "avery.quinlan@example.com"
    assert summary.phone == "+14155550123"
    assert summary.external_id is None


def test_summarize_fulfillment_without_customer() -> None:
    summary = summarize_fulfillment({"id": 1, "order_id": 2, "destination": None}, "US")

    assert summary == OrderSummary()
    assert summary.contact().addresses == ()


def test_summary_json_round_trip() -> None:
    summary = OrderSummary(order_name="#1", first_name="José", phone="+14155550123")

    assert OrderSummary.from_json(summary.to_json()) == summary


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"order_name": 5}'])
def test_summary_from_invalid_json(text: str) -> None:
    summary = OrderSummary.from_json(text)

    assert summary is None or summary == OrderSummary()


def test_summary_from_json_ignores_unknown_keys() -> None:
    summary = OrderSummary.from_json('{"order_name": "#7", "loyalty": "gold"}')

    assert summary == OrderSummary(order_name="#7")


def test_merge_newer_wins_and_fills_gaps() -> None:
    older = OrderSummary(
        order_name="#1",
        first_name="Ana",
        phone="+14155550127",
        updated_at="2026-11-17T09:00:00-05:00",
    )
    newer = OrderSummary(
        order_name="#1",
        first_name="Anabel",
        phone=None,
        updated_at="2026-11-17T10:00:00-05:00",
    )

    assert newer.merged_with(older) == OrderSummary(
        order_name="#1",
        first_name="Anabel",
        phone="+14155550127",
        updated_at="2026-11-17T10:00:00-05:00",
    )
    assert older.merged_with(newer).first_name == "Anabel"


def test_merge_compares_instants_across_offsets() -> None:
    stored = OrderSummary(first_name="Later", updated_at="2026-11-17T15:30:00+00:00")
    incoming = OrderSummary(
        first_name="Earlier", updated_at="2026-11-17T10:00:00-05:00"
    )

    assert incoming.merged_with(stored).first_name == "Later"


def test_order_phone_in_shop_country() -> None:
    order = {"customer": {"phone": "07700 900123"}}

    assert order_phone(order, "GB") == "+447700900123"
    assert order_phone(order, "US") is None


def test_address_country_beats_shop_country() -> None:
    order = {"shipping_address": {"phone": "030 12345678", "country_code": "DE"}}

    assert order_phone(order, "GB") == "+493012345678"


@pytest.mark.parametrize(
    ("order", "label"),
    [
        ({"customer": {"phone": "+14155550123"}}, "customer phone"),
        ({"phone": "+14155550123"}, "order phone"),
        ({"shipping_address": {"phone": "+14155550123"}}, "shipping address phone"),
        ({"billing_address": {"phone": "+14155550123"}}, "billing address phone"),
    ],
)
def test_phone_source_named(order: dict[str, object], label: str) -> None:
    assert order_phone_source(order, "US") == ("+14155550123", label)
