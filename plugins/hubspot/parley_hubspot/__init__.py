"""parley-hubspot: contacts and template fields from HubSpot, and write-back.

This module holds only the hook implementations; the work happens in
:mod:`parley_hubspot.connector` (lookups), :mod:`parley_hubspot.sync`,
:mod:`parley_hubspot.webhook`, :mod:`parley_hubspot.writeback` and
:mod:`parley_hubspot.checks`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic import BaseModel

from parley import (
    ChannelAddress,
    ConfigProblem,
    ConsentRecord,
    Contact,
    ContactRecord,
    ContactSync,
    InboundMessage,
    OutboundMessage,
    PluginContext,
    StarterConfig,
    WebhookRoute,
    hookimpl,
)
from parley_hubspot import starter
from parley_hubspot.checks import check_settings
from parley_hubspot.connector import connector_for
from parley_hubspot.const import PLUGIN_ID
from parley_hubspot.credentials import check_credentials as token_problems
from parley_hubspot.fields import declared_field_names
from parley_hubspot.settings import HubSpotSettings, field_key, hubspot_settings
from parley_hubspot.sync import build_contact_sync
from parley_hubspot.webhook import HubSpotWebhookHandler
from parley_hubspot.writeback import WriteBack

__version__ = "0.1.0"


@hookimpl
def register_settings(register: Callable[[str, type[BaseModel]], None]) -> None:
    """Declare the ``[hubspot]`` settings model."""
    register(PLUGIN_ID, HubSpotSettings)


@hookimpl
def register_fields(
    register: Callable[[str, Sequence[str]], None], context: PluginContext
) -> None:
    """Declare HubSpot Contact ID and the fields mapped to contact properties."""
    register(PLUGIN_ID, declared_field_names(hubspot_settings(context)))


@hookimpl
def resolve_field(name: str, contact: Contact, context: PluginContext) -> str | None:
    """Return a declared field's value from the contact; ``""`` when it has none."""
    fields = declared_field_names(hubspot_settings(context))
    declared = {field_key(field) for field in fields}
    if name not in declared:
        return None
    for key, value in contact.fields.items():
        if field_key(key) == name:
            return value
    return ""


@hookimpl
def lookup_contact(
    address: ChannelAddress, context: PluginContext
) -> ContactRecord | None:
    """Find the HubSpot contact with this phone number or email address."""
    return connector_for(context).lookup(address)


@hookimpl
def register_contact_syncs(
    register: Callable[[ContactSync], None], context: PluginContext
) -> None:
    """Copy HubSpot contacts into the local store: a backfill, then changes."""
    register(build_contact_sync(context, connector_for(context)))


@hookimpl
def register_webhooks(
    register: Callable[[WebhookRoute], None], context: PluginContext
) -> None:
    """Serve HubSpot's contact webhooks at ``POST /webhooks/hubspot``."""
    if hubspot_settings(context).client_secret is None:
        context.logger(PLUGIN_ID).info(
            "hubspot.client_secret is not set; /webhooks/hubspot is not served"
        )
        return
    handler = HubSpotWebhookHandler(context, lambda: connector_for(context))
    register(WebhookRoute(plugin_id=PLUGIN_ID, path="", handler=handler))


@hookimpl
def message_sent(
    message: OutboundMessage, contact: Contact | None, context: PluginContext
) -> None:
    """Log a sent message on the HubSpot contact, when log_messages is on."""
    if not hubspot_settings(context).log_messages:
        return
    WriteBack(context, connector_for(context)).log_sent(
        message, contact, context.clock()
    )


@hookimpl
def message_received(
    message: InboundMessage, contact: Contact, context: PluginContext
) -> None:
    """Log a customer's message on the HubSpot contact, when log_messages is on."""
    if not hubspot_settings(context).log_messages:
        return
    WriteBack(context, connector_for(context)).log_received(message, contact)


@hookimpl
def consent_changed(
    record: ConsentRecord, contact: Contact | None, context: PluginContext
) -> None:
    """Write an opt-out or opt-in to the HubSpot contact, when write_consent is on."""
    if not hubspot_settings(context).write_consent:
        return
    WriteBack(context, connector_for(context)).write_consent(record, contact)


@hookimpl
def check_config(context: PluginContext) -> Sequence[ConfigProblem]:
    """Check the token, its scopes and the mapped properties against HubSpot."""
    return check_settings(context)


@hookimpl
def check_credentials(context: PluginContext) -> Sequence[ConfigProblem]:
    """Read the contact property definitions with the configured access token."""
    return token_problems(context)


@hookimpl
def starter_config() -> StarterConfig:
    """Add a commented ``[hubspot]`` section."""
    return starter.starter_config()
