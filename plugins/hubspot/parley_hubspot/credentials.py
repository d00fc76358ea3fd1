"""``parley doctor`` for HubSpot: read the contact property definitions with the token.

One GET of ``/crm/v3/properties/contacts``, which changes nothing at
HubSpot, shows whether the access token is valid and has the schema read
scope the field mapping needs.
"""

from __future__ import annotations

from parley import ConfigProblem, FatalSyncError, PluginContext, RetriableSyncError
from parley_hubspot.client import HubSpotClient
from parley_hubspot.const import PLUGIN_ID
from parley_hubspot.settings import hubspot_settings

CHECK_TIMEOUT_SECONDS = 10.0


def check_credentials(
    context: PluginContext, client: HubSpotClient | None = None
) -> list[ConfigProblem]:
    """Read the property definitions and describe how HubSpot responds to the token.

    Args:
        context: the running instance, without a store.
        client: the client to use; None builds one with a short timeout and
            a single attempt.
    """
    settings = hubspot_settings(context)
    if client is None:
        quick = settings.model_copy(
            update={"timeout_seconds": CHECK_TIMEOUT_SECONDS, "max_attempts": 1}
        )
        client = HubSpotClient(quick, time_zone=context.settings.business.time_zone)
    try:
        definitions = client.contact_properties()
    except FatalSyncError as err:
        return [ConfigProblem("error", str(err))]
    except RetriableSyncError as err:
        return [
            ConfigProblem(
                "warning",
                f"[{PLUGIN_ID}] cannot reach HubSpot at {settings.base_url} ({err}); "
                "the access token is checked when the daemon first uses it",
            )
        ]
    return [
        ConfigProblem(
            "info",
            f"[{PLUGIN_ID}] the access token works: it read {len(definitions)} "
            "contact property definitions",
        )
    ]
