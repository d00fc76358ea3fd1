"""The template fields this plugin declares, which depend on the configuration."""

from __future__ import annotations

from parley_hubspot.const import FIELD_CONTACT_ID
from parley_hubspot.settings import HubSpotSettings


def declared_field_names(settings: HubSpotSettings) -> list[str]:
    """Return the fields to declare: the HubSpot contact id and the mapped fields."""
    return [FIELD_CONTACT_ID, *settings.field_names]
