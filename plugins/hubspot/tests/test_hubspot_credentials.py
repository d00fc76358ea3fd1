"""``check_credentials`` for HubSpot: one property read against cassettes."""

from __future__ import annotations

import socket
from pathlib import Path

from hubspot_support import base_settings, hubspot_instance, hubspot_vcr

from parley import ConfigProblem, PluginContext


def results_for(context: PluginContext) -> list[ConfigProblem]:
    answers = context.plugin_manager.hook.check_credentials(context=context)
    return [result for answer in answers if answer for result in answer]


def test_valid_token_reported_as_info(tmp_path: Path) -> None:
    with hubspot_instance(tmp_path, base_settings()) as instance:
        with hubspot_vcr().use_cassette("check_ok.yaml") as cassette:
            results = results_for(instance.context)

    assert cassette.play_count == 1
    assert [result.severity for result in results] == ["info"]
    assert "access token works" in results[0].message
    assert "property definitions" in results[0].message


def test_revoked_token_is_error(tmp_path: Path) -> None:
    with hubspot_instance(tmp_path, base_settings()) as instance:
        with hubspot_vcr().use_cassette("credentials_401.yaml") as cassette:
            results = results_for(instance.context)

    assert cassette.all_played
    [result] = results
    assert result.severity == "error"
    assert "HTTP 401" in result.message
    assert "access token" in result.message


def test_missing_scope_is_error(tmp_path: Path) -> None:
    with hubspot_instance(tmp_path, base_settings()) as instance:
        with hubspot_vcr().use_cassette("client_403_scope.yaml"):
            results = results_for(instance.context)

    [result] = results
    assert result.severity == "error"
    assert "HTTP 403" in result.message


def test_unreachable_hubspot_is_warning(tmp_path: Path) -> None:
    # A port that was just free on 127.0.0.1, so the connection is refused.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = base_settings(base_url=f"http://127.0.0.1:{port}")
    with hubspot_instance(tmp_path, settings) as instance:
        results = results_for(instance.context)

    [result] = results
    assert result.severity == "warning"
    assert f"http://127.0.0.1:{port}" in result.message
    assert "cannot reach HubSpot" in result.message


def test_token_never_in_results(tmp_path: Path) -> None:
    settings = base_settings()
    with hubspot_instance(tmp_path, settings) as instance:
        with hubspot_vcr().use_cassette("credentials_401.yaml"):
            results = results_for(instance.context)

    assert all(settings["access_token"] not in result.message for result in results)
