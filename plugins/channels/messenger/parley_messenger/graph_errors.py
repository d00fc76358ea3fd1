"""Graph API error responses of the Send API, turned into ``DeliveryError``.

A failed request returns the Graph error envelope
``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}``.
The code, and for some codes the subcode, decides whether the same request
can succeed later. The codes below are those of Meta's Messenger Platform
"Common Error Codes" and Send API error pages; any other code is judged by
the HTTP status (429 and 5xx are retried, other statuses are not).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from parley import DeliveryError
from parley_messenger.const import Platform

# Retried: rate limits (4 application, 17 user, 32 Page, 613 calls per hour,
# 80006 Messenger business-use-case limit) and temporary failures (1 unknown,
# 2 service unavailable, 1200 temporary send failure).
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, 80006})
TEMPORARY_CODES = frozenset({1, 2, 1200})

INVALID_TOKEN_CODE = 190
PERMISSION_CODE = 10
OUTSIDE_WINDOW_SUBCODE = 2018278
RESTRICTED_PAGE_SUBCODE = 1893063
POLICY_BLOCK_CODE = 368
RECIPIENT_UNAVAILABLE_CODE = 551
INVALID_PARAMETER_CODE = 100
NO_MATCHING_USER_SUBCODE = 2018001

# Graph codes 200-299 are permission errors (230: pages_messaging missing).
_PERMISSION_CODES = range(200, 300)

_MAX_GRAPH_MESSAGE = 200


@dataclass(frozen=True)
class GraphError:
    """The fields of a Graph error envelope that decide what to do.

    Attributes:
        status: the HTTP status.
        code: ``error.code``, or None when the body had none.
        subcode: ``error.error_subcode``, or None.
        message: ``error.message`` cut to a short length, or "".
        trace_id: ``error.fbtrace_id``, which Meta support requests.
    """

    status: int
    code: int | None
    subcode: int | None
    message: str
    trace_id: str | None

    @classmethod
    def from_body(cls, status: int, body: Any) -> GraphError:
        """Read the envelope of a response body; missing parts become None."""
        error = body.get("error") if isinstance(body, Mapping) else None
        if not isinstance(error, Mapping):
            return cls(status, None, None, "", None)

        message = error.get("message")
        trace_id = error.get("fbtrace_id")
        return cls(
            status=status,
            code=_as_int(error.get("code")),
            subcode=_as_int(error.get("error_subcode")),
            message=message[:_MAX_GRAPH_MESSAGE] if isinstance(message, str) else "",
            trace_id=trace_id if isinstance(trace_id, str) else None,
        )

    @property
    def code_text(self) -> str | None:
        """The code as stored with the message: ``613`` or ``10/2018278``."""
        if self.code is None:
            return None
        if self.subcode is None:
            return str(self.code)
        return f"{self.code}/{self.subcode}"

    def describe(self) -> str:
        """Return ``Graph error 10/2018278 (HTTP 400): <message> [fbtrace_id <id>]``."""
        text = f"Graph error {self.code_text or 'without a code'} (HTTP {self.status})"
        if self.message:
            text += f": {self.message}"
        if self.trace_id:
            text += f" [fbtrace_id {self.trace_id}]"
        return text


def delivery_error(
    error: GraphError, platform: Platform, retry_after: float | None
) -> DeliveryError:
    """Return the ``DeliveryError`` for a failed send.

    Args:
        error: the parsed error response.
        platform: the platform, for its name and settings in the message.
        retry_after: seconds from a ``Retry-After`` header, if any.
    """
    label = platform.label
    description = error.describe()
    code = error.code

    if code in RATE_LIMIT_CODES:
        return _retriable(
            f"{label} rate limit reached, {description}", error, retry_after
        )
    if code in TEMPORARY_CODES:
        return _retriable(
            f"{label} failed temporarily, {description}", error, retry_after
        )
    if code == INVALID_TOKEN_CODE:
        setting = f"[{platform.channel_id}] {platform.token_setting}"
        env = f"{platform.env_prefix}{platform.token_setting.upper()}"
        return _permanent(
            f"{label} rejected the access token, {description}; put a valid token in "
            f"{setting} ({env})",
            error,
        )
    if code == PERMISSION_CODE:
        return _permanent(_permission_message(error, platform), error)
    if code is not None and code in _PERMISSION_CODES:
        return _permanent(
            f"the {label} access token lacks a permission, {description}; grant the "
            f"app the messaging permission for the {platform.account_noun} and "
            f"put the new token in [{platform.channel_id}] {platform.token_setting}",
            error,
        )
    if code == RECIPIENT_UNAVAILABLE_CODE:
        return _permanent(
            f"the recipient is not available on {label}, {description}; they may have "
            f"blocked the {platform.account_noun} or closed their account",
            error,
        )
    if code == POLICY_BLOCK_CODE:
        return _permanent(
            f"{label} blocked the {platform.account_noun} from sending for a "
            f"policy violation, {description}",
            error,
        )
    if code == INVALID_PARAMETER_CODE and error.subcode == NO_MATCHING_USER_SUBCODE:
        return _permanent(
            f"{label} knows no person with this id for the "
            f"{platform.account_noun}, {description}; ids are scoped to one "
            f"{platform.account_noun}",
            error,
        )
    return _by_status(error, label, description, retry_after)


def _permission_message(error: GraphError, platform: Platform) -> str:
    label = platform.label
    description = error.describe()
    if error.subcode == OUTSIDE_WINDOW_SUBCODE:
        return (
            f"{label} rejected the message as outside the allowed messaging "
            f"window, {description}; the customer has to write again before a "
            "free-form message can go out"
        )
    if error.subcode == RESTRICTED_PAGE_SUBCODE:
        return (
            f"{label} has temporarily restricted the {platform.account_noun} "
            f"from messaging, {description}; check the account's status in Meta "
            "Business Suite"
        )
    return (
        f"{label} rejected the message for lack of permission, {description}; check "
        f"that the app has the messaging permission and, for tagged messages, "
        "approval of the tag's feature"
    )


def _by_status(
    error: GraphError, label: str, description: str, retry_after: float | None
) -> DeliveryError:
    if error.status == 429 or error.status >= 500:
        return _retriable(f"{label} failed, {description}", error, retry_after)
    return _permanent(f"{label} rejected the message, {description}", error)


def _retriable(
    message: str, error: GraphError, retry_after: float | None
) -> DeliveryError:
    return DeliveryError(
        f"{message}; retried later",
        permanent=False,
        retry_after=retry_after,
        code=error.code_text,
    )


def _permanent(message: str, error: GraphError) -> DeliveryError:
    return DeliveryError(message, permanent=True, code=error.code_text)


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None
