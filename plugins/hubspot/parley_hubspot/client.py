"""HubSpot CRM API calls with client-side rate limits, retries and actionable errors.

Requests go through the ``hubspot-api-client`` package (its generated
contacts, properties and communications APIs), which builds the URLs,
serialises bodies and adds the bearer token. Responses are read as raw JSON
(``_preload_content=False``) rather than through the package's models,
because those models reject a response with a missing field and HubSpot
adds and drops optional fields between versions.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from parley import FatalSyncError, RetriableSyncError
from parley_hubspot.const import (
    BATCH_READ_MAX_INPUTS,
    COMMUNICATION_CONTACT_ASSOCIATION,
    HEADER_RATE_LIMIT_INTERVAL,
    HEADER_RATE_LIMIT_REMAINING,
    HEADER_RETRY_AFTER,
    PLUGIN_ID,
    POLICY_DAILY,
    POLICY_WINDOWS,
    SCOPE_CONTACTS_READ,
    SCOPE_CONTACTS_WRITE,
    SCOPE_SCHEMAS_READ,
)
from parley_hubspot.errors import (
    ErrorBody,
    HubSpotNotFound,
    client_error,
    forbidden_error,
    unauthorized_error,
)
from parley_hubspot.limiter import Monotonic, RateLimiter, Sleep
from parley_hubspot.settings import HubSpotSettings

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]

USER_AGENT = "parley-hubspot/0.1.0"

# Waits between attempts when HubSpot's response names no better figure.
_BACKOFF = wait_exponential(multiplier=1, min=1, max=30)

# HubSpot returns 423 Locked while a record is being changed, and requires a
# wait of at least two seconds before the retry.
_LOCKED_WAIT = 2.0


@dataclass(frozen=True)
class Operation:
    """One kind of API call, for limits, logs and error messages.

    Attributes:
        name: what the call does, such as ``contacts search``.
        scope: the scope HubSpot requires for it.
        search: True when it counts against the search limit.
    """

    name: str
    scope: str
    search: bool = False


SEARCH_CONTACTS = Operation("contacts search", SCOPE_CONTACTS_READ, search=True)
READ_CONTACTS = Operation("contacts batch read", SCOPE_CONTACTS_READ)
UPDATE_CONTACT = Operation("contact update", SCOPE_CONTACTS_WRITE)
READ_PROPERTIES = Operation("contact properties read", SCOPE_SCHEMAS_READ)
CREATE_COMMUNICATION = Operation("communication create", SCOPE_CONTACTS_WRITE)


class _RetryableResponse(Exception):
    """One attempt failed in a way that the same request may not fail again.

    Attributes:
        reason: what failed, such as ``HTTP 503``; never the response body.
        retry_after: seconds to wait that HubSpot's response names, if any.
    """

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class HubSpotClient:
    """The HubSpot calls this plugin makes, each rate-limited and retried.

    Before each request the client waits for room in the account's rolling
    10-second window and, for searches, in the per-second search window.
    429, 423 and 5xx responses and network errors are retried up to
    ``max_attempts`` attempts, waiting as long as the response requests: its
    ``Retry-After`` header, else its ``X-HubSpot-RateLimit-Interval-Milliseconds``
    header, else the window of the 429's policy, else exponential backoff
    from 1 to 30 seconds.
    """

    def __init__(
        self,
        settings: HubSpotSettings,
        *,
        sleep: Sleep = time.sleep,
        monotonic: Monotonic = time.monotonic,
        clock: Clock | None = None,
        time_zone: str = "UTC",
    ) -> None:
        """Create a client.

        Args:
            settings: the plugin's settings.
            sleep: waits the given seconds; tests pass a fake one.
            monotonic: a monotonic clock in seconds, read with ``sleep``.
            clock: the current time, for the wait until the daily limit resets.
            time_zone: the zone whose midnight resets the daily limit; HubSpot
                resets it at midnight in the account's zone.
        """
        from hubspot import HubSpot
        from urllib3.util.retry import Retry

        self._settings = settings
        self._sleep = sleep
        self._clock = clock
        self._zone = ZoneInfo(time_zone)
        self._timeout = (settings.timeout_seconds, settings.timeout_seconds)
        self.limiter = RateLimiter(
            settings.requests_per_ten_seconds,
            settings.search_requests_per_second,
            sleep=sleep,
            monotonic=monotonic,
        )
        # hubspot-api-client 12.0.0 hands its `retry` argument to urllib3 as
        # is. Tried against a local server that returns 429 with HubSpot's
        # body: Retry(total=3, status_forcelist=[429]) does not retry POST
        # at all (search and batch read are POSTs, and urllib3's default
        # allowed_methods leaves POST out); it retries GET at once with no
        # wait, ignoring the 10-second window; and when the attempts run out
        # it raises urllib3's MaxRetryError instead of ApiException, so the
        # status and body are lost. Even with allowed_methods=None and a
        # backoff_factor the waits are urllib3's exponential ones, because
        # only Retry-After is read, which HubSpot does not send. So urllib3
        # retries nothing here (total=0) and this class retries instead.
        api = HubSpot(
            access_token=settings.access_token.get_secret_value(),
            host=settings.base_url,
            retry=Retry(total=0, redirect=0, raise_on_redirect=False),
        )
        # Each attribute access on the discovery objects builds a new API
        # client with its own connection pool, so each API is built once.
        self._search_api = api.crm.contacts.search_api
        self._batch_api = api.crm.contacts.batch_api
        self._basic_api = api.crm.contacts.basic_api
        self._properties = api.crm.properties.core_api
        self._communications = api.crm.objects.communications.basic_api
        for sdk_api in (
            self._search_api,
            self._batch_api,
            self._basic_api,
            self._properties,
            self._communications,
        ):
            sdk_api.api_client.user_agent = USER_AGENT

    def search_contacts(self, body: Mapping[str, Any]) -> Mapping[str, Any]:
        """Run a CRM search of contacts and return the response body.

        Args:
            body: the search request: ``filterGroups``, ``properties``,
                ``sorts``, ``limit`` and ``after``.
        """
        return self._call(
            SEARCH_CONTACTS,
            lambda: self._search_api.do_search(
                public_object_search_request=dict(body), **self._request_options()
            ),
        )

    def read_contacts(
        self, ids: Sequence[str], properties: Sequence[str]
    ) -> Iterator[Mapping[str, Any]]:
        """Read contacts by id, up to 100 per request, and yield each one found.

        Ids HubSpot does not find (deleted or merged away) are left out.
        """
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), BATCH_READ_MAX_INPUTS):
            chunk = unique[start : start + BATCH_READ_MAX_INPUTS]
            body = {
                "properties": list(properties),
                "propertiesWithHistory": [],
                "inputs": [{"id": contact_id} for contact_id in chunk],
            }
            payload = self._call(
                READ_CONTACTS,
                lambda body=body: self._batch_api.read(
                    batch_read_input_simple_public_object_id=body,
                    **self._request_options(),
                ),
            )
            missing = payload.get("numErrors")
            if missing:
                logger.info(
                    "HubSpot did not return %s of %d contacts in a batch read",
                    missing,
                    len(chunk),
                )
            yield from _objects(payload.get("results"))

    def contact_properties(self) -> list[Mapping[str, Any]]:
        """Return the definitions of every contact property of the account."""
        payload = self._call(
            READ_PROPERTIES,
            lambda: self._properties.get_all("contacts", **self._request_options()),
        )
        return _objects(payload.get("results"))

    def update_contact(self, contact_id: str, properties: Mapping[str, str]) -> None:
        """Set properties of one contact.

        Raises:
            HubSpotNotFound: the contact does not exist.
        """
        self._call(
            UPDATE_CONTACT,
            lambda: self._basic_api.update(
                contact_id,
                simple_public_object_input={"properties": dict(properties)},
                **self._request_options(),
            ),
        )

    def create_communication(
        self, contact_id: str, properties: Mapping[str, str]
    ) -> str:
        """Log a communication (an SMS or WhatsApp message) on a contact.

        Returns:
            The new communication's id.
        """
        body = {
            "properties": dict(properties),
            "associations": [
                {
                    "to": {"id": contact_id},
                    "types": [
                        {
                            "associationCategory": "HUBSPOT_DEFINED",
                            "associationTypeId": COMMUNICATION_CONTACT_ASSOCIATION,
                        }
                    ],
                }
            ],
        }
        payload = self._call(
            CREATE_COMMUNICATION,
            lambda: self._communications.create(
                simple_public_object_input_for_create=body, **self._request_options()
            ),
        )
        return str(payload.get("id") or "")

    def _request_options(self) -> dict[str, Any]:
        return {"_preload_content": False, "_request_timeout": self._timeout}

    def _call(self, operation: Operation, send: Callable[[], Any]) -> Mapping[str, Any]:
        max_wait = self._settings.max_retry_wait_seconds
        retrying = Retrying(
            stop=stop_after_attempt(self._settings.max_attempts),
            wait=_retry_wait,
            retry=retry_if_exception(lambda err: _worth_waiting(err, max_wait)),
            sleep=self._sleep,
            before_sleep=lambda state: _log_retry(operation, state, self._settings),
            reraise=True,
        )
        try:
            return retrying(self._attempt, operation, send)
        except _RetryableResponse as err:
            raise RetriableSyncError(
                f"[{PLUGIN_ID}] HubSpot {operation.name} failed with {err.reason} "
                f"after {self._settings.max_attempts} attempts or a wait longer than "
                f"{max_wait:g} s; it is tried again later",
                retry_after=err.retry_after,
            ) from err

    def _attempt(
        self, operation: Operation, send: Callable[[], Any]
    ) -> Mapping[str, Any]:
        from urllib3.exceptions import HTTPError

        exceptions = _api_exceptions()
        self.limiter.acquire(search=operation.search)
        try:
            response = send()
        except exceptions as err:
            raise self._classify(operation, err) from err
        except HTTPError as err:
            raise _RetryableResponse(f"a network error ({type(err).__name__})") from err

        try:
            body = response.data
        finally:
            response.release_conn()
        self._note_remaining(_lower_headers(response.headers))
        return _json_object(body)

    def _classify(self, operation: Operation, err: Any) -> Exception:
        status = int(getattr(err, "status", 0) or 0)
        headers = _lower_headers(getattr(err, "headers", None))
        body = ErrorBody.parse(getattr(err, "body", None))

        if status == 429:
            return self._rate_limited(body, headers)
        if status == 423:
            return _RetryableResponse("HTTP 423 Locked", retry_after=_LOCKED_WAIT)
        if status >= 500 or status == 0:
            reason = f"HTTP {status}" if status else "a connection error"
            return _RetryableResponse(reason, retry_after=_retry_after(headers))
        if status == 401:
            return unauthorized_error(operation.name, body)
        if status == 403:
            return forbidden_error(operation.name, operation.scope, body)
        if status == 404:
            return HubSpotNotFound(
                f"[{PLUGIN_ID}] HubSpot {operation.name}: not found (HTTP 404)"
            )
        return client_error(operation.name, status, body)

    def _rate_limited(
        self, body: ErrorBody, headers: Mapping[str, str]
    ) -> _RetryableResponse:
        policy = body.policy or "no policy"
        reason = f"HTTP 429 ({policy})"
        if body.policy == POLICY_DAILY:
            return _RetryableResponse(reason, retry_after=self._until_daily_reset())

        wait = _retry_after(headers)
        if wait is None:
            wait = _interval_seconds(headers)
        if wait is None:
            wait = POLICY_WINDOWS.get(body.policy or "")
        if wait is not None:
            window = self.limiter.search if body.policy == "SECONDLY" else None
            (window or self.limiter.general).pause(wait)
        return _RetryableResponse(reason, retry_after=wait)

    def _until_daily_reset(self) -> float:
        now = (self._clock() if self._clock else datetime.now(self._zone)).astimezone(
            self._zone
        )
        midnight = (now + timedelta(days=1)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        return max((midnight - now).total_seconds(), 1.0)

    def _note_remaining(self, headers: Mapping[str, str]) -> None:
        """Pause the general window when HubSpot reports it full."""
        remaining = headers.get(HEADER_RATE_LIMIT_REMAINING.lower())
        if remaining is None or remaining.strip() != "0":
            return
        interval = _interval_seconds(headers)
        if interval:
            self.limiter.general.pause(interval)


def _api_exceptions() -> tuple[type[Exception], ...]:
    """Return the ApiException class of each hubspot-api-client package this client calls."""
    from hubspot.crm.contacts.exceptions import ApiException as ContactsError
    from hubspot.crm.objects.communications.exceptions import (
        ApiException as CommunicationsError,
    )
    from hubspot.crm.properties.exceptions import ApiException as PropertiesError

    return (ContactsError, PropertiesError, CommunicationsError)


def _worth_waiting(error: BaseException, max_wait: float) -> bool:
    if not isinstance(error, _RetryableResponse):
        return False
    return error.retry_after is None or error.retry_after <= max_wait


def _retry_wait(state: RetryCallState) -> float:
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, _RetryableResponse) and error.retry_after is not None:
        return error.retry_after
    return _BACKOFF(state)


def _log_retry(
    operation: Operation, state: RetryCallState, settings: HubSpotSettings
) -> None:
    error = state.outcome.exception() if state.outcome else None
    reason = error.reason if isinstance(error, _RetryableResponse) else "an error"
    wait = state.next_action.sleep if state.next_action else 0.0
    logger.warning(
        "HubSpot %s failed with %s (attempt %d of %d); retrying in %.2f s",
        operation.name,
        reason,
        state.attempt_number,
        settings.max_attempts,
        wait,
    )


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Read ``Retry-After`` in seconds; HubSpot documents it only for webhooks."""
    value = headers.get(HEADER_RETRY_AFTER.lower())
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def _interval_seconds(headers: Mapping[str, str]) -> float | None:
    value = headers.get(HEADER_RATE_LIMIT_INTERVAL.lower())
    if value is None:
        return None
    try:
        milliseconds = float(value.strip())
    except ValueError:
        return None
    return milliseconds / 1000 if milliseconds > 0 else None


def _lower_headers(raw: Any) -> dict[str, str]:
    """Return headers keyed in lower case.

    urllib3 gives an ``HTTPHeaderDict``; a replayed response may give a list
    of ``(name, value)`` pairs instead.
    """
    if raw is None:
        return {}
    pairs = raw.items() if isinstance(raw, Mapping) else raw
    headers: dict[str, str] = {}
    for name, value in pairs:
        headers.setdefault(str(name).lower(), str(value))
    return headers


def _json_object(body: bytes | None) -> Mapping[str, Any]:
    if not body:
        return {}
    try:
        data = json.loads(body)
    except ValueError as err:
        raise FatalSyncError(
            f"[{PLUGIN_ID}] HubSpot returned a response body that is not JSON; check "
            f"{PLUGIN_ID}.base_url"
        ) from err
    return data if isinstance(data, Mapping) else {}


def _objects(value: Any) -> list[Mapping[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]
