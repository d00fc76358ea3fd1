"""The ``POST /webhooks/shopify`` handler.

A delivery is verified, mapped to order-status events and stored before the
handler responds, so a 200 response means the events survive a crash.
Shopify retries a delivery after any other status. A retry of a stored
delivery gets 200 with status ``duplicate`` and stores nothing.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from parley import (
    OrderStatusEvent,
    PluginContext,
    WebhookRejected,
    WebhookRequest,
    WebhookResponse,
)
from parley_shopify.consent import order_consents
from parley_shopify.const import (
    CONFIRMATION_TOPICS,
    FULFILLMENT_TOPICS,
    HEADER_API_VERSION,
    HEADER_TOPIC,
    HEADER_TRIGGERED_AT,
    HEADER_WEBHOOK_ID,
    ORDER_TOPICS,
    PLUGIN_ID,
    SUPPORTED_TOPICS,
)
from parley_shopify.customer import (
    OrderSummary,
    summarize_fulfillment,
    summarize_order,
)
from parley_shopify.mapping import (
    OrderRef,
    PayloadError,
    confirmation_events,
    order_change_events,
    order_id_of,
    order_total,
    refund_events,
    shipment_events,
)
from parley_shopify.settings import ShopifySettings, ShopSettings, shopify_settings
from parley_shopify.signature import read_header, verify_delivery
from parley_shopify.state import recall_summary, remember_summary
from parley_shopify.values import as_text, parse_timestamp

logger = logging.getLogger(__name__)

BAD_REQUEST = 400

# The store keeps delivery ids of up to 200 characters. Shopify's are UUIDs.
MAX_WEBHOOK_ID_LENGTH = 200


@dataclass(frozen=True)
class Delivery:
    """One verified webhook delivery.

    Attributes:
        shop: the sending shop's domain.
        topic: the webhook topic, such as ``orders/fulfilled``.
        webhook_id: Shopify's delivery id; the same on every retry.
        body: the parsed JSON object.
        occurred_at: when the change happened, from ``X-Shopify-Triggered-At``
            or else the body's ``updated_at`` or ``created_at``.
    """

    shop: str
    topic: str
    webhook_id: str
    body: Mapping[str, Any]
    occurred_at: datetime


@dataclass(frozen=True)
class MappedDelivery:
    """The events of one delivery, and the order summary it brings.

    Attributes:
        order_id: the order the delivery is about.
        events: the order-status events it implies.
        summary: the order's merged summary when an order body changed it,
            to store once the delivery is accepted; None otherwise.
    """

    order_id: str
    events: list[OrderStatusEvent]
    summary: OrderSummary | None = None


class ShopifyWebhookHandler:
    """Verify, map and store Shopify webhook deliveries.

    One instance serves every request, and the daemon calls it from worker
    threads. Its only state is the set of API versions already warned about.
    """

    def __init__(self, context: PluginContext) -> None:
        self._context = context
        self._reported_versions: set[tuple[str, str]] = set()

    def __call__(self, request: WebhookRequest) -> WebhookResponse:
        """Handle one delivery.

        Returns:
            200 with ``{"status": "accepted" | "duplicate", "events": n}``,
            where ``n`` is the number of new events stored.

        Raises:
            SignatureError: the shop is unknown or the signature is missing
                or wrong (401).
            WebhookRejected: a required header is missing, the topic is not
                supported, or the body is not a valid JSON object of its
                topic (400). Nothing is stored in any of these cases.
        """
        settings = shopify_settings(self._context)
        shop = verify_delivery(request.headers, request.body, settings)
        delivery = self._read_delivery(request, shop.domain)
        self._check_api_version(request.headers, settings, shop.domain)

        mapped = self._map(delivery, settings, shop)
        receipt = self._context.accept_order_events(
            source=PLUGIN_ID,
            delivery_id=delivery.webhook_id,
            topic=delivery.topic,
            events=mapped.events,
        )

        # Only the request that claimed the delivery id writes the summary, so
        # parallel retries of one delivery do not race on the same state key.
        if mapped.summary is not None and not receipt.duplicate_delivery:
            remember_summary(
                self._context, delivery.shop, mapped.order_id, mapped.summary
            )

        status = "duplicate" if receipt.duplicate_delivery else "accepted"
        logger.info(
            "shop %s: webhook %s (%s) %s, %d of %d events new",
            delivery.shop,
            delivery.webhook_id,
            delivery.topic,
            status,
            receipt.events_stored,
            len(mapped.events),
        )
        body = {"status": status, "events": receipt.events_stored}
        return WebhookResponse(status=200, body=body)

    def _read_delivery(self, request: WebhookRequest, shop: str) -> Delivery:
        webhook_id = _required_header(request.headers, HEADER_WEBHOOK_ID)
        if len(webhook_id) > MAX_WEBHOOK_ID_LENGTH:
            raise WebhookRejected(
                BAD_REQUEST,
                f"{HEADER_WEBHOOK_ID} is longer than {MAX_WEBHOOK_ID_LENGTH} "
                "characters",
            )

        topic = _required_header(request.headers, HEADER_TOPIC).lower()
        if topic not in SUPPORTED_TOPICS:
            raise WebhookRejected(
                BAD_REQUEST,
                f"unsupported topic {topic[:100]!r}; supported topics: "
                f"{', '.join(SUPPORTED_TOPICS)}",
            )

        body = _parse_body(request.body, topic)
        triggered_at = read_header(request.headers, HEADER_TRIGGERED_AT)
        return Delivery(
            shop=shop,
            topic=topic,
            webhook_id=webhook_id,
            body=body,
            occurred_at=self._occurred_at(triggered_at, body),
        )

    def _occurred_at(
        self, triggered_at: str | None, body: Mapping[str, Any]
    ) -> datetime:
        candidates = (
            triggered_at,
            as_text(body.get("updated_at")),
            as_text(body.get("created_at")),
        )
        for candidate in candidates:
            parsed = parse_timestamp(candidate)
            if parsed is not None:
                return parsed
        return self._context.clock()

    def _check_api_version(
        self, headers: Mapping[str, str], settings: ShopifySettings, shop: str
    ) -> None:
        # Shopify serialises a body in a newer version than subscribed when the
        # subscribed one is no longer supported, so field changes can follow.
        version = read_header(headers, HEADER_API_VERSION)
        if version is None or version == settings.api_version:
            return

        reported = (shop, version[:20])
        if reported in self._reported_versions:
            return
        self._reported_versions.add(reported)
        logger.warning(
            "shop %s: webhook body uses API version %s, but api_version is %s; "
            "update the subscription or the setting",
            shop,
            reported[1],
            settings.api_version,
        )

    def _map(
        self, delivery: Delivery, settings: ShopifySettings, shop: ShopSettings
    ) -> MappedDelivery:
        region = shop.region(self._context.settings.contacts.default_region)
        try:
            if delivery.topic in ORDER_TOPICS:
                return self._map_order(delivery, settings, shop, region)
            if delivery.topic in FULFILLMENT_TOPICS:
                return self._map_fulfillment(delivery, region)
            return self._map_refund(delivery)
        except PayloadError as err:
            raise WebhookRejected(
                BAD_REQUEST, f"invalid {delivery.topic} body: {err}"
            ) from err

    def _map_order(
        self,
        delivery: Delivery,
        settings: ShopifySettings,
        shop: ShopSettings,
        region: str,
    ) -> MappedDelivery:
        order = delivery.body
        order_id = order_id_of(order, "id")
        previous = recall_summary(self._context, delivery.shop, order_id)
        summary = summarize_order(order, order_total(order), region)
        summary = summary.merged_with(previous)
        order_ref = OrderRef(delivery.shop, order_id, summary, delivery.occurred_at)

        # Every Order body carries the checkout's consent, so an update for an
        # order whose creation parley never saw (a cancellation, say) still
        # has it. The core appends a record only once.
        consents = order_consents(order, order_id, shop, region, delivery.occurred_at)
        if delivery.topic in CONFIRMATION_TOPICS:
            events = confirmation_events(
                order_ref, delivery.topic, settings.confirmed_on, consents
            )
        else:
            events = [
                dataclasses.replace(event, consents=consents)
                for event in order_change_events(order_ref, delivery.topic, order)
            ]

        changed = summary if summary != previous else None
        return MappedDelivery(order_id, events, changed)

    def _map_fulfillment(self, delivery: Delivery, region: str) -> MappedDelivery:
        fulfillment = delivery.body
        order_id = order_id_of(fulfillment, "order_id")
        known = self._recall_or_log(delivery.shop, order_id)
        summary = summarize_fulfillment(fulfillment, region)
        order_ref = OrderRef(
            delivery.shop, order_id, summary.completed_from(known), delivery.occurred_at
        )
        return MappedDelivery(order_id, shipment_events(order_ref, fulfillment))

    def _map_refund(self, delivery: Delivery) -> MappedDelivery:
        refund = delivery.body
        order_id = order_id_of(refund, "order_id")
        summary = self._recall_or_log(delivery.shop, order_id) or OrderSummary()
        order_ref = OrderRef(delivery.shop, order_id, summary, delivery.occurred_at)
        return MappedDelivery(order_id, refund_events(order_ref, refund))

    def _recall_or_log(self, shop: str, order_id: str) -> OrderSummary | None:
        summary = recall_summary(self._context, shop, order_id)
        if summary is None:
            logger.info(
                "shop %s: no order webhook for order %s was processed yet, so "
                "its customer is unknown",
                shop,
                order_id,
            )
        return summary


def _required_header(headers: Mapping[str, str], name: str) -> str:
    value = read_header(headers, name)
    if value is None:
        raise WebhookRejected(BAD_REQUEST, f"missing {name} header")
    return value


def _parse_body(body: bytes, topic: str) -> Mapping[str, Any]:
    try:
        parsed = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise WebhookRejected(
            BAD_REQUEST, f"invalid JSON body for {topic}: {err}"
        ) from err

    if not isinstance(parsed, dict):
        raise WebhookRejected(
            BAD_REQUEST, f"invalid {topic} body: expected a JSON object"
        )
    return parsed
