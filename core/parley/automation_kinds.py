"""Trigger and action kinds that plugins add to automations.

A plugin implements ``register_automation_kinds(register)`` and calls
``register.trigger(kind)`` for an event it reports with
``context.fire_trigger(...)``, and ``register.action(kind, handler)`` for
something an automation can do. A plugin's kinds start with its id and a
dot, such as ``shopify.cart_abandoned``, so two plugins never clash and a
reader of ``parley.toml`` sees where a kind comes from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from parley.errors import ConfigError, PluginError
from parley.plugins import plugin_id_of

if TYPE_CHECKING:
    from parley.automation_config import ActionSettings, AutomationSettings
    from parley.context import PluginContext
    from parley.store.automations import AutomationRun

# A plugin action: gets the action's settings (its ``options`` table contains
# the plugin's own keys), the run, and the context; returns a short outcome
# for the run's record. An exception fails the run, which is retried.
ActionHandler = Callable[
    ["ActionSettings", "AutomationRun", "PluginContext"], "str | None"
]


@dataclass
class AutomationKinds:
    """The trigger and action kinds plugins registered."""

    triggers: dict[str, str] = field(default_factory=dict)
    actions: dict[str, ActionHandler] = field(default_factory=dict)

    def problems(self, automations: list[AutomationSettings]) -> list[str]:
        """Describe each enabled automation that uses a plugin kind nobody registered."""
        found = []
        for automation in automations:
            if not automation.enabled:
                continue
            kind = automation.trigger.kind
            if "." in kind and kind not in self.triggers:
                found.append(
                    f"automation {automation.name!r}: trigger.kind: no enabled plugin "
                    f"registers the trigger kind {kind!r}; enable its plugin or fix "
                    f"the name (registered: {_names(self.triggers)})"
                )
            for position, action in enumerate(automation.actions):
                if "." in action.kind and action.kind not in self.actions:
                    found.append(
                        f"automation {automation.name!r}: actions.{position}.kind: no "
                        f"enabled plugin registers the action kind {action.kind!r}; "
                        f"enable its plugin or fix the name (registered: "
                        f"{_names(self.actions)})"
                    )
        return found

    def check(self, automations: list[AutomationSettings]) -> None:
        """Raise :class:`ConfigError` when an automation uses an unknown plugin kind."""
        found = self.problems(automations)
        if found:
            raise ConfigError(found)


class KindRegistry:
    """The ``register`` object one plugin gets in ``register_automation_kinds``."""

    def __init__(self, plugin_id: str, kinds: AutomationKinds) -> None:
        self._plugin_id = plugin_id
        self._kinds = kinds

    def trigger(self, kind: str, description: str = "") -> None:
        """Declare a trigger kind the plugin fires with ``context.fire_trigger``."""
        self._check(kind, self._kinds.triggers)
        self._kinds.triggers[kind] = description

    def action(self, kind: str, handler: ActionHandler) -> None:
        """Declare an action kind; ``handler(action, run, context)`` carries it out."""
        if not callable(handler):
            raise PluginError(
                f"action kind {kind!r} of plugin {self._plugin_id!r}: the handler "
                f"{handler!r} is not callable"
            )
        self._check(kind, self._kinds.actions)
        self._kinds.actions[kind] = handler

    def _check(self, kind: str, taken: dict[str, object]) -> None:
        prefix = f"{self._plugin_id}."
        if not kind.startswith(prefix) or len(kind) == len(prefix):
            raise PluginError(
                f"plugin {self._plugin_id!r} registers automation kind {kind!r}; "
                f"its kinds must be named {prefix}<name>"
            )
        if kind in taken:
            raise PluginError(f"automation kind {kind!r} is registered twice")


def collect_automation_kinds(context: PluginContext) -> AutomationKinds:
    """Call ``register_automation_kinds`` on every plugin that implements it.

    Raises:
        PluginError: a plugin registers a kind outside its own prefix, twice,
            or fails in the hook.
    """
    kinds = AutomationKinds()
    hook = context.plugin_manager.hook.register_automation_kinds
    for implementation in hook.get_hookimpls():
        plugin_id = plugin_id_of(context.plugin_manager, implementation.plugin)
        offered = {"register": KindRegistry(plugin_id, kinds), "context": context}
        arguments = {name: offered[name] for name in implementation.argnames}
        try:
            implementation.function(**arguments)
        except PluginError:
            raise
        except Exception as err:  # noqa: BLE001 - name the plugin that failed
            raise PluginError(
                f"plugin {plugin_id!r} failed in register_automation_kinds: "
                f"{type(err).__name__}: {err}"
            ) from err
    return kinds


def _names(registered: dict[str, object]) -> str:
    return ", ".join(sorted(registered)) or "none"
