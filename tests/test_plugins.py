import importlib
import json
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from parley.cli import cli
from parley.config import collect_settings_models
from parley.errors import PluginError
from parley.plugins import InstalledPlugin, installed_plugins, load_plugins

SANDBOX = InstalledPlugin(
    id="sandbox", module="parley.sandbox", distribution="parley", version="0.1.0"
)

VALID_PLUGIN = """
from pydantic import BaseModel

from parley import hookimpl


class GreeterSettings(BaseModel):
    greeting: str = "hi"


@hookimpl
def register_settings(register):
    register("greeter", GreeterSettings)


@hookimpl
def register_fields(register):
    register("greeter", ["Greeting"])
"""

MISSPELLED_HOOK_PLUGIN = """
from parley import hookimpl


@hookimpl
def register_chanels(register, context):
    pass
"""

WRONG_ARGUMENT_PLUGIN = """
from parley import hookimpl


@hookimpl
def register_fields(register, colour):
    pass
"""

BROKEN_IMPORT_PLUGIN = """
import parley_module_that_does_not_exist
"""


@pytest.fixture
def write_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str, str], InstalledPlugin]]:
    """Write a plugin module under tmp_path and return its InstalledPlugin record."""
    directory = tmp_path / "plugin_modules"
    directory.mkdir()
    monkeypatch.syspath_prepend(str(directory))
    written: list[str] = []

    def write(plugin_id: str, source: str) -> InstalledPlugin:
        module = f"fake_plugin_{uuid.uuid4().hex[:10]}"
        (directory / f"{module}.py").write_text(
            textwrap.dedent(source), encoding="utf-8"
        )
        importlib.invalidate_caches()
        written.append(module)
        return InstalledPlugin(
            id=plugin_id, module=module, distribution=None, version=None
        )

    yield write
    for module in written:
        sys.modules.pop(module, None)


def test_unknown_plugin_lists_installed() -> None:
    with pytest.raises(PluginError) as caught:
        load_plugins(["nope"], installed={"sandbox": SANDBOX})

    message = str(caught.value)
    assert "'nope'" in message
    assert "Installed plugins: sandbox" in message
    assert "did you mean" not in message


def test_near_miss_suggests_plugin() -> None:
    with pytest.raises(PluginError) as caught:
        load_plugins(["sandbx"], installed={"sandbox": SANDBOX})

    assert "'sandbx'" in str(caught.value)
    assert "did you mean 'sandbox'?" in str(caught.value)


def test_unknown_plugin_nothing_installed() -> None:
    with pytest.raises(PluginError) as caught:
        load_plugins(["sandbox"], installed={})

    assert "Installed plugins: (none)" in str(caught.value)


def test_failed_import_names_plugin(
    write_plugin: Callable[[str, str], InstalledPlugin],
) -> None:
    broken = write_plugin("broken", BROKEN_IMPORT_PLUGIN)

    with pytest.raises(PluginError) as caught:
        load_plugins(["broken"], installed={"broken": broken, "sandbox": SANDBOX})

    message = str(caught.value)
    assert "'broken'" in message
    assert repr(broken.module) in message
    assert "ModuleNotFoundError" in message
    assert "parley_module_that_does_not_exist" in message


def test_misspelled_hook_suggests_name(
    write_plugin: Callable[[str, str], InstalledPlugin],
) -> None:
    typo = write_plugin("typo", MISSPELLED_HOOK_PLUGIN)

    with pytest.raises(PluginError) as caught:
        load_plugins(["sandbox", "typo"], installed={"typo": typo, "sandbox": SANDBOX})

    message = str(caught.value)
    assert "plugin 'typo'" in message
    assert "'register_chanels'" in message
    assert "did you mean 'register_channels'?" in message


def test_wrong_hook_argument_names_plugin(
    write_plugin: Callable[[str, str], InstalledPlugin],
) -> None:
    wrong = write_plugin("wrong", WRONG_ARGUMENT_PLUGIN)

    with pytest.raises(PluginError) as caught:
        load_plugins(["wrong"], installed={"wrong": wrong})

    assert "plugin 'wrong'" in str(caught.value)
    assert "colour" in str(caught.value)


def test_valid_plugin_hooks_called(
    write_plugin: Callable[[str, str], InstalledPlugin],
) -> None:
    greeter = write_plugin("greeter", VALID_PLUGIN)
    fields: dict[str, list[str]] = {}

    def register(plugin_id: str, names: Sequence[str]) -> None:
        fields[plugin_id] = list(names)

    manager = load_plugins(["greeter"], installed={"greeter": greeter})
    # The greeter declares fixed fields, so it needs no context.
    manager.hook.register_fields(register=register, context=None)
    models = collect_settings_models(manager)

    assert manager.get_plugin("greeter") is sys.modules[greeter.module]
    assert fields["greeter"] == ["Greeting"]
    assert list(models) == ["greeter"]
    assert models["greeter"].__name__ == "GreeterSettings"


def test_repeated_id_registered_once() -> None:
    manager = load_plugins(["sandbox", "sandbox"], installed={"sandbox": SANDBOX})

    names = [name for name, _plugin in manager.list_name_plugin()]
    assert names.count("sandbox") == 1


def test_core_id_reserved() -> None:
    with pytest.raises(PluginError) as caught:
        load_plugins(["core"], installed={"sandbox": SANDBOX})

    assert "'core' is reserved" in str(caught.value)


def test_core_plugin_always_registered() -> None:
    manager = load_plugins([], installed={"sandbox": SANDBOX})

    assert manager.get_plugin("core") is not None
    assert manager.get_plugin("sandbox") is None


def test_installed_plugins_has_sandbox() -> None:
    installed = installed_plugins()

    assert "sandbox" in installed
    assert installed["sandbox"].module == "parley.sandbox"
    assert installed["sandbox"].distribution == "parley"


def run_plugins_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str | None]
) -> dict[str, dict[str, object]]:
    # CliRunner.isolated_filesystem is deprecated in Click 8.5, so the command
    # runs in an empty tmp_path instead.
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        cli, ["plugins", "--json"], env={"PARLEY_CONFIG": None, **env}
    )
    assert result.exit_code == 0, result.output
    return {row["id"]: row for row in json.loads(result.output)}


def test_cli_plugins_json_lists_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = run_plugins_json(tmp_path, monkeypatch, {"PARLEY_PLUGINS": None})
    sandbox = rows["sandbox"]

    assert sandbox["version"] == installed_plugins()["sandbox"].version
    assert sandbox["enabled"] is True
    assert sandbox["hooks"] == ["register_channels", "register_settings"]
    assert "error" not in sandbox


def test_cli_plugins_empty_env_disables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = run_plugins_json(tmp_path, monkeypatch, {"PARLEY_PLUGINS": ""})

    assert rows["sandbox"]["enabled"] is False
    assert rows["sandbox"]["hooks"] == ["register_channels", "register_settings"]


def test_cli_plugins_reads_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "parley.toml").write_text("[plugins]\nenabled = []\n", encoding="utf-8")

    rows = run_plugins_json(tmp_path, monkeypatch, {"PARLEY_PLUGINS": None})

    assert rows["sandbox"]["enabled"] is False
