"""The ``POST /webhooks/{{ cookiecutter.__plugin_id }}`` handler for order webhooks.

A delivery names an order; the handler verifies its signature, fetches the
order from the API and stores the order-status event before it responds, so a
200 response means the event survives a crash. A store that gets any other
status delivers again later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from typing import Any

from parley import (
    PluginContext,
    RetriableSyncError,
    SignatureError,
    WebhookRejected,
    WebhookRequest,
    WebhookResponse,
)

from {{ cookiecutter.__package }}.client import {{ cookiecutter.__class_prefix }}Client
from {{ cookiecutter.__package }}.const import DELIVERY_ID_HEADER, PLUGIN_ID, SIGNATURE_HEADER
from {{ cookiecutter.__package }}.mapping import PayloadError, order_events
from {{ cookiecutter.__package }}.settings import settings_from

logger = logging.getLogger(__name__)


class OrderWebhook:
    """Verifies, fetches and stores one order delivery per request."""

    def __init__(self, context: PluginContext) -> None:
        self._context = context

    def __call__(self, request: WebhookRequest) -> WebhookResponse:
        """Handle one delivery.

        Returns:
            200 with ``{"status": "accepted" | "duplicate", "events": n}``, or
            503 when the API is unavailable, so that the store delivers again.

        Raises:
            SignatureError: the signature is missing or wrong (401).
            WebhookRejected: the delivery id is missing, or the body or the
                fetched order is malformed (400).
        """
        settings = settings_from(self._context)
        verify_signature(request, settings.webhook_secret.get_secret_value())
        delivery_id = request.headers.get(DELIVERY_ID_HEADER, "").strip()
        if not delivery_id:
            raise WebhookRejected(400, f"missing {DELIVERY_ID_HEADER} header")
        payload = _parse_object(request.body)
        order_id = payload.get("order_id")
        if not isinstance(order_id, (str, int)) or not str(order_id).strip():
            raise WebhookRejected(400, "'order_id' must be a non-empty string")
        topic = str(payload.get("event") or "order.updated")

        try:
            with {{ cookiecutter.__class_prefix }}Client.from_settings(settings) as client:
                order = client.get_order(str(order_id))
        except RetriableSyncError as err:
            logger.warning(
                "delivery %s for order %s not stored, the store will retry: %s",
                delivery_id,
                order_id,
                err,
            )
            return WebhookResponse(503, {"error": "order API unavailable; retry later"})

        try:
            events = order_events(order, settings.store_id)
        except PayloadError as err:
            raise WebhookRejected(400, f"order {order_id}: {err}") from err

        receipt = self._context.accept_order_events(
            source=PLUGIN_ID, delivery_id=delivery_id, topic=topic, events=events
        )
        status = "duplicate" if receipt.duplicate_delivery else "accepted"
        logger.info(
            "delivery %s (%s) for order %s %s, %d event(s) new",
            delivery_id,
            topic,
            order_id,
            status,
            receipt.events_stored,
        )
        return WebhookResponse(200, {"status": status, "events": receipt.events_stored})


def verify_signature(request: WebhookRequest, secret: str) -> None:
    """Check the hex HMAC-SHA256 of the raw body against the signature header.

    Raises:
        SignatureError: the header is missing or does not match.
    """
    # TODO: use the signature scheme your store documents; many also sign a
    # timestamp, which lets you reject replayed deliveries.
    signature = request.headers.get(SIGNATURE_HEADER)
    if not signature:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(signature.strip().lower(), expected):
        raise SignatureError(f"invalid {SIGNATURE_HEADER}")


def _parse_object(body: bytes) -> Mapping[str, Any]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise WebhookRejected(400, "the body is not valid JSON") from err
    if not isinstance(data, dict):
        raise WebhookRejected(400, "the body must be a JSON object")
    return data
