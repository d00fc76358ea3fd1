"""Verification of Meta's webhook signature (``X-Hub-Signature-256``).

Meta signs every webhook POST with HMAC-SHA256 over the raw body bytes,
keyed with the app secret, and sends ``sha256=`` followed by the lowercase
hex digest. The check runs on the bytes as received, before any JSON
parsing: Meta signs the body with non-ASCII characters escaped, so
re-encoding parsed JSON would change the bytes and fail for any message
with an accent or emoji.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from pydantic import SecretStr

from parley import SignatureError
from parley_whatsapp.const import HEADER_SIGNATURE, SIGNATURE_PREFIX

# Meta answers a rejected delivery by retrying it, so the status matters
# less than the reason; 403 is what Meta's examples return.
REJECTED_STATUS = 403


def compute_signature(secret: str, body: bytes) -> str:
    """Return the ``X-Hub-Signature-256`` value Meta sends for ``body``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify_signature(
    headers: Mapping[str, str], body: bytes, app_secret: SecretStr
) -> None:
    """Check that a webhook body was signed with the app secret.

    Args:
        headers: the case-insensitive request headers.
        body: the raw request body, exactly as received.
        app_secret: the ``[whatsapp] app_secret`` setting.

    Raises:
        SignatureError: the header is missing, malformed or does not match;
            the status is 403 and the reason never contains a secret.
    """
    received = (headers.get(HEADER_SIGNATURE) or "").strip()
    if not received:
        raise SignatureError(f"missing {HEADER_SIGNATURE} header", REJECTED_STATUS)
    if not received.lower().startswith(SIGNATURE_PREFIX):
        raise SignatureError(
            f"{HEADER_SIGNATURE} must start with {SIGNATURE_PREFIX!r}",
            REJECTED_STATUS,
        )

    expected = compute_signature(app_secret.get_secret_value(), body)
    normalized = SIGNATURE_PREFIX + received[len(SIGNATURE_PREFIX) :].lower()
    if not hmac.compare_digest(
        expected.encode("ascii"), normalized.encode("utf-8", errors="replace")
    ):
        raise SignatureError(
            f"{HEADER_SIGNATURE} does not match the body; it must be the "
            "HMAC-SHA256 of the raw body keyed with [whatsapp] app_secret",
            REJECTED_STATUS,
        )
