"""Discovery, the hooks as the core calls them, and the README's settings table."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from whatsapp_support import settings_values

import parley_whatsapp
from parley import PluginContext
from parley.plugins import installed_plugins
from parley.runtime import collect_channels
from parley.testing import make_plugin_context
from parley_whatsapp.channel import WhatsAppChannel
from parley_whatsapp.checks import config_problems
from parley_whatsapp.settings import TemplateSettings, WhatsAppSettings

PACKAGE = Path(parley_whatsapp.__file__).parent
README = PACKAGE.parent / "README.md"


def make_context(tmp_path: Path, **changes: object) -> PluginContext:
    return make_plugin_context(
        parley_whatsapp, "whatsapp", settings_values(**changes), tmp_path
    )


def test_entry_point_installed() -> None:
    plugin = installed_plugins()["whatsapp"]

    assert plugin.module == "parley_whatsapp"
    assert plugin.distribution == "parley-whatsapp"


def test_channel_registered_with_context_clock(tmp_path: Path) -> None:
    context = make_context(tmp_path)

    channels = collect_channels(context)

    channel = channels["whatsapp"]
    assert isinstance(channel, WhatsAppChannel)
    assert channel.clock is context.clock
    assert channel.max_concurrent_requests == 8


def test_unknown_template_kind_warned(tmp_path: Path) -> None:
    template = {"name": "order_update", "language": "en_US"}
    context = make_context(tmp_path, templates={"order_updates": template})

    [problem] = config_problems(context)

    assert problem.severity == "warning"
    assert "[whatsapp.templates.order_updates] is never used" in problem.message


def test_missing_order_template_warned(tmp_path: Path) -> None:
    context = make_context(tmp_path, templates={})
    settings = context.settings.model_copy(
        update={
            "order_updates": context.settings.order_updates.model_copy(
                update={"channel": "whatsapp"}
            )
        }
    )
    context = PluginContext(settings, context.plugin_manager)

    [problem] = config_problems(context)

    assert "[whatsapp.templates.order_update] is missing" in problem.message


def test_known_kinds_raise_no_problem(tmp_path: Path) -> None:
    assert config_problems(make_context(tmp_path)) == []


def test_init_imports_only_public_parley() -> None:
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules = [
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
        ]
        parley_modules = {name for name in modules if name.split(".")[0] == "parley"}
        assert parley_modules <= {"parley"}, path.name


@pytest.mark.parametrize("name", sorted(WhatsAppSettings.model_fields))
def test_readme_lists_setting(name: str) -> None:
    readme = README.read_text(encoding="utf-8")

    if name == "templates":
        assert "[whatsapp.templates.<kind>]" in readme
    else:
        assert f"PARLEY_WHATSAPP__{name.upper()}" in readme


@pytest.mark.parametrize("name", sorted(TemplateSettings.model_fields))
def test_readme_lists_template_setting(name: str) -> None:
    assert f"`templates.<kind>.{name}`" in README.read_text(encoding="utf-8")
