"""A client of the Cloud API's send endpoint, ``POST /{phone-number-id}/messages``.

Each call makes one request. The outbox retries a retriable
:class:`parley.DeliveryError` with backoff, so the client never repeats a
send itself: the Cloud API takes no idempotency key, and a repeated POST
can deliver the message twice.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Mapping
from typing import Any

import httpx

from parley import DeliveryError
from parley_whatsapp.const import MESSAGES_PATH, PLUGIN_ID
from parley_whatsapp.graph_errors import GraphError, delivery_error
from parley_whatsapp.settings import WhatsAppSettings

logger = logging.getLogger(__name__)

USER_AGENT = "parley-whatsapp/0.1.0"


class GraphClient:
    """Send message requests for one business phone number.

    The HTTP connection pool is opened on the first send and shared by the
    outbox's send threads. It is closed by :meth:`close`, or when the client
    is garbage collected.
    """

    def __init__(
        self,
        settings: WhatsAppSettings,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """Create a client; no connection is opened yet.

        Args:
            settings: the plugin's settings: base URL, version, token, timeout.
            transport: an httpx transport; None uses the network.
        """
        self._settings = settings
        self._transport = transport
        self._path = MESSAGES_PATH.format(
            api_version=settings.api_version,
            phone_number_id=settings.phone_number_id,
        )
        self._lock = threading.Lock()
        self._http: httpx.Client | None = None

    @property
    def endpoint(self) -> str:
        """The send URL, for logs; it contains no secret."""
        return self._settings.base_url + self._path

    def close(self) -> None:
        """Close the HTTP connections, if any were opened."""
        with self._lock:
            if self._http is not None:
                self._http.close()
                self._http = None

    def send(self, body: Mapping[str, Any], *, kind: str, template: str | None) -> str:
        """Post one message request and return the WhatsApp message id (wamid).

        Args:
            body: the JSON request body.
            kind: the message kind, named in error messages.
            template: the template name for a template send, else None.

        Raises:
            DeliveryError: the request failed. ``permanent`` is True when a
                retry cannot succeed.
        """
        http = self._client()
        try:
            response = http.post(self._path, json=dict(body))
        except httpx.TimeoutException as err:
            # A read timeout may come after Meta accepted the message, so the
            # retry can deliver it twice; losing it would be worse.
            raise DeliveryError(
                f"[{PLUGIN_ID}] the Graph API did not respond within "
                f"{self._settings.timeout_seconds:g} s ({type(err).__name__}); the "
                "send is retried later",
                permanent=False,
            ) from err
        except httpx.TransportError as err:
            raise DeliveryError(
                f"[{PLUGIN_ID}] could not reach the Graph API at "
                f"{self._settings.base_url} ({type(err).__name__}); the send is "
                "retried later",
                permanent=False,
            ) from err

        payload = _json_or_none(response)
        if not response.is_success:
            error = GraphError.from_response(response.status_code, payload)
            retry_after = _retry_after(response.headers.get("Retry-After"))
            raise delivery_error(error, kind, template, retry_after)
        return self._message_id(response.status_code, payload)

    def _client(self) -> httpx.Client:
        with self._lock:
            if self._http is None:
                token = self._settings.access_token.get_secret_value()
                self._http = httpx.Client(
                    base_url=self._settings.base_url,
                    timeout=self._settings.timeout_seconds,
                    transport=self._transport,
                    headers={
                        "Accept": "application/json",
                        "User-Agent": USER_AGENT,
                        "Authorization": f"Bearer {token}",
                    },
                )
                weakref.finalize(self, self._http.close)
            return self._http

    def _message_id(self, status: int, payload: Any) -> str:
        messages = payload.get("messages") if isinstance(payload, Mapping) else None
        first = messages[0] if isinstance(messages, list) and messages else None
        message_id = first.get("id") if isinstance(first, Mapping) else None
        if isinstance(message_id, str) and message_id.strip():
            return message_id.strip()

        # Meta accepted something, so a retry could deliver the message twice.
        raise DeliveryError(
            f"[{PLUGIN_ID}] {self.endpoint} returned HTTP {status} without "
            "messages[0].id; check that [whatsapp] base_url points at the Graph API",
            permanent=True,
        )


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _retry_after(value: str | None) -> float | None:
    """Read a ``Retry-After`` header given in seconds; None when absent or a date."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
