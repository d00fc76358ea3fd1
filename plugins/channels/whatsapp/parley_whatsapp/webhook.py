"""Webhook requests from Meta: the verification handshake and signed deliveries.

Meta calls the callback URL with ``GET`` once, when it is saved in the App
Dashboard, and expects ``hub.challenge`` back as plain text. Every
delivery after that is a signed ``POST`` whose ``entry[].changes[]``
carry customer messages and the statuses of sent messages. The body is
parsed only after its signature was verified.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Mapping
from typing import Any

from parley import InboundBatch, WebhookRejected, WebhookRequest, WebhookResponse
from parley_whatsapp.const import (
    FIELD_MESSAGES,
    MODE_SUBSCRIBE,
    OBJECT_WHATSAPP,
    QUERY_CHALLENGE,
    QUERY_MODE,
    QUERY_VERIFY_TOKEN,
)
from parley_whatsapp.inbound import ChangeParser, MalformedPayload
from parley_whatsapp.settings import WhatsAppSettings
from parley_whatsapp.signature import verify_signature

logger = logging.getLogger(__name__)


def handle_request(
    request: WebhookRequest, settings: WhatsAppSettings, channel_id: str
) -> InboundBatch:
    """Respond to the handshake, or verify and parse a signed delivery.

    Args:
        request: the request to ``/webhooks/whatsapp``.
        settings: the plugin's settings, with the tokens and phone number id.
        channel_id: the id the parsed messages and statuses carry.

    Raises:
        SignatureError: a POST without a valid signature (403).
        WebhookRejected: a handshake with a wrong token (403), an unknown path
            (404) or method (405), or a body that is not a WhatsApp delivery
            (400).
    """
    if request.path not in ("", "/"):
        raise WebhookRejected(
            404, f"WhatsApp webhooks are served at /webhooks/{channel_id} only"
        )
    if request.method == "GET":
        return InboundBatch(response=answer_handshake(request.query, settings))
    if request.method != "POST":
        raise WebhookRejected(
            405, f"{request.method} is not allowed here; Meta sends GET and POST"
        )

    verify_signature(request.headers, request.body, settings.app_secret)
    return parse_delivery(request.body, settings, channel_id)


def answer_handshake(
    query: Mapping[str, str], settings: WhatsAppSettings
) -> WebhookResponse:
    """Return ``hub.challenge`` as plain text when the verify token matches.

    Raises:
        WebhookRejected: 403 when the mode is not ``subscribe`` or the token
            differs; 400 when the challenge is missing.
    """
    mode = query.get(QUERY_MODE, "")
    token = query.get(QUERY_VERIFY_TOKEN, "")
    challenge = query.get(QUERY_CHALLENGE)

    expected = settings.verify_token.get_secret_value().encode("utf-8")
    token_matches = hmac.compare_digest(expected, token.encode("utf-8"))
    if mode != MODE_SUBSCRIBE or not token_matches:
        logger.warning(
            "webhook verification rejected: hub.mode is %r and hub.verify_token "
            "%s [whatsapp] verify_token",
            mode[:20],
            "matches" if token_matches else "does not match",
        )
        raise WebhookRejected(
            403,
            "webhook verification failed: hub.mode must be subscribe and "
            "hub.verify_token must equal [whatsapp] verify_token",
        )
    if not challenge:
        raise WebhookRejected(400, f"{QUERY_CHALLENGE} is missing")

    logger.info(
        "webhook verification succeeded for phone number id %s",
        settings.phone_number_id,
    )
    return WebhookResponse(200, challenge, "text/plain; charset=utf-8")


def parse_delivery(
    body: bytes, settings: WhatsAppSettings, channel_id: str
) -> InboundBatch:
    """Turn a verified delivery into customer messages and status updates.

    Changes of other fields than ``messages`` and changes for another phone
    number id are skipped with a log line. One app may serve several
    numbers, but this channel is configured for one of them.

    Raises:
        WebhookRejected: 400 when the body is not JSON or not shaped like a
            WhatsApp Business Account delivery.
    """
    payload = _json_object(body)
    if payload.get("object") != OBJECT_WHATSAPP:
        raise WebhookRejected(
            400,
            f"object is {str(payload.get('object'))[:40]!r}; expected "
            f"{OBJECT_WHATSAPP!r}, so this is not a WhatsApp delivery",
        )

    parser = ChangeParser(channel_id)
    try:
        for value in _message_changes(payload, settings.phone_number_id):
            parser.add(value)
    except MalformedPayload as err:
        raise WebhookRejected(400, f"malformed WhatsApp delivery: {err}") from None

    batch = parser.batch()
    logger.info(
        "delivery for phone number id %s: %d message(s), %d status(es)",
        settings.phone_number_id,
        len(batch.messages),
        len(batch.statuses),
    )
    return batch


def _message_changes(
    payload: Mapping[str, Any], phone_number_id: str
) -> list[Mapping[str, Any]]:
    entries = _list(payload.get("entry"), "entry")

    values: list[Mapping[str, Any]] = []
    for entry_index, entry in enumerate(entries):
        entry = _object(entry, f"entry[{entry_index}]")
        changes = _list(entry.get("changes"), f"entry[{entry_index}].changes")
        for change_index, change in enumerate(changes):
            where = f"entry[{entry_index}].changes[{change_index}]"
            change = _object(change, where)
            if change.get("field") != FIELD_MESSAGES:
                logger.info(
                    "webhook change of field %r skipped; the channel reads only %r",
                    str(change.get("field"))[:40],
                    FIELD_MESSAGES,
                )
                continue

            value = _object(change.get("value"), f"{where}.value")
            if _phone_number_id(value) != phone_number_id:
                logger.warning(
                    "webhook change for phone number id %s skipped; this channel "
                    "serves [whatsapp] phone_number_id %s",
                    _phone_number_id(value) or "(none)",
                    phone_number_id,
                )
                continue
            values.append(value)
    return values


def _phone_number_id(value: Mapping[str, Any]) -> str | None:
    metadata = value.get("metadata")
    if not isinstance(metadata, Mapping):
        return None
    number_id = metadata.get("phone_number_id")
    return str(number_id)[:40] if isinstance(number_id, str | int) else None


def _json_object(body: bytes) -> Mapping[str, Any]:
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        reason = err.msg if isinstance(err, json.JSONDecodeError) else "not UTF-8"
        raise WebhookRejected(400, f"body is not valid JSON: {reason}") from None
    if not isinstance(payload, Mapping):
        raise WebhookRejected(400, "body must be a JSON object")
    return payload


def _list(value: Any, where: str) -> list[Any]:
    return _checked(value, list, where, "a list")


def _object(value: Any, where: str) -> Mapping[str, Any]:
    return _checked(value, Mapping, where, "an object")


def _checked(value: Any, kind: type, where: str, noun: str) -> Any:
    if not isinstance(value, kind):
        raise WebhookRejected(
            400, f"malformed WhatsApp delivery: {where} is not {noun}"
        )
    return value
