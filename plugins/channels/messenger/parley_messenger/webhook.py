"""Parsing of verified Messenger and Instagram webhook bodies.

Both platforms send ``{"object": ..., "entry": [{"id", "time",
"messaging": [...]}]}``: ``entry[].id`` is the Page id (Messenger) or the
Instagram professional account id, and each ``messaging`` item is one event
from one person, with timestamps in epoch milliseconds. A body may batch
several entries and events, and Meta redelivers, so every item is read and
the core drops repeated message ids.

Parsed into parley's records:

* ``message``: an inbound message, with attachment URLs as media; echoes of
  the business's own messages (``is_echo``) and deleted messages are skipped;
* ``postback`` (a tapped button): an inbound message carrying the title;
* ``delivery.mids``: ``delivered`` for each message id; a delivery that
  gives only a watermark names no message and is skipped;
* ``read`` with a ``mid`` (Instagram): ``delivered`` for that message, since
  a message read was delivered. Messenger reads give only a watermark and
  are skipped.

Other events (reactions, referrals, handovers, edits) are skipped with a
debug log line.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn

from parley import (
    AddressKind,
    ChannelAddress,
    DeliveryStatus,
    InboundMessage,
    StatusUpdate,
    WebhookRejected,
)
from parley_messenger.const import Platform

BAD_REQUEST = 400

# Epoch milliseconds later than this (the year 9999) are not timestamps.
_MAX_EPOCH_MS = 253_402_300_799_000


@dataclass
class ParsedBody:
    """The parsed content of one webhook body.

    Attributes:
        messages: customer messages, in body order.
        statuses: delivery reports of messages the business sent.
        foreign_entries: entries skipped because they name another account.
    """

    messages: list[InboundMessage] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)
    foreign_entries: int = 0


class WebhookParser:
    """Turn one platform's webhook bodies into messages and statuses."""

    def __init__(
        self, platform: Platform, account_id: str, logger: logging.Logger
    ) -> None:
        """Create a parser.

        Args:
            platform: the platform whose ``object`` the body must carry.
            account_id: the configured Page or Instagram account id; entries
                for other ids are skipped.
            logger: where skipped entries and events are logged.
        """
        self._platform = platform
        self._account_id = account_id
        self._logger = logger
        self._reported_accounts: set[str] = set()

    def parse(self, payload: Any) -> ParsedBody:
        """Parse a decoded JSON body.

        Raises:
            WebhookRejected: with status 400 when the body is not a webhook
                of this platform or an item lacks a required field; the
                reason names the field, never its value.
        """
        body = _require_mapping(payload, "the body")
        webhook_object = body.get("object")
        if webhook_object != self._platform.webhook_object:
            _reject(
                f"'object' is {_describe(webhook_object)}, expected "
                f"{self._platform.webhook_object!r}; point each product's webhook "
                "at its own channel path (/webhooks/messenger for Pages, "
                "/webhooks/instagram for Instagram)"
            )

        parsed = ParsedBody()
        entries = _require_list(body.get("entry"), "entry")
        for index, entry in enumerate(entries):
            self._parse_entry(_require_mapping(entry, f"entry[{index}]"), index, parsed)
        return parsed

    def _parse_entry(
        self, entry: Mapping[str, Any], index: int, parsed: ParsedBody
    ) -> None:
        path = f"entry[{index}]"
        entry_id = _require_id(entry.get("id"), f"{path}.id")
        if entry_id != self._account_id:
            parsed.foreign_entries += 1
            self._log_foreign_entry(entry_id)
            return

        if "messaging" not in entry:
            self._logger.debug(
                "%s webhook %s has no messaging events (keys: %s); ignored",
                self._platform.label,
                path,
                ", ".join(sorted(entry)),
            )
            return

        entry_time = entry.get("time")
        sent_at = _epoch_ms(entry_time, f"{path}.time") if entry_time else None
        events = _require_list(entry.get("messaging"), f"{path}.messaging")
        for number, event in enumerate(events):
            event_path = f"{path}.messaging[{number}]"
            self._parse_event(
                _require_mapping(event, event_path), event_path, sent_at, parsed
            )

    def _log_foreign_entry(self, entry_id: str) -> None:
        # A warning the first time each id is seen, so that a second Page on
        # the same app does not fill the log; debug lines after that.
        first = entry_id not in self._reported_accounts
        self._reported_accounts.add(entry_id)
        self._logger.log(
            logging.WARNING if first else logging.DEBUG,
            "%s webhook entry for %s %s ignored: [%s] %s is %s",
            self._platform.label,
            self._platform.account_noun,
            entry_id,
            self._platform.channel_id,
            self._platform.account_setting,
            self._account_id,
        )

    def _parse_event(
        self,
        event: Mapping[str, Any],
        path: str,
        sent_at: datetime | None,
        parsed: ParsedBody,
    ) -> None:
        if "message" in event:
            message = self._message(event, path)
            if message is not None:
                parsed.messages.append(message)
        elif "postback" in event:
            postback = self._postback(event, path)
            if postback is not None:
                parsed.messages.append(postback)
        elif "delivery" in event:
            parsed.statuses.extend(self._deliveries(event, path, sent_at))
        elif "read" in event:
            parsed.statuses.extend(self._reads(event, path, sent_at))
        else:
            kinds = sorted(set(event) - {"sender", "recipient", "timestamp"})
            self._logger.debug(
                "%s webhook %s: event %s ignored",
                self._platform.label,
                path,
                ", ".join(kinds) or "without a type",
            )

    def _message(self, event: Mapping[str, Any], path: str) -> InboundMessage | None:
        message = _require_mapping(event.get("message"), f"{path}.message")
        mid = _require_id(message.get("mid"), f"{path}.message.mid")
        if message.get("is_echo"):
            self._logger.debug(
                "%s echo of message %s ignored", self._platform.label, mid
            )
            return None
        if message.get("is_deleted"):
            self._logger.info(
                "%s message %s was deleted by the sender; ignored",
                self._platform.label,
                mid,
            )
            return None

        text = message.get("text")
        body = text if isinstance(text, str) else ""
        media = _attachment_urls(message.get("attachments"), f"{path}.message")
        if not body and not media:
            self._logger.info(
                "%s message %s has no text and no attachment URL; ignored",
                self._platform.label,
                mid,
            )
            return None
        return self._inbound(event, path, mid, body, media)

    def _postback(self, event: Mapping[str, Any], path: str) -> InboundMessage | None:
        postback = _require_mapping(event.get("postback"), f"{path}.postback")
        mid = postback.get("mid")
        title = postback.get("title")
        if not isinstance(mid, str) or not mid or not isinstance(title, str):
            self._logger.debug(
                "%s webhook %s: postback without mid or title ignored",
                self._platform.label,
                path,
            )
            return None
        return self._inbound(event, path, mid, title, ())

    def _inbound(
        self,
        event: Mapping[str, Any],
        path: str,
        mid: str,
        body: str,
        media: Sequence[str],
    ) -> InboundMessage:
        sender = _require_mapping(event.get("sender"), f"{path}.sender")
        sender_id = _require_id(sender.get("id"), f"{path}.sender.id")
        recipient = event.get("recipient")
        recipient_id = (
            _require_id(recipient.get("id"), f"{path}.recipient.id")
            if isinstance(recipient, Mapping)
            else None
        )
        return InboundMessage(
            channel=self._platform.channel_id,
            sender=ChannelAddress(AddressKind.PAGE_SCOPED_ID, sender_id),
            body=body,
            provider_message_id=mid,
            received_at=_epoch_ms(event.get("timestamp"), f"{path}.timestamp"),
            recipient=recipient_id,
            media_urls=tuple(media),
        )

    def _deliveries(
        self, event: Mapping[str, Any], path: str, sent_at: datetime | None
    ) -> list[StatusUpdate]:
        delivery = _require_mapping(event.get("delivery"), f"{path}.delivery")
        mids = delivery.get("mids")
        if mids is None:
            self._logger.debug(
                "%s delivery %s names no message ids (watermark only); ignored",
                self._platform.label,
                path,
            )
            return []

        occurred_at = _report_time(event, path, sent_at, delivery, "delivery")
        ids = _require_list(mids, f"{path}.delivery.mids")
        return [
            self._delivered(_require_id(mid, f"{path}.delivery.mids[{i}]"), occurred_at)
            for i, mid in enumerate(ids)
        ]

    def _reads(
        self, event: Mapping[str, Any], path: str, sent_at: datetime | None
    ) -> list[StatusUpdate]:
        read = _require_mapping(event.get("read"), f"{path}.read")
        mid = read.get("mid")
        if mid is None:
            self._logger.debug(
                "%s read receipt %s names no message id (watermark only); ignored",
                self._platform.label,
                path,
            )
            return []

        occurred_at = _report_time(event, path, sent_at, read, "read")
        return [self._delivered(_require_id(mid, f"{path}.read.mid"), occurred_at)]

    def _delivered(self, mid: str, occurred_at: datetime) -> StatusUpdate:
        return StatusUpdate(
            channel=self._platform.channel_id,
            provider_message_id=mid,
            status=DeliveryStatus.DELIVERED,
            occurred_at=occurred_at,
        )


def _report_time(
    event: Mapping[str, Any],
    path: str,
    sent_at: datetime | None,
    report: Mapping[str, Any],
    key: str,
) -> datetime:
    """Return when a receipt happened: the event's time, else the entry's.

    The watermark is the last resort: it is the time of the newest message
    the receipt covers, which is before the receipt itself.
    """
    if "timestamp" in event:
        return _epoch_ms(event.get("timestamp"), f"{path}.timestamp")
    if sent_at is not None:
        return sent_at
    return _epoch_ms(report.get("watermark"), f"{path}.{key}.watermark")


def _attachment_urls(value: object, path: str) -> list[str]:
    if value is None:
        return []

    urls: list[str] = []
    for index, attachment in enumerate(_require_list(value, f"{path}.attachments")):
        item = _require_mapping(attachment, f"{path}.attachments[{index}]")
        payload = item.get("payload")
        url = payload.get("url") if isinstance(payload, Mapping) else None
        if isinstance(url, str) and url.strip():
            urls.append(url.strip())
    return urls


def _epoch_ms(value: object, path: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float):
        _reject(f"{path} must be epoch milliseconds")
    if not 0 < value <= _MAX_EPOCH_MS:
        _reject(f"{path} is out of range for epoch milliseconds")
    return datetime.fromtimestamp(value / 1000, UTC)


def _require_mapping(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        _reject(f"{path} must be a JSON object")
    return value


def _require_list(value: object, path: str) -> list[Any]:
    if not isinstance(value, list):
        _reject(f"{path} must be a JSON array")
    return value


def _require_id(value: object, path: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        _reject(f"{path} is missing or not a string")
    return value.strip()


def _describe(value: object) -> str:
    if isinstance(value, str) and len(value) <= 40:
        return repr(value)
    return "missing" if value is None else f"a {type(value).__name__}"


def _reject(reason: str) -> NoReturn:
    # The daemon logs the reason of every rejection, so it is not logged here.
    raise WebhookRejected(BAD_REQUEST, reason)
