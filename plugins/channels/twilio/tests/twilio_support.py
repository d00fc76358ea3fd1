"""Helpers for the Twilio plugin's tests: fixtures, signing, the API schema and fakes.

The module name is unique in the repository because pytest imports test
helpers by their base name.

Requests to Twilio's API are checked against the create-Message request
schema of Twilio's OpenAPI description (``fixtures/twilio_create_message.
schema.json``; fixtures/README.md names its source). Cassettes are
written by hand from the documented wire format, and the local fake
``FakeTwilio`` listens on 127.0.0.1 only and stops with its test.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import jsonschema
import vcr
from vcr.request import Request

from parley import Headers, WebhookRequest

FIXTURES = Path(__file__).parent / "fixtures"
CASSETTES = Path(__file__).parent / "cassettes"

AUTH_TOKEN = "f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4"
ACCOUNT_SID = "AC4c122831efef10ac68b5223dccd6f614"
SERVICE_SID = "MGb351bb9b0af6e4fc678749675c53ad67"
BUSINESS_NUMBER = "+14155550100"
CUSTOMER = "+14155550123"
# The fixtures are signed for https://hooks.example.com/twilio/sms/inbound
# and .../status, so the public URL of /webhooks/twilio is this one.
WEBHOOK_URL = "https://hooks.example.com/twilio/sms"
# Cassettes and the fake respond at this URL, and nothing is sent to Twilio.
API_BASE_URL = "http://127.0.0.1:8766"
MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"

FORM_TYPE = "application/x-www-form-urlencoded"

# The order update of the send fixtures and cassettes.
SHIPPED_TEXT = (
    "Hi Avery, your Harbor & Pine order #1042 has shipped via UPS. Track it: "
    "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums="
    "1Z999AA10123456784 Reply STOP to opt out."
)


def settings(**changes: Any) -> dict[str, Any]:
    """Return a valid ``[twilio]`` section sending from the business number."""
    section: dict[str, Any] = {
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "from_number": BUSINESS_NUMBER,
        "webhook_url": WEBHOOK_URL,
        "api_base_url": API_BASE_URL,
    }
    section.update(changes)
    return {key: value for key, value in section.items() if value is not None}


# Signing, independent of the plugin's code


def sign(url: str, pairs: Sequence[tuple[str, str]], token: str = AUTH_TOKEN) -> str:
    """Compute X-Twilio-Signature the way fixtures/README.md describes it."""
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    text = url + "".join(
        name + value for name in sorted(grouped) for value in sorted(grouped[name])
    )
    digest = hmac.new(token.encode(), text.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def form_pairs(body: bytes) -> list[tuple[str, str]]:
    """Decode a form body, keeping blank values."""
    return parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)


def load_form(name: str) -> tuple[bytes, dict[str, str], str]:
    """Return a fixture's exact body bytes, its headers and the URL it is signed for."""
    body = (FIXTURES / f"{name}.form").read_bytes()
    recorded = json.loads((FIXTURES / f"{name}.headers.json").read_text())
    return body, dict(recorded["headers"]), recorded["url"]


def load_json(name: str) -> dict[str, Any]:
    """Return a JSON fixture."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def make_request(
    body: bytes,
    headers: Mapping[str, str],
    path: str = "/inbound",
    seen_url: str | None = None,
    method: str = "POST",
    client_host: str | None = "127.0.0.1",
) -> WebhookRequest:
    """Build the request the daemon hands the channel for ``/webhooks/twilio<path>``."""
    url = seen_url or f"http://127.0.0.1:8080/webhooks/twilio{path}"
    return WebhookRequest(
        method=method,
        url=url,
        path=path,
        headers=Headers(dict(headers)),
        body=body,
        query=dict(parse_qsl(urlsplit(url).query)),
        client_host=client_host,
    )


def inbound_form(
    body: str, sid: str, sender: str = CUSTOMER, **extra: str
) -> list[tuple[str, str]]:
    """Return the fields of an incoming SMS as Twilio posts them."""
    pairs = [
        ("ToCountry", "US"),
        ("ToState", "CA"),
        ("SmsMessageSid", sid),
        ("NumMedia", "0"),
        ("ToCity", ""),
        ("FromZip", "94109"),
        ("SmsSid", sid),
        ("FromState", "CA"),
        ("SmsStatus", "received"),
        ("FromCity", "SAN FRANCISCO"),
        ("Body", body),
        ("FromCountry", "US"),
        ("To", BUSINESS_NUMBER),
        ("ToZip", ""),
        ("NumSegments", "1"),
        ("MessageSid", sid),
        ("AccountSid", ACCOUNT_SID),
        ("From", sender),
        ("ApiVersion", "2010-04-01"),
    ]
    pairs.extend(extra.items())
    return pairs


def signed_post(
    pairs: Sequence[tuple[str, str]], url: str
) -> tuple[bytes, dict[str, str]]:
    """Encode form fields and sign them for ``url``."""
    body = urlencode(list(pairs)).encode()
    headers = {"Content-Type": FORM_TYPE, "X-Twilio-Signature": sign(url, pairs)}
    return body, headers


_sids = itertools.count(1)


def message_sid(prefix: str = "SM") -> str:
    """Return a new Message SID of the right shape."""
    return f"{prefix}{next(_sids):032x}"


# Twilio's OpenAPI schema


@cache
def api_schema() -> dict[str, Any]:
    """Return the create-Message part of Twilio's OpenAPI description."""
    return json.loads(
        (FIXTURES / "twilio_create_message.schema.json").read_text(encoding="utf-8")
    )


_E164_OR_CHANNEL = re.compile(r"(\+[1-9]\d{6,14}|[a-z]+:.+)")


def _format_checker() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker(formats=())

    @checker.checks("phone-number")
    def _phone(value: object) -> bool:
        return not isinstance(value, str) or bool(_E164_OR_CHANNEL.fullmatch(value))

    @checker.checks("uri")
    def _uri(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parts = urlsplit(value)
        return parts.scheme in ("http", "https") and bool(parts.hostname)

    return checker


def _typed(name: str, value: str, schema: Mapping[str, Any]) -> object:
    kind = schema.get("type")
    if kind == "integer":
        assert re.fullmatch(r"-?\d+", value), f"{name}={value!r} is not an integer"
        return int(value)
    if kind == "number":
        return float(value)
    if kind == "boolean":
        assert value in ("true", "false"), f"{name}={value!r} is not a boolean"
        return value == "true"
    return value


def check_create_request(path: str, body: bytes | str) -> dict[str, object]:
    """Assert that a create-Message request is valid for Twilio's API.

    Every field must be a documented request parameter, with the schema's
    type and format, and the request names a sender (From or
    MessagingServiceSid), which the spec's descriptions require.

    Returns:
        The fields, typed as the schema declares them.
    """
    schema = api_schema()
    request_schema = schema["request"]
    properties = request_schema["properties"]

    account_sid = path.split("/")[3]
    assert re.fullmatch(schema["account_sid"]["pattern"], account_sid), path
    assert path == schema["path"].replace("{AccountSid}", account_sid), path

    text = body.decode("utf-8") if isinstance(body, bytes) else body
    data: dict[str, object] = {}
    for name, value in form_pairs(text.encode("utf-8")):
        assert name in properties, f"{name} is not a parameter of CreateMessage"
        prop = properties[name]
        if prop.get("type") == "array":
            values = data.setdefault(name, [])
            assert isinstance(values, list)
            values.append(value)
            continue
        assert name not in data, f"{name} is sent twice"
        data[name] = _typed(name, value, prop)

    jsonschema.validate(data, request_schema, format_checker=_format_checker())
    assert "From" in data or "MessagingServiceSid" in data, "no sender in the request"
    if "ValidityPeriod" in data:
        assert 1 <= int(data["ValidityPeriod"]) <= 36000  # type: ignore[call-overload]
    return data


def _nullable_to_types(node: object) -> object:
    """Turn OpenAPI 3.0's ``nullable: true`` into a JSON Schema type list."""
    if isinstance(node, list):
        return [_nullable_to_types(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _nullable_to_types(value) for key, value in node.items()}
    if converted.pop("nullable", False) and "type" in converted:
        converted["type"] = [converted["type"], "null"]
        if "enum" in converted:
            converted["enum"] = [*converted["enum"], None]
    return converted


def check_message_resource(payload: Mapping[str, Any]) -> None:
    """Assert that a response body has the shape of Twilio's Message resource."""
    schema = _nullable_to_types(api_schema()["response"])
    jsonschema.validate(dict(payload), schema)  # type: ignore[arg-type]


# Cassettes


def _form_matcher(actual: Request, recorded: Request) -> None:
    sent = form_pairs(actual.body or b"")
    expected = form_pairs(recorded.body or b"")
    assert sorted(sent) == sorted(expected), (
        f"form fields {sorted(sent)!r}, cassette has {sorted(expected)!r}"
    )


def twilio_vcr() -> vcr.VCR:
    """A VCR that only replays, matches form fields and drops credentials."""
    replayer = vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="none",
        match_on=["method", "scheme", "host", "port", "path", "form"],
        filter_headers=["Authorization"],
    )
    replayer.register_matcher("form", _form_matcher)
    return replayer


# A local fake of the Messages API


@dataclass
class Recorded:
    """One request the fake received."""

    path: str
    authorization: str
    fields: dict[str, object]


@dataclass
class FakeTwilio:
    """A Messages API on 127.0.0.1 that checks each request against the schema.

    ``replies`` contains scripted responses ``(status, body, headers)`` used in
    order; when it is empty the fake creates the message (HTTP 201).
    """

    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    replies: list[tuple[int, dict[str, Any], dict[str, str]]] = field(
        default_factory=list
    )

    def answer(
        self, path: str, authorization: str, body: bytes
    ) -> tuple[int, bytes, dict[str, str]]:
        try:
            fields = check_create_request(path, body)
        except (AssertionError, jsonschema.ValidationError) as err:
            self.invalid.append(str(err))
            fields = dict(form_pairs(body))
        self.requests.append(Recorded(path, authorization, fields))

        if self.replies:
            status, payload, headers = self.replies.pop(0)
            return status, json.dumps(payload).encode(), headers
        return 201, json.dumps(_created(fields)).encode(), {}


def _created(fields: Mapping[str, object]) -> dict[str, Any]:
    sid = message_sid()
    created = load_json("message_create_response.json")
    created.update(
        sid=sid,
        to=fields.get("To"),
        body=fields.get("Body"),
        num_segments="1",
        uri=f"{MESSAGES_PATH[:-5]}/{sid}.json",
    )
    if "MessagingServiceSid" in fields:
        created.update(
            status="accepted",
            messaging_service_sid=fields["MessagingServiceSid"],
            num_segments="0",
            **{"from": fields.get("From")},
        )
    return created


@contextmanager
def fake_twilio() -> Iterator[FakeTwilio]:
    """Run a FakeTwilio on a free 127.0.0.1 port for the duration of a test."""
    fake = FakeTwilio()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server name
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            status, payload, headers = fake.answer(
                self.path, self.headers.get("Authorization") or "", body
            )
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def closing_server() -> Iterator[str]:
    """Run a 127.0.0.1 server that closes each connection without a response."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server name
            self.close_connection = True
            self.connection.close()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
