import textwrap
from pathlib import Path

import pytest

from parley.config import load_config
from parley.errors import ConfigError

SECRET = "s3cr3t-value"


def write_toml(directory: Path, body: str, name: str = "parley.toml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def problem_keys(err: ConfigError) -> list[str]:
    return [problem.split(":", 1)[0] for problem in err.problems]


@pytest.fixture
def no_config_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty directory with no PARLEY_CONFIG in the process environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PARLEY_CONFIG", raising=False)
    return tmp_path


def test_defaults_without_file(no_config_env: Path) -> None:
    loaded = load_config(None, environ={})
    settings = loaded.settings

    assert loaded.path is None
    assert settings.server.host == "127.0.0.1"
    assert settings.server.port == 8080
    assert settings.outbox.max_attempts == 8
    assert settings.plugins.enabled == ["sandbox"]
    assert settings.sandbox.latency_ms == 0
    assert settings.sandbox.secret is None


def test_file_value_read(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        """
        [server]
        port = 8123

        [business]
        name = "Harbor & Pine"
        """,
    )

    loaded = load_config(path, environ={})

    assert loaded.path == path
    assert loaded.settings.server.port == 8123
    assert loaded.settings.business.name == "Harbor & Pine"


def test_env_overrides_nested_key(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        """
        [server]
        host = "0.0.0.0"
        port = 8123
        """,
    )

    settings = load_config(path, environ={"PARLEY_SERVER__PORT": "9000"}).settings

    assert settings.server.port == 9000
    assert settings.server.host == "0.0.0.0"


def test_env_overrides_plugin_key(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        """
        [sandbox]
        latency_ms = 10
        """,
    )

    settings = load_config(path, environ={"PARLEY_SANDBOX__LATENCY_MS": "250"}).settings

    assert settings.sandbox.latency_ms == 250


def test_config_env_var_in_environ(no_config_env: Path) -> None:
    path = write_toml(
        no_config_env,
        """
        [server]
        port = 7000
        """,
        name="elsewhere.toml",
    )

    loaded = load_config(None, environ={"PARLEY_CONFIG": str(path)})

    assert loaded.path == path
    assert loaded.settings.server.port == 7000


def test_empty_plugins_env_loads_none(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        """
        [plugins]
        enabled = ["sandbox"]
        """,
    )

    loaded = load_config(path, environ={"PARLEY_PLUGINS": ""})

    assert loaded.settings.plugins.enabled == []
    assert loaded.plugin_manager.get_plugin("sandbox") is None
    assert loaded.settings.plugin_settings("sandbox") is None


def test_plugins_env_overrides_file_list(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        """
        [plugins]
        enabled = ["not-installed"]
        """,
    )

    loaded = load_config(path, environ={"PARLEY_PLUGINS": "sandbox"})

    assert loaded.settings.plugins.enabled == ["sandbox"]
    assert loaded.plugin_manager.get_plugin("sandbox") is not None


def test_disabled_plugin_section_ignored(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        """
        [plugins]
        enabled = ["sandbox"]

        [shopify]
        anything = "belongs to a plugin that is not enabled"
        """,
    )

    loaded = load_config(path, environ={})

    assert loaded.plugin_manager.get_plugin("shopify") is None


def test_plugins_enabled_not_list(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        """
        [plugins]
        enabled = "sandbox"
        """,
    )

    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})

    assert "plugins.enabled" in str(caught.value)


def test_invalid_values_reported_together(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        """
        [server]
        port = -1
        prot = 8080

        [outbox]
        max_attempts = 0
        """,
    )

    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})

    err = caught.value
    assert sorted(problem_keys(err)) == [
        "outbox.max_attempts",
        "server.port",
        "server.prot",
    ]
    assert (err.source or "").startswith(str(path))
    assert str(path) in str(err)
    assert "server.port" in str(err)
    assert "outbox.max_attempts" in str(err)
    assert "server.prot" in str(err)


def test_env_error_reported_with_key(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "")

    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={"PARLEY_SERVER__PORT": "not-a-port"})

    assert problem_keys(caught.value) == ["server.port"]


def test_env_invalid_json_section(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "")

    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={"PARLEY_SERVER": "{not json"})

    assert "PARLEY_SERVER: the value is not valid JSON" in str(caught.value)


def test_env_misspelled_section_reported(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "")

    with pytest.raises(ConfigError) as caught:
        load_config(
            path, environ={"PARLEY_SEVER__PORT": "9000", "PARLEY_SERVER_PORT": "1"}
        )

    message = str(caught.value)
    assert "PARLEY_SEVER__PORT: no setting has this name" in message
    assert "PARLEY_SERVER_PORT: no setting has this name" in message
    assert "PARLEY_SERVER__PORT" in message


def test_env_own_variables_allowed(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "")
    environ = {"PARLEY_TRACE": "0", "PARLEY_TEST_DATABASE_URL": "postgresql://x"}
    assert load_config(path, environ=environ).settings.server.port == 8080


def test_relative_data_dir_follows_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    path = write_toml(folder, 'data_dir = "state"\n')
    monkeypatch.chdir(tmp_path)
    assert load_config(path, environ={}).settings.data_dir == folder / "state"


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('[logging]\nlevel = "verbose"\n', "logging.level"),
        ('[logging.plugin_levels]\nshopify = "loud"\n', "logging.plugin_levels"),
        ('[business]\ntime_zone = "PST"\n', "business.time_zone"),
        ('[business]\nname = ""\n', "business.name"),
        ('[contacts]\ndefault_region = "XX"\n', "contacts.default_region"),
        ('[store]\nurl = "mysql://root@localhost/parley"\n', "store.url"),
    ],
    ids=["level", "plugin-level", "zone", "empty-name", "region", "mysql"],
)
def test_invalid_value_reported(tmp_path: Path, body: str, key: str) -> None:
    path = write_toml(tmp_path, body)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert key in str(caught.value)


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ("[sever]\nport = 9000\n", "sever"),
        ('data_dri = "/var/lib/parley"\n', "data_dri"),
    ],
    ids=["section", "key"],
)
def test_unknown_top_level_key_reported(tmp_path: Path, body: str, key: str) -> None:
    path = write_toml(tmp_path, body)

    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})

    assert key in str(caught.value)


def test_toml_syntax_error_names_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[server\nport = 1\n")

    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})

    assert caught.value.source == str(path)
    assert str(path) in str(caught.value)
    assert "TOML" in str(caught.value)


def test_missing_file_suggests_init(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"

    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})

    assert "absent.toml" in str(caught.value)
    assert "parley init" in str(caught.value)


def test_plugin_section_validated(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        """
        [sandbox]
        latency_ms = -5
        """,
    )

    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})

    assert problem_keys(caught.value) == ["sandbox.latency_ms"]


def test_secret_hidden_in_settings(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        f"""
        [sandbox]
        secret = "{SECRET}"
        """,
    )

    settings = load_config(path, environ={}).settings

    assert settings.sandbox.secret.get_secret_value() == SECRET
    assert SECRET not in str(settings)
    assert SECRET not in repr(settings)
    assert SECRET not in repr(settings.sandbox)


def test_secret_hidden_in_config_error(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        f"""
        [server]
        port = -1

        [sandbox]
        secret = "{SECRET}"
        latency_ms = -5
        """,
    )

    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})

    assert sorted(problem_keys(caught.value)) == ["sandbox.latency_ms", "server.port"]
    assert SECRET not in str(caught.value)


def test_env_secret_hidden_in_config_error(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "")
    environ = {"PARLEY_SANDBOX__SECRET": SECRET, "PARLEY_SERVER__PORT": "-1"}

    with pytest.raises(ConfigError) as caught:
        load_config(path, environ=environ)

    assert problem_keys(caught.value) == ["server.port"]
    assert SECRET not in str(caught.value)


def test_invalid_secret_not_echoed(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        f"""
        [sandbox]
        secret = ["{SECRET}"]
        """,
    )

    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})

    assert problem_keys(caught.value) == ["sandbox.secret"]
    assert SECRET not in str(caught.value)


def test_store_url_defaults_to_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    path = write_toml(tmp_path, f'data_dir = "{data_dir}"\n')

    settings = load_config(path, environ={}).settings

    assert settings.store.url is None
    assert settings.store_url == f"sqlite:///{(data_dir / 'parley.db').resolve()}"


def test_store_url_default_data_dir(no_config_env: Path) -> None:
    settings = load_config(None, environ={}).settings

    expected = (no_config_env / ".parley" / "parley.db").resolve()
    assert settings.store_url == f"sqlite:///{expected}"


def test_store_url_from_file(tmp_path: Path) -> None:
    url = "postgresql://parley@127.0.0.1:5432/parley"
    path = write_toml(tmp_path, f'[store]\nurl = "{url}"\n')

    settings = load_config(path, environ={}).settings

    assert settings.store_url == url
