"""Twilio's webhook form fields to parley's inbound messages and status updates.

Twilio adds fields without notice, so unknown fields are ignored. The
fields read here are checked strictly. A request that breaks them is
rejected with a reason that names the field but never its value.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlsplit

from parley import (
    AddressKind,
    ChannelAddress,
    DeliveryStatus,
    InboundMessage,
    StatusUpdate,
    WebhookRejected,
    normalize_phone,
)
from parley_twilio.const import (
    DELIVERY_ERRORS,
    MAX_MEDIA,
    MESSAGE_SID_PATTERN,
    PLUGIN_ID,
    STATUS_MAP,
)
from parley_twilio.redact import mask_phone

logger = logging.getLogger(__name__)

# MessageStatus values of a message a customer sent, not of one we sent.
_INBOUND_STATUSES = ("received", "receiving")


class FormFields:
    """Decoded form fields, read one name at a time.

    A field that the plugin reads must appear at most once. Twilio's
    documented webhooks send each of them once, so a repeated one is
    rejected as malformed.
    """

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self._values: dict[str, list[str]] = {}
        for name, value in pairs:
            self._values.setdefault(name, []).append(value)

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def get(self, name: str) -> str | None:
        """Return the field's value, or None when it is absent.

        Raises:
            WebhookRejected: the field appears more than once (400).
        """
        values = self._values.get(name)
        if values is None:
            return None
        if len(values) > 1:
            raise WebhookRejected(
                400, f"field {name} appears {len(values)} times; expected once"
            )
        return values[0]

    def require(self, name: str) -> str:
        """Return a field that must be present and not blank.

        Raises:
            WebhookRejected: the field is missing, blank or repeated (400).
        """
        value = self.get(name)
        if value is None or not value.strip():
            raise WebhookRejected(400, f"field {name} is missing or empty")
        return value


def is_status_callback(fields: FormFields) -> bool:
    """Tell a status callback from an incoming message by its fields."""
    status = fields.get("MessageStatus")
    return status is not None and status not in _INBOUND_STATUSES


def to_inbound_message(
    fields: FormFields, default_region: str, received_at: datetime
) -> InboundMessage:
    """Build the inbound message of an incoming-message webhook.

    Args:
        fields: the verified form fields.
        default_region: country for a sender number without a country code.
        received_at: when the webhook arrived; Twilio's request has no time.

    Raises:
        WebhookRejected: a field the message needs is missing or invalid (400).
    """
    sid = _message_sid(fields)
    sender = normalize_phone(fields.require("From"), default_region)
    if sender is None:
        raise WebhookRejected(
            400, "field From is not a phone number that can receive a reply"
        )

    media = _media_urls(fields)
    opt_out_type = (fields.get("OptOutType") or "").strip() or None
    profile_name = (fields.get("ProfileName") or "").strip() or None
    recipient = (fields.get("To") or "").strip() or None
    message = InboundMessage(
        channel=PLUGIN_ID,
        sender=ChannelAddress(AddressKind.PHONE, sender),
        body=fields.get("Body") or "",
        provider_message_id=sid,
        received_at=received_at,
        recipient=recipient,
        media_urls=media,
        profile_name=profile_name,
        opt_out_type=opt_out_type,
    )
    logger.info(
        "inbound message %s from %s with %d media%s",
        sid,
        mask_phone(sender),
        len(media),
        f", Twilio OptOutType {opt_out_type}" if opt_out_type else "",
    )
    return message


def to_status_update(fields: FormFields, occurred_at: datetime) -> StatusUpdate | None:
    """Build the status update of a status callback.

    Args:
        fields: the verified form fields.
        occurred_at: when the callback arrived. ``RawDlrDoneDate`` is not
            used: it has minute precision, no time zone and comes only from
            some carriers.

    Returns:
        The update, or None for a status parley does not track, which is
        logged and acknowledged so that Twilio does not report a failure.

    Raises:
        WebhookRejected: the SID, the status or the error code is missing or
            invalid (400).
    """
    sid = _message_sid(fields)
    twilio_status = fields.require("MessageStatus").strip().lower()
    status = STATUS_MAP.get(twilio_status)
    if status is None:
        logger.warning(
            "status callback for %s has status %r, which parley does not track; "
            "acknowledged and ignored",
            sid,
            twilio_status,
        )
        return None

    error_code = _error_code(fields)
    error_message = (fields.get("ErrorMessage") or "").strip() or None
    if error_code is not None and error_message is None:
        error_message = DELIVERY_ERRORS.get(error_code)
    logger.info(
        "status callback for %s: %s%s",
        sid,
        twilio_status,
        f" with error {error_code}" if error_code else "",
    )
    return StatusUpdate(
        channel=PLUGIN_ID,
        provider_message_id=sid,
        status=status,
        occurred_at=occurred_at,
        error_code=error_code,
        error_message=error_message,
    )


def map_send_status(twilio_status: str, sid: str) -> DeliveryStatus:
    """Map the status of a create-Message response; unknown ones are queued."""
    status = STATUS_MAP.get(twilio_status.strip().lower())
    if status is None:
        logger.warning(
            "Twilio created message %s with status %r, which parley does not "
            "track; recorded as queued until a status callback arrives",
            sid,
            twilio_status,
        )
        return DeliveryStatus.QUEUED
    return status


def _message_sid(fields: FormFields) -> str:
    sid = fields.require("MessageSid").strip()
    if not MESSAGE_SID_PATTERN.fullmatch(sid):
        raise WebhookRejected(
            400,
            "field MessageSid is not a Message SID (two letters and 32 hex digits)",
        )
    return sid


def _media_urls(fields: FormFields) -> tuple[str, ...]:
    raw = (fields.get("NumMedia") or "0").strip()
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_MEDIA:
        raise WebhookRejected(
            400, f"field NumMedia is not a whole number from 0 to {MAX_MEDIA}"
        )

    urls = []
    for index in range(int(raw)):
        name = f"MediaUrl{index}"
        url = fields.require(name).strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise WebhookRejected(400, f"field {name} is not an http(s) URL")
        urls.append(url)
    return tuple(urls)


def _error_code(fields: FormFields) -> str | None:
    raw = (fields.get("ErrorCode") or "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()):
        raise WebhookRejected(400, "field ErrorCode is not a number")
    return raw
