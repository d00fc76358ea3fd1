"""Graph API error responses turned into :class:`parley.DeliveryError`.

A refused send comes back as the Graph error envelope
``{"error": {"message", "type", "code", "error_data": {"details"},
"fbtrace_id"}}``. Meta recommends deciding by ``code`` rather than by
message text. The codes below are those of Meta's WhatsApp error-code
table, as restated in YCloud's WhatsApp error guide.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from parley import DeliveryError
from parley_whatsapp.const import PLUGIN_ID

# Throughput limits: per phone number (130429), per business and user pair
# (131056), per account (80007) and the Graph API's own call limit (4).
RATE_LIMIT_CODES = frozenset({4, 80007, 130429, 131056})
# Meta's pair rate allows about one message every 6 seconds to one user.
PAIR_RATE_WAIT_SECONDS = 6.0
PAIR_RATE_CODE = 131056

# Temporary failures on Meta's side: unknown error, service unavailable.
TRANSIENT_CODES = frozenset({1, 2, 131000, 131016})

REENGAGEMENT_CODE = 131047
INVALID_TOKEN_CODE = 190
# The token lacks a permission, or the app lacks access to the number.
PERMISSION_CODES = frozenset({3, 10, *range(200, 300)})
# The recipient cannot receive the message:
# - 131026: not on WhatsApp, terms not accepted, or an outdated app.
# - 131030: not in a test number's allowed list.
# - 131062: a BSUID recipient, which this message type does not support.
RECIPIENT_CODES = frozenset({131026, 131030, 131062})
# The template or its parameters do not match the approved template.
TEMPLATE_CODES = frozenset(
    {131008, 131009, 132000, 132001, 132005, 132007, 132012, 132015, 132016, 132018}
)
# The sending number or business cannot send: not registered (133010),
# account locked (131031), payment problem (131042), policy block (368).
ACCOUNT_CODES = frozenset({133010, 131031, 131042, 368})
# Meta holds back marketing templates to a user it judges saturated.
MARKETING_CAP_CODE = 131049

# Error texts are cut to this length, after digit runs are masked.
_MAX_TEXT = 200
_DIGIT_RUN = re.compile(r"\+?\d[\d ().-]{5,}\d")


@dataclass(frozen=True)
class GraphError:
    """The parts of a Graph error envelope that decide what to do.

    Attributes:
        status: the HTTP status.
        code: ``error.code``, or None when the body had no envelope.
        message: ``error.message``, with digit runs masked.
        details: ``error.error_data.details``, with digit runs masked.
        trace_id: ``error.fbtrace_id``, which Meta support requests.
    """

    status: int
    code: int | None
    message: str
    details: str
    trace_id: str | None

    @classmethod
    def from_response(cls, status: int, payload: Any) -> GraphError:
        """Read the envelope of an error response body (parsed JSON or None)."""
        error = payload.get("error") if isinstance(payload, Mapping) else None
        if not isinstance(error, Mapping):
            return cls(status, None, "", "", None)

        code = error.get("code")
        data = error.get("error_data")
        details = data.get("details") if isinstance(data, Mapping) else None
        trace_id = error.get("fbtrace_id")
        return cls(
            status=status,
            code=code if isinstance(code, int) and not isinstance(code, bool) else None,
            message=_safe_text(error.get("message")),
            details=_safe_text(details),
            trace_id=trace_id if isinstance(trace_id, str) else None,
        )

    def describe(self) -> str:
        """Return ``HTTP 400, code 131047: message (details), fbtrace_id ...``."""
        parts = [f"HTTP {self.status}"]
        if self.code is not None:
            parts.append(f"code {self.code}")
        text = self.message
        if self.details and self.details != self.message:
            text = f"{text} ({self.details})" if text else self.details
        summary = ", ".join(parts) + (f": {text}" if text else "")
        if self.trace_id:
            summary += f", fbtrace_id {self.trace_id}"
        return summary


def delivery_error(
    error: GraphError, kind: str, template: str | None, retry_after: float | None
) -> DeliveryError:
    """Classify a refused send as a retriable or permanent delivery error.

    Args:
        error: the response's status and error envelope.
        kind: the message kind, named in template hints.
        template: the template name when a template was sent, else None.
        retry_after: seconds from a ``Retry-After`` header, when present.
    """
    code = error.code
    summary = error.describe()
    code_text = str(code) if code is not None else None

    if code in RATE_LIMIT_CODES or (code is None and error.status == 429):
        wait = retry_after
        if wait is None and code == PAIR_RATE_CODE:
            wait = PAIR_RATE_WAIT_SECONDS
        return DeliveryError(
            f"[{PLUGIN_ID}] the Graph API rate limit was hit ({summary}); the send "
            "is retried later",
            permanent=False,
            retry_after=wait,
            code=code_text,
        )
    if code in TRANSIENT_CODES or (code is None and error.status >= 500):
        return DeliveryError(
            f"[{PLUGIN_ID}] the Graph API failed temporarily ({summary}); the send "
            "is retried later",
            permanent=False,
            retry_after=retry_after,
            code=code_text,
        )
    return DeliveryError(
        _permanent_message(error, kind, template),
        permanent=True,
        code=code_text,
    )


def _permanent_message(error: GraphError, kind: str, template: str | None) -> str:
    code = error.code
    summary = error.describe()
    section = f"[{PLUGIN_ID}.templates.{kind}]"

    if code == INVALID_TOKEN_CODE or (code is None and error.status == 401):
        return (
            f"[{PLUGIN_ID}] the Graph API rejected the access token ({summary}); set a "
            f"valid system user token in [{PLUGIN_ID}] access_token or "
            "PARLEY_WHATSAPP__ACCESS_TOKEN"
        )
    if code in PERMISSION_CODES or (code is None and error.status == 403):
        return (
            f"[{PLUGIN_ID}] the access token may not send from this phone number "
            f"({summary}); give the system user the whatsapp_business_messaging "
            f"permission and access to the WhatsApp account of [{PLUGIN_ID}] "
            "phone_number_id"
        )
    if code == REENGAGEMENT_CODE:
        return (
            f"[{PLUGIN_ID}] WhatsApp refused free-form text outside the 24-hour "
            f"customer service window ({summary}); configure {section} with an "
            "approved template so such messages go out as a template"
        )
    if code in RECIPIENT_CODES:
        return (
            f"[{PLUGIN_ID}] the recipient cannot receive this WhatsApp message "
            f"({summary}); they may not use WhatsApp, may need to update or accept "
            "its terms, or are not in a test number's allowed list"
        )
    if code in TEMPLATE_CODES:
        name = template or "(free-form text)"
        return (
            f"[{PLUGIN_ID}] WhatsApp rejected template {name} for {kind} ({summary}); "
            f"check that {section} name, language and the number of parameters "
            "match the template approved in WhatsApp Manager"
        )
    if code in ACCOUNT_CODES:
        return (
            f"[{PLUGIN_ID}] the WhatsApp Business account cannot send ({summary}); "
            f"check [{PLUGIN_ID}] phone_number_id, the number's registration and "
            "the account's status in WhatsApp Manager"
        )
    if code == MARKETING_CAP_CODE:
        return (
            f"[{PLUGIN_ID}] Meta held back this marketing template to protect the "
            f"recipient's experience ({summary}); it is not retried"
        )
    return f"[{PLUGIN_ID}] the Graph API refused the message ({summary})"


def _safe_text(value: object) -> str:
    """Return provider text cut short, with phone-number-like digit runs masked."""
    if not isinstance(value, str):
        return ""
    masked = _DIGIT_RUN.sub(_mask, value.strip())
    return masked[:_MAX_TEXT]


def _mask(match: re.Match[str]) -> str:
    digits = [char for char in match.group(0) if char.isdigit()]
    return "*" * (len(digits) - 2) + "".join(digits[-2:])
