"""The base class channel plugins implement.

A channel plugin registers one instance per channel through the
``register_channels`` hook. The core calls :meth:`Channel.send` from the
outbox worker and :meth:`Channel.handle_webhook` for requests to
``/webhooks/<channel id>``. Hooks find channels; the channel objects do the
work.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

from parley.models import (
    AddressKind,
    InboundMessage,
    OutboundMessage,
    SendResult,
    StatusUpdate,
)
from parley.webhooks import WebhookRequest, WebhookResponse


@dataclass(frozen=True)
class InboundBatch:
    """The contents of one webhook request to a channel.

    Attributes:
        messages: customer messages, in the order the provider sent them.
        statuses: delivery status reports for messages the business sent.
        response: the answer to send back; the default is an empty 200.
    """

    messages: tuple[InboundMessage, ...] = ()
    statuses: tuple[StatusUpdate, ...] = ()
    response: WebhookResponse = field(default_factory=WebhookResponse)


class Channel(abc.ABC):
    """A way to exchange messages with customers (SMS, WhatsApp, Messenger).

    Attributes:
        id: unique channel id; also the webhook path segment and config key.
        address_kind: the kind of address this channel sends to.
    """

    id: str
    address_kind: AddressKind = AddressKind.PHONE

    @abc.abstractmethod
    def send(self, message: OutboundMessage) -> SendResult:
        """Hand one message to the provider.

        Args:
            message: the message to send; ``message.to`` is an address of
                ``address_kind``.

        Returns:
            The provider's message id and the status it reported.

        Raises:
            parley.errors.DeliveryError: when the provider did not accept the
                message; ``permanent`` says whether a retry can succeed.
        """

    @abc.abstractmethod
    def handle_webhook(self, request: WebhookRequest) -> InboundBatch:
        """Verify and parse an inbound webhook request.

        The signature is verified over ``request.body`` before anything is
        parsed.

        Args:
            request: the request to ``/webhooks/<channel id>...``.

        Returns:
            The messages and status reports the request carried.

        Raises:
            parley.errors.SignatureError: when the signature is missing or wrong.
            parley.errors.WebhookRejected: when the request is malformed.
        """
