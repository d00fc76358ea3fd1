"""The ``instagram`` plugin: Instagram messaging as a parley channel.

This module holds only the hook implementations; the channel is
:class:`parley_messenger.channel.MetaChannel`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic import BaseModel

from parley import Channel, ConfigProblem, PluginContext, StarterConfig, hookimpl
from parley_messenger import starter
from parley_messenger.channel import close_channels, open_channel
from parley_messenger.const import INSTAGRAM
from parley_messenger.credentials import check_credentials as sender_problems
from parley_messenger.settings import InstagramSettings, channel_settings


@hookimpl
def register_settings(register: Callable[[str, type[BaseModel]], None]) -> None:
    """Declare the ``[instagram]`` settings model."""
    register(INSTAGRAM.channel_id, InstagramSettings)


@hookimpl
def register_channels(
    register: Callable[[Channel], None], context: PluginContext
) -> None:
    """Register the Instagram channel, served at ``/webhooks/instagram``."""
    settings = channel_settings(context, INSTAGRAM)
    logger = context.logger(INSTAGRAM.channel_id)
    register(open_channel(settings, context.clock, logger))


@hookimpl
def check_credentials(context: PluginContext) -> Sequence[ConfigProblem]:
    """Read the sending Instagram account with the configured access token."""
    settings = channel_settings(context, INSTAGRAM)
    return sender_problems(INSTAGRAM.channel_id, settings)


@hookimpl
def daemon_stopping() -> None:
    """Close the Send API connections."""
    close_channels(INSTAGRAM.channel_id)


@hookimpl
def starter_config() -> StarterConfig:
    """Add a commented ``[instagram]`` section."""
    return starter.instagram_starter()
