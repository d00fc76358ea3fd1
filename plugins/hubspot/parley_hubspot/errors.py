"""HubSpot error responses turned into parley's sync errors, with the fix in the message.

HubSpot's error body generally has ``status``, ``message``, ``category``,
``correlationId`` and ``errors[]``; a 429 body adds ``policyName``. Every
field is treated as optional.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from parley import FatalSyncError
from parley_hubspot.const import PLUGIN_ID

TOKEN_SETTING = f"{PLUGIN_ID}.access_token (PARLEY_HUBSPOT__ACCESS_TOKEN)"

# HubSpot's message is cut to this length in errors.
_MAX_MESSAGE = 200

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_DIGIT_RUN = re.compile(r"\+?\d[\d\s().-]{5,}\d")


class HubSpotNotFound(FatalSyncError):
    """HubSpot returned 404: the contact, property or path does not exist."""


@dataclass(frozen=True)
class ErrorBody:
    """The parts of a HubSpot error body this plugin reads.

    Attributes:
        category: ``MISSING_SCOPES``, ``EXPIRED_AUTHENTICATION``, ``RATE_LIMITS``...
        message: HubSpot's message, with email addresses and phone-like digit
            runs masked.
        policy: the rate-limit policy of a 429, such as ``TEN_SECONDLY_ROLLING``.
        scopes: scopes a 403 names as required.
        correlation_id: HubSpot's id of the failed request, for its support.
    """

    category: str | None
    message: str | None
    policy: str | None
    scopes: tuple[str, ...]
    correlation_id: str | None

    @classmethod
    def parse(cls, body: bytes | str | None) -> ErrorBody:
        """Read an error body; a body that is not a JSON object gives empty fields."""
        data = _json_object(body)
        scopes: list[str] = []
        for error in _list(data.get("errors")):
            context = error.get("context") if isinstance(error, Mapping) else None
            if not isinstance(context, Mapping):
                continue
            for key in ("requiredGranularScopes", "requiredScopes"):
                for scope in _list(context.get(key)):
                    if isinstance(scope, str) and scope not in scopes:
                        scopes.append(scope)

        message = _text(data.get("message"))
        return cls(
            category=_text(data.get("category")),
            message=mask_personal_data(message)[:_MAX_MESSAGE] if message else None,
            policy=_text(data.get("policyName")),
            scopes=tuple(scopes),
            correlation_id=_text(data.get("correlationId")),
        )


def unauthorized_error(operation: str, body: ErrorBody) -> FatalSyncError:
    """Return the error for a 401: the token to replace and where."""
    expired = body.category == "EXPIRED_AUTHENTICATION"
    reason = "has expired" if expired else "is invalid or was revoked"
    hint = (
        " OAuth access tokens expire after 30 minutes and parley does not refresh "
        "them; use a private app's token."
        if expired
        else ""
    )
    return FatalSyncError(
        f"[{PLUGIN_ID}] HubSpot rejected the access token on {operation} (HTTP 401): "
        f"the token {reason}. Set {TOKEN_SETTING} to the current token of the "
        f"private app.{hint}"
    )


def forbidden_error(operation: str, scope: str, body: ErrorBody) -> FatalSyncError:
    """Return the error for a 403: the scope the app is missing."""
    scopes = ", ".join(body.scopes) if body.scopes else scope
    if body.category == "MISSING_SCOPES" or body.scopes:
        return FatalSyncError(
            f"[{PLUGIN_ID}] HubSpot rejected {operation} because the app lacks the "
            f"scope {scopes} (HTTP 403). Add it in the app's scopes; if HubSpot "
            f"issues a new token, update {TOKEN_SETTING}."
        )
    return FatalSyncError(
        f"[{PLUGIN_ID}] HubSpot rejected {operation} (HTTP 403, "
        f"{body.category or 'no category'}); check that the app has the scope "
        f"{scope} and that the account's subscription includes this API."
    )


def client_error(operation: str, status: int, body: ErrorBody) -> FatalSyncError:
    """Return the error for another 4xx, with HubSpot's masked message."""
    details = body.message or "no message"
    if body.correlation_id:
        details += f"; correlation id {body.correlation_id}"
    return FatalSyncError(
        f"[{PLUGIN_ID}] HubSpot rejected {operation} with HTTP {status} "
        f"({body.category or 'no category'}): {details}"
    )


def mask_personal_data(text: str) -> str:
    """Mask email addresses and phone-like digit runs, for messages and logs."""
    text = _EMAIL.sub("<email>", text)
    return _DIGIT_RUN.sub(lambda match: mask_phone(match.group(0)), text)


def mask_phone(value: str | None) -> str:
    """Return a phone number with all but its last two digits hidden."""
    if not value:
        return "(none)"
    digits = [char for char in value if char.isdigit()]
    return "*" * max(len(digits) - 2, 0) + "".join(digits[-2:])


def _json_object(body: bytes | str | None) -> Mapping[str, Any]:
    if not body:
        return {}
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
