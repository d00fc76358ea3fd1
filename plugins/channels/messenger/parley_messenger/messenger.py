"""The ``messenger`` plugin: Facebook Messenger as a parley channel.

This module holds only the hook implementations; the channel is
:class:`parley_messenger.channel.MetaChannel`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic import BaseModel

from parley import Channel, ConfigProblem, PluginContext, StarterConfig, hookimpl
from parley_messenger import starter
from parley_messenger.channel import close_channels, open_channel
from parley_messenger.const import MESSENGER
from parley_messenger.credentials import check_credentials as sender_problems
from parley_messenger.settings import MessengerSettings, channel_settings


@hookimpl
def register_settings(register: Callable[[str, type[BaseModel]], None]) -> None:
    """Declare the ``[messenger]`` settings model."""
    register(MESSENGER.channel_id, MessengerSettings)


@hookimpl
def register_channels(
    register: Callable[[Channel], None], context: PluginContext
) -> None:
    """Register the Messenger channel, served at ``/webhooks/messenger``."""
    settings = channel_settings(context, MESSENGER)
    logger = context.logger(MESSENGER.channel_id)
    register(open_channel(settings, context.clock, logger))


@hookimpl
def check_credentials(context: PluginContext) -> Sequence[ConfigProblem]:
    """Read the sending Page with the configured access token."""
    settings = channel_settings(context, MESSENGER)
    return sender_problems(MESSENGER.channel_id, settings)


@hookimpl
def daemon_stopping() -> None:
    """Close the Send API connections."""
    close_channels(MESSENGER.channel_id)


@hookimpl
def starter_config() -> StarterConfig:
    """Add a commented ``[messenger]`` section."""
    return starter.messenger_starter()
