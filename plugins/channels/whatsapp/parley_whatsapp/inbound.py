"""The ``value`` of a ``messages`` webhook change, as parley records.

``value.messages[]`` contains what customers sent and ``value.statuses[]``
the delivery statuses of messages the business sent. A sender is known by
phone number (``from`` and ``contacts[].wa_id``, digits without ``+``) and,
since 2026, by a business-scoped user id (``contacts[].user_id``); a user
with a username may come with the user id alone.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from parley import (
    ChannelAddress,
    DeliveryStatus,
    InboundBatch,
    InboundMessage,
    StatusUpdate,
)
from parley_whatsapp.addresses import bsuid_address, phone_address

logger = logging.getLogger(__name__)

# WhatsApp has no "read" in parley's statuses, and a read message was
# delivered; a voice message that was played was delivered too.
STATUS_MAP = {
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.DELIVERED,
    "played": DeliveryStatus.DELIVERED,
    "failed": DeliveryStatus.FAILED,
}

# Message types that are events rather than something the customer wrote:
# a changed number or user id, and the request that opens a new chat.
SKIPPED_TYPES = frozenset({"system", "request_welcome"})

MEDIA_TYPES = frozenset({"image", "video", "audio", "document", "sticker"})


class MalformedPayload(ValueError):
    """A webhook change lacks a field every delivery of its kind has."""


class ChangeParser:
    """Collect the messages and statuses of one delivery's changes."""

    def __init__(self, channel_id: str) -> None:
        self.channel_id = channel_id
        self._messages: list[InboundMessage] = []
        self._statuses: list[StatusUpdate] = []

    def add(self, value: Mapping[str, Any]) -> None:
        """Parse one ``changes[].value`` object.

        Raises:
            MalformedPayload: a message or status lacks its id, timestamp or
                sender, or a list is not a list.
        """
        contacts = [c for c in _list(value, "contacts") if isinstance(c, Mapping)]
        recipient = _business_number(value)

        for index, message in enumerate(_list(value, "messages")):
            parsed = self._message(_object(message, f"messages[{index}]"), contacts)
            if parsed is not None:
                self._messages.append(replace(parsed, recipient=recipient))

        for index, status in enumerate(_list(value, "statuses")):
            parsed_status = self._status(_object(status, f"statuses[{index}]"))
            if parsed_status is not None:
                self._statuses.append(parsed_status)

        for error in _list(value, "errors"):
            if isinstance(error, Mapping):
                logger.warning(
                    "webhook reports error %s: %s",
                    error.get("code"),
                    str(error.get("title") or error.get("message") or "")[:120],
                )

    def batch(self) -> InboundBatch:
        """Return everything parsed so far."""
        return InboundBatch(
            messages=tuple(self._messages), statuses=tuple(self._statuses)
        )

    def _message(
        self, message: Mapping[str, Any], contacts: list[Mapping[str, Any]]
    ) -> InboundMessage | None:
        message_id = _required_text(message, "id", "messages[].id")
        message_type = str(message.get("type") or "unknown")[:40]
        if message_type in SKIPPED_TYPES:
            logger.info(
                "message %s of type %s skipped; it is an event, not a customer message",
                message_id,
                message_type,
            )
            return None

        body = message_text(message, message_type)
        if body is None:
            logger.info("message %s skipped: a removed reaction", message_id)
            return None

        contact = _contact_for(message, contacts)
        return InboundMessage(
            channel=self.channel_id,
            sender=_sender(message, contact, message_id),
            body=body,
            provider_message_id=message_id,
            received_at=_timestamp(message, f"message {message_id}"),
            profile_name=_profile_name(contact),
        )

    def _status(self, status: Mapping[str, Any]) -> StatusUpdate | None:
        message_id = _required_text(status, "id", "statuses[].id")
        name = str(status.get("status") or "")[:40]
        mapped = STATUS_MAP.get(name)
        if mapped is None:
            logger.info(
                "status %r for message %s skipped; parley records sent, delivered, "
                "read and failed",
                name,
                message_id,
            )
            return None

        code, text = (
            _first_error(status) if mapped is DeliveryStatus.FAILED else (None, None)
        )
        return StatusUpdate(
            channel=self.channel_id,
            provider_message_id=message_id,
            status=mapped,
            occurred_at=_timestamp(status, f"status of {message_id}"),
            error_code=code,
            error_message=text,
        )


def message_text(message: Mapping[str, Any], message_type: str) -> str | None:
    """Return a customer message as text, with a note for non-text parts.

    Button and list replies become the title the customer tapped, without a
    note, so that a reply button titled STOP is an opt-out like the typed
    word. Media, locations and the like get a bracketed note. None means the
    message carries nothing to record (a reaction that was removed).

    Raises:
        MalformedPayload: a text message has no ``text.body``.
    """
    part = message.get(message_type)
    part = part if isinstance(part, Mapping) else {}

    if message_type == "text":
        body = part.get("body")
        if not isinstance(body, str):
            raise MalformedPayload("a text message has no text.body")
        return body
    if message_type == "button":
        return _text(part.get("text")) or _text(part.get("payload")) or "[button reply]"
    if message_type == "interactive":
        return _interactive_text(part)
    if message_type in MEDIA_TYPES:
        return _media_text(message_type, part)
    if message_type == "reaction":
        emoji = _text(part.get("emoji"))
        return f"[reacted {emoji} to an earlier message]" if emoji else None
    if message_type == "location":
        return _location_text(part)
    if message_type == "contacts":
        return _contacts_text(message.get("contacts"))
    if message_type == "order":
        items = part.get("product_items")
        count = len(items) if isinstance(items, list) else 0
        return f"[order of {count} item(s) from the WhatsApp catalog]"
    return f"[a WhatsApp {message_type} message, which parley cannot show]"


def _interactive_text(part: Mapping[str, Any]) -> str:
    for key in ("button_reply", "list_reply"):
        reply = part.get(key)
        if isinstance(reply, Mapping):
            title = _text(reply.get("title"))
            if title:
                return title
    if isinstance(part.get("nfm_reply"), Mapping):
        return "[a WhatsApp Flow form was submitted]"
    return "[an interactive reply without a title]"


def _media_text(message_type: str, part: Mapping[str, Any]) -> str:
    media_id = _text(part.get("id")) or "unknown"
    filename = _text(part.get("filename"))
    what = f"{message_type} {filename}" if filename else message_type
    note = f"[{what} attached; WhatsApp media id {media_id}]"

    caption = _text(part.get("caption"))
    return f"{caption}\n{note}" if caption else note


def _location_text(part: Mapping[str, Any]) -> str:
    place = ", ".join(
        text for text in (_text(part.get("name")), _text(part.get("address"))) if text
    )
    latitude = part.get("latitude")
    longitude = part.get("longitude")
    where = f"{latitude}, {longitude}"
    return (
        f"[location shared: {place} ({where})]"
        if place
        else f"[location shared: {where}]"
    )


def _contacts_text(cards: Any) -> str:
    names = []
    for card in cards if isinstance(cards, list) else []:
        name = card.get("name") if isinstance(card, Mapping) else None
        formatted = (
            _text(name.get("formatted_name")) if isinstance(name, Mapping) else None
        )
        if formatted:
            names.append(formatted)
    return (
        f"[contact card shared: {', '.join(names)}]"
        if names
        else "[contact card shared]"
    )


def _contact_for(
    message: Mapping[str, Any], contacts: list[Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    sender = message.get("from")
    user_id = message.get("from_user_id")
    for contact in contacts:
        if sender is not None and contact.get("wa_id") == sender:
            return contact
        if user_id is not None and contact.get("user_id") == user_id:
            return contact
    return contacts[0] if len(contacts) == 1 else None


def _sender(
    message: Mapping[str, Any], contact: Mapping[str, Any] | None, message_id: str
) -> ChannelAddress:
    """Return the phone address of the sender, else the business-scoped user id.

    NOTE: Meta names the user id ``contacts[].user_id``; the sender field on
    ``messages[]`` (read here as ``from_user_id``) is not confirmed.
    """
    contact = contact or {}
    for candidate in (message.get("from"), contact.get("wa_id")):
        if isinstance(candidate, str):
            address = phone_address(candidate)
            if address is not None:
                return address

    for candidate in (
        message.get("from_user_id"),
        contact.get("user_id"),
        message.get("from"),
    ):
        if isinstance(candidate, str):
            address = bsuid_address(candidate)
            if address is not None:
                return address

    raise MalformedPayload(
        f"message {message_id} has neither a sender phone number (from, "
        "contacts[].wa_id) nor a business-scoped user id (contacts[].user_id)"
    )


def _profile_name(contact: Mapping[str, Any] | None) -> str | None:
    profile = contact.get("profile") if contact else None
    if not isinstance(profile, Mapping):
        return None
    return _text(profile.get("name"))


def _first_error(status: Mapping[str, Any]) -> tuple[str | None, str | None]:
    errors = status.get("errors")
    first = errors[0] if isinstance(errors, list) and errors else None
    if not isinstance(first, Mapping):
        return None, None

    code = first.get("code")
    title = _text(first.get("title")) or _text(first.get("message"))
    data = first.get("error_data")
    details = _text(data.get("details")) if isinstance(data, Mapping) else None
    text = (
        f"{title}: {details}"
        if title and details and details != title
        else title or details
    )
    code_text = (
        str(code)
        if isinstance(code, int | str) and not isinstance(code, bool)
        else None
    )
    return code_text, text


def _timestamp(item: Mapping[str, Any], what: str) -> datetime:
    """Read a Unix timestamp in seconds, which WhatsApp sends as a string."""
    raw = item.get("timestamp")
    try:
        seconds = int(str(raw).strip())
    except ValueError:
        raise MalformedPayload(
            f"{what} has timestamp {str(raw)[:20]!r}; expected Unix seconds"
        ) from None
    return datetime.fromtimestamp(seconds, UTC)


def _business_number(value: Mapping[str, Any]) -> str | None:
    metadata = value.get("metadata")
    number = (
        metadata.get("display_phone_number") if isinstance(metadata, Mapping) else None
    )
    address = phone_address(number) if isinstance(number, str) else None
    return address.value if address is not None else None


def _required_text(item: Mapping[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value.strip():
        raise MalformedPayload(f"{where} is missing")
    return value.strip()


def _list(value: Mapping[str, Any], key: str) -> list[Any]:
    items = value.get(key)
    if items is None:
        return []
    if not isinstance(items, list):
        raise MalformedPayload(f"value.{key} is not a list")
    return items


def _object(item: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(item, Mapping):
        raise MalformedPayload(f"value.{where} is not an object")
    return item


def _text(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()
