"""The base class channel plugins implement.

A channel plugin registers one instance per channel through the
``register_channels`` hook. The core calls :meth:`Channel.send` from the
outbox worker and :meth:`Channel.handle_webhook` for requests to
``/webhooks/<channel id>``. Hooks find channels; the channel objects do the
work.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

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


@dataclass(frozen=True)
class Throughput:
    """A sender's sending rate that the outbox keeps to.

    Attributes:
        key: identifies the sender the limit belongs to, such as the
            sending phone number or Messaging Service; sends with the same
            key share one limit.
        per_second: the maximum messages per second the provider accepts from
            that sender.
    """

    key: str
    per_second: float


class Channel(abc.ABC):
    """A way to exchange messages with customers (SMS, WhatsApp, Messenger).

    Attributes:
        id: unique channel id; also the webhook path segment and config key.
        address_kind: the kind of address this channel sends to.
        service_window: how long after the customer's last message the
            channel allows free-form messages, or None when it has no such
            window. The channel applies it in :meth:`window_rule` and
            :meth:`send`; the core shows it in ``parley explain``.
        max_concurrent_requests: the maximum number of sends the outbox runs at the same
            time on this channel, or None for no limit beyond
            ``[outbox] concurrency``.
    """

    id: str
    address_kind: AddressKind = AddressKind.PHONE
    service_window: timedelta | None = None
    max_concurrent_requests: int | None = None

    def window_rule(self, message: OutboundMessage, now: datetime) -> str | None:
        """Return why the channel's rules forbid sending a message now, or None.

        The send gate calls this when a message is queued and again right
        before it is sent, with ``message.last_inbound_at`` filled in. It
        makes no network calls. A message that is only possible as a
        template outside the window is allowed when the channel has a
        template for it.

        Args:
            message: the message, as it would be handed to :meth:`send`.
            now: the current time (timezone-aware).

        Returns:
            None when the message may go out, otherwise the reason, naming
            the rule (``outside the 24-hour customer service window and no
            template configured for agent_reply``).
        """
        return None

    def fields_for(self, kind: str) -> Sequence[str]:
        """Return the template fields the channel may need to send a message kind.

        The core resolves these when it queues a message of that kind and
        passes them in ``OutboundMessage.fields``, so that a channel can
        fill a provider template's parameters at send time.

        Args:
            kind: the message kind (``order_update``, ``agent_reply``).
        """
        return ()

    def throughput(self, message: OutboundMessage) -> Throughput | None:
        """Return the rate limit of the sender this message goes from, or None."""
        return None

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
            parley.errors.SendBlocked: when a rule of the channel forbids
                the send, found before any request was made.
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
