"""The Messenger and Instagram channels: one class, configured per platform."""

from __future__ import annotations

import json
import logging
import weakref
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx

from parley import (
    AddressKind,
    Channel,
    DeliveryStatus,
    InboundBatch,
    OutboundMessage,
    SendResult,
    Throughput,
    WebhookRejected,
    WebhookRequest,
    WebhookResponse,
)
from parley_messenger.client import SendApiClient
from parley_messenger.const import MESSAGE_TAG, STANDARD_WINDOW
from parley_messenger.settings import MetaChannelSettings
from parley_messenger.signature import answer_handshake, verify_signature
from parley_messenger.webhook import WebhookParser
from parley_messenger.window import SendPlan, WindowPolicy

Clock = Callable[[], datetime]

# Channels whose connection pools daemon_stopping closes.
_OPEN_CHANNELS: weakref.WeakSet[MetaChannel] = weakref.WeakSet()


class MetaChannel(Channel):
    """Sends through Meta's Send API and reads Meta's signed webhooks.

    The same class serves Messenger and Instagram; ``settings.platform``
    sets the channel id, the webhook ``object`` and which message tags the
    platform allows. Addresses are page-scoped ids (PSIDs, or IGSIDs on
    Instagram), which carry no phone number.
    """

    address_kind = AddressKind.PAGE_SCOPED_ID
    service_window: timedelta | None = STANDARD_WINDOW

    def __init__(
        self,
        settings: MetaChannelSettings,
        clock: Clock,
        logger: logging.Logger,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """Create a channel.

        Args:
            settings: the validated ``[messenger]`` or ``[instagram]`` section.
            clock: returns the current time; the window is judged with it
                when a message is sent.
            logger: the plugin's logger.
            transport: an httpx transport for the Send API; None uses the
                network.
        """
        platform = settings.platform
        self.id = platform.channel_id
        self.max_concurrent_requests = settings.max_concurrent_requests
        self.platform = platform
        self._settings = settings
        self._clock = clock
        self._logger = logger
        self._policy = WindowPolicy(
            platform,
            settings.kind_tags,
            settings.human_agent_tag,
            settings.window_margin,
        )
        self._client = SendApiClient(settings, transport=transport)
        self._parser = WebhookParser(platform, settings.webhook_account_id, logger)

    # Sending

    def window_rule(self, message: OutboundMessage, now: datetime) -> str | None:
        """Return why the platform's window forbids the message at ``now``, or None."""
        return self._policy.reason_blocked(message, now)

    def throughput(self, message: OutboundMessage) -> Throughput | None:
        """Return the configured per-second limit of the Page or account, if any."""
        per_second = self._settings.max_messages_per_second
        if per_second is None:
            return None
        return Throughput(
            key=f"{self.id}:{self._settings.sender_id}", per_second=per_second
        )

    def send(self, message: OutboundMessage) -> SendResult:
        """Send a text message, deciding its messaging type at this moment.

        Raises:
            SendBlocked: the window closed since the message was queued and
                no tag may carry it; no request is made.
            DeliveryError: Meta rejected the message or the request failed.
        """
        plan = self._policy.plan(message, self._clock())
        payload = build_payload(message, plan)

        message_id = self._client.send(payload, message.id)
        self._logger.info(
            "%s message %s sent as %s%s to recipient ending %s: %s",
            self.platform.label,
            message.id,
            plan.messaging_type,
            f" {plan.tag}" if plan.tag else "",
            message.to[-4:],
            message_id,
        )
        return SendResult(provider_message_id=message_id, status=DeliveryStatus.SENT)

    def close(self) -> None:
        """Release the Send API connections."""
        self._client.close()

    # Receiving

    def handle_webhook(self, request: WebhookRequest) -> InboundBatch:
        """Respond to the verification request, or verify and parse a delivery.

        Raises:
            SignatureError: with status 403 for a wrong verify token, or a
                missing or wrong ``X-Hub-Signature-256``.
            WebhookRejected: 400 for a malformed body, 404 for a sub-path,
                405 for a method other than GET and POST.
        """
        if request.path not in ("", "/"):
            raise WebhookRejected(
                404,
                f"the {self.platform.label} channel serves /webhooks/{self.id} only",
            )
        if request.method == "GET":
            return self._handshake(request)
        if request.method != "POST":
            raise WebhookRejected(
                405,
                f"use GET for verification and POST for events, not {request.method}",
            )

        verify_signature(request.headers, request.body, self._settings.app_secret)
        parsed = self._parser.parse(_decode_json(request.body))
        self._logger.debug(
            "%s webhook: %d messages, %d statuses, %d entries for other accounts",
            self.platform.label,
            len(parsed.messages),
            len(parsed.statuses),
            parsed.foreign_entries,
        )
        return InboundBatch(
            messages=tuple(parsed.messages),
            statuses=tuple(parsed.statuses),
            response=WebhookResponse(
                200,
                {
                    "status": "accepted",
                    "messages": len(parsed.messages),
                    "statuses": len(parsed.statuses),
                },
            ),
        )

    def _handshake(self, request: WebhookRequest) -> InboundBatch:
        challenge = answer_handshake(
            request.query, self._settings.verify_token, self.platform
        )
        self._logger.info(
            "%s webhook verification request accepted", self.platform.label
        )
        return InboundBatch(
            response=WebhookResponse(200, challenge, "text/plain; charset=utf-8")
        )


def open_channel(
    settings: MetaChannelSettings, clock: Clock, logger: logging.Logger
) -> MetaChannel:
    """Create a channel and remember it, so :func:`close_channels` can close it."""
    channel = MetaChannel(settings, clock, logger)
    _OPEN_CHANNELS.add(channel)
    return channel


def close_channels(channel_id: str) -> None:
    """Close the connections of every open channel with this id."""
    for channel in list(_OPEN_CHANNELS):
        if channel.id == channel_id:
            channel.close()


def build_payload(message: OutboundMessage, plan: SendPlan) -> dict[str, Any]:
    """Return the Send API body of a text message.

    The keys are in the order of Meta's examples: recipient, messaging type,
    tag (only with ``MESSAGE_TAG``), message.
    """
    payload: dict[str, Any] = {
        "recipient": {"id": message.to},
        "messaging_type": plan.messaging_type,
    }
    if plan.messaging_type == MESSAGE_TAG:
        payload["tag"] = plan.tag
    payload["message"] = {"text": message.body}
    return payload


def _decode_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except UnicodeDecodeError:
        raise WebhookRejected(400, "body is not UTF-8 encoded JSON") from None
    except json.JSONDecodeError as err:
        raise WebhookRejected(
            400, f"body is not valid JSON ({err.msg} at line {err.lineno})"
        ) from None
