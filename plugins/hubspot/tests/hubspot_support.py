"""Helpers for the HubSpot plugin's tests: settings, contexts, cassettes, signing.

Cassettes in ``tests/cassettes/`` are written by hand from HubSpot's
documented wire format; no test talks to HubSpot. The body matcher compares
every key a cassette's request body names with the body sent, so a request
with a wrong filter, sort or page finds no response and the test fails.
The module name is unique in the repository because pytest imports test
helpers by their base name.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import vcr
from vcr.request import Request

import parley_hubspot
from parley import Headers, PluginContext, WebhookRequest
from parley.store import Store, open_store
from parley.testing import make_plugin_context
from parley_hubspot.client import HubSpotClient
from parley_hubspot.connector import HubSpotConnector, bind_connector
from parley_hubspot.settings import hubspot_settings

FIXTURES = Path(__file__).parent / "fixtures"
CASSETTES = Path(__file__).parent / "cassettes"
BASE_URL = "http://127.0.0.1:8765"
TOKEN = "pat-na1-0c5e8f2a-test-token"
CLIENT_SECRET = "hubspot-test-client-secret-9d2e7a41"
WEBHOOK_URL = "https://hooks.example.com/hubspot/webhooks"
FIXTURE_TIMESTAMP = "1794924342117"

AVERY_ID = "86420173501"
SAM_ID = "86420190377"


def base_settings(**changes: Any) -> dict[str, Any]:
    """Return a [hubspot] section pointing at the cassettes' host."""
    settings: dict[str, Any] = {
        "access_token": TOKEN,
        "base_url": BASE_URL,
        "fields": {"Loyalty Program": "loyalty_program"},
    }
    settings.update(changes)
    return settings


def _body_matcher(actual: Request, recorded: Request) -> None:
    if not recorded.body:
        return
    expected = json.loads(recorded.body)
    sent = json.loads(actual.body or b"{}")
    for key, value in expected.items():
        assert sent.get(key) == value, (
            f"request body {key!r} is {sent.get(key)!r}, cassette has {value!r}"
        )


def hubspot_vcr(
    directory: Path = CASSETTES, sent: list[dict[str, Any]] | None = None
) -> vcr.VCR:
    """A VCR that only replays, matches JSON bodies and drops the token.

    Args:
        directory: the folder of the cassettes.
        sent: when given, receives the JSON body of each request sent.
    """

    def remember(request: Request) -> Request:
        if sent is not None and request.body:
            sent.append(json.loads(request.body))
        return request

    replayer = vcr.VCR(
        cassette_library_dir=str(directory),
        record_mode="none",
        match_on=["method", "scheme", "host", "port", "path", "query", "json_body"],
        filter_headers=["Authorization"],
        before_record_request=remember,
    )
    replayer.register_matcher("json_body", _body_matcher)
    return replayer


@dataclass
class FakeClock:
    """A monotonic clock that only moves when ``sleep`` is called."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


def fixed_clock(text: str) -> Any:
    """Return a context clock that always reads the given time."""
    moment = datetime.fromisoformat(text).astimezone(UTC)
    return lambda: moment


@dataclass
class Instance:
    """A plugin context with a SQLite store and a fake monotonic clock."""

    context: PluginContext
    store: Store
    clock: FakeClock
    connector: HubSpotConnector


@contextmanager
def hubspot_instance(
    tmp_path: Path,
    settings: Mapping[str, Any] | None = None,
    now: str = "2026-11-17T14:05:42+00:00",
) -> Iterator[Instance]:
    """Register the plugin with validated settings and a store; bind a fake clock."""
    store = open_store(f"sqlite:///{tmp_path / 'hubspot.db'}")
    try:
        context = make_plugin_context(
            parley_hubspot,
            "hubspot",
            settings if settings is not None else base_settings(),
            tmp_path / "data",
            store=store,
        )
        context.clock = fixed_clock(now)
        clock = FakeClock()
        client = HubSpotClient(
            hubspot_settings(context),
            sleep=clock.sleep,
            monotonic=clock.monotonic,
            clock=context.clock,
            time_zone=context.settings.business.time_zone,
        )
        connector = HubSpotConnector(context, client=client)
        bind_connector(context, connector)
        yield Instance(context, store, clock, connector)
    finally:
        store.close()


def load_fixture(name: str) -> Any:
    """Return a JSON fixture's parsed content."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def sign_v3(
    body: bytes,
    timestamp: str,
    url: str = WEBHOOK_URL,
    secret: str = CLIENT_SECRET,
    method: str = "POST",
) -> str:
    """Compute HubSpot's v3 signature independently of the plugin's code."""
    message = method.encode() + url.encode() + body + timestamp.encode()
    return base64.b64encode(
        hmac.new(secret.encode(), message, hashlib.sha256).digest()
    ).decode()


def webhook_request(
    body: bytes,
    headers: Mapping[str, str],
    url: str = "http://127.0.0.1:8080/webhooks/hubspot",
) -> WebhookRequest:
    """Build the request the daemon hands to the handler."""
    return WebhookRequest(
        method="POST",
        url=url,
        path="/",
        headers=Headers(dict(headers)),
        body=body,
    )


def fixture_delivery() -> tuple[bytes, dict[str, str]]:
    """Return the recorded webhook batch's exact bytes and its headers."""
    body = (FIXTURES / "webhook_contact_events.json").read_bytes()
    recorded = load_fixture("webhook_contact_events.headers.json")
    return body, dict(recorded["headers"])


def contact_payload(
    contact_id: str,
    modified: str,
    *,
    firstname: str | None = "Avery",
    phone: str | None = None,
    mobilephone: str | None = None,
    email: str | None = None,
    loyalty_program: str | None = None,
    created: str = "2025-03-14T16:20:11.482Z",
) -> dict[str, Any]:
    """Build one contact as search and batch read return it."""
    return {
        "id": contact_id,
        "properties": {
            "createdate": created,
            "email": email,
            "firstname": firstname,
            "hs_object_id": contact_id,
            "lastmodifieddate": modified,
            "lastname": "Quinlan",
            "loyalty_program": loyalty_program,
            "mobilephone": mobilephone,
            "phone": phone,
        },
        "createdAt": created,
        "updatedAt": modified,
        "archived": False,
    }
