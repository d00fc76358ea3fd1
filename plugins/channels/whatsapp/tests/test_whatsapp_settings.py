"""The ``[whatsapp]`` settings: defaults, placeholders and clear errors."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from whatsapp_support import ACCESS_TOKEN, APP_SECRET, make_settings, settings_values

from parley_whatsapp.settings import WhatsAppSettings


def errors_of(**changes: object) -> str:
    with pytest.raises(ValidationError) as caught:
        WhatsAppSettings.model_validate(settings_values(**changes))
    return str(caught.value)


def test_defaults() -> None:
    settings = WhatsAppSettings.model_validate(
        {
            "phone_number_id": "109876543210987",
            "access_token": ACCESS_TOKEN,
            "app_secret": APP_SECRET,
            "verify_token": "harbor-pine-verify-4c1d",
        }
    )

    assert settings.base_url == "https://graph.facebook.com"
    assert settings.api_version == "v26.0"
    assert settings.messages_per_second == 80.0
    assert settings.window_margin_seconds == 30.0
    assert settings.templates == {}


@pytest.mark.parametrize(
    ("field", "placeholder"),
    [
        ("phone_number_id", "your-phone-number-id"),
        ("access_token", "your-system-user-access-token"),
        ("app_secret", "your-app-secret"),
        ("verify_token", "a-verify-token-you-choose"),
    ],
)
def test_placeholders_rejected(field: str, placeholder: str) -> None:
    message = errors_of(**{field: placeholder})

    assert "placeholder" in message
    assert field in message


@pytest.mark.parametrize("field", ["access_token", "app_secret", "verify_token"])
def test_empty_secret_rejected(field: str) -> None:
    assert f"{field} is empty" in errors_of(**{field: "  "})


def test_phone_number_instead_of_id_rejected() -> None:
    message = errors_of(phone_number_id="+1 415 555 0100")

    assert "numeric phone number id" in message
    assert "not the phone number" in message


def test_numeric_phone_number_id_accepted() -> None:
    assert make_settings(phone_number_id=109876543210987).phone_number_id == (
        "109876543210987"
    )


def test_verify_token_equal_to_app_secret_rejected() -> None:
    message = errors_of(verify_token=APP_SECRET)

    assert "verify_token equals app_secret" in message
    assert APP_SECRET not in message


@pytest.mark.parametrize(
    "url", ["graph.facebook.com", "ftp://graph.facebook.com", "https://x.test/v26.0"]
)
def test_bad_base_url_rejected(url: str) -> None:
    assert "base_url" in errors_of(base_url=url)


def test_base_url_trailing_slash_dropped() -> None:
    assert make_settings(base_url="https://graph.facebook.com/").base_url == (
        "https://graph.facebook.com"
    )


@pytest.mark.parametrize("version", ["26.0", "v26", "2026-07"])
def test_bad_api_version_rejected(version: str) -> None:
    assert "api_version" in errors_of(api_version=version)


def test_template_kind_pattern_checked() -> None:
    template = {"name": "order_update", "language": "en_US"}

    message = errors_of(templates={"Order Update": template})

    assert "not a message kind" in message


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ({"name": "Order Update", "language": "en_US"}, "name"),
        ({"name": "order_update", "language": "english"}, "language"),
        ({"name": "order_update", "language": "en_US", "parameters": [""]}, "{{1}}"),
        ({"name": "order_update", "language": "en_US", "header": "x"}, "header"),
    ],
)
def test_bad_template_rejected(template: dict, expected: str) -> None:
    assert expected in errors_of(templates={"order_update": template})


def test_secrets_hidden_in_errors() -> None:
    message = errors_of(phone_number_id="abc")

    assert ACCESS_TOKEN not in message
    assert APP_SECRET not in message
