"""parley-twilio: SMS and MMS conversations through Twilio.

This module holds only the hook implementations; the work happens in
:mod:`parley_twilio.channel`, :mod:`parley_twilio.client`,
:mod:`parley_twilio.webhook` and :mod:`parley_twilio.mapping`.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence

from pydantic import BaseModel

from parley import (
    Channel,
    ConfigProblem,
    PluginContext,
    StarterConfig,
    WebhookRoute,
    hookimpl,
)
from parley_twilio import starter
from parley_twilio.channel import TwilioChannel
from parley_twilio.config_check import config_problems
from parley_twilio.const import PLUGIN_ID
from parley_twilio.credentials import check_credentials as account_problems
from parley_twilio.settings import TwilioSettings, public_webhook_url, twilio_settings
from parley_twilio.voice import VoiceWebhook
from parley_twilio.webhook import TwilioWebhook

__version__ = "0.1.0"

# Channels built by this process, so that daemon_stopping can close their
# HTTP connections.
_channels: weakref.WeakSet[TwilioChannel] = weakref.WeakSet()


@hookimpl
def register_settings(register: Callable[[str, type[BaseModel]], None]) -> None:
    """Declare the ``[twilio]`` settings model."""
    register(PLUGIN_ID, TwilioSettings)


@hookimpl
def register_channels(
    register: Callable[[Channel], None], context: PluginContext
) -> None:
    """Register the ``twilio`` channel, served at ``/webhooks/twilio``."""
    settings = twilio_settings(context)
    channel = TwilioChannel(
        settings,
        webhook_url=public_webhook_url(settings, context.settings.server.public_url),
        default_region=context.settings.contacts.default_region,
        clock=context.clock,
    )
    _channels.add(channel)
    register(channel)


@hookimpl
def register_webhooks(
    register: Callable[[WebhookRoute], None], context: PluginContext
) -> None:
    """Serve the voice webhooks for missed-call text-back under ``/webhooks/twilio/voice``."""
    settings = twilio_settings(context)
    messaging = TwilioWebhook(
        auth_token=settings.auth_token.get_secret_value(),
        webhook_url=public_webhook_url(settings, context.settings.server.public_url),
        trusted_proxies=settings.trusted_proxies,
        default_region=context.settings.contacts.default_region,
        clock=context.clock,
    )
    voice = VoiceWebhook(context, messaging, settings.auth_token.get_secret_value())
    for route in voice.routes():
        register(route)


@hookimpl
def check_config(context: PluginContext) -> Sequence[ConfigProblem]:
    """Report the webhook URLs to set at Twilio, and a missing public URL."""
    settings = twilio_settings(context)
    return config_problems(
        settings, public_webhook_url(settings, context.settings.server.public_url)
    )


@hookimpl
def check_credentials(context: PluginContext) -> Sequence[ConfigProblem]:
    """Read the Twilio account with the configured credentials."""
    return account_problems(twilio_settings(context))


@hookimpl
def starter_config() -> StarterConfig:
    """Add a commented ``[twilio]`` section."""
    return starter.starter_config()


@hookimpl
def daemon_stopping() -> None:
    """Close the connections to Twilio's API."""
    for channel in list(_channels):
        channel.close()
