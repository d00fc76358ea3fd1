"""``check_credentials`` for Twilio: one Account read against a local mock transport."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest
from twilio_support import ACCOUNT_SID, AUTH_TOKEN, settings

import parley_twilio
from parley import ConfigProblem
from parley.testing import make_plugin_context
from parley_twilio.credentials import check_credentials
from parley_twilio.settings import TwilioSettings

ACCOUNT_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}.json"


def respond(
    status: int, body: object, seen: list[httpx.Request]
) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, content=json.dumps(body).encode())

    return httpx.MockTransport(handler)


def check(
    status: int, body: object, **changes: object
) -> tuple[ConfigProblem, httpx.Request]:
    seen: list[httpx.Request] = []
    [result] = check_credentials(
        TwilioSettings(**settings(**changes)), respond(status, body, seen)
    )
    [request] = seen
    return result, request


def test_active_account_is_info() -> None:
    result, request = check(
        200, {"sid": ACCOUNT_SID, "friendly_name": "Harbor & Pine", "status": "active"}
    )
    assert result.severity == "info"
    assert "'Harbor & Pine'" in result.message
    assert request.method == "GET"
    assert request.url.path == ACCOUNT_PATH


def test_request_uses_basic_auth() -> None:
    _result, request = check(200, {"status": "active"})
    assert request.headers["authorization"].startswith("Basic ")


def test_rejected_token_is_error() -> None:
    result, _request = check(
        401, {"code": 20003, "message": "Authenticate", "status": 401}
    )
    assert result.severity == "error"
    assert "rejected the Auth Token" in result.message
    assert "auth_token" in result.message
    assert AUTH_TOKEN not in result.message


def test_unknown_account_is_error() -> None:
    result, _request = check(404, {"code": 20404, "status": 404})
    assert result.severity == "error"
    assert ACCOUNT_SID in result.message


def test_suspended_account_is_error() -> None:
    result, _request = check(200, {"friendly_name": "Harbor", "status": "suspended"})
    assert result.severity == "error"
    assert "suspended" in result.message


def test_server_error_is_warning() -> None:
    result, _request = check(503, {"message": "Service unavailable"})
    assert result.severity == "warning"
    assert "HTTP 503" in result.message


def test_hook_reports_unreachable_twilio(tmp_path: Path) -> None:
    # A port that was just free on 127.0.0.1, so the connection is refused.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    section = settings(api_base_url=f"http://127.0.0.1:{port}")
    context = make_plugin_context(parley_twilio, "twilio", section, tmp_path)

    answers = context.plugin_manager.hook.check_credentials(context=context)

    [result] = [result for answer in answers if answer for result in answer]
    assert result.severity == "warning"
    assert f"127.0.0.1:{port}" in result.message
    assert "cannot reach Twilio" in result.message


@pytest.mark.parametrize("status", [401, 404])
def test_api_key_named_when_set(status: int) -> None:
    result, _request = check(
        status,
        {"status": status},
        api_key_sid="SK" + "0" * 32,
        api_key_secret="key-secret-value",
    )
    assert "the API key" in result.message
    assert "key-secret-value" not in result.message
