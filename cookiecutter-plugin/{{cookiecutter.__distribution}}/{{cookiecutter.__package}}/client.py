"""HTTP client of the {{ cookiecutter.__title }} API.

Every request goes through :meth:`{{ cookiecutter.__class_prefix }}Client._request`. It retries
HTTP 429, 5xx, timeouts and connection errors with exponential backoff and
waits as long as a ``Retry-After`` header requests. When the attempts run out,
or the API requests a wait longer than ``max_wait_seconds``, it raises
{%- if cookiecutter.kind == "channel" %}
:class:`parley.DeliveryError` with ``permanent=False`` so that parley's outbox
retries later. Any other 4xx raises ``DeliveryError`` with ``permanent=True``.
{%- else %}
:class:`parley.RetriableSyncError`. Any other 4xx raises
:class:`parley.FatalSyncError`.
{%- endif %}

Log lines and error messages name the method and path only: query strings
can hold phone numbers or email addresses.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import httpx
import tenacity
from parley import {% if cookiecutter.kind == "crm" %}AddressKind, ChannelAddress, FatalSyncError, RetriableSyncError{% elif cookiecutter.kind == "store" %}FatalSyncError, RetriableSyncError{% else %}DeliveryError{% endif %}

from {{ cookiecutter.__package }}.settings import {{ cookiecutter.__class_prefix }}Settings

logger = logging.getLogger(__name__)

USER_AGENT = "{{ cookiecutter.__distribution }}/0.1.0"

# Upper bound of the exponential backoff between attempts, in seconds.
BACKOFF_MAX_SECONDS = 8.0


class _TransientError(Exception):
    """A failure that the same request may not hit again."""

    def __init__(
        self, message: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class {{ cookiecutter.__class_prefix }}Client:
    """Calls the {{ cookiecutter.__title }} API; use it as a context manager so it closes.

    Args:
        base_url: the API's base URL.
        api_key: sent as a bearer token.
        timeout_seconds: time limit of one request.
        max_attempts: attempts per request, the first one included.
        max_wait_seconds: the longest ``Retry-After`` waited for inside one
            call; a longer one raises at once, carrying the wait.
        transport: an httpx transport, such as ``httpx.MockTransport`` in tests.
        sleep: the function that waits between attempts.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_seconds: float = 10.0,
        max_attempts: int = 4,
        max_wait_seconds: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        # TODO: match your provider's authentication scheme.
        self._http = httpx.Client(
            base_url=base_url,
            headers={
                "Authorization": f"Bearer {api_key}",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            },
            timeout=timeout_seconds,
            transport=transport,
        )
        self._max_attempts = max_attempts
        self._max_wait_seconds = max_wait_seconds
        self._sleep = sleep
        # Full jitter: a random wait up to 0.5 s, 1 s, 2 s ... spreads the
        # retries of parallel workers.
        self._backoff = tenacity.wait_random_exponential(
            multiplier=0.5, max=BACKOFF_MAX_SECONDS
        )

    @classmethod
    def from_settings(cls, settings: {{ cookiecutter.__class_prefix }}Settings, **options: Any) -> Self:
        """Build a client from the plugin's settings and constructor ``options``."""
        return cls(
            settings.base_url,
            settings.api_key.get_secret_value(),
            timeout_seconds=settings.timeout_seconds,
            max_attempts=settings.max_attempts,
            **options,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()
{%- if cookiecutter.kind == "crm" %}

    def find_contact(self, address: ChannelAddress) -> dict[str, Any] | None:
        """Return the CRM contact with this phone number or email address, or None.

        Args:
            address: a phone number in E.164 or a lower-case email address;
                other kinds of address find nothing and send no request.
        """
        if address.kind is AddressKind.PHONE:
            params = {"phone": address.value}
        elif address.kind is AddressKind.EMAIL:
            params = {"email": address.value}
        else:
            return None

        # TODO: use your CRM's search endpoint and response shape.
        data = self._json(self._request("GET", "/v1/contacts", params=params))
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, list) or not results:
            return None
        first = results[0]
        return first if isinstance(first, dict) else None
{%- elif cookiecutter.kind == "store" %}

    def get_order(self, order_id: str) -> dict[str, Any]:
        """Return one order as the API describes it.

        Raises:
            FatalSyncError: the order does not exist (404), or the API
                returned something other than a JSON object.
        """
        # TODO: use your store's order endpoint.
        data = self._json(self._request("GET", f"/v1/orders/{order_id}"))
        if not isinstance(data, dict):
            raise FatalSyncError(
                f"{{ cookiecutter.__title }} API: GET /v1/orders/{order_id} returned "
                "JSON that is not an object"
            )
        return data
{%- elif cookiecutter.kind == "channel" %}

    def send_message(
        self, *, sender: str, to: str, text: str, idempotency_key: str
    ) -> dict[str, Any]:
        """Ask the provider to send one text message.

        Args:
            sender: the business's number in E.164.
            to: the customer's number in E.164.
            text: the message body.
            idempotency_key: lets the provider drop a repeat of this request,
                so a retry after a timeout cannot send the message twice.

        Returns:
            The provider's response, with the message id and status.
        """
        # TODO: use your provider's send endpoint and idempotency header.
        response = self._request(
            "POST",
            "/v1/messages",
            json={"from": sender, "to": to, "text": text},
            headers={"Idempotency-Key": idempotency_key},
        )
        data = self._json(response)
        if not isinstance(data, dict):
            raise DeliveryError(
                "{{ cookiecutter.__title }} API: POST /v1/messages returned JSON that "
                "is not an object",
                permanent=False,
            )
        return data
{%- endif %}

    def _request(self, method: str, path: str, **options: Any) -> httpx.Response:
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_TransientError),
            stop=self._should_stop,
            wait=self._wait,
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            return retrying(self._request_once, method, path, **options)
        except _TransientError as err:
            attempts = retrying.statistics.get("attempt_number", 1)
            message = (
                f"{{ cookiecutter.__title }} API: {method} {path} failed after {attempts} "
                f"attempt(s): {err}"
            )
{%- if cookiecutter.kind == "channel" %}
            raise DeliveryError(
                message,
                permanent=False,
                retry_after=err.retry_after,
                code=str(err.status) if err.status else None,
            ) from err
{%- else %}
            raise RetriableSyncError(message, retry_after=err.retry_after) from err
{%- endif %}

    def _request_once(self, method: str, path: str, **options: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **options)
        except httpx.TimeoutException as err:
            raise _TransientError("the request timed out") from err
        except httpx.TransportError as err:
            raise _TransientError(f"connection failed ({type(err).__name__})") from err

        status = response.status_code
        if status == 429 or status >= 500:
            raise _TransientError(
                f"the API responded {status}", status, _retry_after(response)
            )
        if status >= 400:
            hint = "; check the api_key setting" if status in (401, 403) else ""
            message = (
                f"{{ cookiecutter.__title }} API: {method} {path} responded {status} "
                f"{response.reason_phrase}{hint}"
            )
{%- if cookiecutter.kind == "channel" %}
            raise DeliveryError(message, permanent=True, code=str(status))
{%- else %}
            raise FatalSyncError(message)
{%- endif %}
        return response

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as err:
            message = (
                f"{{ cookiecutter.__title }} API: {response.request.method} "
                f"{response.request.url.path} returned a body that is not JSON"
            )
{%- if cookiecutter.kind == "channel" %}
            raise DeliveryError(message, permanent=False) from err
{%- else %}
            raise FatalSyncError(message) from err
{%- endif %}

    def _should_stop(self, state: tenacity.RetryCallState) -> bool:
        if state.attempt_number >= self._max_attempts:
            return True
        error = state.outcome.exception() if state.outcome else None
        return (
            isinstance(error, _TransientError)
            and error.retry_after is not None
            and error.retry_after > self._max_wait_seconds
        )

    def _wait(self, state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _TransientError) and error.retry_after is not None:
            return error.retry_after
        return self._backoff(state)

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        method, path = state.args[0], state.args[1]
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        logger.warning(
            "%s %s: attempt %d of %d failed (%s); retrying in %.1f s",
            method,
            path,
            state.attempt_number,
            self._max_attempts,
            error,
            wait,
        )


def _retry_after(response: httpx.Response) -> float | None:
    """Return the wait a ``Retry-After`` header requests, in seconds, or None."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None

    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
