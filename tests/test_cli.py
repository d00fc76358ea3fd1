"""The ``parley`` command line: init, config check and run errors."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import pytest
from click.testing import CliRunner

from parley.cli import cli


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    """A CLI runner working in an empty directory without parley variables."""
    monkeypatch.chdir(tmp_path)
    for name in ("PARLEY_PLUGINS", "PARLEY_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return CliRunner()


def test_init_writes_checkable_config(runner: CliRunner) -> None:
    with nullcontext():
        created = runner.invoke(cli, ["init"])
        checked = runner.invoke(cli, ["config", "check", "-c", "parley.toml"])
    assert created.exit_code == 0
    assert checked.exit_code == 0, checked.output
    assert "OK (12 templates)" in checked.output


def test_init_refuses_to_overwrite(runner: CliRunner) -> None:
    with nullcontext():
        Path("parley.toml").write_text("# mine\n")
        result = runner.invoke(cli, ["init"])
        kept = Path("parley.toml").read_text()
    assert result.exit_code == 1
    assert "--force" in result.output
    assert kept == "# mine\n"


def _check(runner: CliRunner, templates: str) -> tuple[int, str]:
    with nullcontext():
        Path("parley.toml").write_text(
            '[plugins]\nenabled = ["sandbox"]\n\n[templates]\n' + templates
        )
        result = runner.invoke(cli, ["config", "check", "-c", "parley.toml"])
    return result.exit_code, result.output


def test_check_single_brace_names_position(runner: CliRunner) -> None:
    code, output = _check(
        runner, 'order_cancelled = "Sorry {Last Name}}, cancelled."\n'
    )
    assert code == 1
    assert "'order_cancelled'" in output
    assert "line 1, column 7" in output
    assert "{{Last Name}}" in output


def test_check_unclosed_placeholder_multiline(runner: CliRunner) -> None:
    code, output = _check(
        runner, 'order_shipped = """Hi,\nyour order {{Order Number} shipped."""\n'
    )
    assert code == 1
    assert "line 2, column 12" in output


def test_check_unknown_field_suggests(runner: CliRunner) -> None:
    code, output = _check(runner, 'welcome = "Hi {{Frist Name}}"\n')
    assert code == 1
    assert "Did you mean 'First Name'?" in output


def test_check_reports_ucs2_characters(runner: CliRunner) -> None:
    code, output = _check(runner, 'welcome = "It’s here 📦"\n')
    assert code == 0
    assert "UCS-2" in output
    assert "’" in output


def test_check_invalid_setting_exits_1(runner: CliRunner) -> None:
    with nullcontext():
        Path("parley.toml").write_text("[server]\nport = -3\nprot = 1\n")
        result = runner.invoke(cli, ["config", "check", "-c", "parley.toml"])
    assert result.exit_code == 1
    assert "server.port" in result.output
    assert "server.prot" in result.output


def test_check_unknown_plugin_lists_installed(runner: CliRunner) -> None:
    with nullcontext():
        Path("parley.toml").write_text('[plugins]\nenabled = ["sandbx"]\n')
        result = runner.invoke(cli, ["config", "check", "-c", "parley.toml"])
    assert result.exit_code == 1
    assert "'sandbx'" in result.output
    assert "sandbox" in result.output


def test_check_missing_file_suggests_init(runner: CliRunner) -> None:
    with nullcontext():
        result = runner.invoke(cli, ["config", "check", "-c", "nope.toml"])
    assert result.exit_code == 1
    assert "parley init" in result.output


def test_run_on_taken_port_fails(runner: CliRunner) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        Path("parley.toml").write_text('data_dir = "data"\n')
        result = runner.invoke(cli, ["run", "-c", "parley.toml", "--port", str(port)])
    assert result.exit_code != 0
