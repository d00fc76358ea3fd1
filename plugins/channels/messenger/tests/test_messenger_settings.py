"""Validation of the ``[messenger]`` and ``[instagram]`` sections."""

from __future__ import annotations

from typing import Any

import pytest
from messenger_support import (
    APP_SECRET,
    IG_TOKEN,
    PAGE_TOKEN,
    VERIFY_TOKEN,
    instagram_section,
    messenger_section,
)
from pydantic import ValidationError

from parley_messenger.settings import InstagramSettings, MessengerSettings


def messenger_error(**changes: Any) -> str:
    with pytest.raises(ValidationError) as failure:
        MessengerSettings(**messenger_section(**changes))
    return str(failure.value)


def instagram_error(**changes: Any) -> str:
    with pytest.raises(ValidationError) as failure:
        InstagramSettings(**instagram_section(**changes))
    return str(failure.value)


def test_defaults() -> None:
    settings = MessengerSettings(
        **messenger_section(base_url="https://graph.facebook.com/")
    )

    assert settings.base_url == "https://graph.facebook.com"
    assert settings.api_version == "v26.0"
    assert settings.human_agent_tag is True
    assert settings.message_tags == {}
    assert settings.max_concurrent_requests is None
    assert settings.sender_id == "112233445566778"
    assert settings.webhook_account_id == "112233445566778"


@pytest.mark.parametrize(
    "page_id", ["your-page-id", "<page id>", "", "changeme", "your Page id"]
)
def test_placeholder_page_id_rejected(page_id: str) -> None:
    assert "placeholder" in messenger_error(page_id=page_id)


def test_page_id_must_be_digits() -> None:
    error = messenger_error(page_id="harbor-and-pine")

    assert "expected digits only" in error


def test_numeric_page_id_accepted() -> None:
    settings = MessengerSettings(**messenger_section(page_id=112233445566778))

    assert settings.page_id == "112233445566778"


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("page_access_token", "the Page access token"),
        ("page_access_token", "   "),
        ("app_secret", "<app secret>"),
        ("app_secret", "your-app-secret"),
        ("verify_token", "TODO"),
        ("verify_token", ""),
    ],
)
def test_placeholder_secrets_rejected(setting: str, value: str) -> None:
    error = messenger_error(**{setting: value})

    assert setting in error
    assert "placeholder" in error or "empty" in error


def test_secret_values_not_in_errors() -> None:
    error = messenger_error(page_id="not a page")

    for secret in (PAGE_TOKEN, APP_SECRET, VERIFY_TOKEN):
        assert secret not in error


@pytest.mark.parametrize(
    "base_url",
    [
        "graph.facebook.com",
        "ftp://graph.facebook.com",
        "https://graph.facebook.com/v26.0",
    ],
)
def test_bad_base_url_rejected(base_url: str) -> None:
    assert "base_url" in messenger_error(base_url=base_url)


@pytest.mark.parametrize("version", ["26.0", "v26", "2026-07", "V26.0"])
def test_bad_api_version_rejected(version: str) -> None:
    assert "api_version" in messenger_error(api_version=version)


def test_message_tags_upper_cased() -> None:
    settings = MessengerSettings(
        **messenger_section(message_tags={"order_update": "post_purchase_update"})
    )

    assert settings.kind_tags == {"order_update": "POST_PURCHASE_UPDATE"}


def test_human_agent_not_configurable_per_kind() -> None:
    error = messenger_error(message_tags={"order_update": "HUMAN_AGENT"})

    assert "HUMAN_AGENT is only for replies a person writes" in error


def test_agent_reply_kind_not_configurable() -> None:
    error = messenger_error(message_tags={"agent_reply": "ACCOUNT_UPDATE"})

    assert "always goes with the HUMAN_AGENT tag" in error


def test_unknown_tag_rejected() -> None:
    error = messenger_error(message_tags={"order_update": "SHIPPING_UPDATE"})

    assert "expected one of POST_PURCHASE_UPDATE" in error


def test_bad_kind_name_rejected() -> None:
    error = messenger_error(message_tags={"Order Update": "ACCOUNT_UPDATE"})

    assert "is not a message kind" in error


def test_concurrency_limits() -> None:
    settings = MessengerSettings(
        **messenger_section(max_concurrent_requests=4, max_messages_per_second=2.5)
    )

    assert settings.max_concurrent_requests == 4
    assert settings.max_messages_per_second == 2.5
    assert "max_concurrent_requests" in messenger_error(max_concurrent_requests=0)


def test_unknown_setting_rejected() -> None:
    assert "extra" in messenger_error(page_token="x")


def test_instagram_facebook_login() -> None:
    settings = InstagramSettings(**instagram_section())

    assert settings.webhook_account_id == "17841455500012345"
    assert settings.sender_id == "112233445566778"
    assert settings.token.get_secret_value() == IG_TOKEN
    assert settings.kind_tags == {}


def test_instagram_login_sends_as_account() -> None:
    settings = InstagramSettings(**instagram_section(page_id=""))

    assert settings.page_id is None
    assert settings.sender_id == "17841455500012345"


def test_instagram_rejects_message_tags() -> None:
    error = instagram_error(message_tags={"order_update": "POST_PURCHASE_UPDATE"})

    assert "message_tags is not available for Instagram" in error


def test_instagram_placeholder_account_rejected() -> None:
    assert "placeholder" in instagram_error(account_id="your-instagram-account-id")
    assert "placeholder" in instagram_error(page_id="your-page-id")
