"""Plugin discovery and loading through the ``parley`` entry-point group.

Each entry point's name is the plugin id and its value is the module that
holds the hook implementations. Bundled plugins declare their entry points
the same way a third-party package does.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pluggy

from parley import fields, hookspecs
from parley.errors import PluginError

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "parley"
TRACE_ENV = "PARLEY_TRACE"
CORE_PLUGIN_ID = "core"


@dataclass(frozen=True)
class InstalledPlugin:
    """A plugin found in the ``parley`` entry-point group."""

    id: str
    module: str
    distribution: str | None
    version: str | None


def installed_plugins() -> dict[str, InstalledPlugin]:
    """Return every installed plugin, keyed by id."""
    found: dict[str, InstalledPlugin] = {}
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = entry_point.dist
        found[entry_point.name] = InstalledPlugin(
            id=entry_point.name,
            module=entry_point.value,
            distribution=dist.name if dist else None,
            version=dist.version if dist else None,
        )
    return dict(sorted(found.items()))


def parse_plugin_list(value: str) -> list[str]:
    """Split a comma-separated plugin list; an empty string means no plugins."""
    return [item.strip() for item in value.split(",") if item.strip()]


def new_plugin_manager() -> pluggy.PluginManager:
    """Create a plugin manager with parley's hook specs and the core plugin."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    manager.register(fields, name=CORE_PLUGIN_ID)
    return manager


def load_plugins(
    enabled: Sequence[str],
    installed: Mapping[str, InstalledPlugin] | None = None,
) -> pluggy.PluginManager:
    """Import and register the enabled plugins.

    Args:
        enabled: plugin ids, in the order they should be registered.
        installed: the installed plugins; read from the entry points when
            omitted.

    Returns:
        A plugin manager with every enabled plugin registered and checked.

    Raises:
        PluginError: a plugin is not installed, fails to import, or
            implements a hook that does not exist.
    """
    if installed is None:
        installed = installed_plugins()

    manager = new_plugin_manager()
    for plugin_id in _unique(enabled):
        module = _import_plugin(plugin_id, installed)
        _register(manager, plugin_id, module, installed)

    _check_hook_names(manager, installed)
    _enable_tracing(manager)
    logger.info("plugins loaded: %s", ", ".join(enabled) or "(none)")
    return manager


def plugin_id_of(manager: pluggy.PluginManager, plugin: object) -> str:
    """Return the id a plugin object was registered under."""
    return manager.get_name(plugin) or repr(plugin)


def _unique(ids: Sequence[str]) -> list[str]:
    seen: list[str] = []
    for plugin_id in ids:
        if plugin_id not in seen:
            seen.append(plugin_id)
    return seen


def _installed_list(installed: Mapping[str, InstalledPlugin]) -> str:
    return ", ".join(installed) or "(none)"


def _import_plugin(plugin_id: str, installed: Mapping[str, InstalledPlugin]) -> object:
    if plugin_id == CORE_PLUGIN_ID:
        raise PluginError(
            f"plugin id {CORE_PLUGIN_ID!r} is reserved for the core and is always "
            "loaded; remove it from [plugins] enabled or PARLEY_PLUGINS"
        )

    entry = installed.get(plugin_id)
    if entry is None:
        hint = difflib.get_close_matches(plugin_id, list(installed), n=1)
        suggestion = f"; did you mean {hint[0]!r}?" if hint else "."
        raise PluginError(
            f"unknown plugin {plugin_id!r} in [plugins] enabled or PARLEY_PLUGINS"
            f"{suggestion} Installed plugins: {_installed_list(installed)}. "
            "Install the plugin's package or remove it from the list."
        )

    try:
        return importlib.import_module(entry.module)
    except Exception as err:  # noqa: BLE001 - any import failure must name the plugin
        raise PluginError(
            f"plugin {plugin_id!r} failed to import from module {entry.module!r}: "
            f"{type(err).__name__}: {err}. Installed plugins: "
            f"{_installed_list(installed)}. Fix or reinstall the plugin, or remove "
            "it from [plugins] enabled."
        ) from err


def _register(
    manager: pluggy.PluginManager,
    plugin_id: str,
    module: object,
    installed: Mapping[str, InstalledPlugin],
) -> None:
    try:
        manager.register(module, name=plugin_id)
    except pluggy.PluginValidationError as err:
        raise PluginError(
            f"plugin {plugin_id!r} has an invalid hook implementation: {err}. "
            f"Installed plugins: {_installed_list(installed)}."
        ) from err


def _check_hook_names(
    manager: pluggy.PluginManager, installed: Mapping[str, InstalledPlugin]
) -> None:
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as err:
        plugin_id = plugin_id_of(manager, err.plugin)
        known = sorted(
            name
            for name in dir(hookspecs)
            if hasattr(getattr(manager.hook, name, None), "spec")
        )
        unknown = _unknown_hook_names(manager, err.plugin)
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, known, n=1)
            hints.append(
                f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
            )
        raise PluginError(
            f"plugin {plugin_id!r} implements unknown hook {', '.join(hints)}. "
            f"Known hooks: {', '.join(known)}. Installed plugins: "
            f"{_installed_list(installed)}."
        ) from err


def _unknown_hook_names(manager: pluggy.PluginManager, plugin: object) -> list[str]:
    names = []
    for caller in manager.get_hookcallers(plugin) or []:
        if caller.spec is None:
            names.append(caller.name)
    return sorted(names)


def _enable_tracing(manager: pluggy.PluginManager) -> None:
    if os.environ.get(TRACE_ENV, "") not in ("", "0"):
        trace_logger = logging.getLogger("parley.trace")
        manager.trace.root.setwriter(
            lambda message: trace_logger.debug("%s", message.rstrip())
        )
        manager.enable_tracing()
