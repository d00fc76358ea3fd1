"""Outbound webhooks of automations: signed JSON POSTs with retries.

Each request carries two headers:

- ``X-Parley-Timestamp``: the Unix time in seconds when it was signed.
- ``X-Parley-Signature``: ``sha256=<hex>``, the HMAC-SHA256 of
  ``<timestamp>.<body>`` with the shared secret. Signing the timestamp with
  the body lets the receiver reject a replayed request whose timestamp is
  old, such as more than five minutes.

``X-Parley-Delivery`` is the same on every retry of one action, so the
receiver can drop a repeat. A connection error, a timeout, a 429 or a 5xx
response is retried up to ``ATTEMPTS`` times with exponential backoff;
another 4xx response fails the action at once, because retrying would get
the same response.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import tenacity

from parley.errors import ParleyError

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Parley-Signature"
TIMESTAMP_HEADER = "X-Parley-Timestamp"
DELIVERY_HEADER = "X-Parley-Delivery"
ATTEMPTS = 3
DEFAULT_TIMEOUT_SECONDS = 10.0


class WebhookFailed(ParleyError):
    """The webhook receiver did not accept the request.

    Attributes:
        permanent: True when retrying cannot help (a 4xx other than 429).
    """

    def __init__(self, message: str, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class _Retryable(Exception):
    """A response worth retrying: 429 or 5xx."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Return the ``X-Parley-Signature`` value for a body signed at ``timestamp``."""
    message = timestamp.encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def resolve_secret(
    secret: str | None, secret_env: str | None, environ: Mapping[str, str] | None = None
) -> str:
    """Return the shared secret, from the setting or its environment variable.

    Raises:
        WebhookFailed: the variable is not set or empty (permanent).
    """
    if secret is not None:
        return secret
    assert secret_env is not None
    value = (os.environ if environ is None else environ).get(secret_env, "")
    if not value:
        raise WebhookFailed(
            f"environment variable {secret_env} for the webhook secret is not set "
            "or empty; set it before starting the daemon",
            permanent=True,
        )
    return value


class WebhookSender:
    """Posts signed JSON to automation webhooks through one HTTP client."""

    def __init__(
        self,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Create the sender.

        Args:
            client: the HTTP client; tests pass one with a mock transport.
            sleep: waits between attempts; tests pass a function that records.
            clock: Unix time for the timestamp header.
        """
        self._client = client or httpx.Client(follow_redirects=False)
        self._sleep = sleep
        self._clock = clock

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    def post(
        self,
        url: str,
        payload: Mapping[str, Any],
        secret: str,
        delivery_id: str,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> int:
        """POST the payload, retrying transient failures; return the final status.

        Raises:
            WebhookFailed: the receiver rejected the request, or every
                attempt failed.
        """
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(ATTEMPTS),
            wait=tenacity.wait_exponential(multiplier=1, max=30),
            retry=tenacity.retry_if_exception_type((_Retryable, httpx.TransportError)),
            sleep=self._sleep,
            reraise=True,
            before_sleep=lambda state: logger.warning(
                "webhook delivery %s attempt %d failed: %s; retrying",
                delivery_id,
                state.attempt_number,
                state.outcome.exception() if state.outcome else "unknown",
            ),
        )
        try:
            return retrying(
                self._attempt, url, body, secret, delivery_id, timeout_seconds
            )
        except _Retryable as err:
            raise WebhookFailed(
                f"{_host(url)} responded with {err} after {ATTEMPTS} attempts", False
            ) from err
        except httpx.TransportError as err:
            raise WebhookFailed(
                f"request to {_host(url)} failed after {ATTEMPTS} attempts: "
                f"{type(err).__name__}",
                False,
            ) from err

    def _attempt(
        self, url: str, body: bytes, secret: str, delivery_id: str, timeout: float
    ) -> int:
        timestamp = str(int(self._clock()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(secret, timestamp, body),
            DELIVERY_HEADER: delivery_id,
        }
        response = self._client.post(
            url, content=body, headers=headers, timeout=timeout
        )
        status = response.status_code
        if status == 429 or status >= 500:
            raise _Retryable(f"HTTP {status}")
        if status >= 400:
            raise WebhookFailed(
                f"{_host(url)} rejected the webhook with HTTP {status}; check the "
                "URL and the shared secret",
                permanent=True,
            )
        return status


def _host(url: str) -> str:
    """Return the URL's host for messages; the path may hold a token."""
    return httpx.URL(url).host or url
