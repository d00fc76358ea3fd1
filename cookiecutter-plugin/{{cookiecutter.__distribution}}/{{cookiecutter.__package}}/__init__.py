"""{{ cookiecutter.__distribution }}: {{ cookiecutter.description.rstrip(".") }}.

This module holds only the hook implementations, each a few lines that hand
off to the other modules. parley finds it through the ``parley`` entry point
in ``pyproject.toml``.
"""

from __future__ import annotations

from collections.abc import Callable{% if cookiecutter.kind in ["crm", "store"] %}, Sequence{% endif %}

{% if cookiecutter.kind == "crm" -%}
from parley import (
    ChannelAddress,
    Contact,
    ContactRecord,
    OrderStatusEvent,
    PluginContext,
    hookimpl,
)
from pydantic import BaseModel

from {{ cookiecutter.__package }}.client import {{ cookiecutter.__class_prefix }}Client
from {{ cookiecutter.__package }}.const import FIELD_NAMES, PLUGIN_ID
from {{ cookiecutter.__package }}.mapping import (
    address_of,
    contact_record,
    field_value,
    property_for,
)
from {{ cookiecutter.__package }}.settings import {{ cookiecutter.__class_prefix }}Settings, settings_from
{%- elif cookiecutter.kind == "store" -%}
from parley import PluginContext, WebhookRoute, hookimpl
from pydantic import BaseModel

from {{ cookiecutter.__package }}.const import FIELD_NAMES, PLUGIN_ID
from {{ cookiecutter.__package }}.settings import {{ cookiecutter.__class_prefix }}Settings
from {{ cookiecutter.__package }}.webhook import OrderWebhook
{%- elif cookiecutter.kind == "channel" -%}
from parley import Channel, PluginContext, hookimpl
from pydantic import BaseModel

from {{ cookiecutter.__package }}.channel import {{ cookiecutter.__class_prefix }}Channel
from {{ cookiecutter.__package }}.const import PLUGIN_ID
from {{ cookiecutter.__package }}.settings import {{ cookiecutter.__class_prefix }}Settings, settings_from
{%- else -%}
from parley import hookimpl
from pydantic import BaseModel

from {{ cookiecutter.__package }}.const import PLUGIN_ID
from {{ cookiecutter.__package }}.settings import {{ cookiecutter.__class_prefix }}Settings
{%- endif %}

__version__ = "0.1.0"


@hookimpl
def register_settings(register: Callable[[str, type[BaseModel]], None]) -> None:
    """Declare the ``[{{ cookiecutter.__plugin_id }}]`` settings model."""
    register(PLUGIN_ID, {{ cookiecutter.__class_prefix }}Settings)
{%- if cookiecutter.kind == "crm" %}


@hookimpl
def register_fields(register: Callable[[str, Sequence[str]], None]) -> None:
    """Declare the contact fields templates may use."""
    register(PLUGIN_ID, FIELD_NAMES)


@hookimpl
def lookup_contact(
    address: ChannelAddress, context: PluginContext
) -> ContactRecord | None:
    """Find the CRM contact at a phone number or email address; None if unknown."""
    with {{ cookiecutter.__class_prefix }}Client.from_settings(settings_from(context)) as client:
        found = client.find_contact(address)
    return contact_record(found) if found is not None else None


@hookimpl
def resolve_field(
    name: str,
    contact: Contact,
    event: OrderStatusEvent | None,
    context: PluginContext,
) -> str | None:
    """Read a declared field from the CRM when a template is rendered.

    parley stores a contact after its first lookup, so values that change,
    such as loyalty points, are read fresh here. Returns None for fields of
    other plugins and ``""`` when the CRM has no value.
    """
    prop = property_for(name)
    if prop is None:
        return None
    address = address_of(contact)
    if address is None:
        return ""
    with {{ cookiecutter.__class_prefix }}Client.from_settings(settings_from(context)) as client:
        found = client.find_contact(address)
    return field_value(found, prop) if found is not None else ""
{%- elif cookiecutter.kind == "store" %}


@hookimpl
def register_webhooks(
    register: Callable[[WebhookRoute], None], context: PluginContext
) -> None:
    """Serve order webhooks at ``POST /webhooks/{{ cookiecutter.__plugin_id }}``."""
    register(WebhookRoute(plugin_id=PLUGIN_ID, path="", handler=OrderWebhook(context)))


@hookimpl
def register_fields(register: Callable[[str, Sequence[str]], None]) -> None:
    """Declare the order fields this plugin's events carry."""
    register(PLUGIN_ID, FIELD_NAMES)
{%- elif cookiecutter.kind == "channel" %}


@hookimpl
def register_channels(
    register: Callable[[Channel], None], context: PluginContext
) -> None:
    """Register the ``{{ cookiecutter.__plugin_id }}`` channel."""
    register({{ cookiecutter.__class_prefix }}Channel(settings_from(context)))
{%- endif %}
