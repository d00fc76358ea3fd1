"""Twilio's ``X-Twilio-Signature``: HMAC-SHA1 over the URL and the form fields.

The signed text is the full URL Twilio requested (scheme, host, port if
any, path and query string), followed by every POST field sorted by name,
each written as name then value with no separator. Fields with an empty
value count, and the values are the decoded ones. The key is the account's
primary Auth Token, and the header contains the Base64 of the digest.

Twilio is not consistent about writing the port into the URL it signs, so
the URL is also tried without its port, and with the scheme's default port
when it has none, as Twilio's own ``twilio-python`` validator does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit, urlunsplit

_DEFAULT_PORTS = {"https": 443, "http": 80}


def signed_text(url: str, params: Iterable[tuple[str, str]]) -> str:
    """Build the text Twilio signs for a URL and its POST fields.

    Args:
        url: the full URL, query string included.
        params: the decoded POST fields; empty for a GET request, whose
            fields are already in the URL.
    """
    grouped: dict[str, list[str]] = {}
    for name, value in params:
        grouped.setdefault(name, []).append(value)

    parts = [url]
    for name in sorted(grouped):
        for value in sorted(grouped[name]):
            parts.append(name + value)
    return "".join(parts)


def compute_signature(
    auth_token: str, url: str, params: Iterable[tuple[str, str]]
) -> str:
    """Return the ``X-Twilio-Signature`` value for a URL and its POST fields."""
    text = signed_text(url, params)
    digest = hmac.new(
        auth_token.encode("utf-8"), text.encode("utf-8"), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def port_variants(url: str) -> list[str]:
    """Return the URL as signature, without its port, and with the default port.

    ``https://hooks.example.com:8443/sms`` gives itself and
    ``https://hooks.example.com/sms``; ``https://hooks.example.com/sms`` gives
    itself and ``https://hooks.example.com:443/sms``.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""

    variants = [url]
    if parts.port is not None:
        bare = parts._replace(netloc=prefix + host)
        variants.append(urlunsplit(bare))
    elif parts.scheme in _DEFAULT_PORTS:
        port = _DEFAULT_PORTS[parts.scheme]
        with_port = parts._replace(netloc=f"{prefix}{host}:{port}")
        variants.append(urlunsplit(with_port))
    return variants


def signature_matches(
    auth_token: str,
    urls: Sequence[str],
    params: Sequence[tuple[str, str]],
    signature: str,
) -> bool:
    """Check a signature against each candidate URL and its port variants.

    Every candidate is computed and compared in constant time, so the time
    taken does not depend on which one matched.
    """
    matched = False
    for url in urls:
        for variant in port_variants(url):
            expected = compute_signature(auth_token, variant, params)
            if hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8")):
                matched = True
    return matched
