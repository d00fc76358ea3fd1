"""Hook specifications: every point where a plugin can extend parley.

Plugins implement these with the ``parley.hookimpl`` marker. The core calls
every hook with keyword arguments, so an implementation may accept any
subset of a spec's parameters.

There are three kinds of hook:

* ``register_*`` hooks contribute objects (channels, webhook routes,
  pollers, settings models, fields, CLI commands) through a ``register``
  callback that the core builds and checks.
* Lookups (``lookup_contact``, ``resolve_field``) answer a question about a
  contact.
* Events (``order_status_changed``, ``message_received``, the daemon
  lifecycle) go to every plugin; their return values are ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click
    from pydantic import BaseModel

    from parley.automation_kinds import KindRegistry
    from parley.automations import IncomingCall
    from parley.channels import Channel
    from parley.checks import ConfigProblem
    from parley.context import PluginContext, Poller
    from parley.models import (
        ChannelAddress,
        ConsentRecord,
        Contact,
        ContactRecord,
        InboundMessage,
        OrderStatusEvent,
        OutboundMessage,
    )
    from parley.starter import StarterConfig
    from parley.sync import ContactSync
    from parley.webhooks import WebhookRoute

PROJECT = "parley"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# Registration


@hookspec
def register_settings(register: Callable[[str, type[BaseModel]], None]) -> None:
    """Declare the settings model of a plugin's config section.

    Called once at start-up, before any other hook, while the configuration
    is being validated.

    Args:
        register: call ``register(plugin_id, model)`` with the plugin's id
            and a pydantic model class. The core validates the ``[plugin_id]``
            section of ``parley.toml``, with ``PARLEY_<PLUGIN_ID>__<KEY>``
            environment variables overriding it, against the model.
    """


@hookspec
def register_channels(
    register: Callable[[Channel], None], context: PluginContext
) -> None:
    """Contribute channel objects that send and receive messages.

    Called once when the daemon or a CLI command starts, after settings are
    validated.

    Args:
        register: call ``register(channel)`` with an instance of a
            :class:`parley.Channel` subclass. Two channels with the same id
            stop start-up with an error naming both plugins.
        context: the running instance; ``context.settings_for(plugin_id)``
            gives the plugin's validated settings.
    """


@hookspec
def register_webhooks(
    register: Callable[[WebhookRoute], None], context: PluginContext
) -> None:
    """Contribute HTTP webhook routes served by the daemon.

    Called once when the daemon starts.

    Args:
        register: call ``register(route)`` with a :class:`parley.WebhookRoute`;
            it is served at ``/webhooks/<route.plugin_id><route.path>``.
        context: the running instance.
    """


@hookspec
def register_pollers(
    register: Callable[[Poller], None], context: PluginContext
) -> None:
    """Contribute background pollers that the daemon runs on an interval.

    Called once when the daemon starts. A poller catches events that
    webhooks cannot deliver, or reconciles missed ones.

    Args:
        register: call ``register(poller)`` with a :class:`parley.Poller`.
        context: the running instance.
    """


@hookspec
def register_contact_syncs(
    register: Callable[[ContactSync], None], context: PluginContext
) -> None:
    """Contribute jobs that copy a CRM's contacts into the local contact store.

    Called once when the daemon starts, and by ``parley contacts sync``.
    With the contacts stored locally, a lookup in steady state needs no
    call to the CRM.

    Args:
        register: call ``register(sync)`` with a :class:`parley.ContactSync`;
            a plugin registers at most one.
        context: the running instance.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add subcommands to the ``parley`` command line.

    Called once when the CLI starts, for enabled plugins only.

    Args:
        cli: the top-level click group; add commands or groups to it.
    """


@hookspec
def register_fields(
    register: Callable[[str, Sequence[str]], None], context: PluginContext
) -> None:
    """Declare the template field names a plugin can resolve.

    Called when templates are checked (``parley config check``) and when
    the daemon starts, so that an unknown placeholder is reported before
    anything is sent.

    Args:
        register: call ``register(plugin_id, names)`` with the field names
            as templates write them, for example ``["Loyalty Program"]``.
        context: the running instance, for fields that depend on the
            plugin's settings; it may have no store.
    """


@hookspec
def starter_config() -> StarterConfig | None:
    """Contribute the plugin's section to the starter config ``parley init`` writes.

    Called by ``parley init --with <plugin id>`` for the named plugins only.

    Returns:
        The plugin's commented section and any templates it suggests, or
        None when the plugin has nothing to add.
    """


@hookspec
def check_config(context: PluginContext) -> Sequence[ConfigProblem] | None:
    """Check a plugin's settings against its provider, for ``parley config check``.

    Called by ``parley config check`` only. A plugin may call its provider
    here, with a short timeout, to find settings that validate but cannot
    work: an invalid token, a missing scope, a mapped property that does
    not exist.

    Args:
        context: the running instance, without a store.

    Returns:
        The problems found, each with severity ``error``, ``warning`` or
        ``info``; an unreachable provider is a warning saying when the check
        runs instead.
    """


@hookspec
def check_credentials(context: PluginContext) -> Sequence[ConfigProblem] | None:
    """Check the plugin's credentials with one read-only provider call, for ``parley doctor``.

    Called by ``parley doctor`` only, once per enabled plugin. The call must
    change nothing at the provider (a GET of the account, the phone number
    or the page) and use a short timeout without retries.

    Args:
        context: the running instance, without a store.

    Returns:
        One result per credential checked: ``info`` naming what the provider
        confirmed (such as the account's name), ``error`` when the provider
        rejects the credentials, with what to fix, and ``warning`` when the
        provider cannot be reached, naming the URL tried. None when the
        plugin has no credentials to check.
    """


@hookspec
def register_automation_kinds(register: KindRegistry, context: PluginContext) -> None:
    """Add trigger and action kinds that ``[[automations]]`` entries can use.

    Called once when the daemon starts. Each kind is named
    ``<plugin id>.<name>``; an enabled automation that names a kind no
    enabled plugin registered stops start-up with an error naming it.

    Args:
        register: ``register.trigger(kind, description)`` declares an event
            the plugin reports with ``context.fire_trigger(kind, ...)``;
            ``register.action(kind, handler)`` declares an action, carried
            out by ``handler(action, run, context)``, where ``action.options``
            contains the entry's own keys and the return value is a short
            outcome for the run's record. A handler that raises fails the
            run, which is retried with backoff.
        context: the running instance.
    """


# Lookups


@hookspec
def lookup_contact(
    address: ChannelAddress, context: PluginContext
) -> ContactRecord | None:
    """Find what a plugin knows about the contact at a channel address.

    Called for every enabled plugin when a message arrives from, or is about
    to go to, an address the core has not enriched yet. The answers of all
    plugins are merged field by field: the plugin listed first in
    ``[contacts] precedence`` wins, then plugins in load order.

    Args:
        address: a normalised phone number, email address, WhatsApp id or
            page-scoped id.
        context: the running instance.

    Returns:
        The plugin's record of the contact, or None when the plugin does not
        know the address (or does not look up contacts).
    """


@hookspec(firstresult=True)
def resolve_field(
    name: str,
    contact: Contact,
    event: OrderStatusEvent | None,
    context: PluginContext,
) -> str | None:
    """Resolve one template field for a contact and the event being answered.

    Called once per distinct field of a template that is being rendered.
    The first non-None result wins, so a plugin returns None for a field it
    does not provide.

    Args:
        name: the field name, normalised to lower case with single spaces
            (``loyalty program``).
        contact: the merged contact the message goes to.
        event: the order-status event that triggered the message, or None
            for messages that no order event triggered.
        context: the running instance.

    Returns:
        The value as text, ``""`` when the plugin provides the field but the
        contact has no value (the template's fallback applies then), or None
        when the field is not this plugin's.
    """


# Events


@hookspec
def order_status_changed(
    event: OrderStatusEvent, contact: Contact, context: PluginContext
) -> None:
    """React to an order reaching a new customer-visible status.

    Called once per distinct business event (``event.dedupe_key``), in the
    daemon's event worker, after the contact has been looked up and before
    the core queues the order-update message.

    Args:
        event: the order-status event.
        contact: the merged contact the order belongs to.
        context: the running instance.
    """


@hookspec
def message_received(
    message: InboundMessage,
    contact: Contact,
    conversation_id: int,
    context: PluginContext,
) -> None:
    """React to a customer message after the core has stored it.

    Called once per provider message id, in the daemon's event worker, after
    opt-out and help keywords were handled.

    Args:
        message: the inbound message.
        contact: the merged contact who sent it.
        conversation_id: the conversation the message was added to.
        context: the running instance.
    """


@hookspec
def call_received(call: IncomingCall, contact: Contact, context: PluginContext) -> None:
    """React to a phone call that a channel plugin reported.

    Called once per call id, right after ``context.report_call`` stored the
    call and planned the ``incoming_call`` automations, in the thread of
    the plugin that reported it. An exception is logged and not retried.

    Args:
        call: the call: channel, caller, call id, status and whether it
            was missed.
        contact: the contact that owns the caller's number.
        context: the running instance.
    """


@hookspec
def message_sent(
    message: OutboundMessage,
    provider_message_id: str,
    contact: Contact | None,
    context: PluginContext,
) -> None:
    """React to a provider having accepted a message the business sent.

    Called from the daemon's event worker after the send was recorded, at
    least once per message: after a crash it may be called again, so an
    implementation that writes elsewhere uses ``message.id`` to avoid
    duplicates. An exception makes the core retry the call later.

    Args:
        message: the message as it was handed to the channel.
        provider_message_id: the provider's id of the message.
        contact: the contact it went to, when one is stored.
        context: the running instance.
    """


@hookspec
def consent_changed(
    record: ConsentRecord, contact: Contact | None, context: PluginContext
) -> None:
    """React to a record appended to the consent ledger.

    Called from the daemon's event worker, at least once per ledger record
    (``record`` carries no id, so deduplicate by address, purpose, action
    and time). An exception makes the core retry the call later.

    Args:
        record: the opt-in, opt-out, confirmation or suspension.
        contact: the contact that owns the address, when one is stored.
        context: the running instance.
    """


# Daemon lifecycle


@hookspec
def daemon_started(context: PluginContext) -> None:
    """React to the daemon having started, before it accepts requests.

    Args:
        context: the running instance.
    """


@hookspec
def daemon_stopping(context: PluginContext) -> None:
    """Release resources before the daemon exits.

    Called once after the daemon stopped accepting requests and its workers
    finished.

    Args:
        context: the running instance.
    """
