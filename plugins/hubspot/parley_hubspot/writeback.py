"""Write-back to HubSpot: conversation messages and consent changes.

Each message is logged on the HubSpot contact as a communication on its
channel (SMS or WhatsApp). Each opt-out or opt-in is written to the contact
property configured for its purpose, so that HubSpot workflows see the
consent parley enforces.

The core calls these hooks at least once, so each write is recorded in the
plugin's state and skipped when it was already made.

NOTE: a crash between HubSpot accepting a communication and the state being
stored logs that message twice; HubSpot has no idempotency key for creates.
"""

from __future__ import annotations

import html
import logging
from datetime import datetime

from parley import (
    AGENT_REPLY_KIND,
    AddressKind,
    ChannelAddress,
    ConsentAction,
    ConsentRecord,
    Contact,
    InboundMessage,
    OutboundMessage,
    PluginContext,
    normalize_phone,
)
from parley_hubspot.connector import HubSpotConnector
from parley_hubspot.const import (
    PLUGIN_ID,
    STATE_CONSENT_PREFIX,
    STATE_LOGGED_PREFIX,
)
from parley_hubspot.errors import HubSpotNotFound
from parley_hubspot.mapping import parse_timestamp

logger = logging.getLogger(__name__)

# Kinds of outbound message the log names, so that a person reading the
# timeline can tell an automatic text from one a colleague wrote.
_KIND_LABELS = {
    AGENT_REPLY_KIND: "reply",
    "order_update": "order update",
    "auto_reply": "automatic reply",
    "first_message": "automatic reply",
    "opt_out_confirmation": "opt-out confirmation",
    "opt_in_confirmation": "opt-in confirmation",
    "opt_in_prompt": "opt-in request",
    "help": "help answer",
}


class WriteBack:
    """Writes messages and consent of one running instance to HubSpot."""

    def __init__(self, context: PluginContext, connector: HubSpotConnector) -> None:
        """Create the writer."""
        self.context = context
        self.connector = connector
        self.settings = connector.settings

    def log_sent(
        self, message: OutboundMessage, contact: Contact | None, sent_at: datetime
    ) -> str | None:
        """Log a message the business sent; return the communication id, if logged."""
        business = self.context.settings.business.name
        kind = _KIND_LABELS.get(message.kind, message.kind.replace("_", " "))
        heading = f"Sent by {business} ({kind})"
        return self._log(
            key=f"sent:{message.id}",
            channel=message.channel,
            contact=contact,
            address=_address(message.to, contact),
            text=_body_html(heading, message.body),
            at=sent_at,
        )

    def log_received(
        self, message: InboundMessage, contact: Contact | None
    ) -> str | None:
        """Log a customer's message; return the communication id, if logged."""
        return self._log(
            key=f"received:{message.channel}:{message.provider_message_id}",
            channel=message.channel,
            contact=contact,
            address=message.sender,
            text=_body_html("Received from the customer", message.body),
            at=message.received_at,
        )

    def write_consent(self, record: ConsentRecord, contact: Contact | None) -> bool:
        """Write a consent change to its purpose's property; return True if written.

        A record older than the last one written for the same contact and
        property is skipped, so a late retry cannot undo a newer change.
        """
        prop = self.settings.consent_properties.get(record.purpose)
        if prop is None:
            return False

        contact_id = self.connector.contact_id_for(contact, record.address)
        if contact_id is None:
            logger.info(
                "no HubSpot contact for a %s %s; consent not written",
                record.purpose.value,
                record.action.value,
            )
            return False

        key = f"{STATE_CONSENT_PREFIX}{contact_id}:{prop}"
        written = parse_timestamp(self.context.get_state(PLUGIN_ID, key))
        if written is not None and record.occurred_at <= written:
            logger.debug(
                "consent for HubSpot contact %s already written up to %s",
                contact_id,
                written.isoformat(),
            )
            return False

        value = (
            self.settings.consent_opt_out_value
            if record.action is ConsentAction.OPT_OUT
            else self.settings.consent_opt_in_value
        )
        self.connector.client.update_contact(contact_id, {prop: value})
        self.context.set_state(PLUGIN_ID, key, record.occurred_at.isoformat())
        logger.info(
            "wrote %s %s to property %s of HubSpot contact %s",
            record.purpose.value,
            record.action.value,
            prop,
            contact_id,
        )
        return True

    def _log(
        self,
        *,
        key: str,
        channel: str,
        contact: Contact | None,
        address: ChannelAddress | None,
        text: str,
        at: datetime,
    ) -> str | None:
        channel_type = self.settings.log_channels.get(channel)
        if channel_type is None:
            logger.debug("messages on channel %s are not logged in HubSpot", channel)
            return None

        state_key = f"{STATE_LOGGED_PREFIX}{key}"
        logged = self.context.get_state(PLUGIN_ID, state_key)
        if logged:
            logger.debug("message %s is already HubSpot communication %s", key, logged)
            return logged

        contact_id = self.connector.contact_id_for(contact, address)
        if contact_id is None:
            logger.info("no HubSpot contact for message %s; not logged", key)
            return None

        properties = {
            "hs_communication_channel_type": channel_type,
            "hs_communication_logged_from": "CRM",
            "hs_communication_body": text,
            "hs_timestamp": at.isoformat(),
        }
        try:
            communication_id = self.connector.client.create_communication(
                contact_id, properties
            )
        except HubSpotNotFound:
            logger.warning(
                "HubSpot contact %s no longer exists; message %s not logged",
                contact_id,
                key,
            )
            return None
        self.context.set_state(PLUGIN_ID, state_key, communication_id or "logged")
        logger.info(
            "logged message %s on HubSpot contact %s as communication %s",
            key,
            contact_id,
            communication_id,
        )
        return communication_id


def _address(to: str, contact: Contact | None) -> ChannelAddress | None:
    """Return the recipient's address: the contact's own, else ``to`` as a phone."""
    if contact is not None:
        for address in contact.addresses:
            if address.value == to or address.value.lstrip("+") == to.lstrip("+"):
                return address
    if normalize_phone(to) is not None:
        return ChannelAddress(AddressKind.PHONE, to)
    return None


def _body_html(heading: str, body: str) -> str:
    """Return the communication body: a heading and the text, escaped, with line breaks."""
    text = html.escape(body).replace("\n", "<br>")
    return f"<p><strong>{html.escape(heading)}</strong></p><p>{text}</p>"
