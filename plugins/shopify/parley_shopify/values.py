"""Tolerant readers for values in Shopify's JSON bodies.

Webhook bodies are external input: any key may be missing, null or of an
unexpected type, so these helpers return None or an empty container
instead of raising.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any


def as_dict(value: Any) -> Mapping[str, Any]:
    """Return ``value`` when it is a JSON object, else an empty mapping."""
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> Sequence[Any]:
    """Return ``value`` when it is a JSON array, else an empty list."""
    return value if isinstance(value, list) else []


def as_text(value: Any) -> str | None:
    """Return a string or an integer id as stripped text; None when empty or other.

    Shopify ids are 64-bit integers in REST bodies, so ``6120459210842``
    becomes ``"6120459210842"``.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def parse_timestamp(value: str | None) -> datetime | None:
    """Parse an ISO 8601 timestamp; None when it is missing or invalid.

    Shopify writes body timestamps with the shop's UTC offset
    (``2026-11-16T10:15:22-05:00``) and ``X-Shopify-Triggered-At`` in UTC
    with a ``Z``. A timestamp without an offset is taken as UTC.
    """
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None

    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed


def parse_amount(value: Any) -> Decimal | None:
    """Parse a money amount; Shopify sends them as strings such as ``"116.63"``."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def format_money(amount: Decimal, currency: str | None) -> str:
    """Format an amount as a person reads it: ``1,234.50 USD``.

    The number keeps the decimal places Shopify sent, because currencies
    differ in their minor units and the shop's own amounts already use the
    right ones.
    """
    text = f"{amount:,f}"
    return f"{text} {currency}" if currency else text


# ISO 4217 currencies whose minor unit is not a hundredth.
_ZERO_DECIMAL_CURRENCIES = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX"}
    | {"UYI", "VND", "VUV", "XAF", "XOF", "XPF"}
)
_THREE_DECIMAL_CURRENCIES = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})


def with_minor_units(amount: Decimal, currency: str | None) -> Decimal:
    """Give an amount at least the decimal places of its currency's minor unit.

    GraphQL money amounts can come without trailing zeros (``"10.0"``) where
    REST bodies write ``"10.00"``. Padding them keeps the text of an update
    the same whichever API it came from. Extra places are kept.
    """
    code = (currency or "").upper()
    if code in _ZERO_DECIMAL_CURRENCIES:
        places = 0
    elif code in _THREE_DECIMAL_CURRENCIES:
        places = 3
    else:
        places = 2

    exponent = amount.as_tuple().exponent
    if not isinstance(exponent, int) or -exponent >= places:
        return amount
    return amount.quantize(Decimal(1).scaleb(-places))
