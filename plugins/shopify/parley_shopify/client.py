"""A client of Shopify's Admin GraphQL API that respects its cost-based limit.

The ``ShopifyAPI`` package (``shopify``) has a GraphQL helper, but this
client does not use it, for three reasons read in ShopifyAPI 12.7.0's
source:

* ``shopify.Session`` rewrites every shop URL to
  ``https://<first label>.myshopify.com``, so ``http://127.0.0.1:8765``
  becomes ``https://127.myshopify.com``, and a test server cannot be set
  per shop. The one way around it, setting ``shopify.ShopifyResource.site``,
  also replaces the process-wide default that other threads fall back to.
* ``shopify.GraphQL().execute`` calls ``urllib.request.urlopen`` without a
  timeout, so a stalled connection would block a poller thread for good.
* On an HTTP error it prints the response body to standard output, and
  parley keeps response bodies out of its output.

The client sends the same request as ShopifyAPI: a POST to
``<admin URL>/admin/api/<version>/graphql.json`` with the
``X-Shopify-Access-Token`` header and a JSON body of ``query``,
``variables`` and ``operationName``, over httpx.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from parley import FatalSyncError, RetriableSyncError
from parley_shopify.const import (
    GRAPHQL_PATH,
    HEADER_ACCESS_TOKEN,
    PLUGIN_ID,
    THROTTLED_CODE,
)
from parley_shopify.settings import ShopSettings
from parley_shopify.values import as_dict, as_list, as_text

logger = logging.getLogger(__name__)

Sleep = Callable[[float], None]
Monotonic = Callable[[], float]

DEFAULT_TIMEOUT_SECONDS = 30.0
USER_AGENT = "parley-shopify/0.1.0"

# Waits between attempts when Shopify gives no better figure.
_BACKOFF = wait_exponential(multiplier=1, min=1, max=30)

# GraphQL errors listed in a FatalSyncError message, each cut to this length.
_MAX_ERRORS_SHOWN = 3
_MAX_ERROR_MESSAGE = 200


class _RetryableResponse(Exception):
    """One attempt failed in a way that the same request may not fail again.

    Attributes:
        reason: what failed, such as ``HTTP 503``; never the response body.
        retry_after: seconds to wait before the next attempt, when Shopify's
            response gives them.
    """

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True)
class QueryCost:
    """The ``extensions.cost`` part of a GraphQL response.

    Attributes:
        requested: the query's estimated cost in points, charged up front.
        available: points left in the shop's bucket after the query.
        restore_rate: points the bucket regains per second.
        maximum: the bucket's size.
    """

    requested: float | None
    available: float | None
    restore_rate: float | None
    maximum: float | None

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> QueryCost | None:
        """Read the cost of a response body; None when it reports none."""
        cost = as_dict(as_dict(payload.get("extensions")).get("cost"))
        if not cost:
            return None

        status = as_dict(cost.get("throttleStatus"))
        return cls(
            requested=_number(cost.get("requestedQueryCost")),
            available=_number(status.get("currentlyAvailable")),
            restore_rate=_number(status.get("restoreRate")),
            maximum=_number(status.get("maximumAvailable")),
        )

    def throttle_wait(self) -> float | None:
        """Return the seconds until the bucket contains the requested points.

        This is ``(requested - available) / restore_rate``, or None when one
        of the three is missing or the formula gives no positive wait.
        """
        if self.requested is None or self.available is None:
            return None
        if not self.restore_rate or self.restore_rate <= 0:
            return None

        wait = (self.requested - self.available) / self.restore_rate
        return wait if wait > 0 else None


class _Bucket:
    """The shop's point bucket, as the last response reported it."""

    def __init__(self, monotonic: Monotonic) -> None:
        self._monotonic = monotonic
        self._cost: QueryCost | None = None
        self._seen_at = 0.0

    def update(self, cost: QueryCost) -> None:
        """Remember a response's throttle status and when it arrived."""
        self._cost = cost
        self._seen_at = self._monotonic()

    def wait_for(self, points: float) -> float:
        """Return the seconds until ``points`` are available; 0 when unknown."""
        cost = self._cost
        if cost is None or cost.available is None or not cost.restore_rate:
            return 0.0

        elapsed = self._monotonic() - self._seen_at
        available = cost.available + cost.restore_rate * max(elapsed, 0.0)
        if cost.maximum is not None:
            available = min(available, cost.maximum)

        missing = points - available
        # Below a microsecond the difference is rounding, not a real shortage.
        return missing / cost.restore_rate if missing > 1e-6 else 0.0


class AdminClient:
    """Send GraphQL queries to one shop's Admin API.

    Before each request the client waits until the shop's bucket, as the
    previous response reported it, contains the points the same query cost
    last time. Throttled responses (a ``THROTTLED`` GraphQL error, usually
    with HTTP 200, or HTTP 429), 5xx responses and network errors are
    retried, up to ``max_attempts`` attempts in all.

    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        shop: ShopSettings,
        api_version: str,
        max_attempts: int,
        *,
        sleep: Sleep = time.sleep,
        monotonic: Monotonic = time.monotonic,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """Create a client.

        Args:
            shop: the shop; it must have an ``access_token``.
            api_version: the Admin API version in the URL, such as ``2026-07``.
            max_attempts: attempts per query, the first one included.
            sleep: waits the given seconds; tests pass a fake one.
            monotonic: a monotonic clock in seconds, read with ``sleep``.
            timeout: seconds for connecting and for each read.
            transport: an httpx transport; None uses the network.

        Raises:
            FatalSyncError: the shop has no access token.
        """
        if shop.access_token is None:
            raise FatalSyncError(
                f"[{PLUGIN_ID}] shop {shop.domain} has no access_token; add one to "
                "its [[shopify.shops]] entry to read the Admin API"
            )

        self.shop = shop.domain
        self._path = GRAPHQL_PATH.format(version=api_version)
        self._max_attempts = max_attempts
        self._sleep = sleep
        self._bucket = _Bucket(monotonic)
        self._query_costs: dict[str, float] = {}
        self._http = httpx.Client(
            base_url=shop.admin_url,
            timeout=timeout,
            transport=transport,
            headers={
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
                HEADER_ACCESS_TOKEN: shop.access_token.get_secret_value(),
            },
        )

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def execute(
        self, query: str, variables: Mapping[str, Any], operation_name: str
    ) -> Mapping[str, Any]:
        """Run a query and return its ``data`` object.

        Args:
            query: the GraphQL document.
            variables: the query's variables.
            operation_name: the operation to run; also names it in logs.

        Raises:
            RetriableSyncError: every attempt was throttled, failed with 429 or
                5xx, failed on the network or returned no data.
            FatalSyncError: Shopify rejected the token (401, 403), returned
                another 4xx status, or returned GraphQL errors other than
                ``THROTTLED``.
        """
        retrying = Retrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=_retry_wait,
            retry=retry_if_exception_type(_RetryableResponse),
            sleep=self._sleep,
            before_sleep=lambda state: self._log_retry(operation_name, state),
            reraise=True,
        )
        try:
            return retrying(self._attempt, query, variables, operation_name)
        except _RetryableResponse as err:
            raise RetriableSyncError(
                f"[{PLUGIN_ID}] shop {self.shop}: {operation_name} failed "
                f"{self._max_attempts} times, the last time with {err.reason}; "
                "it is tried again later",
                retry_after=err.retry_after,
            ) from err

    def _attempt(
        self, query: str, variables: Mapping[str, Any], operation_name: str
    ) -> Mapping[str, Any]:
        self._wait_for_points(operation_name)
        body = {
            "query": query,
            "variables": dict(variables),
            "operationName": operation_name,
        }
        try:
            response = self._http.post(self._path, json=body)
        except httpx.TransportError as err:
            raise _RetryableResponse(f"a network error ({type(err).__name__})") from err

        payload = self._payload(response)
        cost = QueryCost.from_payload(payload)
        if cost is not None:
            self._bucket.update(cost)
            if cost.requested is not None:
                self._query_costs[operation_name] = cost.requested

        errors = [as_dict(error) for error in as_list(payload.get("errors"))]
        if any(_error_code(error) == THROTTLED_CODE for error in errors):
            wait = cost.throttle_wait() if cost is not None else None
            raise _RetryableResponse("a THROTTLED error", retry_after=wait)
        if errors:
            raise FatalSyncError(self._errors_message(operation_name, errors))

        data = payload.get("data")
        if not isinstance(data, Mapping):
            raise _RetryableResponse(f"HTTP {response.status_code} without data")
        return data

    def _payload(self, response: httpx.Response) -> Mapping[str, Any]:
        """Return the JSON body of a 2xx response, or raise by status."""
        status = response.status_code
        if status == httpx.codes.TOO_MANY_REQUESTS:
            retry_after = _retry_after(response.headers.get("Retry-After"))
            if retry_after is None:
                cost = QueryCost.from_payload(_json_object(response) or {})
                retry_after = cost.throttle_wait() if cost is not None else None
            raise _RetryableResponse("HTTP 429", retry_after=retry_after)
        if status >= httpx.codes.INTERNAL_SERVER_ERROR:
            raise _RetryableResponse(f"HTTP {status}")
        if status in (httpx.codes.UNAUTHORIZED, httpx.codes.FORBIDDEN):
            raise FatalSyncError(self._access_message(status))
        if not httpx.codes.is_success(status):
            raise FatalSyncError(
                f"[{PLUGIN_ID}] shop {self.shop}: the Admin API returned HTTP "
                f"{status} for {self._path}; check admin_base_url and api_version"
            )

        payload = _json_object(response)
        if payload is None:
            raise _RetryableResponse(f"HTTP {status} with a body that is not JSON")
        return payload

    def _wait_for_points(self, operation_name: str) -> None:
        points = self._query_costs.get(operation_name)
        if points is None:
            return

        wait = self._bucket.wait_for(points)
        if wait > 0:
            logger.info(
                "shop %s: waiting %.2f s for %.0f query cost points before %s",
                self.shop,
                wait,
                points,
                operation_name,
            )
            self._sleep(wait)

    def _log_retry(self, operation_name: str, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        reason = error.reason if isinstance(error, _RetryableResponse) else "an error"
        wait = state.next_action.sleep if state.next_action else 0.0
        logger.warning(
            "shop %s: %s to %s failed with %s (attempt %d of %d); retrying in %.2f s",
            self.shop,
            operation_name,
            self._path,
            reason,
            state.attempt_number,
            self._max_attempts,
            wait,
        )

    def _access_message(self, status: int) -> str:
        if status == httpx.codes.UNAUTHORIZED:
            return (
                f"[{PLUGIN_ID}] shop {self.shop}: the Admin API rejected the access "
                "token (HTTP 401); check the shop's access_token and that the app "
                "is still installed"
            )
        return (
            f"[{PLUGIN_ID}] shop {self.shop}: the access token may not read orders "
            "or customers (HTTP 403); give the app the read_orders and "
            "read_customers scopes"
        )

    def _errors_message(
        self, operation_name: str, errors: list[Mapping[str, Any]]
    ) -> str:
        parts = []
        for error in errors[:_MAX_ERRORS_SHOWN]:
            code = _error_code(error) or "no code"
            message = (as_text(error.get("message")) or "")[:_MAX_ERROR_MESSAGE]
            parts.append(f"{code}: {message}")

        hint = "check api_version and the app's scopes"
        if any(_error_code(error) == "MAX_COST_EXCEEDED" for error in errors):
            hint = "lower poll_page_size"
        return (
            f"[{PLUGIN_ID}] shop {self.shop}: {operation_name} returned GraphQL "
            f"errors ({'; '.join(parts)}); {hint}"
        )


def _retry_wait(state: RetryCallState) -> float:
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, _RetryableResponse) and error.retry_after is not None:
        return error.retry_after
    return _BACKOFF(state)


def _retry_after(value: str | None) -> float | None:
    """Read a ``Retry-After`` header in seconds; Shopify sends values like ``2.0``."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def _json_object(response: httpx.Response) -> Mapping[str, Any] | None:
    try:
        payload = response.json()
    except ValueError:
        return None
    return payload if isinstance(payload, Mapping) else None


def _error_code(error: Mapping[str, Any]) -> str | None:
    return as_text(as_dict(error.get("extensions")).get("code"))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
