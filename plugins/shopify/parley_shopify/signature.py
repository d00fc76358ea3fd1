"""Verification of Shopify's webhook signature (``X-Shopify-Hmac-Sha256``).

Shopify signs each delivery with HMAC-SHA256 over the raw body bytes, keyed
with the app's client secret, and sends the digest base64-encoded. The check
runs on the bytes as received, before any JSON parsing, because re-encoding
the JSON changes the bytes and so the digest.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import string
from collections.abc import Mapping, Sequence
from typing import NoReturn

from pydantic import SecretStr

from parley import SignatureError
from parley_shopify.const import HEADER_HMAC, HEADER_SHOP_DOMAIN, SHOP_DOMAIN_PATTERN
from parley_shopify.settings import ShopifySettings, ShopSettings

logger = logging.getLogger(__name__)

_HEX_DIGEST_LENGTH = 64


def read_header(headers: Mapping[str, str], name: str) -> str | None:
    """Return a header's value in either spelling, or None when missing or blank.

    Args:
        headers: case-insensitive request headers.
        name: the webhook spelling, such as ``X-Shopify-Topic``. The Events
            spelling without the ``X-`` prefix (``Shopify-Topic``) is read
            when the first is absent.
    """
    for candidate in (name, name.removeprefix("X-")):
        value = headers.get(candidate)
        if value is not None and value.strip():
            return value.strip()
    return None


def compute_signature(secret: str, body: bytes) -> str:
    """Return the base64 HMAC-SHA256 of ``body`` keyed with ``secret``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def match_secret(
    body: bytes, signature: str, secrets: Sequence[SecretStr | None]
) -> int | None:
    """Find which secret produced a signature.

    Every secret is tried, so the time taken does not depend on which one
    matches.

    Args:
        body: the raw request body.
        signature: the value of the signature header.
        secrets: candidate keys in order of preference; None entries are
            skipped.

    Returns:
        The index of the first matching secret, or None when none matches.
    """
    received = signature.encode("utf-8", errors="replace")
    matched: int | None = None
    for index, secret in enumerate(secrets):
        if secret is None:
            continue
        expected = compute_signature(secret.get_secret_value(), body).encode("ascii")
        if hmac.compare_digest(expected, received) and matched is None:
            matched = index
    return matched


def verify_delivery(
    headers: Mapping[str, str], body: bytes, settings: ShopifySettings
) -> ShopSettings:
    """Check that a webhook delivery comes from a configured shop and is signed.

    Args:
        headers: the request headers.
        body: the raw request body, exactly as received.
        settings: the plugin's settings, with each shop's secrets.

    Returns:
        The settings of the shop that sent the delivery.

    Raises:
        SignatureError: the shop domain or signature header is missing, the
            shop is not configured, or no configured secret matches. The
            reason never contains a secret.
    """
    shop = _find_shop(headers, settings)

    signature = read_header(headers, HEADER_HMAC)
    if signature is None:
        _reject(f"missing {HEADER_HMAC} header")

    secrets = (shop.client_secret, shop.previous_client_secret)
    matched = match_secret(body, signature, secrets)
    if matched is None:
        _reject(_mismatch_reason(signature))

    if matched == 1:
        logger.info(
            "shop %s: webhook signed with previous_client_secret; remove that "
            "setting once Shopify signs with the new client_secret",
            shop.domain,
        )
    return shop


def _find_shop(headers: Mapping[str, str], settings: ShopifySettings) -> ShopSettings:
    domain = read_header(headers, HEADER_SHOP_DOMAIN)
    if domain is None:
        _reject(f"missing {HEADER_SHOP_DOMAIN} header")

    shop = settings.shop(domain)
    if shop is not None:
        return shop

    normalized = domain.lower()
    if not SHOP_DOMAIN_PATTERN.fullmatch(normalized):
        _reject(f"{HEADER_SHOP_DOMAIN} is not a myshopify.com domain")
    _reject(
        f"shop {normalized} is not configured; add it to [shopify] shops with its "
        "client_secret",
    )


def _mismatch_reason(signature: str) -> str:
    reason = (
        f"{HEADER_HMAC} does not match the body; it must be the base64 "
        "HMAC-SHA256 of the raw body, keyed with the shop's client secret"
    )
    if _is_hex_digest(signature):
        reason += " (the header is hex-encoded, but Shopify sends base64)"
    return reason


def _is_hex_digest(signature: str) -> bool:
    if len(signature) != _HEX_DIGEST_LENGTH:
        return False
    return all(char in string.hexdigits for char in signature)


def _reject(reason: str) -> NoReturn:
    # The daemon logs the reason of every rejection, so it is not logged here.
    raise SignatureError(reason)
