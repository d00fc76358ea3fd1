"""The ``[twilio]`` section, the starter config and the config check."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from twilio_support import API_BASE_URL, AUTH_TOKEN, SERVICE_SID, settings

import parley.config
import parley_twilio
from parley import ConfigError, PluginContext
from parley.checks import check_config
from parley.starter import render_starter
from parley_twilio.settings import TwilioSettings


def invalid(**changes: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        TwilioSettings.model_validate(settings(**changes))
    return str(caught.value)


def test_defaults() -> None:
    section = TwilioSettings.model_validate(settings())

    assert section.api_base_url == API_BASE_URL
    assert section.validity_period_seconds == 900
    assert section.sender_type == "long_code"
    assert section.rate_per_second == 1.0
    assert section.max_concurrent_requests == 10
    assert section.credentials() == (section.account_sid, AUTH_TOKEN)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"account_sid": "AC123"}, "is not an Account SID"),
        ({"account_sid": "your Account SID (AC...)"}, "starter config's placeholder"),
        ({"auth_token": "your Auth Token"}, "starter config's placeholder"),
        ({"auth_token": "  "}, "the value is empty"),
        ({"from_number": "(415) 555-0100"}, "is not a phone number in E.164"),
        (
            {"from_number": "your Twilio number in E.164 (+1...)"},
            "starter config's placeholder",
        ),
        ({"from_number": None}, "set from_number or messaging_service_sid"),
        ({"messaging_service_sid": "MG1"}, "is not a Messaging Service SID"),
        (
            {"api_key_sid": "SK" + "0" * 32},
            "api_key_sid and api_key_secret go together",
        ),
        ({"api_key_sid": "AK1", "api_key_secret": "secret-01"}, "not an API key SID"),
        ({"webhook_url": "hooks.example.com"}, "is not a URL with http"),
        ({"webhook_url": "https://my_hooks.example.com/t"}, "contains an underscore"),
        ({"webhook_url": "https://hooks.example.com/t?x=1"}, "has a query"),
        ({"api_base_url": "https://api.twilio.com/2010-04-01"}, "has a path"),
        ({"validity_period_seconds": 36001}, "less than or equal to 36000"),
        ({"sender_type": "alphanumeric"}, "long_code"),
        ({"trusted_proxies": ["proxy.internal"]}, "is not an IP address or network"),
        ({"unknown": 1}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_values_named(changes: dict[str, Any], message: str) -> None:
    assert message in invalid(**changes)


def test_secrets_not_in_errors() -> None:
    text = invalid(auth_token=AUTH_TOKEN, account_sid="AC123")

    assert AUTH_TOKEN not in text


def test_api_key_used_for_sending() -> None:
    section = TwilioSettings.model_validate(
        settings(api_key_sid="SK" + "a" * 32, api_key_secret="key-secret-01")
    )

    assert section.credentials() == ("SK" + "a" * 32, "key-secret-01")


def test_service_is_throughput_key() -> None:
    section = TwilioSettings.model_validate(settings(messaging_service_sid=SERVICE_SID))

    assert section.sender_key == SERVICE_SID


def write_config(tmp_path: Path, text: str) -> Path:
    text = text.replace('data_dir = ".parley"', f'data_dir = "{tmp_path / "data"}"')
    path = tmp_path / "parley.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_starter_parses() -> None:
    config = tomllib.loads(render_starter(["twilio"]))

    assert config["plugins"]["enabled"] == ["sandbox", "twilio"]
    assert config["twilio"]["sender_type"] == "long_code"
    assert config["twilio"]["validity_period_seconds"] == 900


def test_starter_placeholders_rejected(tmp_path: Path) -> None:
    path = write_config(tmp_path, render_starter(["twilio"]))

    with pytest.raises(ConfigError) as caught:
        parley.config.load_config(path, environ={})

    problems = "\n".join(caught.value.problems)
    assert "twilio.account_sid" in problems
    assert "twilio.auth_token" in problems
    assert "twilio.from_number" in problems
    assert "placeholder" in problems


def test_starter_checks_once_filled_in(tmp_path: Path) -> None:
    text = render_starter(["twilio"])
    text = text.replace("your Account SID (AC...)", "AC" + "0" * 32)
    text = text.replace("your Auth Token", AUTH_TOKEN)
    text = text.replace("your Twilio number in E.164 (+1...)", "+14155550100")
    path = write_config(tmp_path, text)

    loaded = parley.config.load_config(path, environ={})
    issues, problems = check_config(loaded)

    assert [i.message for i in issues if i.severity == "error"] == []
    assert [p.message for p in problems if p.severity == "error"] == []


def test_env_overrides_auth_token(tmp_path: Path) -> None:
    text = render_starter(["twilio"])
    text = text.replace("your Account SID (AC...)", "AC" + "0" * 32)
    text = text.replace('auth_token = "your Auth Token"\n', "")
    text = text.replace("your Twilio number in E.164 (+1...)", "+14155550100")
    path = write_config(tmp_path, text)

    loaded = parley.config.load_config(
        path, environ={"PARLEY_TWILIO__AUTH_TOKEN": AUTH_TOKEN}
    )

    section = loaded.settings.plugin_settings("twilio")
    assert section.auth_token.get_secret_value() == AUTH_TOKEN


def context_for(section: dict[str, Any], public_url: str | None) -> PluginContext:
    from parley.testing import make_plugin_context

    context = make_plugin_context(parley_twilio, "twilio", section, Path("/tmp"))
    if public_url is None:
        return context
    server = context.settings.server.model_copy(update={"public_url": public_url})
    core = context.settings.model_copy(update={"server": server})
    return PluginContext(core, context.plugin_manager)


def test_check_names_webhook_urls() -> None:
    context = context_for(settings(webhook_url=None), "https://hooks.example.com")

    [problem] = parley_twilio.check_config(context=context)

    assert problem.severity == "info"
    assert "POST https://hooks.example.com/webhooks/twilio/inbound" in problem.message
    assert "https://hooks.example.com/webhooks/twilio/status" in problem.message


def test_check_warns_without_public_url() -> None:
    context = context_for(settings(webhook_url=None), None)

    problems = parley_twilio.check_config(context=context)

    assert [p.severity for p in problems] == ["warning", "info"]
    assert "set webhook_url" in problems[0].message
