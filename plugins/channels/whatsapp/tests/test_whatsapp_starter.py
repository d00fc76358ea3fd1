"""What ``parley init --with whatsapp`` writes, and how the config check takes it."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from whatsapp_support import ACCESS_TOKEN, APP_SECRET, PHONE_NUMBER_ID, VERIFY_TOKEN

import parley.config
from parley import ConfigError
from parley.checks import check_config
from parley.starter import render_starter

FILLED_IN = {
    '"your-phone-number-id"': f'"{PHONE_NUMBER_ID}"',
    '"your-system-user-access-token"': f'"{ACCESS_TOKEN}"',
    '"your-app-secret"': f'"{APP_SECRET}"',
    '"a-verify-token-you-choose"': f'"{VERIFY_TOKEN}"',
}


def write_starter(tmp_path: Path, text: str) -> Path:
    text = text.replace('data_dir = ".parley"', f'data_dir = "{tmp_path / "data"}"')
    path = tmp_path / "parley.toml"
    path.write_text(text, encoding="utf-8")
    return path


def filled_in() -> str:
    text = render_starter(["whatsapp"])
    for placeholder, value in FILLED_IN.items():
        text = text.replace(placeholder, value)
    return text


def test_starter_parses() -> None:
    config = tomllib.loads(render_starter(["whatsapp"]))

    assert config["plugins"]["enabled"] == ["sandbox", "whatsapp"]
    assert config["whatsapp"]["api_version"] == "v26.0"
    assert config["whatsapp"]["templates"]["order_update"]["parameters"] == [
        "First Name",
        "Order Number",
        "Order Status",
    ]


def test_starter_placeholders_named(tmp_path: Path) -> None:
    path = write_starter(tmp_path, render_starter(["whatsapp"]))

    with pytest.raises(ConfigError) as caught:
        parley.config.load_config(path, environ={})

    problems = "\n".join(caught.value.problems)
    for field in ("phone_number_id", "access_token", "app_secret", "verify_token"):
        assert f"whatsapp.{field}:" in problems
    assert problems.count("placeholder") == 4


def test_starter_env_overrides_placeholders(tmp_path: Path) -> None:
    text = render_starter(["whatsapp"]).replace(
        '"your-phone-number-id"', f'"{PHONE_NUMBER_ID}"'
    )
    environ = {
        "PARLEY_WHATSAPP__ACCESS_TOKEN": ACCESS_TOKEN,
        "PARLEY_WHATSAPP__APP_SECRET": APP_SECRET,
        "PARLEY_WHATSAPP__VERIFY_TOKEN": VERIFY_TOKEN,
    }

    loaded = parley.config.load_config(write_starter(tmp_path, text), environ=environ)

    settings = loaded.settings.plugin_settings("whatsapp")
    assert settings.app_secret.get_secret_value() == APP_SECRET


def test_starter_checks_once_filled_in(tmp_path: Path) -> None:
    loaded = parley.config.load_config(write_starter(tmp_path, filled_in()), environ={})

    issues, problems = check_config(loaded)

    assert [i.message for i in issues if i.severity == "error"] == []
    assert [p.message for p in problems if p.severity == "error"] == []
