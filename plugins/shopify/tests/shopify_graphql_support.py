"""Helpers for tests of the Admin GraphQL client and the poller.

Cassettes in ``tests/cassettes/`` are written by hand from Shopify's
documented wire format; no test talks to Shopify. The matcher compares each
request's operation name and variables with the cassette's, so a request
with a wrong cursor or page finds no response and the test fails.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import vcr
from vcr.request import Request

from parley_shopify.settings import ShopSettings

CASSETTES = Path(__file__).parent / "cassettes"
ADMIN_URL = "http://127.0.0.1:8765"
TOKEN = "shpat_test_token_2b7e151628aed2a6"
SHOP_DOMAIN = "harbor-and-pine-test.myshopify.com"


def _graphql_matcher(actual: Request, recorded: Request) -> None:
    sent = json.loads(actual.body)
    expected = json.loads(recorded.body)
    assert sent["operationName"] == expected["operationName"], (
        f"operation {sent['operationName']!r}, cassette has "
        f"{expected['operationName']!r}"
    )
    assert sent["variables"] == expected["variables"], (
        f"variables {sent['variables']!r}, cassette has {expected['variables']!r}"
    )
    assert sent["query"].startswith(f"query {sent['operationName']}("), (
        "the query text does not define the operation it names"
    )


def shopify_vcr() -> vcr.VCR:
    """A VCR that only replays, matches GraphQL bodies and drops the token."""
    replayer = vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="none",
        match_on=["method", "scheme", "host", "port", "path", "graphql"],
        filter_headers=["X-Shopify-Access-Token"],
    )
    replayer.register_matcher("graphql", _graphql_matcher)
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
    """Return a context clock that always reads the given UTC time."""
    moment = datetime.fromisoformat(text).astimezone(UTC)
    return lambda: moment


def shop_settings(**changes: Any) -> ShopSettings:
    """A polled shop pointing at the cassettes' host."""
    values: dict[str, Any] = {
        "domain": SHOP_DOMAIN,
        "client_secret": "test_shopify_client_secret_0f3a9c2e",
        "access_token": TOKEN,
        "admin_base_url": ADMIN_URL,
    }
    values.update(changes)
    return ShopSettings(**values)


@dataclass(frozen=True)
class SeenRequest:
    """One request the local server received."""

    path: str
    token: str | None
    body: Mapping[str, Any]


@dataclass(frozen=True)
class Reply:
    """One response the local server sends."""

    body: Mapping[str, Any]
    status: int = 200


@contextmanager
def graphql_server(replies: Sequence[Reply]) -> Iterator[tuple[str, list[SeenRequest]]]:
    """Serve the replies, in order, on 127.0.0.1; stop when the block ends.

    Yields the server's base URL and the list of requests it received. A
    request beyond the last reply gets HTTP 500.
    """
    seen: list[SeenRequest] = []
    pending = list(replies)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            with lock:
                seen.append(
                    SeenRequest(
                        self.path, self.headers.get("X-Shopify-Access-Token"), body
                    )
                )
                reply = pending.pop(0) if pending else Reply({"errors": "none"}, 500)
            payload = json.dumps(reply.body).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

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


def orders_page(
    nodes: Sequence[Mapping[str, Any]], end_cursor: str | None = None
) -> dict[str, Any]:
    """Build an orders query response body with a generous cost bucket."""
    return {
        "data": {
            "orders": {
                "pageInfo": {
                    "hasNextPage": end_cursor is not None,
                    "endCursor": end_cursor,
                },
                "nodes": list(nodes),
            }
        },
        "extensions": {
            "cost": {
                "requestedQueryCost": 202,
                "actualQueryCost": 12,
                "throttleStatus": {
                    "maximumAvailable": 2000.0,
                    "currentlyAvailable": 1988.0,
                    "restoreRate": 100.0,
                },
            }
        },
    }


def order_node(
    order_id: int, name: str, updated_at: str, **changes: Any
) -> dict[str, Any]:
    """A minimal GraphQL Order node of the orders query for Ana Rivera."""
    node: dict[str, Any] = {
        "id": f"gid://shopify/Order/{order_id}",
        "name": name,
        "email": "ana.rivera@example.com",
        "phone": None,
        "createdAt": "2026-11-17T14:00:00Z",
        "updatedAt": updated_at,
        "cancelledAt": None,
        "cancelReason": None,
        "displayFinancialStatus": "PAID",
        "statusPageUrl": None,
        "totalPriceSet": {
            "presentmentMoney": {"amount": "42.0", "currencyCode": "USD"}
        },
        "customer": {
            "id": "gid://shopify/Customer/7001",
            "firstName": "Ana",
            "lastName": "Rivera",
            "defaultEmailAddress": {"emailAddress": "ana.rivera@example.com"},
            "defaultPhoneNumber": {
                "phoneNumber": "+14155550127",
                "marketingState": "NOT_SUBSCRIBED",
                "marketingOptInLevel": None,
                "marketingUpdatedAt": None,
                "marketingCollectedFrom": None,
            },
        },
        "shippingAddress": None,
        "billingAddress": None,
        "fulfillments": [],
        "refunds": [],
    }
    node.update(changes)
    return node
