"""Customer details from Shopify order and fulfillment bodies.

Without approval for protected customer data, Shopify sends ``customer``,
``email``, names, phone numbers and addresses as null or leaves them out,
so every value here is optional and a missing one is never an error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from parley import (
    AddressKind,
    ChannelAddress,
    ContactRecord,
    normalize_email,
    normalize_phone,
)
from parley_shopify.const import PLUGIN_ID
from parley_shopify.values import as_dict, as_text, parse_timestamp


@dataclass(frozen=True)
class OrderSummary:
    """The order details that fulfillment and refund bodies lack.

    Order bodies carry them, so the webhook handler keeps the latest summary
    of each order in the plugin state and uses it for later deliveries of
    the same order.

    Attributes:
        order_name: the order name shown to the customer (``#1042``), or ``""``.
        external_id: the Shopify customer id.
        first_name: the customer's given name.
        last_name: the customer's family name.
        email: email address in lower case.
        phone: phone number in E.164.
        order_status_url: the customer's order status page.
        order_total: the total as a person reads it (``116.63 USD``).
        updated_at: the order's ``updated_at``, ISO 8601, to tell an old
            summary from a newer one.
    """

    order_name: str = ""
    external_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    order_status_url: str | None = None
    order_total: str | None = None
    updated_at: str | None = None

    def contact(self) -> ContactRecord:
        """Return the customer as a contact record with its channel addresses."""
        addresses: list[ChannelAddress] = []
        if self.phone:
            addresses.append(ChannelAddress(AddressKind.PHONE, self.phone))
        if self.email:
            addresses.append(ChannelAddress(AddressKind.EMAIL, self.email))

        return ContactRecord(
            source=PLUGIN_ID,
            external_id=self.external_id,
            first_name=self.first_name,
            last_name=self.last_name,
            email=self.email,
            phone=self.phone,
            addresses=tuple(addresses),
        )

    def completed_from(self, other: OrderSummary | None) -> OrderSummary:
        """Return this summary with its empty values taken from ``other``."""
        if other is None:
            return self

        missing = {
            item.name: getattr(other, item.name)
            for item in fields(self)
            if not getattr(self, item.name)
        }
        return replace(self, **missing)

    def merged_with(self, stored: OrderSummary | None) -> OrderSummary:
        """Merge with a stored summary; the one with the later ``updated_at`` wins.

        Values the winner lacks, for example because of protected-data
        redaction, are kept from the other summary.
        """
        if stored is None:
            return self
        if _is_older(self.updated_at, stored.updated_at):
            return stored.completed_from(self)
        return self.completed_from(stored)

    def to_json(self) -> str:
        """Return the summary as compact JSON for the plugin state."""
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> OrderSummary | None:
        """Rebuild a summary from :meth:`to_json` output; None when it is invalid."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return None
        if not isinstance(data, dict):
            return None

        known = {item.name for item in fields(cls)}
        values = {
            key: value
            for key, value in data.items()
            if key in known and isinstance(value, str)
        }
        return cls(**values)


def summarize_order(
    order: Mapping[str, Any], order_total: str | None, default_region: str
) -> OrderSummary:
    """Collect an Order body's customer details.

    Args:
        order: the REST Order resource.
        order_total: the order's total, already formatted.
        default_region: ISO country code for phone numbers written without
            a country code and without an address country.
    """
    customer = as_dict(order.get("customer"))
    first_name, last_name = _names(
        customer,
        as_dict(order.get("billing_address")),
        as_dict(order.get("shipping_address")),
    )

    return OrderSummary(
        order_name=_order_name(order),
        external_id=as_text(customer.get("id")),
        first_name=first_name,
        last_name=last_name,
        email=_first_email(
            [customer.get("email"), order.get("email"), order.get("contact_email")]
        ),
        phone=order_phone(order, default_region),
        order_status_url=as_text(order.get("order_status_url")),
        order_total=order_total,
        updated_at=as_text(order.get("updated_at")),
    )


def summarize_fulfillment(
    fulfillment: Mapping[str, Any], default_region: str
) -> OrderSummary:
    """Collect the customer details that a Fulfillment body contains.

    Shopify's sample fulfillment bodies carry ``email`` and ``destination``
    (the shipping address), but the documented resource does not promise
    them, so the result is often empty.

    Args:
        fulfillment: the REST Fulfillment resource.
        default_region: ISO country code for phone numbers written without
            a country code.
    """
    destination = as_dict(fulfillment.get("destination"))
    first_name, last_name = _names(destination)

    return OrderSummary(
        order_name=_order_name_of_fulfillment(fulfillment),
        first_name=first_name,
        last_name=last_name,
        email=_first_email([fulfillment.get("email")]),
        phone=_address_phone(destination, default_region),
    )


def order_phone(order: Mapping[str, Any], default_region: str) -> str | None:
    """Return the order's best phone number in E.164, or None.

    See :func:`order_phone_source` for the order in which fields are tried.
    """
    found = order_phone_source(order, default_region)
    return found[0] if found else None


def order_phone_source(
    order: Mapping[str, Any], default_region: str
) -> tuple[str, str] | None:
    """Return the order's best phone number in E.164 and the field it came from.

    The customer's phone comes first, then the order's own phone, then the
    shipping and billing address phones, which are often the only number a
    guest gives. A value that is not a possible number is skipped.

    Args:
        order: the REST Order resource.
        default_region: ISO country code for the customer and order phones;
            an address phone is read in the address's own country first.

    Returns:
        The number and a label such as ``"shipping address phone"``, or None
        when the order has no usable phone number.
    """
    customer = as_dict(order.get("customer"))
    candidates = (
        (customer.get("phone"), "customer phone"),
        (order.get("phone"), "order phone"),
    )
    for raw, label in candidates:
        phone = normalize_phone(as_text(raw), default_region)
        if phone is not None:
            return phone, label

    for key in ("shipping_address", "billing_address"):
        phone = _address_phone(as_dict(order.get(key)), default_region)
        if phone is not None:
            return phone, key.replace("_", " ") + " phone"
    return None


def _address_phone(address: Mapping[str, Any], default_region: str) -> str | None:
    # A national-format number is read in the address's own country.
    region = as_text(address.get("country_code")) or default_region
    return normalize_phone(as_text(address.get("phone")), region.upper())


def _names(*sources: Mapping[str, Any]) -> tuple[str | None, str | None]:
    # Both names come from the same source, so that the buyer's first name is
    # not paired with a gift recipient's last name.
    for source in sources:
        first_name = as_text(source.get("first_name"))
        last_name = as_text(source.get("last_name"))
        if first_name or last_name:
            return first_name, last_name
    return None, None


def _first_email(candidates: Sequence[Any]) -> str | None:
    for raw in candidates:
        email = normalize_email(as_text(raw))
        if email is not None:
            return email
    return None


def _order_name(order: Mapping[str, Any]) -> str:
    name = as_text(order.get("name"))
    if name:
        return name

    number = as_text(order.get("order_number"))
    return f"#{number}" if number else ""


def _order_name_of_fulfillment(fulfillment: Mapping[str, Any]) -> str:
    # Shopify names fulfillments after their order plus a counter: "#1042.1".
    name = as_text(fulfillment.get("name"))
    if not name or "." not in name:
        return ""
    return name.rsplit(".", 1)[0]


def _is_older(updated_at: str | None, other_updated_at: str | None) -> bool:
    mine = parse_timestamp(updated_at)
    other = parse_timestamp(other_updated_at)
    if mine is None or other is None:
        return mine is None and other is not None
    return mine < other
