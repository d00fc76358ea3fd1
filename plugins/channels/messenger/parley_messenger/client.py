"""A client of the Graph Send API, ``POST /<version>/<id>/messages``.

Each call makes one request. The outbox retries a transient
``DeliveryError`` with backoff, so the client does not retry itself: the
Send API takes no idempotency key, and every extra attempt is a chance to
deliver a message twice. The access token goes in the ``Authorization``
header rather than the ``access_token`` query parameter, so it never
appears in URLs that httpx or a proxy logs.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from typing import Any

import httpx

from parley import DeliveryError
from parley_messenger.const import Platform
from parley_messenger.graph_errors import GraphError, delivery_error
from parley_messenger.settings import MetaChannelSettings

logger = logging.getLogger(__name__)

USER_AGENT = "parley-messenger/0.1.0"


class SendApiClient:
    """Send messages through one Page's or Instagram account's Send API.

    The HTTP connection pool is created on first use and shared by the
    outbox's send threads; :meth:`close` releases it.
    """

    def __init__(
        self,
        settings: MetaChannelSettings,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """Create a client.

        Args:
            settings: the channel's settings: base URL, API version, sender
                id, token and timeout.
            transport: an httpx transport; None uses the network.
        """
        self._settings = settings
        self._platform: Platform = settings.platform
        self._path = f"/{settings.api_version}/{settings.sender_id}/messages"
        self._transport = transport
        self._lock = threading.Lock()
        self._http: httpx.Client | None = None

    @property
    def url(self) -> str:
        """The full URL that messages are posted to."""
        return f"{self._settings.base_url}{self._path}"

    def send(self, payload: Mapping[str, Any], message_id: int) -> str:
        """Post one message and return Meta's ``message_id`` for it.

        Args:
            payload: the JSON body of the Send API request.
            message_id: the core's message id, for errors and logs.

        Raises:
            DeliveryError: Meta rejected the message, or the request failed;
                ``permanent`` is True when a retry cannot succeed.
        """
        try:
            response = self._client().post(self._path, json=dict(payload))
        except httpx.TimeoutException as err:
            # Meta may have accepted the message before the timeout, so the
            # retry the outbox makes can deliver it twice.
            raise DeliveryError(
                f"{self._platform.label} send of message {message_id} timed out "
                f"after {self._settings.timeout_seconds:g} s; retried later",
                permanent=False,
            ) from err
        except httpx.TransportError as err:
            raise DeliveryError(
                f"{self._platform.label} send of message {message_id} failed with "
                f"a network error ({type(err).__name__}); retried later",
                permanent=False,
            ) from err

        if not response.is_success:
            raise self._refusal(response, message_id)
        return self._message_id(response, message_id)

    def close(self) -> None:
        """Close the HTTP connections; a later send opens new ones."""
        with self._lock:
            if self._http is not None:
                self._http.close()
                self._http = None

    def _client(self) -> httpx.Client:
        with self._lock:
            if self._http is None:
                token = self._settings.token.get_secret_value()
                timeout = self._settings.timeout_seconds
                self._http = httpx.Client(
                    base_url=self._settings.base_url,
                    timeout=timeout,
                    transport=self._transport,
                    headers={
                        "Accept": "application/json",
                        "Authorization": f"Bearer {token}",
                        "User-Agent": USER_AGENT,
                    },
                )
            return self._http

    def _refusal(self, response: httpx.Response, message_id: int) -> DeliveryError:
        error = GraphError.from_body(response.status_code, _json_or_none(response))
        retry_after = _retry_after(response.headers.get("Retry-After"))
        failure = delivery_error(error, self._platform, retry_after)
        logger.warning(
            "%s send of message %s failed: Graph error %s, HTTP %d, %s",
            self._platform.label,
            message_id,
            error.code_text or "without a code",
            response.status_code,
            "permanent" if failure.permanent else "will be retried",
        )
        return failure

    def _message_id(self, response: httpx.Response, message_id: int) -> str:
        body = _json_or_none(response)
        provider_id = body.get("message_id") if isinstance(body, Mapping) else None
        if isinstance(provider_id, str) and provider_id.strip():
            return provider_id

        # Meta accepted the request, so sending it again could deliver the
        # message twice; it is marked failed rather than retried.
        raise DeliveryError(
            f"{self._platform.label} returned HTTP {response.status_code} without a "
            f"message_id for message {message_id}; it may have been delivered, "
            "so it is not retried",
            permanent=True,
        )


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _retry_after(value: str | None) -> float | None:
    """Read a ``Retry-After`` header given in seconds; None otherwise."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
