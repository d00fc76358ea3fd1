"""What ``parley init --with hubspot`` writes, and how the config check takes it."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hubspot_support import TOKEN

import parley.config
from parley import ConfigError
from parley.starter import render_starter


def write_starter(tmp_path: Path, text: str) -> Path:
    # The starter keeps its data directory relative; tests keep it in tmp_path.
    text = text.replace('data_dir = ".parley"', f'data_dir = "{tmp_path / "data"}"')
    path = tmp_path / "parley.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_starter_parses() -> None:
    config = tomllib.loads(render_starter(["hubspot"]))

    assert config["plugins"]["enabled"] == ["sandbox", "hubspot"]
    section = config["hubspot"]
    assert section["duplicate_rule"] == "last_modified"
    assert section["fields"] == {}
    assert section["log_messages"] is False


def test_starter_placeholders_rejected(tmp_path: Path) -> None:
    path = write_starter(tmp_path, render_starter(["hubspot"]))

    with pytest.raises(ConfigError) as caught:
        parley.config.load_config(path, environ={})

    text = "\n".join(caught.value.problems)
    assert "hubspot.access_token" in text
    assert "starter config's placeholder" in text
    assert "hubspot.client_secret" in text


def test_starter_loads_once_filled_in(tmp_path: Path) -> None:
    text = render_starter(["hubspot"])
    text = text.replace("your private app's access token", TOKEN)
    text = text.replace('client_secret = "your app\'s client secret"', "")
    path = write_starter(tmp_path, text)

    loaded = parley.config.load_config(path, environ={})

    settings = loaded.settings.plugin_settings("hubspot")
    assert settings is not None
    assert settings.access_token.get_secret_value() == TOKEN
