"""A client of Twilio's Messages API: one create request per send.

The client does not retry. It turns every failure into a
:class:`parley.DeliveryError` that states whether a retry can succeed, and the
outbox retries the retriable ones with backoff, waiting at least as long as
Twilio's ``Retry-After`` asks.

The ``twilio`` package is not used: its client retries nothing by itself
either, and this plugin needs the HTTP status, the Twilio error code and
the ``Retry-After`` header of each failure, which httpx gives directly.
"""

from __future__ import annotations

import email.utils
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from parley import DeliveryError
from parley_twilio.const import (
    AUTHENTICATION_CODE,
    CONCURRENCY_CODE,
    MESSAGES_PATH,
    NOT_FOUND_CODE,
    OPTED_OUT_CODE,
    PLUGIN_ID,
    QUEUE_FULL_CODE,
    RECIPIENT_CODES,
    SENDER_CODES,
)
from parley_twilio.redact import redact_numbers
from parley_twilio.settings import TwilioSettings

logger = logging.getLogger(__name__)

USER_AGENT = "parley-twilio/0.1.0"

# Twilio's error text is kept in failure reasons, cut to this length.
_MAX_PROVIDER_MESSAGE = 200

_CREDENTIAL_HINT = (
    f"check [{PLUGIN_ID}] account_sid and auth_token (PARLEY_TWILIO__AUTH_TOKEN), "
    "or api_key_sid and api_key_secret when an API key is set"
)


@dataclass(frozen=True)
class CreatedMessage:
    """The parts of Twilio's Message resource that a send needs.

    Attributes:
        sid: the Message SID (``SM...``).
        status: Twilio's status, such as ``queued`` or ``accepted``.
        num_segments: the segment count Twilio reports, as text; ``"0"``
            through a Messaging Service until a sender is picked.
    """

    sid: str
    status: str
    num_segments: str | None


@dataclass(frozen=True)
class _TwilioError:
    """The error body Twilio sends with a 4xx or 5xx status."""

    code: int | None
    message: str
    more_info: str | None


class MessagesClient:
    """Create Messages under one Twilio account.

    The HTTP connection pool opens on the first send, so a channel built for
    ``parley config check`` opens nothing. The client is thread-safe.
    """

    def __init__(self, settings: TwilioSettings) -> None:
        self._settings = settings
        self._path = MESSAGES_PATH.format(account_sid=settings.account_sid)
        self._lock = threading.Lock()
        self._http: httpx.Client | None = None

    @property
    def url(self) -> str:
        """The Messages endpoint, for logs. It contains no secret."""
        return self._settings.api_base_url + self._path

    def create(self, params: Mapping[str, str]) -> CreatedMessage:
        """Send one create-Message request.

        Args:
            params: the form fields, such as ``To``, ``From`` and ``Body``.

        Raises:
            DeliveryError: Twilio rejected the message, responded with an
                error status, or could not be reached.
        """
        try:
            response = self._client().post(self._path, data=dict(params))
        except httpx.ConnectError as err:
            raise DeliveryError(
                f"could not connect to Twilio at {self._settings.api_base_url} "
                f"({type(err).__name__}); the message is sent again later",
                permanent=False,
            ) from err
        except httpx.ConnectTimeout as err:
            raise DeliveryError(
                f"connecting to Twilio timed out after "
                f"{self._settings.timeout_seconds:g} s; the message is sent again later",
                permanent=False,
            ) from err
        except httpx.TransportError as err:
            # The request may have reached Twilio, which has no idempotency
            # key for Messages, so this retry can send the message twice.
            raise DeliveryError(
                f"the request to Twilio failed after it was sent "
                f"({type(err).__name__}); Twilio may have accepted it, and the "
                "retry can deliver it twice",
                permanent=False,
            ) from err

        if httpx.codes.is_success(response.status_code):
            return _created(response)
        raise classify_error(response)

    def close(self) -> None:
        """Close the HTTP connections, if any were opened."""
        with self._lock:
            if self._http is not None:
                self._http.close()
                self._http = None

    def _client(self) -> httpx.Client:
        with self._lock:
            if self._http is None:
                user, password = self._settings.credentials()
                self._http = httpx.Client(
                    base_url=self._settings.api_base_url,
                    auth=httpx.BasicAuth(user, password),
                    timeout=self._settings.timeout_seconds,
                    headers={"Accept": "application/json", "User-Agent": USER_AGENT},
                )
            return self._http


def classify_error(response: httpx.Response) -> DeliveryError:
    """Turn a failed create-Message response into a DeliveryError.

    * 21610: the recipient replied STOP to this sender; permanent, with
      ``recipient_opted_out`` so that the core records the opt-out.
    * 20429, HTTP 429, 21611 (the sender's queue is full) and 5xx:
      retriable, honouring ``Retry-After``.
    * 401 or 20003: permanent, naming the credential settings.
    * Every other 4xx, such as 21211 and 21614: permanent.
    """
    status = response.status_code
    error = _error_body(response)
    code = error.code
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    code_text = str(code) if code is not None else None
    description = _describe(status, error)

    if code == OPTED_OUT_CODE:
        return DeliveryError(
            f"{description}; the recipient opted out of messages from this sender by "
            "replying STOP, so the message is not retried",
            permanent=True,
            code=code_text,
            recipient_opted_out=True,
        )
    if (
        status == httpx.codes.TOO_MANY_REQUESTS
        or code in (CONCURRENCY_CODE, QUEUE_FULL_CODE)
        or status >= httpx.codes.INTERNAL_SERVER_ERROR
    ):
        return DeliveryError(
            f"{description}; the message is sent again later",
            permanent=False,
            retry_after=retry_after,
            code=code_text,
        )
    if status == httpx.codes.UNAUTHORIZED or code == AUTHENTICATION_CODE:
        return DeliveryError(
            f"{description}; Twilio rejected the credentials: {_CREDENTIAL_HINT}",
            permanent=True,
            code=code_text,
        )
    if code == NOT_FOUND_CODE or status == httpx.codes.NOT_FOUND:
        return DeliveryError(
            f"{description}; the account was not found: check [{PLUGIN_ID}] account_sid",
            permanent=True,
            code=code_text,
        )
    if code in RECIPIENT_CODES:
        return DeliveryError(
            f"{description}; {RECIPIENT_CODES[code]}, so the message is not retried",
            permanent=True,
            code=code_text,
        )
    if code in SENDER_CODES:
        return DeliveryError(
            f"{description}; {SENDER_CODES[code]}: check [{PLUGIN_ID}] from_number and "
            "messaging_service_sid",
            permanent=True,
            code=code_text,
        )
    return DeliveryError(
        f"{description}; the message is not retried", permanent=True, code=code_text
    )


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Read a ``Retry-After`` header: seconds, or an HTTP date.

    Returns:
        The seconds to wait, 0 or more, or None when the header is missing
        or unreadable.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    if seconds is not None:
        return seconds if seconds >= 0 else None

    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    return max((moment - current).total_seconds(), 0.0)


def _created(response: httpx.Response) -> CreatedMessage:
    payload = _json_object(response)
    sid = payload.get("sid") if payload else None
    if not isinstance(sid, str) or not sid:
        raise DeliveryError(
            f"Twilio responded with HTTP {response.status_code} but no message sid; "
            "it may have sent the message, so it is not retried",
            permanent=True,
        )

    status = payload.get("status") if payload else None
    segments = payload.get("num_segments") if payload else None
    return CreatedMessage(
        sid=sid,
        status=status if isinstance(status, str) else "",
        num_segments=segments if isinstance(segments, str) else None,
    )


def _error_body(response: httpx.Response) -> _TwilioError:
    payload = _json_object(response) or {}
    code = payload.get("code")
    message = payload.get("message")
    more_info = payload.get("more_info")
    return _TwilioError(
        code=code if isinstance(code, int) and not isinstance(code, bool) else None,
        message=message if isinstance(message, str) else "",
        more_info=more_info if isinstance(more_info, str) else None,
    )


def _describe(status: int, error: _TwilioError) -> str:
    """Describe Twilio's error response, with phone numbers masked."""
    if error.code is None:
        return f"Twilio responded with HTTP {status}"
    text = redact_numbers(error.message)[:_MAX_PROVIDER_MESSAGE]
    described = f"Twilio error {error.code} (HTTP {status})"
    if text:
        described += f": {text}"
    if error.more_info:
        described += f" ({error.more_info})"
    return described


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        payload = response.json()
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None
