"""The starter configuration ``parley init`` writes.

The file is ``starter.toml`` with three markers filled in: the enabled
plugins, the templates, and the sections of plugins named with
``parley init --with``. Those plugins contribute their section and may
replace default templates through the ``starter_config`` hook.
"""

from __future__ import annotations

import importlib
import importlib.resources
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from parley.errors import PluginError
from parley.plugins import installed_plugins, new_plugin_manager

DEFAULT_TEMPLATES: dict[str, str] = {
    "welcome": (
        "Hi {{First Name | there}}, thanks for texting {{Business Name}}. We'll reply shortly. Reply STOP to opt out."
    ),
    "order_confirmed": (
        "Hi {{First Name | there}}, thanks for your order {{Order Number}} at {{Business Name}}. We'll text you when it ships."
    ),
    "order_shipped": (
        "Hi {{First Name | there}}, your order {{Order Number}} has shipped. Track it here: {{Tracking URL | we'll text the tracking link once the carrier has it}}"
    ),
    "order_out_for_delivery": (
        "Hi {{First Name | there}}, your order {{Order Number}} is out for delivery today."
    ),
    "order_delivered": (
        "Hi {{First Name | there}}, your order {{Order Number}} was delivered. Reply here if anything is wrong."
    ),
    "order_cancelled": (
        "Hi {{First Name | there}}, your order {{Order Number}} has been cancelled. Any payment will be refunded to your original payment method."
    ),
    "order_refunded": (
        "Hi {{First Name | there}}, we issued a refund for order {{Order Number}}."
    ),
    "opt_out_confirmation": (
        "You're unsubscribed from {{Business Name}} messages and will get no more texts. Reply START to resubscribe."
    ),
    "opt_in_confirmation": (
        "You're subscribed to {{Business Name}} messages again. Reply STOP to opt out."
    ),
    "opt_in_prompt": (
        "{{Business Name}}: reply YES to confirm you want texts from us. Msg & data rates may apply. Reply STOP to opt out."
    ),
    "double_opt_in_confirmed": (
        "Thanks, you're confirmed for {{Business Name}} texts. Reply STOP to opt out."
    ),
    "help": (
        "{{Business Name}}: reply to this number for help, or STOP to opt out. Msg & data rates may apply."
    ),
}


@dataclass(frozen=True)
class StarterConfig:
    """A plugin's contribution to the starter configuration.

    Attributes:
        section: TOML text of the plugin's own section, with comments that
            say what to fill in. It must parse once appended to the file.
        templates: template texts by name; they replace the core's default
            text of the same name, or add a template.
    """

    section: str
    templates: Mapping[str, str] = field(default_factory=dict)


def plugin_starters(plugin_ids: Sequence[str]) -> dict[str, StarterConfig]:
    """Ask each named plugin for its starter configuration.

    Raises:
        PluginError: a plugin is not installed, or contributes nothing.
    """
    installed = installed_plugins()
    starters: dict[str, StarterConfig] = {}
    for plugin_id in plugin_ids:
        entry = installed.get(plugin_id)
        if entry is None:
            raise PluginError(
                f"cannot add plugin {plugin_id!r} to the starter config: it is not "
                f"installed. Installed plugins: {', '.join(installed) or '(none)'}"
            )
        manager = new_plugin_manager()
        manager.register(importlib.import_module(entry.module), name=plugin_id)
        answers = [a for a in manager.hook.starter_config() if a is not None]
        if not answers:
            raise PluginError(
                f"plugin {plugin_id!r} has no starter configuration to add"
            )
        starters[plugin_id] = answers[0]
    return starters


def render_starter(plugin_ids: Sequence[str] = ()) -> str:
    """Return the starter ``parley.toml`` text with the named plugins enabled."""
    starters = plugin_starters(plugin_ids)
    templates = dict(DEFAULT_TEMPLATES)
    for starter in starters.values():
        templates.update(starter.templates)

    enabled = ["sandbox", *[p for p in plugin_ids if p != "sandbox"]]
    template_lines = "\n".join(
        f"{name} = {json.dumps(text, ensure_ascii=False)}"
        for name, text in templates.items()
    )
    sections = "\n\n".join(starter.section.strip() for starter in starters.values())

    text = (
        importlib.resources.files("parley")
        .joinpath("starter.toml")
        .read_text(encoding="utf-8")
    )
    text = text.replace("@ENABLED@", json.dumps(enabled))
    text = text.replace("@TEMPLATES@", template_lines)
    return text.replace("@PLUGIN_SECTIONS@", sections + "\n" if sections else "")
