"""The HubSpot client: rate-limit waits, retries, and errors a business can act on."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hubspot_support import (
    AVERY_ID,
    TOKEN,
    FakeClock,
    base_settings,
    hubspot_instance,
    hubspot_vcr,
)

from parley import AddressKind, ChannelAddress, FatalSyncError, RetriableSyncError
from parley_hubspot.client import HubSpotClient
from parley_hubspot.settings import HubSpotSettings

AVERY_PHONE = ChannelAddress(AddressKind.PHONE, "+14155550123")


def test_429_waits_for_header_interval(tmp_path: Path) -> None:
    with hubspot_instance(tmp_path) as instance:
        with hubspot_vcr().use_cassette("client_429_headers.yaml") as cassette:
            record = instance.connector.lookup(AVERY_PHONE)

    assert record is not None
    assert record.external_id == AVERY_ID
    assert record.fields["Loyalty Program"] == "Gold tier"
    assert instance.clock.sleeps == [10.0]
    assert cassette.play_count == 3
    assert cassette.all_played


def test_429_retry_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with hubspot_instance(tmp_path) as instance:
        with hubspot_vcr().use_cassette("client_429_headers.yaml"):
            instance.connector.lookup(AVERY_PHONE)

    [retry] = [r for r in caplog.records if "retrying" in r.getMessage()]
    message = retry.getMessage()
    assert "contacts search" in message
    assert "HTTP 429 (TEN_SECONDLY_ROLLING)" in message
    assert "attempt 1 of 5" in message
    assert "10.00 s" in message


def test_search_429_waits_one_second(tmp_path: Path) -> None:
    with hubspot_instance(tmp_path) as instance:
        with hubspot_vcr().use_cassette("client_search_429_secondly.yaml"):
            record = instance.connector.lookup(AVERY_PHONE)

    assert record is not None
    assert instance.clock.sleeps == [1.0]


def test_5xx_backs_off_then_succeeds(tmp_path: Path) -> None:
    with hubspot_instance(tmp_path) as instance:
        with hubspot_vcr().use_cassette("client_503_then_ok.yaml") as cassette:
            record = instance.connector.lookup(AVERY_PHONE)

    assert record is not None
    assert instance.clock.sleeps == [1.0]
    assert cassette.all_played


def test_always_429_defers_lookup(tmp_path: Path) -> None:
    settings = base_settings(max_attempts=3)
    with hubspot_instance(tmp_path, settings) as instance:
        with hubspot_vcr().use_cassette("client_always_429.yaml") as cassette:
            with pytest.raises(RetriableSyncError) as caught:
                instance.connector.lookup(AVERY_PHONE)

    assert cassette.play_count == 4
    assert cassette.all_played
    assert instance.clock.sleeps == [10.0, 10.0]
    assert "HTTP 429" in str(caught.value)
    assert caught.value.retry_after == 10.0


def test_daily_limit_fails_at_once(tmp_path: Path) -> None:
    # 14:05 UTC is 06:05 in Los Angeles, 17 h 55 min before local midnight.
    with hubspot_instance(tmp_path) as instance:
        with hubspot_vcr().use_cassette("client_daily_429.yaml") as cassette:
            with pytest.raises(RetriableSyncError) as caught:
                instance.connector.lookup(AVERY_PHONE)

    assert cassette.all_played
    assert instance.clock.sleeps == []
    assert "DAILY" in str(caught.value)
    assert caught.value.retry_after == pytest.approx(17 * 3600 + 54 * 60 + 18)


def test_401_names_token_setting(tmp_path: Path) -> None:
    with hubspot_instance(tmp_path) as instance:
        with hubspot_vcr().use_cassette("client_401.yaml") as cassette:
            with pytest.raises(FatalSyncError) as caught:
                instance.connector.lookup(AVERY_PHONE)

    message = str(caught.value)
    assert cassette.play_count == 1
    assert instance.clock.sleeps == []
    assert "HTTP 401" in message
    assert "hubspot.access_token" in message
    assert "PARLEY_HUBSPOT__ACCESS_TOKEN" in message
    assert TOKEN not in message


def test_401_expired_token_explained(tmp_path: Path) -> None:
    with hubspot_instance(tmp_path) as instance:
        with hubspot_vcr().use_cassette("client_401_expired.yaml"):
            with pytest.raises(FatalSyncError) as caught:
                instance.connector.lookup(AVERY_PHONE)

    assert "has expired" in str(caught.value)
    assert "hubspot.access_token" in str(caught.value)


def test_403_names_missing_scope(tmp_path: Path) -> None:
    with hubspot_instance(tmp_path) as instance:
        with hubspot_vcr().use_cassette("client_403_scope.yaml"):
            with pytest.raises(FatalSyncError) as caught:
                instance.connector.lookup(AVERY_PHONE)

    message = str(caught.value)
    assert "crm.schemas.contacts.read" in message
    assert "HTTP 403" in message
    assert "contact properties read" in message


@pytest.mark.parametrize(
    ("limit", "calls", "expected_sleeps"),
    [(5, 5, []), (5, 6, [1.0]), (5, 11, [1.0, 1.0])],
    ids=["at-limit", "one-over", "two-windows"],
)
def test_search_limiter_spaces_requests(
    limit: int, calls: int, expected_sleeps: list[float]
) -> None:
    clock = FakeClock()
    settings = HubSpotSettings(access_token=TOKEN, search_requests_per_second=limit)
    client = HubSpotClient(settings, sleep=clock.sleep, monotonic=clock.monotonic)

    for _ in range(calls):
        client.limiter.acquire(search=True)

    assert clock.sleeps == expected_sleeps


def test_general_limiter_counts_searches() -> None:
    clock = FakeClock()
    settings = HubSpotSettings(access_token=TOKEN, requests_per_ten_seconds=3)
    client = HubSpotClient(settings, sleep=clock.sleep, monotonic=clock.monotonic)

    client.limiter.acquire(search=True)
    client.limiter.acquire(search=False)
    client.limiter.acquire(search=False)
    client.limiter.acquire(search=False)

    assert clock.sleeps == [10.0]


@contextmanager
def local_hubspot(
    replies: list[tuple[int, dict[str, Any]]],
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Serve the replies in order on 127.0.0.1; record each request seen."""
    seen: list[dict[str, Any]] = []
    pending = list(replies)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _reply(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with lock:
                seen.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "authorization": self.headers.get("Authorization"),
                        "user_agent": self.headers.get("User-Agent"),
                        "body": json.loads(body) if body else None,
                    }
                )
                status, payload = pending.pop(0) if pending else (500, {})
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_POST = _reply  # noqa: N815 - the name http.server calls
        do_GET = _reply  # noqa: N815 - the name http.server calls

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.slow
def test_request_format_on_local_server() -> None:
    with local_hubspot([(200, {"total": 0, "results": []})]) as (base_url, seen):
        client = HubSpotClient(HubSpotSettings(access_token=TOKEN, base_url=base_url))
        page = client.search_contacts(
            {
                "filterGroups": [],
                "sorts": [
                    {"propertyName": "lastmodifieddate", "direction": "ASCENDING"}
                ],
                "limit": 1,
            }
        )

    assert page == {"total": 0, "results": []}
    [request] = seen
    assert request["method"] == "POST"
    assert request["path"] == "/crm/v3/objects/contacts/search"
    assert request["authorization"] == f"Bearer {TOKEN}"
    assert request["user_agent"] == "parley-hubspot/0.1.0"
    assert request["body"]["sorts"] == [
        {"propertyName": "lastmodifieddate", "direction": "ASCENDING"}
    ]


@pytest.mark.slow
def test_network_error_is_retried() -> None:
    clock = FakeClock()
    # A port of this machine that nothing listens on once the server stopped.
    with local_hubspot([]) as (base_url, _seen):
        closed_url = base_url

    settings = HubSpotSettings(access_token=TOKEN, base_url=closed_url, max_attempts=2)
    client = HubSpotClient(settings, sleep=clock.sleep, monotonic=clock.monotonic)
    with pytest.raises(RetriableSyncError) as caught:
        client.contact_properties()

    assert "network error" in str(caught.value)
    assert clock.sleeps == [1.0]
