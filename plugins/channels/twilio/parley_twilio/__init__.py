"""parley-twilio: SMS and MMS conversations through Twilio.

This module holds only the hook implementations; the work happens in
:mod:`parley_twilio.channel`, :mod:`parley_twilio.client`,
:mod:`parley_twilio.webhook` and :mod:`parley_twilio.mapping`.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence

from pydantic import BaseModel

from parley import Channel, ConfigProblem, PluginContext, StarterConfig, hookimpl
from parley_twilio import starter
from parley_twilio.channel import TwilioChannel
from parley_twilio.config_check import config_problems
from parley_twilio.const import PLUGIN_ID
from parley_twilio.settings import TwilioSettings, public_webhook_url, twilio_settings

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
def check_config(context: PluginContext) -> Sequence[ConfigProblem]:
    """Report the webhook URLs to set at Twilio, and a missing public URL."""
    settings = twilio_settings(context)
    return config_problems(
        settings, public_webhook_url(settings, context.settings.server.public_url)
    )


@hookimpl
def starter_config() -> StarterConfig:
    """Add a commented ``[twilio]`` section."""
    return starter.starter_config()


@hookimpl
def daemon_stopping() -> None:
    """Close the connections to Twilio's API."""
    for channel in list(_channels):
        channel.close()
