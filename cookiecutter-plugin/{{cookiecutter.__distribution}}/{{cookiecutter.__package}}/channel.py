"""The ``{{ cookiecutter.__plugin_id }}`` channel: texts through the {{ cookiecutter.__title }} API.

parley calls :meth:`{{ cookiecutter.__class_prefix }}Channel.send` from its outbox and
:meth:`{{ cookiecutter.__class_prefix }}Channel.handle_webhook` for requests to
``/webhooks/{{ cookiecutter.__plugin_id }}``, which carry customer messages and delivery
status reports.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from parley import (
    AddressKind,
    Channel,
    ChannelAddress,
    DeliveryError,
    DeliveryStatus,
    InboundBatch,
    InboundMessage,
    OutboundMessage,
    SendResult,
    SignatureError,
    StatusUpdate,
    WebhookRejected,
    WebhookRequest,
)

from {{ cookiecutter.__package }}.client import {{ cookiecutter.__class_prefix }}Client
from {{ cookiecutter.__package }}.const import PLUGIN_ID, SIGNATURE_HEADER
from {{ cookiecutter.__package }}.settings import {{ cookiecutter.__class_prefix }}Settings

logger = logging.getLogger(__name__)

# The provider's message states.
# TODO: map the states your provider reports.
STATUSES = {
    "queued": DeliveryStatus.QUEUED,
    "sending": DeliveryStatus.SENDING,
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "undelivered": DeliveryStatus.UNDELIVERED,
    "failed": DeliveryStatus.FAILED,
}


class {{ cookiecutter.__class_prefix }}Channel(Channel):
    """Sends texts through the API and parses the provider's signed webhooks."""

    id = PLUGIN_ID
    address_kind = AddressKind.PHONE

    def __init__(self, settings: {{ cookiecutter.__class_prefix }}Settings) -> None:
        self._settings = settings
        self._webhook_secret = settings.webhook_secret.get_secret_value().encode()

    def send(self, message: OutboundMessage) -> SendResult:
        """Send one text; ``message.idempotency_key`` makes a retry safe."""
        # One client per send keeps the channel free of shutdown code; keep a
        # client on the channel instead if connection reuse matters.
        with {{ cookiecutter.__class_prefix }}Client.from_settings(self._settings) as client:
            data = client.send_message(
                sender=self._settings.from_number,
                to=message.to,
                text=message.body,
                idempotency_key=message.idempotency_key,
            )

        provider_id = data.get("id")
        if not isinstance(provider_id, str) or not provider_id:
            raise DeliveryError(
                f"{PLUGIN_ID}: message {message.id} was accepted without an id",
                permanent=False,
            )
        status = STATUSES.get(str(data.get("status")), DeliveryStatus.SENT)
        return SendResult(provider_message_id=provider_id, status=status)

    def handle_webhook(self, request: WebhookRequest) -> InboundBatch:
        """Verify the signature, then parse one message or status report."""
        if request.method != "POST":
            raise WebhookRejected(405, f"use POST /webhooks/{PLUGIN_ID}")
        self._verify(request)
        payload = _parse_object(request.body)

        kind = payload.get("type")
        if kind == "message":
            return InboundBatch(messages=(self._message(payload),))
        if kind == "status":
            update = self._status(payload)
            return InboundBatch(statuses=(update,) if update else ())
        logger.info("webhook of type %r ignored", kind)
        return InboundBatch()

    def _verify(self, request: WebhookRequest) -> None:
        # TODO: use the signature scheme your provider documents; many also
        # sign the URL or a timestamp.
        signature = request.headers.get(SIGNATURE_HEADER)
        if not signature:
            raise SignatureError(f"missing {SIGNATURE_HEADER} header")
        expected = hmac.new(self._webhook_secret, request.body, hashlib.sha256)
        if not hmac.compare_digest(signature.strip().lower(), expected.hexdigest()):
            raise SignatureError(f"invalid {SIGNATURE_HEADER}")

    def _message(self, payload: Mapping[str, Any]) -> InboundMessage:
        return InboundMessage(
            channel=self.id,
            sender=ChannelAddress(AddressKind.PHONE, _required(payload, "from")),
            body=_required(payload, "text"),
            provider_message_id=_required(payload, "id"),
            received_at=_timestamp(payload),
            recipient=payload.get("to") if isinstance(payload.get("to"), str) else None,
        )

    def _status(self, payload: Mapping[str, Any]) -> StatusUpdate | None:
        status = STATUSES.get(str(payload.get("status")))
        if status is None:
            logger.info("status %r ignored", payload.get("status"))
            return None
        error_code = payload.get("error_code")
        return StatusUpdate(
            channel=self.id,
            provider_message_id=_required(payload, "message_id"),
            status=status,
            occurred_at=_timestamp(payload),
            error_code=str(error_code) if error_code is not None else None,
        )


def _parse_object(body: bytes) -> Mapping[str, Any]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise WebhookRejected(400, "the body is not valid JSON") from err
    if not isinstance(data, dict):
        raise WebhookRejected(400, "the body must be a JSON object")
    return data


def _required(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value.strip():
        raise WebhookRejected(400, f"{key!r} must be a non-empty string")
    return value


def _timestamp(payload: Mapping[str, Any]) -> datetime:
    value = payload.get("timestamp")
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError as err:
        raise WebhookRejected(400, "'timestamp' must be an ISO 8601 time") from err
    if when.tzinfo is None:
        raise WebhookRejected(400, "'timestamp' must include a time zone")
    return when
