"""Names fixed by Shopify's webhook format and by this plugin's templates."""

from __future__ import annotations

import re

PLUGIN_ID = "shopify"

# A shop's permanent domain, in lower case.
SHOP_DOMAIN_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]*\.myshopify\.com")

# Webhook topics

TOPIC_ORDERS_CREATE = "orders/create"
TOPIC_ORDERS_PAID = "orders/paid"
TOPIC_ORDERS_UPDATED = "orders/updated"
TOPIC_ORDERS_FULFILLED = "orders/fulfilled"
TOPIC_ORDERS_PARTIALLY_FULFILLED = "orders/partially_fulfilled"
TOPIC_ORDERS_CANCELLED = "orders/cancelled"
TOPIC_FULFILLMENTS_CREATE = "fulfillments/create"
TOPIC_FULFILLMENTS_UPDATE = "fulfillments/update"
TOPIC_REFUNDS_CREATE = "refunds/create"

CONFIRMATION_TOPICS = (TOPIC_ORDERS_CREATE, TOPIC_ORDERS_PAID)

# Topics whose body is the REST Order resource.
ORDER_TOPICS = (
    TOPIC_ORDERS_CREATE,
    TOPIC_ORDERS_PAID,
    TOPIC_ORDERS_UPDATED,
    TOPIC_ORDERS_FULFILLED,
    TOPIC_ORDERS_PARTIALLY_FULFILLED,
    TOPIC_ORDERS_CANCELLED,
)

# Topics whose body is the REST Fulfillment resource.
FULFILLMENT_TOPICS = (TOPIC_FULFILLMENTS_CREATE, TOPIC_FULFILLMENTS_UPDATE)

SUPPORTED_TOPICS = (*ORDER_TOPICS, *FULFILLMENT_TOPICS, TOPIC_REFUNDS_CREATE)

# Webhook headers. Shopify's "Events" delivery sends the same headers without
# the "X-" prefix, so every name is looked up in both spellings.

HEADER_HMAC = "X-Shopify-Hmac-Sha256"
HEADER_SHOP_DOMAIN = "X-Shopify-Shop-Domain"
HEADER_TOPIC = "X-Shopify-Topic"
HEADER_WEBHOOK_ID = "X-Shopify-Webhook-Id"
HEADER_TRIGGERED_AT = "X-Shopify-Triggered-At"
HEADER_API_VERSION = "X-Shopify-API-Version"

# Fulfillment values

FULFILLMENT_STATUS_SUCCESS = "success"
SHIPMENT_STATUS_OUT_FOR_DELIVERY = "out_for_delivery"
SHIPMENT_STATUS_DELIVERED = "delivered"

# Template fields this plugin puts on order-status events. The core provides
# "Order Number" from the event's order name.

FIELD_ORDER_STATUS_URL = "Order Status URL"
FIELD_TRACKING_URL = "Tracking URL"
FIELD_TRACKING_NUMBER = "Tracking Number"
FIELD_CARRIER = "Carrier"
FIELD_CANCEL_REASON = "Cancel Reason"
FIELD_REFUND_AMOUNT = "Refund Amount"
FIELD_ORDER_TOTAL = "Order Total"
FIELD_LAST_ORDER_ID = "Last Order ID"

# Fields every event carries; "" when the order has no value.
FIELD_NAMES = (
    FIELD_ORDER_STATUS_URL,
    FIELD_TRACKING_URL,
    FIELD_TRACKING_NUMBER,
    FIELD_CARRIER,
    FIELD_CANCEL_REASON,
    FIELD_REFUND_AMOUNT,
    FIELD_ORDER_TOTAL,
    FIELD_LAST_ORDER_ID,
)

# Read from the Admin API when a template uses it, not carried on events.
FIELD_ORDERS_COUNT = "Orders Count"

DECLARED_FIELD_NAMES = (*FIELD_NAMES, FIELD_ORDERS_COUNT)

# Order.cancel_reason values as a customer reads them. "staff" comes from the
# GraphQL OrderCancelReason enum; the others are the REST values.
CANCEL_REASONS = {
    "customer": "Customer request",
    "declined": "Payment declined",
    "fraud": "Suspected fraud",
    "inventory": "Items unavailable",
    "staff": "Staff error",
    "other": "Other",
}

# Admin GraphQL API

GRAPHQL_PATH = "/admin/api/{version}/graphql.json"
HEADER_ACCESS_TOKEN = "X-Shopify-Access-Token"
THROTTLED_CODE = "THROTTLED"

# Topic recorded with the deliveries that polls store.
POLL_TOPIC = "poll"
