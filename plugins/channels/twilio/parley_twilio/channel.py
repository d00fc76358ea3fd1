"""The ``twilio`` channel: SMS and MMS through Twilio's Messages API."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from parley import (
    AddressKind,
    Channel,
    InboundBatch,
    OutboundMessage,
    SendBlocked,
    SendResult,
    Throughput,
    WebhookRequest,
)
from parley_twilio.client import MessagesClient
from parley_twilio.const import PLUGIN_ID, STATUS_PATH
from parley_twilio.mapping import map_send_status
from parley_twilio.redact import mask_phone
from parley_twilio.rules import blocked_reason
from parley_twilio.segments import segment_count
from parley_twilio.settings import TwilioSettings
from parley_twilio.webhook import TwilioWebhook

logger = logging.getLogger(__name__)


class TwilioChannel(Channel):
    """Sends through Twilio and receives its message and status webhooks."""

    id = PLUGIN_ID
    address_kind = AddressKind.PHONE

    def __init__(
        self,
        settings: TwilioSettings,
        webhook_url: str | None,
        default_region: str,
        clock: Callable[[], datetime],
    ) -> None:
        """Create the channel; no connection opens before the first send.

        Args:
            settings: the validated ``[twilio]`` section.
            webhook_url: the public URL of ``/webhooks/twilio``, or None when
                neither ``webhook_url`` nor ``[server] public_url`` is set.
            default_region: country for numbers without a country code.
            clock: the current time.
        """
        self.max_concurrent_requests = settings.max_concurrent_requests
        self._settings = settings
        self._webhook_url = webhook_url
        self._client = MessagesClient(settings)
        self._webhook = TwilioWebhook(
            auth_token=settings.auth_token.get_secret_value(),
            webhook_url=webhook_url,
            trusted_proxies=settings.trusted_proxies,
            default_region=default_region,
            clock=clock,
        )

    @property
    def status_callback_url(self) -> str | None:
        """The URL Twilio posts status callbacks to, or None for none."""
        if not self._settings.status_callbacks or self._webhook_url is None:
            return None
        return self._webhook_url + STATUS_PATH

    def window_rule(self, message: OutboundMessage, now: datetime) -> str | None:
        """Return why Twilio cannot take the message, or None.

        SMS has no customer-service window, so only the recipient and the
        body are checked; ``now`` is not used.
        """
        return blocked_reason(message)

    def throughput(self, message: OutboundMessage) -> Throughput:
        """Return the sender's rate, in messages of this size per second.

        Twilio counts its rate in segments, so a message of three segments
        takes three times the time of a single one.
        """
        rate = self._settings.rate_per_second
        segments = max(segment_count(message.body), 1)
        return Throughput(
            key=f"{PLUGIN_ID}:{self._settings.sender_key}",
            per_second=rate / segments,
        )

    def send(self, message: OutboundMessage) -> SendResult:
        """Create the message at Twilio.

        Raises:
            SendBlocked: a channel rule forbids the message; nothing was sent.
            DeliveryError: Twilio refused it or could not be reached.
        """
        reason = blocked_reason(message)
        if reason is not None:
            raise SendBlocked(reason)

        segments = segment_count(message.body)
        logger.info(
            "message %s to %s: sending %d characters%s through %s",
            message.id,
            mask_phone(message.to),
            len(message.body),
            f" in {segments} segments",
            self._client.url,
        )
        created = self._client.create(self._params(message))

        status = map_send_status(created.status, created.sid)
        logger.info(
            "message %s accepted by Twilio as %s with status %s (Twilio counts %s "
            "segments)",
            message.id,
            created.sid,
            created.status or "(none)",
            created.num_segments or "no",
        )
        return SendResult(provider_message_id=created.sid, status=status)

    def handle_webhook(self, request: WebhookRequest) -> InboundBatch:
        """Verify and parse an incoming message or a status callback."""
        return self._webhook.handle(request)

    def close(self) -> None:
        """Close the connections to Twilio's API."""
        self._client.close()

    def _params(self, message: OutboundMessage) -> dict[str, str]:
        params = {"To": message.to, "Body": message.body}
        if self._settings.from_number is not None:
            params["From"] = self._settings.from_number
        if self._settings.messaging_service_sid is not None:
            params["MessagingServiceSid"] = self._settings.messaging_service_sid
        callback = self.status_callback_url
        if callback is not None:
            params["StatusCallback"] = callback
        if self._settings.validity_period_seconds is not None:
            params["ValidityPeriod"] = str(self._settings.validity_period_seconds)
        return params
