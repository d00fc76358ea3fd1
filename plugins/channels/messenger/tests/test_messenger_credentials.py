"""``check_credentials`` for Messenger and Instagram against a mock transport."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest
from messenger_support import (
    IG_TOKEN,
    PAGE_ID,
    PAGE_TOKEN,
    instagram_section,
    messenger_section,
)

from parley import ConfigProblem
from parley.testing import make_plugin_context
from parley_messenger import instagram, messenger
from parley_messenger.credentials import check_credentials
from parley_messenger.settings import InstagramSettings, MessengerSettings


def check(
    channel_id: str, status: int, body: object
) -> tuple[ConfigProblem, httpx.Request]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, content=json.dumps(body).encode())

    settings = (
        MessengerSettings(**messenger_section())
        if channel_id == "messenger"
        else InstagramSettings(**instagram_section())
    )
    [result] = check_credentials(channel_id, settings, httpx.MockTransport(handler))
    [request] = seen
    return result, request


def test_readable_page_is_info() -> None:
    result, request = check("messenger", 200, {"id": PAGE_ID, "name": "Harbor & Pine"})
    assert result.severity == "info"
    assert "'Harbor & Pine'" in result.message
    assert request.method == "GET"
    assert request.url.path.endswith(f"/{PAGE_ID}")
    assert request.url.params["fields"] == "id,name"
    assert request.headers["authorization"] == f"Bearer {PAGE_TOKEN}"


def test_instagram_asks_for_username() -> None:
    result, request = check("instagram", 200, {"id": PAGE_ID, "username": "harborpine"})
    assert result.severity == "info"
    assert "'harborpine'" in result.message
    assert request.url.params["fields"] == "id,username"
    assert request.headers["authorization"] == f"Bearer {IG_TOKEN}"


@pytest.mark.parametrize("channel_id", ["messenger", "instagram"])
def test_invalid_token_is_error(channel_id: str) -> None:
    body = {"error": {"message": "Invalid OAuth access token.", "code": 190}}
    result, _request = check(channel_id, 400, body)
    assert result.severity == "error"
    assert f"[{channel_id}]" in result.message
    assert "rejected the access token" in result.message
    assert PAGE_TOKEN not in result.message
    assert IG_TOKEN not in result.message


def test_missing_permission_is_error() -> None:
    body = {"error": {"message": "(#10) Permission denied", "code": 10}}
    result, _request = check("messenger", 403, body)
    assert result.severity == "error"
    assert "Graph code 10" in result.message


def test_rate_limited_is_warning() -> None:
    result, _request = check("messenger", 429, {"error": {"code": 4}})
    assert result.severity == "warning"
    assert "HTTP 429" in result.message


def test_hook_reports_unreachable_graph(tmp_path: Path) -> None:
    # A port that was just free on 127.0.0.1, so the connection is refused.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    section = messenger_section(base_url=f"http://127.0.0.1:{port}")
    context = make_plugin_context(messenger, "messenger", section, tmp_path)

    answers = context.plugin_manager.hook.check_credentials(context=context)

    [result] = [result for answer in answers if answer for result in answer]
    assert result.severity == "warning"
    assert "[messenger] cannot reach the Graph API" in result.message


def test_instagram_hook_registered(tmp_path: Path) -> None:
    context = make_plugin_context(instagram, "instagram", instagram_section(), tmp_path)
    implementations = context.plugin_manager.hook.check_credentials.get_hookimpls()
    assert any(impl.plugin is instagram for impl in implementations)
