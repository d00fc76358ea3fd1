"""HMAC verification of webhook deliveries, without a store."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from shopify_support import FIXTURE_NAMES, SECRET, SHOP, load_fixture, sign

from parley import Headers, SignatureError
from parley_shopify.settings import ShopifySettings
from parley_shopify.signature import (
    compute_signature,
    match_secret,
    read_header,
    verify_delivery,
)

SETTINGS = ShopifySettings(shops=[{"domain": SHOP, "client_secret": SECRET}])


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_compute_signature_matches_fixture(name: str) -> None:
    body, headers = load_fixture(name)

    assert compute_signature(SECRET, body) == headers["X-Shopify-Hmac-Sha256"]


def test_read_header_prefers_webhook_spelling() -> None:
    headers = Headers({"x-shopify-topic": "orders/create", "Shopify-Topic": "other"})

    assert read_header(headers, "X-Shopify-Topic") == "orders/create"


def test_read_header_events_spelling() -> None:
    headers = Headers({"Shopify-Webhook-Id": " abc "})

    assert read_header(headers, "X-Shopify-Webhook-Id") == "abc"


def test_read_header_blank_is_missing() -> None:
    headers = Headers({"X-Shopify-Topic": "  "})

    assert read_header(headers, "X-Shopify-Topic") is None


def test_match_secret_returns_index() -> None:
    body = b'{"id":1}'
    secrets = [SecretStr("current"), SecretStr("previous")]

    assert match_secret(body, sign(body, "current"), secrets) == 0
    assert match_secret(body, sign(body, "previous"), secrets) == 1
    assert match_secret(body, sign(body, "other"), secrets) is None


def test_match_secret_skips_missing_previous() -> None:
    body = b'{"id":1}'

    assert match_secret(body, sign(body, "current"), [SecretStr("current"), None]) == 0


def test_match_secret_non_ascii_header() -> None:
    assert match_secret(b"{}", "é" * 44, [SecretStr("current")]) is None


def test_verify_returns_shop() -> None:
    body, headers = load_fixture("orders_fulfilled")

    shop = verify_delivery(Headers(headers), body, SETTINGS)

    assert shop.domain == SHOP


def test_verify_base64_without_padding_rejected() -> None:
    body, headers = load_fixture("orders_create")
    headers["X-Shopify-Hmac-Sha256"] = headers["X-Shopify-Hmac-Sha256"].rstrip("=")

    with pytest.raises(SignatureError):
        verify_delivery(Headers(headers), body, SETTINGS)


def test_verify_invalid_shop_domain_not_echoed() -> None:
    body, headers = load_fixture("orders_create")
    headers["X-Shopify-Shop-Domain"] = "<script>.example.com"

    with pytest.raises(SignatureError) as caught:
        verify_delivery(Headers(headers), body, SETTINGS)

    assert caught.value.status == 401
    assert "<script>" not in caught.value.reason


@pytest.mark.parametrize(
    "change",
    ["missing_header", "wrong_secret", "hex", "unknown_shop", "missing_shop"],
)
def test_rejection_reason_has_no_secret(change: str) -> None:
    body, headers = load_fixture("orders_create")
    if change == "missing_header":
        del headers["X-Shopify-Hmac-Sha256"]
    elif change == "wrong_secret":
        headers["X-Shopify-Hmac-Sha256"] = sign(body, "wrong")
    elif change == "hex":
        headers["X-Shopify-Hmac-Sha256"] = "ab" * 32
    elif change == "unknown_shop":
        headers["X-Shopify-Shop-Domain"] = "other.myshopify.com"
    else:
        del headers["X-Shopify-Shop-Domain"]

    with pytest.raises(SignatureError) as caught:
        verify_delivery(Headers(headers), body, SETTINGS)

    assert caught.value.status == 401
    assert SECRET not in caught.value.reason
    assert SECRET not in str(caught.value)
