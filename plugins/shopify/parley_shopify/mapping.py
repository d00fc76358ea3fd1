"""Shopify webhook bodies to :class:`parley.OrderStatusEvent` lists.

Each function maps one body and returns every event it implies. The same
change always produces the same ``dedupe_key``, so the core stores an event
once however many deliveries (retries, several topics, noisy
``orders/updated``) report it.

- ``orders/create`` or ``orders/paid`` (Order): CONFIRMED, key suffix
  ``confirmed``.
- Each ``success`` fulfillment of an Order, or a Fulfillment body: SHIPPED,
  ``shipped:<fulfillment id>``; by its ``shipment_status`` also
  OUT_FOR_DELIVERY or DELIVERED, ``<status>:<fulfillment id>``.
- ``orders/cancelled``, or ``orders/updated`` with ``cancelled_at`` set:
  CANCELLED, ``cancelled``.
- ``refunds/create`` (Refund): REFUNDED, ``refunded:<refund id>``, so each
  partial refund is its own update.

A poll reads an order's whole state; :func:`order_state_events` maps it to
the same events, with the same keys, as the webhooks of each change.

Every key starts with ``shopify:<shop domain>:<order id>:``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from parley import ConsentRecord, OrderStatus, OrderStatusEvent
from parley_shopify.const import (
    CANCEL_REASONS,
    FIELD_CANCEL_REASON,
    FIELD_CARRIER,
    FIELD_LAST_ORDER_ID,
    FIELD_NAMES,
    FIELD_ORDER_STATUS_URL,
    FIELD_ORDER_TOTAL,
    FIELD_REFUND_AMOUNT,
    FIELD_TRACKING_NUMBER,
    FIELD_TRACKING_URL,
    FULFILLMENT_STATUS_SUCCESS,
    PLUGIN_ID,
    SHIPMENT_STATUS_DELIVERED,
    SHIPMENT_STATUS_OUT_FOR_DELIVERY,
    TOPIC_ORDERS_CANCELLED,
    TOPIC_ORDERS_PAID,
    TOPIC_ORDERS_UPDATED,
)
from parley_shopify.customer import OrderSummary
from parley_shopify.values import (
    as_dict,
    as_list,
    as_text,
    format_money,
    parse_amount,
    parse_timestamp,
)

logger = logging.getLogger(__name__)

_SHIPMENT_STATUSES = {
    SHIPMENT_STATUS_OUT_FOR_DELIVERY: OrderStatus.OUT_FOR_DELIVERY,
    SHIPMENT_STATUS_DELIVERED: OrderStatus.DELIVERED,
}

# Refund transactions that did not, and will not, move money.
_FAILED_TRANSACTION_STATUSES = ("failure", "error")

# Financial statuses of an order whose payment was captured, which is when
# Shopify sends orders/paid.
_PAID_STATUSES = ("paid", "partially_refunded", "refunded")


class PayloadError(ValueError):
    """A webhook body lacks a value that every body of its topic has."""


@dataclass(frozen=True)
class OrderRef:
    """The order one delivery is about, and when the delivery's change happened.

    Attributes:
        shop: the shop's myshopify.com domain.
        order_id: Shopify's order id as text.
        summary: the order's name, customer and totals, as far as known.
        occurred_at: when the change happened at Shopify (timezone-aware).
    """

    shop: str
    order_id: str
    summary: OrderSummary
    occurred_at: datetime

    def event(
        self,
        status: OrderStatus,
        fields: Mapping[str, str] | None = None,
        part_id: str | None = None,
        consents: Sequence[ConsentRecord] = (),
    ) -> OrderStatusEvent:
        """Build an event of this order.

        Args:
            status: the status the order reached.
            fields: template values beyond the order's own; every declared
                field is present on the event, ``""`` when it has no value.
            part_id: the shipment or refund the status belongs to; part of
                the dedupe key, so each partial shipment or refund is its own
                update.
            consents: consent records the event hands to the core.
        """
        key = f"{PLUGIN_ID}:{self.shop}:{self.order_id}:{status.value}"
        if part_id is not None:
            key = f"{key}:{part_id}"

        values = dict.fromkeys(FIELD_NAMES, "")
        values[FIELD_ORDER_STATUS_URL] = self.summary.order_status_url or ""
        values[FIELD_ORDER_TOTAL] = self.summary.order_total or ""
        values[FIELD_LAST_ORDER_ID] = self.order_id
        values.update(fields or {})

        return OrderStatusEvent(
            source=PLUGIN_ID,
            store=self.shop,
            order_id=self.order_id,
            order_name=self.summary.order_name,
            status=status,
            occurred_at=self.occurred_at,
            dedupe_key=key,
            customer=self.summary.contact(),
            fields=values,
            consents=tuple(consents),
        )

    def at(self, occurred_at: datetime | None) -> OrderRef:
        """Return this reference with another event time, when one is given."""
        return replace(self, occurred_at=occurred_at) if occurred_at else self


def order_id_of(body: Mapping[str, Any], key: str) -> str:
    """Return the order id stored under ``key`` (``id`` or ``order_id``).

    Raises:
        PayloadError: the body has no usable order id.
    """
    order_id = as_text(body.get(key))
    if order_id is None:
        raise PayloadError(f"the body has no {key}; expected the order's numeric id")
    return order_id


def order_total(order: Mapping[str, Any]) -> str | None:
    """Return the order total in the currency the customer paid, formatted."""
    money = as_dict(as_dict(order.get("total_price_set")).get("presentment_money"))
    amount = parse_amount(money.get("amount"))
    currency = as_text(money.get("currency_code"))

    if amount is None:
        amount = parse_amount(order.get("total_price"))
        currency = as_text(order.get("currency"))
    if amount is None:
        return None
    return format_money(amount, currency)


def confirmation_events(
    order_ref: OrderRef,
    topic: str,
    confirmed_on: str,
    consents: Sequence[ConsentRecord] = (),
) -> list[OrderStatusEvent]:
    """Map ``orders/create`` or ``orders/paid``: CONFIRMED for the configured topic.

    The other of the two topics returns no events, so that an order is
    confirmed once. The event carries the order's consent records.
    """
    if topic != confirmed_on:
        return []
    return [order_ref.event(OrderStatus.CONFIRMED, consents=consents)]


def order_change_events(
    order_ref: OrderRef, topic: str, order: Mapping[str, Any]
) -> list[OrderStatusEvent]:
    """Map an Order body that reports shipments or a cancellation.

    For ``orders/fulfilled``, ``orders/partially_fulfilled`` and
    ``orders/updated``, returns the shipment events of every fulfillment of
    the order. ``orders/cancelled``, and ``orders/updated`` with
    ``cancelled_at`` set, return CANCELLED.
    """
    events: list[OrderStatusEvent] = []
    if topic != TOPIC_ORDERS_CANCELLED:
        for fulfillment in as_list(order.get("fulfillments")):
            events.extend(shipment_events(order_ref, as_dict(fulfillment)))

    is_cancelled = order.get("cancelled_at") is not None
    if topic == TOPIC_ORDERS_CANCELLED or (
        topic == TOPIC_ORDERS_UPDATED and is_cancelled
    ):
        events.append(cancellation_event(order_ref, order))
    return events


def shipment_events(
    order_ref: OrderRef, fulfillment: Mapping[str, Any]
) -> list[OrderStatusEvent]:
    """Map one fulfillment: SHIPPED, plus OUT_FOR_DELIVERY or DELIVERED.

    Only a fulfillment with status ``success`` counts as shipped. A pending,
    cancelled or failed one returns no events. So does one without an id,
    because its events could not be distinguished from other shipments.
    """
    if fulfillment.get("status") != FULFILLMENT_STATUS_SUCCESS:
        return []

    fulfillment_id = as_text(fulfillment.get("id"))
    if fulfillment_id is None:
        logger.warning(
            "shop %s: order %s has a fulfillment without an id; no shipment event",
            order_ref.shop,
            order_ref.order_id,
        )
        return []

    fields = _tracking_fields(fulfillment)
    events = [order_ref.event(OrderStatus.SHIPPED, fields, fulfillment_id)]

    carrier_status = _SHIPMENT_STATUSES.get(fulfillment.get("shipment_status"))
    if carrier_status is not None:
        events.append(order_ref.event(carrier_status, fields, fulfillment_id))
    return events


def cancellation_event(
    order_ref: OrderRef, order: Mapping[str, Any]
) -> OrderStatusEvent:
    """Map a cancelled order to CANCELLED with its reason and refunded amount."""
    fields = {
        FIELD_CANCEL_REASON: _cancel_reason(order.get("cancel_reason")),
        FIELD_REFUND_AMOUNT: refunded_amount(as_list(order.get("refunds"))),
    }
    return order_ref.event(OrderStatus.CANCELLED, fields)


def refund_events(
    order_ref: OrderRef, refund: Mapping[str, Any]
) -> list[OrderStatusEvent]:
    """Map a ``refunds/create`` Refund body to REFUNDED with the amount.

    The refund's id is part of the dedupe key, so a second partial refund of
    the same order is its own update.

    Raises:
        PayloadError: the refund has no id.
    """
    refund_id = as_text(refund.get("id"))
    if refund_id is None:
        raise PayloadError("the refund has no id; expected its numeric id")

    fields = {FIELD_REFUND_AMOUNT: refunded_amount([refund])}
    return [order_ref.event(OrderStatus.REFUNDED, fields, refund_id)]


def order_state_events(
    order_ref: OrderRef,
    order: Mapping[str, Any],
    confirmed_on: str,
    consents: Sequence[ConsentRecord] = (),
) -> list[OrderStatusEvent]:
    """Map an Order's whole state, as a poll reads it, to every event it implies.

    The events and their dedupe keys are those the webhooks of each change
    produce: CONFIRMED once the ``confirmed_on`` topic would have fired, the
    shipment events of each fulfillment, CANCELLED, and REFUNDED per refund.
    Each event gets the time of its own change (``created_at``,
    ``cancelled_at``, a fulfillment's or refund's time).

    The list is newest first. The core skips an event that is older than
    one it already processed for the order and ranks lower, so when a poll
    catches up on several missed changes, the customer gets the order's
    latest status instead of its history.

    Args:
        order_ref: the order; its ``occurred_at`` is used where the body has
            no time for a change.
        order: the REST-shaped Order, with ``fulfillments`` and ``refunds``.
        confirmed_on: ``orders/create`` or ``orders/paid``.
        consents: consent records for the CONFIRMED event.

    Raises:
        PayloadError: a refund has no id.
    """
    events: list[OrderStatusEvent] = []
    if _confirmation_topic_fired(order, confirmed_on):
        created = order_ref.at(_time(order, "created_at"))
        events.extend(
            confirmation_events(created, confirmed_on, confirmed_on, consents)
        )

    for item in as_list(order.get("fulfillments")):
        events.extend(_timed_shipment_events(order_ref, as_dict(item)))

    if order.get("cancelled_at") is not None:
        cancelled = order_ref.at(_time(order, "cancelled_at"))
        events.append(cancellation_event(cancelled, order))

    for item in as_list(order.get("refunds")):
        refund = as_dict(item)
        events.extend(refund_events(order_ref.at(_time(refund, "created_at")), refund))

    return sorted(events, key=lambda event: event.occurred_at, reverse=True)


def refunded_amount(refunds: Sequence[Any]) -> str:
    """Add up the refund transactions of Refund resources, per currency.

    Returns:
        The total as a person reads it (``12.50 USD``; several currencies
        are joined with ``+``), or ``""`` when no money was refunded.
    """
    totals: dict[str, Decimal] = {}
    for refund in refunds:
        for transaction in as_list(as_dict(refund).get("transactions")):
            _add_transaction(totals, as_dict(transaction))

    parts = [
        format_money(amount, currency or None)
        for currency, amount in totals.items()
        if amount
    ]
    return " + ".join(parts)


def _confirmation_topic_fired(order: Mapping[str, Any], confirmed_on: str) -> bool:
    if confirmed_on != TOPIC_ORDERS_PAID:
        return True
    return as_text(order.get("financial_status")) in _PAID_STATUSES


def _timed_shipment_events(
    order_ref: OrderRef, fulfillment: Mapping[str, Any]
) -> list[OrderStatusEvent]:
    # SHIPPED happened when the fulfillment was created, a carrier status at
    # its delivery time or, lacking that, its last update.
    shipped = order_ref.at(_time(fulfillment, "created_at"))
    carrier_time = _time(fulfillment, "delivered_at") or _time(
        fulfillment, "updated_at"
    )

    timed = []
    for event in shipment_events(shipped, fulfillment):
        if event.status is not OrderStatus.SHIPPED and carrier_time is not None:
            event = replace(event, occurred_at=carrier_time)
        timed.append(event)
    return timed


def _time(body: Mapping[str, Any], key: str) -> datetime | None:
    return parse_timestamp(as_text(body.get(key)))


def _add_transaction(
    totals: dict[str, Decimal], transaction: Mapping[str, Any]
) -> None:
    if transaction.get("kind") != "refund":
        return
    if transaction.get("status") in _FAILED_TRANSACTION_STATUSES:
        return

    amount = parse_amount(transaction.get("amount"))
    if amount is None:
        return
    currency = as_text(transaction.get("currency")) or ""
    totals[currency] = totals.get(currency, Decimal(0)) + amount


def _tracking_fields(fulfillment: Mapping[str, Any]) -> dict[str, str]:
    urls = [as_text(url) for url in as_list(fulfillment.get("tracking_urls"))]
    numbers = [
        as_text(number) for number in as_list(fulfillment.get("tracking_numbers"))
    ]
    tracking_url = as_text(fulfillment.get("tracking_url")) or next(
        (url for url in urls if url), ""
    )
    tracking_number = ", ".join(number for number in numbers if number) or (
        as_text(fulfillment.get("tracking_number")) or ""
    )

    return {
        FIELD_TRACKING_URL: tracking_url,
        FIELD_TRACKING_NUMBER: tracking_number,
        FIELD_CARRIER: as_text(fulfillment.get("tracking_company")) or "",
    }


def _cancel_reason(value: Any) -> str:
    reason = as_text(value)
    if reason is None:
        return ""

    known = CANCEL_REASONS.get(reason.lower())
    if known is not None:
        return known
    return reason.replace("_", " ").capitalize()
