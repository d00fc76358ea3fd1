"""The ``whatsapp`` channel: sends through the Cloud API and reads Meta's webhooks."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

import httpx

from parley import (
    AddressKind,
    Channel,
    DeliveryStatus,
    InboundBatch,
    OutboundMessage,
    SendResult,
    Throughput,
    WebhookRequest,
)
from parley_whatsapp.addresses import is_bsuid
from parley_whatsapp.client import GraphClient
from parley_whatsapp.const import PLUGIN_ID, SERVICE_WINDOW
from parley_whatsapp.payloads import message_body
from parley_whatsapp.settings import WhatsAppSettings
from parley_whatsapp.webhook import handle_request
from parley_whatsapp.window import TemplatePlan, plan_message, window_reason

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class WhatsAppChannel(Channel):
    """One WhatsApp business phone number on the Cloud API."""

    id = PLUGIN_ID
    address_kind = AddressKind.PHONE
    service_window = SERVICE_WINDOW

    def __init__(
        self,
        settings: WhatsAppSettings,
        clock: Clock,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """Create the channel; no connection is opened until the first send.

        Args:
            settings: the validated ``[whatsapp]`` section.
            clock: the instance's clock; ``send`` reads it to decide between
                free-form text and a template.
            transport: an httpx transport for tests; None uses the network.
        """
        self.settings = settings
        self.clock = clock
        self.max_concurrent_requests = settings.max_concurrent_requests
        self.client = GraphClient(settings, transport=transport)

    def window_rule(self, message: OutboundMessage, now: datetime) -> str | None:
        """Return why the message cannot go out now, or None when it can.

        Inside the customer service window any text may go; outside it the
        kind needs a configured template whose parameters all have values.
        """
        return window_reason(message, now, self.settings)

    def fields_for(self, kind: str) -> Sequence[str]:
        """Return the template fields of the kind's template, or none."""
        template = self.settings.template_for(kind)
        return template.field_names if template is not None else ()

    def throughput(self, message: OutboundMessage) -> Throughput:
        """Return the send rate of the business phone number."""
        return Throughput(
            key=f"{PLUGIN_ID}:{self.settings.phone_number_id}",
            per_second=self.settings.messages_per_second,
        )

    def send(self, message: OutboundMessage) -> SendResult:
        """Send free-form text inside the window, else the kind's template.

        The window is judged with the channel's clock at this moment, not
        when the message was queued.

        Raises:
            SendBlocked: outside the window with no template for the kind, a
                template parameter is empty, or the text is too long; no
                request was made.
            DeliveryError: the Graph API refused the message or could not be
                reached.
        """
        now = self.clock()
        plan = plan_message(message, now, self.settings)
        body = message_body(message, plan, self.settings.preview_url)

        template = plan.template.name if isinstance(plan, TemplatePlan) else None
        message_id = self.client.send(body, kind=message.kind, template=template)

        logger.info(
            "message %s sent to %s as %s, WhatsApp id %s",
            message.id,
            _masked(message.to),
            f"template {template}" if template else "free-form text",
            message_id,
        )
        return SendResult(provider_message_id=message_id, status=DeliveryStatus.SENT)

    def handle_webhook(self, request: WebhookRequest) -> InboundBatch:
        """Respond to Meta's verification handshake, or verify and parse a delivery."""
        return handle_request(request, self.settings, self.id)


def _masked(address: str) -> str:
    """Return the last two characters of a phone number or user id, for logs."""
    kind = "user id" if is_bsuid(address) else "phone"
    return f"{kind} ...{address[-2:]}"
