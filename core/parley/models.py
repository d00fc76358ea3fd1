"""Domain records passed between the core and plugins.

These are plain frozen dataclasses so that plugins can build them without
touching the store, and the core can serialise them into the durable event
queue as JSON.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class AddressKind(enum.StrEnum):
    """Kinds of channel address that identify a contact."""

    PHONE = "phone"
    EMAIL = "email"
    WHATSAPP = "whatsapp"
    WHATSAPP_USER_ID = "whatsapp_user_id"
    PAGE_SCOPED_ID = "psid"


@dataclass(frozen=True)
class ChannelAddress:
    """One way to reach a contact.

    Attributes:
        kind: what the value is.
        value: the normalised value: E.164 for phone numbers (``+14155550123``),
            lower case for email addresses, the provider's id otherwise
            (a WhatsApp business-scoped user id, a page-scoped id).
    """

    kind: AddressKind
    value: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", AddressKind(self.kind))


class OrderStatus(enum.StrEnum):
    """Customer-visible states of an order, in the order they normally occur.

    The rank is used to keep an order from moving backwards when events
    arrive late; cancelled and refunded end the sequence.
    """

    CONFIRMED = "confirmed"
    SHIPPED = "shipped"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"

    @property
    def rank(self) -> int:
        """Position of this status in the normal sequence, starting at 0."""
        return list(OrderStatus).index(self)

    @property
    def label(self) -> str:
        """The status as a customer reads it, for example ``out for delivery``."""
        return self.value.replace("_", " ")


class Purpose(enum.StrEnum):
    """The reason a message is sent; each purpose needs a different level of consent."""

    CONVERSATIONAL = "conversational"
    INFORMATIONAL = "informational"
    PROMOTIONAL = "promotional"


@dataclass(frozen=True)
class ContactRecord:
    """One plugin's record of a contact.

    Several plugins may answer a lookup; the core merges their records field
    by field with the precedence set in ``[contacts] precedence``.

    Attributes:
        source: id of the plugin that produced the record.
        external_id: the contact's id in that plugin's system, if any.
        first_name: given name as the customer would be addressed.
        last_name: family name.
        email: email address.
        phone: phone number in E.164.
        time_zone: IANA zone name, for quiet hours.
        fields: further values keyed by field name (``Loyalty Program``).
        addresses: further channel addresses the source knows for the contact.
    """

    source: str
    external_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    time_zone: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)
    addresses: tuple[ChannelAddress, ...] = ()


@dataclass(frozen=True)
class Contact:
    """A contact as the core stores it, after merging plugin records."""

    id: int
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    time_zone: str | None
    fields: Mapping[str, str]
    addresses: tuple[ChannelAddress, ...]


class ConsentAction(enum.StrEnum):
    """The customer's action that a consent record stores."""

    OPT_IN = "opt_in"
    OPT_OUT = "opt_out"
    CONFIRMATION = "confirmation"
    # Set by the core: a long-silent address needs fresh consent, START
    # restores what STOP withdrew, and a sign-up nobody confirmed in time
    # expires.
    SUSPEND = "suspend"
    RESTORE = "restore"
    EXPIRE = "expire"


class ConsentSource(enum.StrEnum):
    """The origin of a consent record."""

    KEYWORD = "keyword"
    WEB_FORM = "web_form"
    CHECKOUT = "checkout"
    POINT_OF_SALE = "point_of_sale"
    PHONE_CALL = "phone_call"
    IMPORT = "import"
    PROVIDER_REPORT = "provider_report"
    INACTIVITY = "inactivity"


@dataclass(frozen=True)
class ConsentRecord:
    """Consent a customer gave or withdrew, with its evidence.

    Attributes:
        address: the channel address the consent covers.
        purpose: the kind of message it covers.
        action: opt-in, opt-out or the confirmation of a double opt-in.
        source: where the customer gave it.
        occurred_at: when the customer gave it (timezone-aware).
        evidence: what proves it, such as ``order 6120459210842, checkout phone
            field`` or the disclosure text the customer saw.
        actor: who recorded it, such as ``shopify:harbor.myshopify.com``.
    """

    address: ChannelAddress
    purpose: Purpose
    action: ConsentAction
    source: ConsentSource
    occurred_at: datetime
    evidence: str
    actor: str

    def to_json(self) -> dict[str, Any]:
        """Return the record as JSON-compatible data."""
        return {
            "address": {"kind": self.address.kind.value, "value": self.address.value},
            "purpose": self.purpose.value,
            "action": self.action.value,
            "source": self.source.value,
            "occurred_at": self.occurred_at.isoformat(),
            "evidence": self.evidence,
            "actor": self.actor,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ConsentRecord:
        """Rebuild a record from :meth:`to_json` output."""
        return cls(
            address=ChannelAddress(
                AddressKind(data["address"]["kind"]), data["address"]["value"]
            ),
            purpose=Purpose(data["purpose"]),
            action=ConsentAction(data["action"]),
            source=ConsentSource(data["source"]),
            occurred_at=datetime.fromisoformat(data["occurred_at"]),
            evidence=data["evidence"],
            actor=data["actor"],
        )


@dataclass(frozen=True)
class OrderStatusEvent:
    """A store reports that an order reached a customer-visible status.

    Attributes:
        source: id of the store plugin (``shopify``).
        store: the shop the order belongs to (``harbor-and-pine.myshopify.com``).
        order_id: the store's stable order id, as a string.
        order_name: the name the customer sees (``#1042``).
        status: the new status.
        occurred_at: when the change happened at the store (timezone-aware).
        dedupe_key: identifies the business event; two events with the same
            key are the same change and produce at most one message. A store
            plugin builds it from the order id, the status and, for shipments,
            the fulfilment id, so that each partial shipment is its own update.
        customer: what the order says about its customer.
        fields: order values for templates, keyed by field name
            (``Order Number``, ``Tracking URL``, ``Carrier``).
        consents: consent the order carries, such as a phone number given at
            checkout; the core appends them to the consent ledger when it
            processes the event.
    """

    source: str
    store: str
    order_id: str
    order_name: str
    status: OrderStatus
    occurred_at: datetime
    dedupe_key: str
    customer: ContactRecord
    fields: Mapping[str, str] = field(default_factory=dict)
    consents: tuple[ConsentRecord, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Return the event as JSON-compatible data for the event queue."""
        data = dataclasses.asdict(self)
        data["consents"] = [consent.to_json() for consent in self.consents]
        data["status"] = self.status.value
        data["occurred_at"] = self.occurred_at.isoformat()
        data["customer"]["addresses"] = [
            {"kind": a.kind.value, "value": a.value} for a in self.customer.addresses
        ]
        data["customer"]["fields"] = dict(self.customer.fields)
        data["fields"] = dict(self.fields)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OrderStatusEvent:
        """Rebuild an event from :meth:`to_json` output."""
        customer = dict(data["customer"])
        customer["addresses"] = tuple(
            ChannelAddress(AddressKind(a["kind"]), a["value"])
            for a in customer.get("addresses", [])
        )
        return cls(
            source=data["source"],
            store=data["store"],
            order_id=data["order_id"],
            order_name=data["order_name"],
            status=OrderStatus(data["status"]),
            occurred_at=datetime.fromisoformat(data["occurred_at"]),
            dedupe_key=data["dedupe_key"],
            customer=ContactRecord(**customer),
            fields=dict(data.get("fields", {})),
            consents=tuple(
                ConsentRecord.from_json(c) for c in data.get("consents", [])
            ),
        )


@dataclass(frozen=True)
class InboundMessage:
    """A message a customer sent to the business.

    Attributes:
        channel: id of the channel it arrived on.
        sender: the customer's address on that channel.
        recipient: the business address it was sent to, when the provider reports it.
        body: the text, exactly as received.
        provider_message_id: the provider's id, used to drop redeliveries.
        received_at: when the provider received it (timezone-aware).
        media_urls: attachments, for MMS and rich channels.
        profile_name: a display name the provider reports, if any.
        opt_out_type: the provider's own keyword classification, if any
            (Twilio's ``OptOutType``).
    """

    channel: str
    sender: ChannelAddress
    body: str
    provider_message_id: str
    received_at: datetime
    recipient: str | None = None
    media_urls: tuple[str, ...] = ()
    profile_name: str | None = None
    opt_out_type: str | None = None


AGENT_REPLY_KIND = "agent_reply"
"""The message kind of a reply a person (an agent) wrote."""


class DeliveryStatus(enum.StrEnum):
    """Delivery states of an outbound message, in forward order."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    BLOCKED = "blocked"

    @property
    def rank(self) -> int:
        """Position in the forward order; a status never moves to a lower rank."""
        order = {
            "blocked": 0,
            "queued": 0,
            "sending": 1,
            "sent": 2,
            "delivered": 3,
            "undelivered": 3,
            "failed": 3,
        }
        return order[self.value]


@dataclass(frozen=True)
class StatusUpdate:
    """A provider reports a new delivery status for a message it accepted.

    Attributes:
        channel: id of the channel that reported it.
        provider_message_id: the provider's id of the outbound message.
        status: the new status.
        occurred_at: when the provider reported it (timezone-aware).
        error_code: the provider's error code for a failure (Twilio's
            ``30007``, WhatsApp's ``131047``).
        error_message: the provider's description of that error, if any.
    """

    channel: str
    provider_message_id: str
    status: DeliveryStatus
    occurred_at: datetime
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True)
class OutboundMessage:
    """One message handed to a channel for sending.

    Attributes:
        id: the core's message id; stable across retries.
        idempotency_key: unique per message; a channel whose provider
            supports idempotent requests passes it on so that a retry after a
            crash cannot send twice.
        channel: id of the channel.
        to: the recipient's address on that channel.
        body: the rendered text.
        conversation_id: the conversation the message belongs to.
        kind: what produced it (``order_update``, ``auto_reply``,
            ``agent_reply`` for a person's answer, ``opt_out_confirmation``).
        purpose: the consent purpose it was checked against.
        last_inbound_at: when the customer last wrote to the business on
            this channel and address, or None if never; channels with a
            customer-service window decide from it how the message may go.
        fields: template field values resolved when the message was queued,
            keyed by field name as templates write it (``First Name``): the
            fields the channel asked for through :meth:`Channel.fields_for`.
    """

    id: int
    idempotency_key: str
    channel: str
    to: str
    body: str
    conversation_id: int
    kind: str
    purpose: Purpose
    last_inbound_at: datetime | None = None
    fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    """The provider's acceptance of a message: its id and reported status."""

    provider_message_id: str
    status: DeliveryStatus = DeliveryStatus.SENT
