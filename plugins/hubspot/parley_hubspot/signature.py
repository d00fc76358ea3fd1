"""Verification of HubSpot's webhook signature, version 3.

HubSpot sends ``X-HubSpot-Signature-v3``: the base64 HMAC-SHA256, keyed with
the app's client secret, of ``method + URL + raw body + timestamp``, where
the URL is the full one HubSpot called and the timestamp is
``X-HubSpot-Request-Timestamp`` in epoch milliseconds. Requests more than
five minutes old are rejected, so a captured request cannot be replayed
later. The check runs on the raw body bytes, before any JSON parsing.

``hubspot.utils.signature.Signature`` in hubspot-api-client 12.0.0 computes
the same value, but it reads the wall clock itself and accepts timestamps
in the future, so this module does the check with the daemon's clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import NoReturn
from urllib.parse import unquote, urlsplit, urlunsplit

from parley import SignatureError
from parley_hubspot.const import (
    HEADER_REQUEST_TIMESTAMP,
    HEADER_SIGNATURE_V3,
    MAX_WEBHOOK_AGE_SECONDS,
)

# Percent-encoded characters HubSpot decodes in the URL before signing.
_DECODED_IN_URL = (
    "%3A",
    "%2F",
    "%3F",
    "%40",
    "%21",
    "%24",
    "%27",
    "%28",
    "%29",
    "%2A",
    "%2C",
    "%3B",
)

_DEFAULT_PORTS = {"http": 80, "https": 443}


def compute_signature(
    secret: str, method: str, url: str, body: bytes, timestamp: str
) -> str:
    """Return the v3 signature of a request.

    Args:
        secret: the app's client secret.
        method: the HTTP method, in upper case.
        url: the full URL HubSpot called.
        body: the raw body bytes.
        timestamp: the ``X-HubSpot-Request-Timestamp`` value as sent.
    """
    message = method.encode() + url.encode() + body + timestamp.encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def url_variants(url: str) -> list[str]:
    """Return the forms of a URL HubSpot may have signed.

    The URL itself, the same with HubSpot's decoded characters, and the same
    with and without an explicit default port (``:443`` for https).
    """
    variants = [url, _decode_reserved(url)]
    parts = urlsplit(url)
    default = _DEFAULT_PORTS.get(parts.scheme)
    if parts.hostname and default is not None:
        host = parts.hostname
        if parts.port == default:
            variants.append(urlunsplit(parts._replace(netloc=host)))
        elif parts.port is None:
            variants.append(urlunsplit(parts._replace(netloc=f"{host}:{default}")))
    return list(dict.fromkeys(variants))


def verify_v3(
    headers: Mapping[str, str],
    method: str,
    urls: Sequence[str],
    body: bytes,
    secret: str,
    now: datetime,
) -> None:
    """Check a request's v3 signature and age.

    Every URL form is tried with a constant-time comparison, so the time
    taken does not tell which part of the signature matched.

    Args:
        headers: the request headers.
        method: the HTTP method.
        urls: the URLs HubSpot may have signed, such as :func:`url_variants`.
        body: the raw body bytes, exactly as received.
        secret: the app's client secret.
        now: the current time, timezone-aware.

    Raises:
        SignatureError: a header is missing, the timestamp is more than five
            minutes from ``now``, or no URL form gives the signature.
    """
    signature = _header(headers, HEADER_SIGNATURE_V3)
    timestamp = _header(headers, HEADER_REQUEST_TIMESTAMP)
    _check_age(timestamp, now)

    received = signature.encode("utf-8", errors="replace")
    matched = False
    for url in urls:
        expected = compute_signature(secret, method.upper(), url, body, timestamp)
        if hmac.compare_digest(expected.encode("ascii"), received):
            matched = True
    if not matched:
        _reject(
            f"{HEADER_SIGNATURE_V3} does not match the request; check that "
            "hubspot.client_secret is the app's client secret and that "
            "hubspot.webhook_url is the URL set in the app's webhook settings"
        )


def _check_age(timestamp: str, now: datetime) -> None:
    try:
        sent_ms = int(timestamp)
    except ValueError:
        _reject(f"{HEADER_REQUEST_TIMESTAMP} is not epoch milliseconds")

    age = now.timestamp() - sent_ms / 1000
    if age > MAX_WEBHOOK_AGE_SECONDS:
        _reject(f"{HEADER_REQUEST_TIMESTAMP} is more than five minutes old")
    if age < -MAX_WEBHOOK_AGE_SECONDS:
        _reject(
            f"{HEADER_REQUEST_TIMESTAMP} is more than five minutes in the future; "
            "check the server's clock"
        )


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None or not value.strip():
        _reject(f"missing {name} header")
    return value.strip()


def _decode_reserved(url: str) -> str:
    decoded = url
    for encoded in _DECODED_IN_URL:
        for spelling in (encoded, encoded.lower()):
            decoded = decoded.replace(spelling, unquote(encoded))
    return decoded


def _reject(reason: str) -> NoReturn:
    # The daemon logs the reason of every rejection, so it is not logged here.
    raise SignatureError(reason)
