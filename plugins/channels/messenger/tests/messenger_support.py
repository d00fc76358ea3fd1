"""Helpers for the Messenger plugin's tests: fixtures, signing, cassettes, clocks.

The module name is unique in the repository because pytest imports test
helpers by their base name.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import vcr
from vcr.request import Request

from parley import Headers, OutboundMessage, Purpose, WebhookRequest
from parley_messenger.channel import MetaChannel
from parley_messenger.settings import InstagramSettings, MessengerSettings

FIXTURES = Path(__file__).parent / "fixtures"
CASSETTES = Path(__file__).parent / "cassettes"

APP_SECRET = "0badc0de0badc0de0badc0de0badc0de"
VERIFY_TOKEN = "verify-token-7d1e4b90"
PAGE_TOKEN = "EAAtest-page-token-5f2c9a17"
IG_TOKEN = "IGQtest-access-token-83b1d6"
PAGE_ID = "112233445566778"
IG_ACCOUNT_ID = "17841455500012345"
PSID = "7045123498761234"
IGSID = "5467382910293847"
GRAPH_URL = "http://127.0.0.1:8765"

# The fixtures' inbound message was received at this moment.
INBOUND_AT = datetime(2026, 11, 17, 14, 2, 9, 871000, tzinfo=UTC)

SENT_MID = (
    "m_Qw2eR4tY6uI8oP0aS2dF4gH6jK8lZ0xC2vB4nM6qW8eR0tY2uI4oP6aS8dF0gH2jK4lZ6xC8vB0n"
)


def messenger_section(**changes: Any) -> dict[str, Any]:
    """Return a valid ``[messenger]`` section with ``changes`` applied."""
    section: dict[str, Any] = {
        "page_id": PAGE_ID,
        "page_access_token": PAGE_TOKEN,
        "app_secret": APP_SECRET,
        "verify_token": VERIFY_TOKEN,
        "base_url": GRAPH_URL,
    }
    section.update(changes)
    return section


def instagram_section(**changes: Any) -> dict[str, Any]:
    """Return a valid ``[instagram]`` section (Facebook Login) with ``changes``."""
    section: dict[str, Any] = {
        "account_id": IG_ACCOUNT_ID,
        "page_id": PAGE_ID,
        "access_token": IG_TOKEN,
        "app_secret": APP_SECRET,
        "verify_token": VERIFY_TOKEN,
        "base_url": GRAPH_URL,
    }
    section.update(changes)
    return section


@dataclass
class FakeClock:
    """A clock that returns a set time and moves only through ``advance``."""

    now: datetime = INBOUND_AT

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def messenger_channel(clock: FakeClock | None = None, **changes: Any) -> MetaChannel:
    settings = MessengerSettings(**messenger_section(**changes))
    return MetaChannel(
        settings, clock or FakeClock(), logging.getLogger("parley.plugin.messenger")
    )


def instagram_channel(clock: FakeClock | None = None, **changes: Any) -> MetaChannel:
    settings = InstagramSettings(**instagram_section(**changes))
    return MetaChannel(
        settings, clock or FakeClock(), logging.getLogger("parley.plugin.instagram")
    )


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    """Compute Meta's signature header independently of the plugin's code."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def load_fixture(name: str) -> tuple[bytes, dict[str, str]]:
    """Return a fixture's exact body bytes and the headers recorded with it."""
    body = (FIXTURES / f"{name}.json").read_bytes()
    recorded = json.loads((FIXTURES / f"{name}.headers.json").read_text())
    return body, dict(recorded["headers"])


def load_json(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_bytes())


def compact(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def make_request(
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    *,
    method: str = "POST",
    query: Mapping[str, str] | None = None,
    channel: str = "messenger",
    path: str = "",
) -> WebhookRequest:
    """Build the request the daemon would hand to the channel."""
    return WebhookRequest(
        method=method,
        url=f"http://127.0.0.1:8080/webhooks/{channel}{path}",
        path=path,
        headers=Headers(dict(headers or {})),
        body=body,
        query=dict(query or {}),
    )


def signed_request(body: bytes, channel: str = "messenger") -> WebhookRequest:
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body)}
    return make_request(body, headers, channel=channel)


def outbound(
    kind: str = "reply",
    last_inbound_at: datetime | None = INBOUND_AT,
    *,
    body: str = "Hi! Order #1042 shipped with UPS, tracking 1Z999AA10123456784.",
    to: str = PSID,
    channel: str = "messenger",
    purpose: Purpose = Purpose.CONVERSATIONAL,
    message_id: int = 7,
) -> OutboundMessage:
    return OutboundMessage(
        id=message_id,
        idempotency_key=f"parley-message-{message_id}",
        channel=channel,
        to=to,
        body=body,
        conversation_id=3,
        kind=kind,
        purpose=purpose,
        last_inbound_at=last_inbound_at,
    )


def _json_body_matcher(actual: Request, recorded: Request) -> None:
    sent = json.loads(actual.body)
    expected = json.loads(recorded.body)
    assert sent == expected, f"request body {sent!r}, cassette has {expected!r}"


def graph_vcr() -> vcr.VCR:
    """A VCR that only replays and matches the JSON request body exactly."""
    replayer = vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="none",
        match_on=["method", "scheme", "host", "port", "path", "query", "json_body"],
        filter_headers=["Authorization"],
    )
    replayer.register_matcher("json_body", _json_body_matcher)
    return replayer
