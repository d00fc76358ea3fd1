"""The ``[hubspot]`` section: valid values, placeholders and mistakes named with the fix."""

from __future__ import annotations

from typing import Any

import pytest
from hubspot_support import TOKEN
from pydantic import ValidationError

from parley import Purpose
from parley_hubspot.settings import (
    STARTER_CLIENT_SECRET,
    STARTER_TOKEN,
    HubSpotSettings,
    format_date,
)


def build(**values: Any) -> HubSpotSettings:
    return HubSpotSettings(access_token=TOKEN, **values)


def error_of(**values: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        HubSpotSettings(**{"access_token": TOKEN, **values})
    return str(caught.value)


def test_defaults() -> None:
    settings = build()

    assert settings.base_url == "https://api.hubapi.com"
    assert settings.requests_per_ten_seconds == 100
    assert settings.search_requests_per_second == 5
    assert settings.duplicate_rule == "last_modified"
    assert settings.log_messages is False
    assert settings.write_consent is False
    assert settings.log_channels == {"twilio": "SMS", "whatsapp": "WHATS_APP"}


def test_token_is_secret() -> None:
    settings = build()

    assert TOKEN not in repr(settings)
    assert settings.access_token.get_secret_value() == TOKEN


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"access_token": STARTER_TOKEN}, "starter config's placeholder"),
        ({"access_token": "  "}, "access_token is empty"),
        ({"client_secret": STARTER_CLIENT_SECRET}, "starter config's placeholder"),
        ({"base_url": "api.hubapi.com"}, "http:// or https://"),
        ({"base_url": "https://api.hubapi.com/crm/v3"}, "only the scheme and host"),
        ({"webhook_url": "/webhooks/hubspot"}, "full URL HubSpot calls"),
        ({"fields": {"Loyalty Program": "Loyalty Program"}}, "'loyalty_program'"),
        ({"fields": {"First Name": "firstname"}}, "is built in"),
        ({"fields": {"HubSpot  contact id": "hs_object_id"}}, "is built in"),
        ({"fields": {"Tier {x}": "tier"}}, "cannot be a placeholder"),
        (
            {"fields": {"Loyalty Program": "a", "loyalty  program": "b"}},
            "cannot tell apart",
        ),
        ({"date_format": "DD/MM/YYYY"}, "no strftime directive"),
        ({"write_consent": True}, "consent_properties is empty"),
        ({"consent_properties": {"informational": "SMS consent"}}, "internal name"),
        ({"log_channels": {"twilio": "MMS"}}, "log_channels"),
        ({"duplicate_rule": "newest"}, "duplicate_rule"),
        ({"requests_per_ten_seconds": 0}, "requests_per_ten_seconds"),
    ],
)
def test_invalid_values_named(values: dict[str, Any], expected: str) -> None:
    assert expected in error_of(**values)


def test_placeholder_error_hides_value() -> None:
    message = error_of(access_token=STARTER_TOKEN)

    assert "private app" in message


def test_fields_keep_display_names() -> None:
    settings = build(fields={"  Loyalty   Program ": " loyalty_program "})

    assert settings.fields == {"Loyalty Program": "loyalty_program"}
    assert settings.mapped_properties == ("loyalty_program",)


def test_empty_client_secret_means_none() -> None:
    assert build(client_secret="").client_secret is None


def test_consent_properties_by_purpose() -> None:
    settings = build(
        write_consent=True, consent_properties={"informational": "sms_order_updates"}
    )

    assert settings.consent_properties == {Purpose.INFORMATIONAL: "sms_order_updates"}


def test_format_date_without_padding() -> None:
    from datetime import datetime

    moment = datetime(2026, 3, 5, 9, 7)

    assert format_date(moment, "%B %-d, %Y") == "March 5, 2026"
    assert format_date(moment, "%-m/%-d %-I:%M %p") == "3/5 9:07 AM"
    assert format_date(moment, "%d.%m.%Y") == "05.03.2026"
