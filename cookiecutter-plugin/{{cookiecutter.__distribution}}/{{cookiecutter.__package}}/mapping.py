{%- if cookiecutter.kind == "crm" -%}
"""{{ cookiecutter.__title }} contacts to parley records and template field values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from parley import AddressKind, ChannelAddress, Contact, ContactRecord

from {{ cookiecutter.__package }}.const import FIELD_PROPERTIES, PLUGIN_ID

# resolve_field receives names case-folded, with runs of spaces made one.
_PROPERTY_BY_FIELD = {
    " ".join(name.split()).casefold(): prop for name, prop in FIELD_PROPERTIES.items()
}


def contact_record(data: Mapping[str, Any]) -> ContactRecord:
    """Map a CRM contact to the record parley merges with other plugins' records."""
    # TODO: read the attributes your CRM's contact resource has.
    return ContactRecord(
        source=PLUGIN_ID,
        external_id=_text(data.get("id")),
        first_name=_text(data.get("first_name")),
        last_name=_text(data.get("last_name")),
        email=_text(data.get("email")),
        phone=_text(data.get("phone")),
        time_zone=_text(data.get("time_zone")),
    )


def property_for(field_name: str) -> str | None:
    """Return the CRM property behind a normalised field name, or None."""
    return _PROPERTY_BY_FIELD.get(field_name)


def field_value(data: Mapping[str, Any], prop: str) -> str:
    """Return a contact property as template text; ``""`` when it has no value."""
    properties = data.get("properties")
    if not isinstance(properties, Mapping):
        return ""
    return _text(properties.get(prop)) or ""


def address_of(contact: Contact) -> ChannelAddress | None:
    """Return the address to find a parley contact by in the CRM: phone, else email."""
    if contact.phone:
        return ChannelAddress(AddressKind.PHONE, contact.phone)
    if contact.email:
        return ChannelAddress(AddressKind.EMAIL, contact.email)
    return None


def _text(value: object) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None
{%- elif cookiecutter.kind == "store" -%}
"""{{ cookiecutter.__title }} orders to parley order-status events."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from parley import ContactRecord, OrderStatus, OrderStatusEvent

from {{ cookiecutter.__package }}.const import (
    FIELD_CARRIER,
    FIELD_ESTIMATED_DELIVERY,
    FIELD_TRACKING_URL,
    PLUGIN_ID,
)

# The store's order states that customers hear about.
# TODO: map the states your store reports.
ORDER_STATUSES = {
    "paid": OrderStatus.CONFIRMED,
    "shipped": OrderStatus.SHIPPED,
    "out_for_delivery": OrderStatus.OUT_FOR_DELIVERY,
    "delivered": OrderStatus.DELIVERED,
    "cancelled": OrderStatus.CANCELLED,
    "refunded": OrderStatus.REFUNDED,
}


class PayloadError(ValueError):
    """An order lacks a value that every order has."""


def order_events(order: Mapping[str, Any], store_id: str) -> list[OrderStatusEvent]:
    """Return the event an order's current state implies; none for other states.

    The dedupe key is built from the store, the order id and the status, and
    for shipments also the shipment id, so each partial shipment is its own
    update and a redelivered webhook stores nothing new.

    Raises:
        PayloadError: the order has no id, number or valid ``updated_at``.
    """
    status = ORDER_STATUSES.get(str(order.get("status")))
    if status is None:
        return []

    order_id = _required(order, "id")
    shipment = order.get("shipment")
    shipment = shipment if isinstance(shipment, Mapping) else {}
    key = f"{PLUGIN_ID}:{store_id}:{order_id}:{status.value}"
    if status is not OrderStatus.CONFIRMED and shipment.get("id"):
        key = f"{key}:{shipment['id']}"

    return [
        OrderStatusEvent(
            source=PLUGIN_ID,
            store=store_id,
            order_id=order_id,
            order_name=_required(order, "number"),
            status=status,
            occurred_at=_timestamp(order),
            dedupe_key=key,
            customer=_customer(order.get("customer")),
            fields=_shipment_fields(shipment),
        )
    ]


def _customer(data: object) -> ContactRecord:
    customer = data if isinstance(data, Mapping) else {}
    return ContactRecord(
        source=PLUGIN_ID,
        external_id=_text(customer.get("id")),
        first_name=_text(customer.get("first_name")),
        last_name=_text(customer.get("last_name")),
        email=_text(customer.get("email")),
        phone=_text(customer.get("phone")),
    )


def _shipment_fields(shipment: Mapping[str, Any]) -> dict[str, str]:
    values = {
        FIELD_TRACKING_URL: _text(shipment.get("tracking_url")),
        FIELD_CARRIER: _text(shipment.get("carrier")),
        FIELD_ESTIMATED_DELIVERY: _text(shipment.get("estimated_delivery")),
    }
    return {name: value for name, value in values.items() if value is not None}


def _timestamp(order: Mapping[str, Any]) -> datetime:
    value = order.get("updated_at")
    try:
        occurred_at = datetime.fromisoformat(str(value))
    except ValueError as err:
        raise PayloadError(f"updated_at {value!r} is not an ISO 8601 time") from err
    if occurred_at.tzinfo is None:
        raise PayloadError(f"order updated_at {value!r} has no time zone")
    return occurred_at


def _required(order: Mapping[str, Any], key: str) -> str:
    value = _text(order.get(key))
    if value is None:
        raise PayloadError(f"the order has no {key!r}")
    return value


def _text(value: object) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None
{%- endif %}
