"""parley-shopify: order-status updates from Shopify webhooks.

This module holds only the hook implementations; the work happens in
:mod:`parley_shopify.webhook`, :mod:`parley_shopify.mapping` and
:mod:`parley_shopify.signature`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic import BaseModel

from parley import PluginContext, WebhookRoute, hookimpl
from parley_shopify.const import FIELD_NAMES, PLUGIN_ID
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
def register_fields(register: Callable[[str, Sequence[str]], None]) -> None:
    """Declare the order fields that Shopify events carry."""
    register(PLUGIN_ID, FIELD_NAMES)
