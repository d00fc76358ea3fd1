r"""Meta's webhook checks: the GET verification handshake and ``X-Hub-Signature-256``.

Meta signs each POST with HMAC-SHA256 over the raw body bytes, keyed with
the app's App Secret, and sends ``sha256=<lowercase hex digest>``. The check
runs on the bytes as received, before any JSON parsing, because encoding
the parsed JSON again changes the bytes (Meta escapes non-ASCII characters
as ``\uXXXX``) and so the digest.
"""

from __future__ import annotations

import hashlib
import hmac
import string
from collections.abc import Mapping

from pydantic import SecretStr

from parley import SignatureError, WebhookRejected
from parley_messenger.const import (
    HEADER_SIGNATURE,
    MODE_SUBSCRIBE,
    QUERY_CHALLENGE,
    QUERY_MODE,
    QUERY_VERIFY_TOKEN,
    SIGNATURE_PREFIX,
    Platform,
)

FORBIDDEN = 403

# Meta's challenge is a number; anything echoed back is kept to short,
# visible ASCII so the endpoint never reflects arbitrary content.
_MAX_CHALLENGE_LENGTH = 256
_CHALLENGE_CHARACTERS = frozenset(string.ascii_letters + string.digits + "-_.~")


def compute_signature(secret: str, body: bytes) -> str:
    """Return the header value Meta sends for ``body``: ``sha256=<hex>``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_PREFIX}{digest}"


def verify_signature(
    headers: Mapping[str, str], body: bytes, app_secret: SecretStr
) -> None:
    """Check ``X-Hub-Signature-256`` against the raw body.

    Args:
        headers: the request headers (case-insensitive).
        body: the raw request body, exactly as received.
        app_secret: the App Secret, the HMAC key.

    Raises:
        SignatureError: with status 403 when the header is missing, malformed
            or does not match. The reason never contains the secret.
    """
    received = (headers.get(HEADER_SIGNATURE) or "").strip()
    if not received:
        raise SignatureError(f"missing {HEADER_SIGNATURE} header", status=FORBIDDEN)
    if not received.lower().startswith(SIGNATURE_PREFIX):
        raise SignatureError(
            f"{HEADER_SIGNATURE} must start with {SIGNATURE_PREFIX}", status=FORBIDDEN
        )

    # The prefix and the hex digits are compared in lower case, so the
    # comparison does not depend on how the sender spelled them.
    expected = compute_signature(app_secret.get_secret_value(), body)
    given = received.lower().encode("ascii", errors="replace")
    if not hmac.compare_digest(expected.encode("ascii"), given):
        raise SignatureError(
            f"{HEADER_SIGNATURE} does not match the body; it must be sha256= and "
            "the hex HMAC-SHA256 of the raw body, keyed with the app's App Secret",
            status=FORBIDDEN,
        )


def answer_handshake(
    query: Mapping[str, str], verify_token: SecretStr, platform: Platform
) -> str:
    """Check Meta's GET verification request and return the challenge to echo.

    Args:
        query: the query-string parameters.
        verify_token: the configured verify token.
        platform: the platform the endpoint serves, for messages.

    Raises:
        SignatureError: with status 403 when ``hub.mode`` is not
            ``subscribe`` or ``hub.verify_token`` does not match.
        WebhookRejected: with status 400 when ``hub.challenge`` is missing
            or not a short token.
    """
    mode = query.get(QUERY_MODE)
    if mode != MODE_SUBSCRIBE:
        raise SignatureError(
            f"{QUERY_MODE} must be {MODE_SUBSCRIBE!r} on a verification request",
            status=FORBIDDEN,
        )

    token = (query.get(QUERY_VERIFY_TOKEN) or "").encode("utf-8")
    expected = verify_token.get_secret_value().encode("utf-8")
    if not hmac.compare_digest(token, expected):
        raise SignatureError(
            f"{QUERY_VERIFY_TOKEN} does not match [{platform.channel_id}] "
            "verify_token; type the same token into the App Dashboard",
            status=FORBIDDEN,
        )

    challenge = query.get(QUERY_CHALLENGE) or ""
    if not _is_token(challenge):
        raise WebhookRejected(
            400,
            f"{QUERY_CHALLENGE} is missing or not a token of at most "
            f"{_MAX_CHALLENGE_LENGTH} letters, digits and -_.~",
        )
    return challenge


def _is_token(value: str) -> bool:
    if not value or len(value) > _MAX_CHALLENGE_LENGTH:
        return False
    return all(char in _CHALLENGE_CHARACTERS for char in value)
