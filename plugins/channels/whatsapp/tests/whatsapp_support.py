"""Helpers for the WhatsApp plugin's tests: fixtures, signing, settings, cassettes.

The module name is unique in the repository because pytest imports test
helpers by their base name. Cassettes in ``tests/cassettes/`` are written by
hand from the Cloud API's documented wire format; no test talks to Meta.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import vcr
from vcr.request import Request

from parley import Headers, OutboundMessage, Purpose, WebhookRequest
from parley_whatsapp.settings import WhatsAppSettings

FIXTURES = Path(__file__).parent / "fixtures"
CASSETTES = Path(__file__).parent / "cassettes"

APP_SECRET = "0badc0de0badc0de0badc0de0badc0de"
ACCESS_TOKEN = "EAAG-test-access-token-7f3e9a21"
VERIFY_TOKEN = "harbor-pine-verify-4c1d"
PHONE_NUMBER_ID = "109876543210987"
BASE_URL = "http://127.0.0.1:8766"
CUSTOMER = "+14155550123"
BSUID = "US.13491208655302741918"
WAMID_SENT = "wamid.HBgLMTQxNTU1NTAxMjMVAgARGBI1QjlDMjA4RTNGNzE2QTREOEEA"
WAMID_FAILED = "wamid.HBgLMTQxNTU1NTAxNDcVAgARGBJDNzRFMUE5QjA2RjM4MjVEN0IA"

# The fixture's inbound message was received at this time (Unix 1794924129).
INBOUND_AT = datetime(2026, 11, 17, 14, 2, 9, tzinfo=UTC)

SHIPPED_TEMPLATE = {
    "name": "order_shipped_v2",
    "language": "en_US",
    "parameters": ["First Name", "Order Number", "Carrier"],
    "url_button": "Tracking Number",
}

# The field values that fill the documented template request.
SHIPPED_FIELDS = {
    "First Name": "Avery",
    "Order Number": "#1042",
    "Carrier": "UPS",
    "Tracking Number": "1Z999AA10123456784",
}


def settings_values(**changes: Any) -> dict[str, Any]:
    """Return a valid ``[whatsapp]`` section pointing at the cassettes' host."""
    values: dict[str, Any] = {
        "phone_number_id": PHONE_NUMBER_ID,
        "access_token": ACCESS_TOKEN,
        "app_secret": APP_SECRET,
        "verify_token": VERIFY_TOKEN,
        "base_url": BASE_URL,
        "templates": {"order_update": SHIPPED_TEMPLATE},
    }
    values.update(changes)
    return values


def make_settings(**changes: Any) -> WhatsAppSettings:
    """Validate a ``[whatsapp]`` section built by :func:`settings_values`."""
    return WhatsAppSettings.model_validate(settings_values(**changes))


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    """Compute Meta's signature independently of the plugin's code."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def load_fixture(name: str) -> tuple[bytes, dict[str, str]]:
    """Return a fixture's exact body bytes and the headers recorded with it."""
    body = (FIXTURES / f"{name}.json").read_bytes()
    recorded = json.loads((FIXTURES / f"{name}.headers.json").read_text())
    return body, dict(recorded["headers"])


def load_json(name: str) -> Any:
    """Return a fixture parsed as JSON."""
    return json.loads((FIXTURES / f"{name}.json").read_bytes())


def post_request(body: bytes, headers: Mapping[str, str]) -> WebhookRequest:
    """Build the POST the daemon would hand to the channel."""
    return WebhookRequest(
        method="POST",
        url="http://127.0.0.1:8080/webhooks/whatsapp",
        path="",
        headers=Headers(dict(headers)),
        body=body,
    )


def signed_post(body: bytes, secret: str = APP_SECRET) -> WebhookRequest:
    """Build a POST signed over ``body``."""
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": sign(body, secret),
    }
    return post_request(body, headers)


def get_request(query: Mapping[str, str], path: str = "") -> WebhookRequest:
    """Build the verification GET Meta sends."""
    return WebhookRequest(
        method="GET",
        url="http://127.0.0.1:8080/webhooks/whatsapp",
        path=path,
        headers=Headers({}),
        body=b"",
        query=dict(query),
    )


def compact(data: Any) -> bytes:
    """Encode a body as Meta usually sends it: compact JSON."""
    return json.dumps(data, separators=(",", ":")).encode()


def outbound(**changes: Any) -> OutboundMessage:
    """An order update to the fixtures' customer; outside the window by default."""
    values: dict[str, Any] = {
        "id": 42,
        "idempotency_key": "parley-message-42",
        "channel": "whatsapp",
        "to": CUSTOMER,
        "body": "Hi Avery, your order #1042 has shipped.",
        "conversation_id": 7,
        "kind": "order_update",
        "purpose": Purpose.INFORMATIONAL,
        "last_inbound_at": None,
        "fields": dict(SHIPPED_FIELDS),
    }
    values.update(changes)
    return OutboundMessage(**values)


def no_http() -> httpx.MockTransport:
    """A transport that fails the test on any request."""

    def fail_request(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"unexpected request to {request.url}")

    return httpx.MockTransport(fail_request)


# The id the core passes in biz_opaque_callback_data differs per test, so
# cassettes leave it out and the tests check it on their own.
_IGNORED_KEYS = ("biz_opaque_callback_data",)


def _json_body(actual: Request, recorded: Request) -> None:
    sent = {k: v for k, v in json.loads(actual.body).items() if k not in _IGNORED_KEYS}
    expected = {
        k: v for k, v in json.loads(recorded.body).items() if k not in _IGNORED_KEYS
    }
    assert sent == expected, f"request body {sent!r}, cassette has {expected!r}"


def _bearer(actual: Request, recorded: Request) -> None:
    authorization = actual.headers.get("Authorization")
    assert authorization == f"Bearer {ACCESS_TOKEN}", "the bearer token was not sent"


def whatsapp_vcr() -> vcr.VCR:
    """A VCR that only replays, compares JSON bodies and checks the bearer token.

    It never records, so no token reaches a cassette; a header filter would
    also hide the token from the matcher.
    """
    replayer = vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="none",
        match_on=["method", "scheme", "host", "port", "path", "json_body", "bearer"],
    )
    replayer.register_matcher("json_body", _json_body)
    replayer.register_matcher("bearer", _bearer)
    return replayer


def cassette_body(name: str, index: int = 0) -> Any:
    """Return the JSON request body recorded in a cassette."""
    cassette = vcr.cassette.Cassette.load(path=str(CASSETTES / name))
    return json.loads(cassette.requests[index].body)
