"""``parley doctor``: each check, its status and the exit code."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from parley import ConfigProblem, PluginContext, hookimpl
from parley.cli import cli
from parley.config import LoadedConfig, load_config
from parley.crypto import KEYS_ENV, generate_key
from parley.doctor import (
    ERROR,
    OK,
    SKIPPED,
    WARNING,
    CheckResult,
    needs_fixing,
    run_doctor,
    url_problem,
)
from parley.runtime import build_runtime
from parley.store import migrations

# For tests where the backends do not differ: SQLite alone keeps the file fast.
SQLITE_ONLY = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)

KEY = generate_key("k1")


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv(KEYS_ENV, KEY)
    return {KEYS_ENV: KEY}


@pytest.fixture
def loaded_with_store(
    write_config: Callable[..., Path], store_url: str, keys: dict[str, str]
) -> Callable[..., LoadedConfig]:
    """Load a config whose store exists and is migrated."""

    def load(extra: str = "") -> LoadedConfig:
        path = write_config(extra, store_url=store_url)
        loaded = load_config(path, environ=keys)
        build_runtime(loaded).close()
        return loaded

    return load


def rows(results: list[CheckResult], check: str) -> list[CheckResult]:
    return [result for result in results if result.check == check]


def status_of(results: list[CheckResult], check: str) -> str:
    [result] = rows(results, check)
    return result.status


def test_healthy_install_passes(
    loaded_with_store: Callable[..., LoadedConfig], keys: dict[str, str]
) -> None:
    loaded = loaded_with_store('\n[server]\npublic_url = "https://hooks.example.com"\n')
    results = run_doctor(loaded, environ=keys)

    config_rows = rows(results, "config")
    assert config_rows[0].status == OK
    assert all(row.status != ERROR for row in config_rows)
    assert status_of(results, "store") == OK
    assert status_of(results, "migrations") == OK
    assert status_of(results, "keys") == OK
    assert "match the store" in rows(results, "keys")[0].detail
    assert status_of(results, "public URL") == OK
    assert (
        "https://hooks.example.com/webhooks/sandbox"
        in rows(results, "public URL")[0].detail
    )
    assert status_of(results, "credentials: sandbox") == SKIPPED
    assert not needs_fixing(results)


def test_missing_key_is_error(
    loaded_with_store: Callable[..., LoadedConfig],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # An empty config directory, so that no per-user key file is found.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    results = run_doctor(loaded_with_store(), environ={})

    [row] = rows(results, "keys")
    assert row.status == ERROR
    assert "PARLEY_KEYS" in row.detail
    assert needs_fixing(results)


@SQLITE_ONLY
def test_wrong_key_is_error(loaded_with_store: Callable[..., LoadedConfig]) -> None:
    other = generate_key("k1")
    results = run_doctor(loaded_with_store(), environ={KEYS_ENV: other})

    [row] = rows(results, "keys")
    assert row.status == ERROR
    assert "'k1'" in row.detail
    assert other not in row.detail


@SQLITE_ONLY
def test_unknown_key_id_is_error(
    loaded_with_store: Callable[..., LoadedConfig],
) -> None:
    results = run_doctor(loaded_with_store(), environ={KEYS_ENV: generate_key("k2")})

    [row] = rows(results, "keys")
    assert row.status == ERROR
    assert "k1" in row.detail


def test_pending_migration_is_warning(
    loaded_with_store: Callable[..., LoadedConfig], keys: dict[str, str]
) -> None:
    loaded = loaded_with_store()
    latest = migrations.latest_version()
    _execute(loaded, f"DELETE FROM schema_migrations WHERE version = {latest}")

    results = run_doctor(loaded, environ=keys)

    [row] = rows(results, "migrations")
    assert row.status == WARNING
    assert f"pending: {latest}" in row.detail


@SQLITE_ONLY
def test_newer_store_is_error(
    loaded_with_store: Callable[..., LoadedConfig], keys: dict[str, str]
) -> None:
    loaded = loaded_with_store()
    newer = migrations.latest_version() + 1
    _execute(
        loaded,
        "INSERT INTO schema_migrations (version, name, applied_at) "
        f"VALUES ({newer}, 'from the future', CURRENT_TIMESTAMP)",
    )

    results = run_doctor(loaded, environ=keys)

    [row] = rows(results, "migrations")
    assert row.status == ERROR
    assert "upgrade parley" in row.fix


def _execute(loaded: LoadedConfig, statement: str) -> None:
    url = loaded.settings.store_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(statement))
    engine.dispose()


def test_missing_sqlite_store_not_created(
    write_config: Callable[..., Path], tmp_path: Path, keys: dict[str, str]
) -> None:
    database = tmp_path / "absent" / "parley.db"
    loaded = load_config(write_config(store_url=f"sqlite:///{database}"), environ=keys)

    results = run_doctor(loaded, environ=keys)

    assert status_of(results, "store") == WARNING
    assert not database.exists()
    assert rows(results, "migrations") == []
    assert "not checked against the store" in rows(results, "keys")[0].detail


def test_new_store_without_key_warns(
    write_config: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(KEYS_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    database = tmp_path / "absent" / "parley.db"
    loaded = load_config(write_config(store_url=f"sqlite:///{database}"), environ={})

    results = run_doctor(loaded, environ={})

    [row] = rows(results, "keys")
    assert row.status == WARNING
    assert str(tmp_path / "config" / "parley" / "keys") in row.detail
    assert not needs_fixing(results)
    assert not (tmp_path / "config").exists()


def test_unreachable_store_is_error(
    write_config: Callable[..., Path], keys: dict[str, str]
) -> None:
    # Port 1 on the loopback interface refuses the connection at once.
    url = "postgresql://parley:secret-pw@127.0.0.1:1/parley"
    loaded = load_config(write_config(store_url=url), environ=keys)

    results = run_doctor(loaded, environ=keys)

    [row] = rows(results, "store")
    assert row.status == ERROR
    assert "127.0.0.1:1" in row.detail
    assert "secret-pw" not in row.detail
    assert "[store] url" in row.fix


class FakeProvider:
    """A plugin whose credential check returns what a test gives it."""

    def __init__(self, answer: Callable[[], Sequence[ConfigProblem]]) -> None:
        self.answer = answer

    @hookimpl
    def check_credentials(self, context: PluginContext) -> Sequence[ConfigProblem]:
        return self.answer()


def _with_provider(
    loaded: LoadedConfig, name: str, answer: Callable[[], Sequence[ConfigProblem]]
) -> None:
    loaded.plugin_manager.register(FakeProvider(answer), name=name)


def test_credential_results_mapped(
    write_config: Callable[..., Path], keys: dict[str, str]
) -> None:
    loaded = load_config(write_config(), environ=keys)
    _with_provider(
        loaded,
        "goodcrm",
        lambda: [ConfigProblem("info", "[goodcrm] token works for Harbor & Pine")],
    )
    _with_provider(
        loaded, "badcrm", lambda: [ConfigProblem("error", "[badcrm] token rejected")]
    )
    _with_provider(
        loaded,
        "farcrm",
        lambda: [ConfigProblem("warning", "[farcrm] cannot reach the API")],
    )

    results = run_doctor(loaded, environ=keys)

    assert status_of(results, "credentials: goodcrm") == OK
    assert status_of(results, "credentials: badcrm") == ERROR
    assert status_of(results, "credentials: farcrm") == WARNING
    assert needs_fixing(results)


def test_failing_credential_check_reported(
    write_config: Callable[..., Path], keys: dict[str, str]
) -> None:
    loaded = load_config(write_config(), environ=keys)

    def broken() -> Sequence[ConfigProblem]:
        raise RuntimeError("provider client crashed")

    _with_provider(loaded, "brokencrm", broken)
    _with_provider(loaded, "fine", lambda: [ConfigProblem("info", "[fine] ok")])

    results = run_doctor(loaded, environ=keys)

    [row] = rows(results, "credentials: brokencrm")
    assert row.status == ERROR
    assert "RuntimeError: provider client crashed" in row.detail
    assert status_of(results, "credentials: fine") == OK


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://hooks.example.com", "does not use https"),
        ("https://localhost:8080", "names this machine"),
        ("https://hooks.example.com/?token=1", "query or fragment"),
        ("https:///webhooks", "no host name"),
    ],
)
def test_bad_public_url_is_error(url: str, expected: str) -> None:
    problem = url_problem(url)
    assert problem is not None
    assert expected in problem


def test_good_public_url_accepted() -> None:
    assert url_problem("https://hooks.example.com/parley") is None


def test_public_url_error_row(
    write_config: Callable[..., Path], keys: dict[str, str]
) -> None:
    path = write_config('\n[server]\npublic_url = "http://hooks.example.com"\n')
    results = run_doctor(load_config(path, environ=keys), environ=keys)

    [row] = rows(results, "public URL")
    assert row.status == ERROR
    assert "[server] public_url" in row.fix


def _probe(
    write_config: Callable[..., Path],
    keys: dict[str, str],
    handler: Callable[[httpx.Request], httpx.Response],
) -> CheckResult:
    path = write_config('\n[server]\npublic_url = "https://hooks.example.com/"\n')
    results = run_doctor(
        load_config(path, environ=keys),
        probe=True,
        environ=keys,
        transport=httpx.MockTransport(handler),
    )
    [row] = rows(results, "public URL probe")
    return row


def test_probe_reaches_daemon(
    write_config: Callable[..., Path], keys: dict[str, str]
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"status": "alive"})

    row = _probe(write_config, keys, handler)

    assert row.status == OK
    [request] = seen
    assert request.method == "GET"
    assert str(request.url) == "https://hooks.example.com/healthz"


def test_probe_wrong_answer_is_error(
    write_config: Callable[..., Path], keys: dict[str, str]
) -> None:
    row = _probe(
        write_config, keys, lambda request: httpx.Response(502, text="Bad Gateway")
    )

    assert row.status == ERROR
    assert "HTTP 502" in row.detail


def test_probe_connect_failure_is_error(
    write_config: Callable[..., Path], keys: dict[str, str]
) -> None:
    def refuse_connection(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    row = _probe(write_config, keys, refuse_connection)

    assert row.status == ERROR
    assert "ConnectError" in row.detail


def test_cli_json_and_exit_code(
    write_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config('\n[server]\npublic_url = "http://hooks.example.com"\n')
    monkeypatch.delenv(KEYS_ENV, raising=False)
    monkeypatch.setenv("PARLEY_KEY_FILE", str(path.parent / "no-such-keys"))

    result = CliRunner().invoke(cli, ["doctor", "-c", str(path), "--json"])

    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["ok"] is False
    statuses = {check["check"]: check["status"] for check in report["checks"]}
    assert statuses["public URL"] == ERROR
    assert statuses["keys"] == ERROR


def test_cli_table_keeps_brackets(
    write_config: Callable[..., Path], keys: dict[str, str]
) -> None:
    path = write_config()

    result = CliRunner().invoke(cli, ["doctor", "-c", str(path)], terminal_width=200)

    assert result.exit_code == 0, result.output
    assert "[server] public_url" in result.output
    assert "nothing must be fixed" in result.output


def test_cli_invalid_config_is_error(tmp_path: Path, keys: dict[str, str]) -> None:
    path = tmp_path / "parley.toml"
    path.write_text("[server]\nport = 'eighty'\n", encoding="utf-8")

    result = CliRunner().invoke(cli, ["doctor", "-c", str(path), "--json"])

    assert result.exit_code == 1
    [check] = json.loads(result.output)["checks"]
    assert check["check"] == "config"
    assert "port" in check["detail"]
