"""parley-shopify: order-status updates from Shopify webhooks and polls.

This module holds only the hook implementations; the work happens in
:mod:`parley_shopify.webhook`, :mod:`parley_shopify.poller`,
:mod:`parley_shopify.mapping` and :mod:`parley_shopify.customer_stats`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic import BaseModel

from parley import (
    OrderStatusEvent,
    PluginContext,
    Poller,
    StarterConfig,
    WebhookRoute,
    hookimpl,
)
from parley_shopify import starter
from parley_shopify.const import DECLARED_FIELD_NAMES, PLUGIN_ID
from parley_shopify.customer_stats import (
    prefetch_customer_stats,
    resolve_customer_field,
)
from parley_shopify.poller import build_pollers
from parley_shopify.settings import ShopifySettings
from parley_shopify.webhook import ShopifyWebhookHandler

__version__ = "0.1.0"


@hookimpl
def register_settings(register: Callable[[str, type[BaseModel]], None]) -> None:
    """Declare the ``[shopify]`` settings model."""
    register(PLUGIN_ID, ShopifySettings)


@hookimpl
def register_webhooks(
    register: Callable[[WebhookRoute], None], context: PluginContext
) -> None:
    """Serve Shopify webhooks at ``POST /webhooks/shopify``."""
    handler = ShopifyWebhookHandler(context)
    register(WebhookRoute(plugin_id=PLUGIN_ID, path="", handler=handler))


@hookimpl
def register_pollers(
    register: Callable[[Poller], None], context: PluginContext
) -> None:
    """Poll each shop that has an access token for orders its webhooks missed."""
    for poller in build_pollers(context):
        register(poller)


@hookimpl
def register_fields(register: Callable[[str, Sequence[str]], None]) -> None:
    """Declare the order fields that Shopify events carry, and Orders Count."""
    register(PLUGIN_ID, DECLARED_FIELD_NAMES)


@hookimpl
def order_status_changed(event: OrderStatusEvent, context: PluginContext) -> None:
    """Read the customer's order count when the event's template uses it."""
    prefetch_customer_stats(event, context)


@hookimpl
def resolve_field(
    name: str, event: OrderStatusEvent | None, context: PluginContext
) -> str | None:
    """Resolve ``Orders Count`` and ``Last Order ID`` of a Shopify event."""
    return resolve_customer_field(name, event, context)


@hookimpl
def starter_config() -> StarterConfig:
    """Add a commented ``[shopify]`` section and Shopify's templates."""
    return starter.starter_config()
