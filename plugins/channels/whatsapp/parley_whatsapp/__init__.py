"""parley-whatsapp: the WhatsApp Cloud API channel.

This module holds only the hook implementations; the work happens in
:mod:`parley_whatsapp.channel`, :mod:`parley_whatsapp.window`,
:mod:`parley_whatsapp.client` and :mod:`parley_whatsapp.webhook`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic import BaseModel

from parley import Channel, ConfigProblem, PluginContext, StarterConfig, hookimpl
from parley_whatsapp import starter
from parley_whatsapp.channel import WhatsAppChannel
from parley_whatsapp.checks import config_problems
from parley_whatsapp.const import PLUGIN_ID
from parley_whatsapp.credentials import check_credentials as phone_number_problems
from parley_whatsapp.settings import WhatsAppSettings, whatsapp_settings

__version__ = "0.1.0"


@hookimpl
def register_settings(register: Callable[[str, type[BaseModel]], None]) -> None:
    """Declare the ``[whatsapp]`` settings model."""
    register(PLUGIN_ID, WhatsAppSettings)


@hookimpl
def register_channels(
    register: Callable[[Channel], None], context: PluginContext
) -> None:
    """Register the channel of the configured business phone number."""
    register(WhatsAppChannel(whatsapp_settings(context), context.clock))


@hookimpl
def check_config(context: PluginContext) -> Sequence[ConfigProblem]:
    """Report templates for unknown kinds and a missing order-update template."""
    return config_problems(context)


@hookimpl
def check_credentials(context: PluginContext) -> Sequence[ConfigProblem]:
    """Read the business phone number with the configured access token."""
    return phone_number_problems(whatsapp_settings(context))


@hookimpl
def starter_config() -> StarterConfig:
    """Add a commented ``[whatsapp]`` section with placeholders to fill in."""
    return starter.starter_config()
