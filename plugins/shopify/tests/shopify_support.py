"""Helpers for the Shopify plugin's tests: fixtures on disk, signing, requests.

The module name is unique in the repository because pytest imports test
helpers by their base name.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from parley import (
    Headers,
    OrderStatusEvent,
    PluginContext,
    WebhookRequest,
    WebhookResponse,
    WebhookRoute,
)

FIXTURES = Path(__file__).parent / "fixtures"
SHOP = "harbor-and-pine-test.myshopify.com"
SECRET = "test_shopify_client_secret_0f3a9c2e"
ContextFactory = Callable[..., PluginContext]
Handler = Callable[[WebhookRequest], WebhookResponse]

FIXTURE_NAMES = (
    "orders_create",
    "orders_fulfilled",
    "orders_cancelled",
    "fulfillments_create",
    "fulfillments_update",
)


def sign(body: bytes, secret: str = SECRET) -> str:
    """Compute Shopify's signature independently of the plugin's code."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def load_fixture(name: str) -> tuple[bytes, dict[str, str]]:
    """Return a fixture's exact body bytes and the headers recorded with it."""
    body = (FIXTURES / f"{name}.json").read_bytes()
    recorded = json.loads((FIXTURES / f"{name}.headers.json").read_text())
    return body, dict(recorded["headers"])


def signed_headers(
    body: bytes,
    topic: str,
    webhook_id: str,
    shop: str = SHOP,
    secret: str = SECRET,
) -> dict[str, str]:
    """Build the headers of a delivery, signed over ``body``."""
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(body, secret),
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-API-Version": "2026-07",
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Triggered-At": "2026-11-17T14:41:58.411Z",
    }


def compact(data: Any) -> bytes:
    """Encode a body the way Shopify usually sends it: compact JSON."""
    return json.dumps(data, separators=(",", ":")).encode()


def make_request(body: bytes, headers: Mapping[str, str]) -> WebhookRequest:
    """Build the request the daemon would hand to the handler."""
    return WebhookRequest(
        method="POST",
        url="http://127.0.0.1:8080/webhooks/shopify",
        path="",
        headers=Headers(dict(headers)),
        body=body,
    )


def shopify_toml(shops: list[dict[str, Any]], confirmed_on: str | None = None) -> str:
    """Render a ``[shopify]`` section."""
    rows = []
    for shop in shops:
        pairs = ", ".join(f"{key} = {json.dumps(value)}" for key, value in shop.items())
        rows.append(f"  {{{pairs}}},")
    lines = ["[shopify]", "shops = [", *rows, "]"]
    if confirmed_on is not None:
        lines.append(f"confirmed_on = {json.dumps(confirmed_on)}")
    return "\n".join(lines) + "\n"


def write_config(
    tmp_path: Path, store_url: str, body: str, plugins: tuple[str, ...] = ("shopify",)
) -> Path:
    """Write a parley.toml that enables ``plugins`` and uses ``store_url``."""
    path = tmp_path / "parley.toml"
    head = (
        f"data_dir = {json.dumps(str(tmp_path / 'data'))}\n"
        "[plugins]\n"
        f"enabled = {json.dumps(list(plugins))}\n"
        "[store]\n"
        f"url = {json.dumps(store_url)}\n"
        # These tests check what Shopify deliveries turn into, at any hour and
        # without consent records; the core's gate tests cover those rules.
        "[compliance]\n"
        "require_informational_consent = false\n"
        'sending_window = "00:00-00:00"\n'
        'opt_out_notice = ""\n'
    )
    path.write_text(head + body, encoding="utf-8")
    return path


def route_of(context: PluginContext) -> WebhookRoute:
    """Collect the plugin's webhook route through the hook, as the daemon does."""
    routes: list[WebhookRoute] = []
    context.plugin_manager.hook.register_webhooks(
        register=routes.append, context=context
    )
    assert len(routes) == 1
    return routes[0]


def stored_events(context: PluginContext) -> list[OrderStatusEvent]:
    """Return every stored order event, oldest first."""
    now = datetime.now(UTC)
    claimed = context.store.claim_events("test", 1000, now, 60)
    return [OrderStatusEvent.from_json(event.payload) for event in claimed]
