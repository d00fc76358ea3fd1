"""``parley config check`` for HubSpot: token, scopes and mapped properties.

The check makes two requests with a short timeout and no retries: a
one-contact search (the token and the contacts read scope) and a read of
the contact property definitions (the schemas scope, and whether each
mapped property exists). When HubSpot cannot be reached, the problems are
reported at first use instead.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Mapping

from parley import (
    ConfigProblem,
    FatalSyncError,
    PluginContext,
    RetriableSyncError,
)
from parley_hubspot.client import HubSpotClient
from parley_hubspot.const import PLUGIN_ID
from parley_hubspot.properties import PropertyDefinition
from parley_hubspot.settings import HubSpotSettings, hubspot_settings

logger = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 10.0


def check_settings(
    context: PluginContext, client: HubSpotClient | None = None
) -> list[ConfigProblem]:
    """Return the problems of the ``[hubspot]`` section that only HubSpot can show.

    Args:
        context: the running instance, without a store.
        client: the client to use; None builds one with a short timeout and
            a single attempt per request.
    """
    settings = hubspot_settings(context)
    problems = _webhook_problems(context, settings)
    if client is None:
        quick = settings.model_copy(
            update={"timeout_seconds": CHECK_TIMEOUT_SECONDS, "max_attempts": 1}
        )
        client = HubSpotClient(quick, time_zone=context.settings.business.time_zone)

    try:
        client.search_contacts({"filterGroups": [], "properties": [], "limit": 1})
        definitions = {
            definition.name: definition
            for definition in map(
                PropertyDefinition.from_payload, client.contact_properties()
            )
            if definition is not None
        }
    except FatalSyncError as err:
        problems.append(ConfigProblem("error", str(err)))
        return problems
    except RetriableSyncError as err:
        problems.append(
            ConfigProblem(
                "warning",
                f"[{PLUGIN_ID}] HubSpot could not be reached ({err}); the access "
                "token and the mapped properties are checked when the daemon "
                "first uses them",
            )
        )
        return problems

    problems.extend(_property_problems(settings, definitions))
    return problems


def _webhook_problems(
    context: PluginContext, settings: HubSpotSettings
) -> list[ConfigProblem]:
    if settings.client_secret is None:
        return [
            ConfigProblem(
                "info",
                f"[{PLUGIN_ID}] client_secret is not set, so /webhooks/hubspot is "
                "not served and contacts change locally only when the contact "
                "sync runs",
            )
        ]
    if settings.webhook_url or context.settings.server.public_url:
        return []
    return [
        ConfigProblem(
            "error",
            f"{PLUGIN_ID}.webhook_url: HubSpot signs the URL it calls, and neither "
            "hubspot.webhook_url nor server.public_url says what it is; set one, "
            "such as https://hooks.example.com/webhooks/hubspot",
        )
    ]


def _property_problems(
    settings: HubSpotSettings, definitions: Mapping[str, PropertyDefinition]
) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    for name, prop in settings.fields.items():
        if prop not in definitions:
            problems.append(
                ConfigProblem(
                    "error",
                    f"{PLUGIN_ID}.fields.{name!r}: HubSpot has no contact property "
                    f"{prop!r}{_suggestion(prop, definitions)}",
                )
            )

    if not settings.write_consent:
        return problems
    values = (settings.consent_opt_in_value, settings.consent_opt_out_value)
    for purpose, prop in settings.consent_properties.items():
        definition = definitions.get(prop)
        where = f"{PLUGIN_ID}.consent_properties.{purpose.value}"
        if definition is None:
            problems.append(
                ConfigProblem(
                    "error",
                    f"{where}: HubSpot has no contact property {prop!r}"
                    f"{_suggestion(prop, definitions)}; create it or fix the name",
                )
            )
            continue
        unknown = [
            value
            for value in values
            if definition.options and value not in definition.options
        ]
        if unknown:
            problems.append(
                ConfigProblem(
                    "error",
                    f"{where}: property {prop!r} has no option "
                    f"{', '.join(map(repr, unknown))}; add the options or set "
                    "consent_opt_in_value and consent_opt_out_value to existing ones "
                    f"({', '.join(map(repr, definition.options))})",
                )
            )
    return problems


def _suggestion(prop: str, definitions: Mapping[str, PropertyDefinition]) -> str:
    by_label = {d.label.lower(): d.name for d in definitions.values()}
    if prop.lower() in by_label:
        return f"; {prop!r} looks like a label, the internal name is {by_label[prop.lower()]!r}"
    close = difflib.get_close_matches(prop, list(definitions), n=3, cutoff=0.6)
    if close:
        return f"; did you mean {', '.join(map(repr, close))}?"
    return "; use the internal name from the property's settings in HubSpot"
