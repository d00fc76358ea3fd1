"""Checks of the ``[whatsapp]`` section for ``parley config check``."""

from __future__ import annotations

from parley import ConfigProblem, PluginContext
from parley_whatsapp.const import KNOWN_KINDS, PLUGIN_ID
from parley_whatsapp.settings import whatsapp_settings


def config_problems(context: PluginContext) -> list[ConfigProblem]:
    """Return template keys no message has, and a missing order-update template."""
    settings = whatsapp_settings(context)
    problems: list[ConfigProblem] = []

    for kind in settings.templates:
        if kind not in KNOWN_KINDS:
            problems.append(
                ConfigProblem(
                    severity="warning",
                    message=f"[{PLUGIN_ID}.templates.{kind}] is never used: no "
                    f"message has kind {kind!r}. Known kinds: "
                    f"{', '.join(KNOWN_KINDS)}",
                )
            )

    order_updates = context.settings.order_updates
    sends_orders = order_updates.enabled and order_updates.channel == PLUGIN_ID
    if sends_orders and settings.template_for("order_update") is None:
        problems.append(
            ConfigProblem(
                severity="warning",
                message=f"order updates go out on {PLUGIN_ID}, but "
                f"[{PLUGIN_ID}.templates.order_update] is missing; an update to a "
                "customer who has not written in the last 24 hours is blocked. Add "
                "an approved utility template",
            )
        )
    return problems
