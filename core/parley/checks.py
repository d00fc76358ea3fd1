"""``parley config check``: validate templates and references in the config.

Settings themselves are validated when the config is loaded. This module
adds what needs the plugins: known field names, channel ids and templates
that the configuration refers to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from parley.auto_replies import reference_problems as auto_reply_problems
from parley.channels import Channel
from parley.config import CoreSettings, LoadedConfig
from parley.context import PluginContext
from parley.errors import PluginError
from parley.models import AddressKind
from parley.plugins import plugin_id_of
from parley.runtime import collect_channels
from parley.templates import TemplateIssue, lint_template


@dataclass(frozen=True)
class ConfigProblem:
    """A problem found outside any single template."""

    severity: str
    message: str


def known_fields(loaded: LoadedConfig) -> list[str]:
    """Return every field name the enabled plugins declare."""
    names: list[str] = []

    def register(plugin_id: str, fields: Sequence[str]) -> None:
        if isinstance(fields, str):
            raise PluginError(
                f"plugin {plugin_id!r} registered fields as a string; pass a list"
            )
        names.extend(name for name in fields if name not in names)

    context = PluginContext(loaded.settings, loaded.plugin_manager)
    loaded.plugin_manager.hook.register_fields(register=register, context=context)
    return names


def check_config(
    loaded: LoadedConfig,
) -> tuple[list[TemplateIssue], list[ConfigProblem]]:
    """Lint every template and check the names the config refers to."""
    settings = loaded.settings
    context = PluginContext(settings, loaded.plugin_manager)
    channels = collect_channels(context)
    fields = known_fields(loaded)

    sms = _sends_sms(channels)
    issues: list[TemplateIssue] = []
    for name, text in settings.templates.items():
        issues.extend(lint_template(name, text, fields, channel="sms" if sms else None))

    problems = _reference_problems(settings, channels)
    problems.extend(plugin_problems(context))
    return issues, problems


def plugin_problems(context: PluginContext) -> list[ConfigProblem]:
    """Call each plugin's ``check_config`` hook and collect what it finds.

    A plugin that raises is reported as an error naming it, so that one
    broken check does not hide the others.
    """
    problems: list[ConfigProblem] = []
    hook = context.plugin_manager.hook.check_config
    for implementation in hook.get_hookimpls():
        plugin_id = plugin_id_of(context.plugin_manager, implementation.plugin)
        offered = {"context": context}
        arguments = {name: offered[name] for name in implementation.argnames}
        try:
            found = implementation.function(**arguments) or []
        except Exception as err:  # noqa: BLE001 - report it and go on
            problems.append(
                ConfigProblem(
                    "error",
                    f"plugin {plugin_id!r} failed in check_config: "
                    f"{type(err).__name__}: {err}",
                )
            )
            continue
        for problem in found:
            if not isinstance(problem, ConfigProblem):
                raise PluginError(
                    f"plugin {plugin_id!r} returned {problem!r} from check_config; "
                    "return parley.ConfigProblem objects"
                )
            problems.append(problem)
    return problems


def _sends_sms(channels: dict[str, Channel]) -> bool:
    return any(
        channel.address_kind is AddressKind.PHONE for channel in channels.values()
    )


def _reference_problems(
    settings: CoreSettings, channels: dict[str, Channel]
) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    updates = settings.order_updates
    if updates.enabled and updates.channel not in channels:
        problems.append(
            ConfigProblem(
                "error",
                f"order_updates.channel: channel {updates.channel!r} is not enabled; "
                f"enabled channels: {', '.join(sorted(channels)) or '(none)'}. "
                "Enable its plugin, name an enabled channel, or set "
                "[order_updates] enabled = false "
                "(PARLEY_ORDER_UPDATES__ENABLED=false)",
            )
        )
    explicit = "templates" in updates.model_fields_set
    for status, template in updates.templates.items():
        if template not in settings.templates:
            # A default mapping without its template sends nothing for that
            # status; a mapping the user wrote is expected to exist.
            problems.append(
                ConfigProblem(
                    "error" if explicit else "info",
                    f"order_updates.templates.{status.value}: template {template!r} is not "
                    "defined in [templates], so this status sends no message"
                    + ("; define it or remove the mapping" if explicit else ""),
                )
            )

    problems.extend(
        ConfigProblem("error", message) for message in auto_reply_problems(settings)
    )

    replies = settings.replies
    if replies.first_message and replies.first_message not in settings.templates:
        problems.append(
            ConfigProblem(
                "error",
                f"replies.first_message: template {replies.first_message!r} is not defined in [templates]",
            )
        )
    for key in ("opt_out_confirmation", "opt_in_confirmation", "help"):
        name = getattr(replies, key)
        if name not in settings.templates:
            problems.append(
                ConfigProblem(
                    "warning",
                    f"replies.{key}: template {name!r} is not defined, so no {key.replace('_', ' ')} "
                    "is sent; carriers expect one",
                )
            )
    return problems
