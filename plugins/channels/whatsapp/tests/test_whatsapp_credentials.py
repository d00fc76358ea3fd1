"""``check_credentials`` for WhatsApp: one phone number read against a mock transport."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
from whatsapp_support import (
    ACCESS_TOKEN,
    PHONE_NUMBER_ID,
    make_settings,
    settings_values,
)

import parley_whatsapp
from parley import ConfigProblem
from parley.testing import make_plugin_context
from parley_whatsapp.credentials import check_credentials


def check(status: int, body: object) -> tuple[ConfigProblem, httpx.Request]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, content=json.dumps(body).encode())

    [result] = check_credentials(make_settings(), httpx.MockTransport(handler))
    [request] = seen
    return result, request


def test_readable_number_is_info() -> None:
    result, request = check(
        200,
        {
            "display_phone_number": "+1 415-555-0100",
            "verified_name": "Harbor & Pine",
            "id": PHONE_NUMBER_ID,
        },
    )
    assert result.severity == "info"
    assert "+1 415-555-0100" in result.message
    assert "Harbor & Pine" in result.message
    assert request.method == "GET"
    assert request.url.path.endswith(f"/{PHONE_NUMBER_ID}")
    assert request.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"


def test_expired_token_is_error() -> None:
    body = {
        "error": {
            "message": "Error validating access token: Session has expired",
            "type": "OAuthException",
            "code": 190,
            "error_subcode": 463,
        }
    }
    result, _request = check(400, body)
    assert result.severity == "error"
    assert "access_token" in result.message
    assert ACCESS_TOKEN not in result.message


def test_wrong_phone_number_id_is_error() -> None:
    body = {
        "error": {
            "message": "Unsupported get request.",
            "type": "GraphMethodException",
            "code": 100,
            "error_subcode": 33,
        }
    }
    result, _request = check(400, body)
    assert result.severity == "error"
    assert PHONE_NUMBER_ID in result.message
    assert "Graph code 100" in result.message


def test_server_error_is_warning() -> None:
    result, _request = check(500, {"error": {"code": 2, "message": "Service"}})
    assert result.severity == "warning"
    assert "HTTP 500" in result.message


def test_hook_reports_unreachable_graph(tmp_path: Path) -> None:
    # A port that was just free on 127.0.0.1, so the connection is refused.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    section = settings_values(base_url=f"http://127.0.0.1:{port}")
    context = make_plugin_context(parley_whatsapp, "whatsapp", section, tmp_path)

    answers = context.plugin_manager.hook.check_credentials(context=context)

    [result] = [result for answer in answers if answer for result in answer]
    assert result.severity == "warning"
    assert f"127.0.0.1:{port}" in result.message
