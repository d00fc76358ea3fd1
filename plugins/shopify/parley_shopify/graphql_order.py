"""Admin GraphQL order nodes rewritten in the REST shape that webhooks use.

The poller hands the result to the same mapping as the webhook handler, so
a change read by a poll becomes the same event, with the same dedupe key,
as the webhook that reports it. The rewrite covers what the mapping reads:

- global ids (``gid://shopify/Fulfillment/5398021177434``) become the
  numeric ids of REST bodies (``"5398021177434"``);
- enum values (``SUCCESS``, ``CUSTOMER``, ``OUT_FOR_DELIVERY``) become the
  lower-case REST values;
- ``Fulfillment.displayStatus`` is used as REST's ``shipment_status``;
- a refund's ``totalRefundedSet`` becomes one refund transaction, because
  reading each transaction would multiply the query's cost.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from parley_shopify.values import (
    as_dict,
    as_list,
    as_text,
    parse_amount,
    with_minor_units,
)

_GLOBAL_ID = re.compile(r"gid://shopify/[A-Za-z]+/(\d+)(\?.*)?")


def numeric_id(value: Any) -> str | None:
    """Return the numeric id inside a Shopify global id, or None.

    ``gid://shopify/Order/6120459210842`` gives ``"6120459210842"``. A value
    that is already numeric is returned as text.
    """
    text = as_text(value)
    if text is None:
        return None
    if text.isdigit():
        return text

    match = _GLOBAL_ID.fullmatch(text)
    return match.group(1) if match else None


def rest_order(node: Mapping[str, Any]) -> dict[str, Any]:
    """Rewrite an ``Order`` node of the orders query as a REST Order body."""
    order_id = numeric_id(node.get("id"))
    customer = as_dict(node.get("customer"))

    return {
        "id": order_id,
        "name": node.get("name"),
        "email": node.get("email"),
        "phone": node.get("phone"),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "cancelled_at": node.get("cancelledAt"),
        "cancel_reason": _lower(node.get("cancelReason")),
        "financial_status": _lower(node.get("displayFinancialStatus")),
        "order_status_url": node.get("statusPageUrl"),
        "total_price_set": {"presentment_money": _money(node.get("totalPriceSet"))},
        "customer": _customer(customer) if customer else None,
        "shipping_address": _address(node.get("shippingAddress")),
        "billing_address": _address(node.get("billingAddress")),
        "fulfillments": [
            _fulfillment(as_dict(item), order_id)
            for item in as_list(node.get("fulfillments"))
        ],
        "refunds": [
            _refund(as_dict(item), order_id) for item in as_list(node.get("refunds"))
        ],
    }


def _customer(customer: Mapping[str, Any]) -> dict[str, Any]:
    phone = as_dict(customer.get("defaultPhoneNumber"))
    email = as_dict(customer.get("defaultEmailAddress"))
    consent = None
    if phone:
        consent = {
            "state": _lower(phone.get("marketingState")),
            "opt_in_level": _lower(phone.get("marketingOptInLevel")),
            "consent_updated_at": phone.get("marketingUpdatedAt"),
            "consent_collected_from": phone.get("marketingCollectedFrom"),
        }

    return {
        "id": numeric_id(customer.get("id")),
        "first_name": customer.get("firstName"),
        "last_name": customer.get("lastName"),
        "email": email.get("emailAddress"),
        "phone": phone.get("phoneNumber"),
        "sms_marketing_consent": consent,
    }


def _address(value: Any) -> dict[str, Any] | None:
    address = as_dict(value)
    if not address:
        return None
    return {
        "first_name": address.get("firstName"),
        "last_name": address.get("lastName"),
        "phone": address.get("phone"),
        "country_code": address.get("countryCodeV2"),
    }


def _fulfillment(
    fulfillment: Mapping[str, Any], order_id: str | None
) -> dict[str, Any]:
    tracking = [as_dict(item) for item in as_list(fulfillment.get("trackingInfo"))]
    numbers = [as_text(item.get("number")) for item in tracking]
    urls = [as_text(item.get("url")) for item in tracking]
    companies = [as_text(item.get("company")) for item in tracking]

    return {
        "id": numeric_id(fulfillment.get("id")),
        "order_id": order_id,
        "status": _lower(fulfillment.get("status")),
        "shipment_status": _lower(fulfillment.get("displayStatus")),
        "created_at": fulfillment.get("createdAt"),
        "updated_at": fulfillment.get("updatedAt"),
        "delivered_at": fulfillment.get("deliveredAt"),
        "tracking_company": next((name for name in companies if name), None),
        "tracking_number": next((number for number in numbers if number), None),
        "tracking_numbers": [number for number in numbers if number],
        "tracking_url": next((url for url in urls if url), None),
        "tracking_urls": [url for url in urls if url],
    }


def _refund(refund: Mapping[str, Any], order_id: str | None) -> dict[str, Any]:
    money = _money(refund.get("totalRefundedSet"))
    transactions = []
    if money["amount"] is not None:
        transactions.append(
            {
                "kind": "refund",
                "status": "success",
                "amount": money["amount"],
                "currency": money["currency_code"],
            }
        )

    return {
        "id": numeric_id(refund.get("id")),
        "order_id": order_id,
        "created_at": refund.get("createdAt"),
        "transactions": transactions,
    }


def _money(money_bag: Any) -> dict[str, str | None]:
    """Read a MoneyBag's presentment money as REST's ``{amount, currency_code}``."""
    money = as_dict(as_dict(money_bag).get("presentmentMoney"))
    currency = as_text(money.get("currencyCode"))
    amount = parse_amount(money.get("amount"))
    if amount is None:
        return {"amount": None, "currency_code": currency}
    return {
        "amount": str(with_minor_units(amount, currency)),
        "currency_code": currency,
    }


def _lower(value: Any) -> str | None:
    text = as_text(value)
    return text.lower() if text else None
