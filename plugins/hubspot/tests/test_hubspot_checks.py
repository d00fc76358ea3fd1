"""``parley config check`` for HubSpot: token, scopes and mapped properties."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hubspot_support import (
    CLIENT_SECRET,
    TOKEN,
    base_settings,
    hubspot_instance,
    hubspot_vcr,
)

from parley import ConfigProblem, PluginContext


def problems_for(context: PluginContext) -> list[ConfigProblem]:
    answers = context.plugin_manager.hook.check_config(context=context)
    return [problem for answer in answers if answer for problem in answer]


def messages(problems: list[ConfigProblem], severity: str) -> Iterator[str]:
    return (p.message for p in problems if p.severity == severity)


def test_existing_properties_pass(tmp_path: Path) -> None:
    settings = base_settings(
        client_secret=CLIENT_SECRET,
        webhook_url="https://hooks.example.com/webhooks/hubspot",
        write_consent=True,
        consent_properties={"informational": "sms_order_updates"},
    )
    with hubspot_instance(tmp_path, settings) as instance:
        with hubspot_vcr().use_cassette("check_ok.yaml") as cassette:
            problems = problems_for(instance.context)

    assert cassette.all_played
    assert problems == []


def test_missing_property_reported_with_suggestion(tmp_path: Path) -> None:
    settings = base_settings(fields={"Loyalty Program": "loyalty_programme"})
    with hubspot_instance(tmp_path, settings) as instance:
        with hubspot_vcr().use_cassette("check_ok.yaml"):
            problems = problems_for(instance.context)

    [error] = messages(problems, "error")
    assert "hubspot.fields.'Loyalty Program'" in error
    assert "'loyalty_programme'" in error
    assert "did you mean 'loyalty_program'" in error


def test_consent_value_not_an_option(tmp_path: Path) -> None:
    settings = base_settings(
        write_consent=True,
        consent_properties={"informational": "sms_order_updates"},
        consent_opt_out_value="unsubscribed",
    )
    with hubspot_instance(tmp_path, settings) as instance:
        with hubspot_vcr().use_cassette("check_ok.yaml"):
            problems = problems_for(instance.context)

    [error] = messages(problems, "error")
    assert "consent_properties.informational" in error
    assert "'unsubscribed'" in error


def test_invalid_token_names_setting(tmp_path: Path) -> None:
    with hubspot_instance(tmp_path) as instance:
        with hubspot_vcr().use_cassette("check_401.yaml"):
            problems = problems_for(instance.context)

    [error] = messages(problems, "error")
    assert "hubspot.access_token" in error
    assert TOKEN not in error


def test_missing_scope_named(tmp_path: Path) -> None:
    with hubspot_instance(tmp_path) as instance:
        with hubspot_vcr().use_cassette("check_403_search.yaml"):
            problems = problems_for(instance.context)

    [error] = messages(problems, "error")
    assert "crm.objects.contacts.read" in error


def closed_port() -> int:
    """Return a port of this machine that a socket held, and nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        return held.getsockname()[1]


@pytest.mark.slow
def test_unreachable_hubspot_is_warning(tmp_path: Path) -> None:
    settings = base_settings(base_url=f"http://127.0.0.1:{closed_port()}")
    with hubspot_instance(tmp_path, settings) as instance:
        problems = problems_for(instance.context)

    [warning] = messages(problems, "warning")
    assert "could not be reached" in warning
    assert "first uses them" in warning


def test_webhook_url_required_with_secret(tmp_path: Path) -> None:
    settings = base_settings(client_secret=CLIENT_SECRET)
    with hubspot_instance(tmp_path, settings) as instance:
        with hubspot_vcr().use_cassette("check_ok.yaml"):
            problems = problems_for(instance.context)

    [error] = messages(problems, "error")
    assert "hubspot.webhook_url" in error
    assert "server.public_url" in error
