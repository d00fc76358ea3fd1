"""Normalisation of phone numbers and email addresses into channel addresses.

Phone numbers are parsed with the ``phonenumbers`` package (a port of
Google's libphonenumber) and stored in E.164, so ``(415) 555-0123``,
``+1 415 555 0123``, ``14155550123`` as a WhatsApp id, and
``whatsapp:+14155550123`` from Twilio all become ``+14155550123``.
"""

from __future__ import annotations

import re

import phonenumbers


def normalize_phone(raw: str | None, default_region: str = "US") -> str | None:
    """Return a phone number in E.164, or None when it is not a possible number.

    Args:
        raw: the number as a person or provider wrote it. A ``whatsapp:`` or
            ``tel:`` prefix is dropped. Digits without ``+`` that start with a
            country code are read as international when they do not form a
            possible number of ``default_region``.
        default_region: ISO country code for numbers written in national form.
    """
    if raw is None:
        return None
    text = raw.strip()
    for prefix in ("whatsapp:", "tel:", "sms:"):
        if text.lower().startswith(prefix):
            text = text[len(prefix) :].strip()
    if not text:
        return None

    candidates = [text]
    if not text.startswith("+") and text.isdigit():
        candidates.append("+" + text)

    for candidate in candidates:
        number = _parse(candidate, default_region)
        if number is not None and phonenumbers.is_possible_number(number):
            return phonenumbers.format_number(
                number, phonenumbers.PhoneNumberFormat.E164
            )
    return None


def _parse(text: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None


def normalize_email(raw: str | None) -> str | None:
    """Return an email address stripped and in lower case, or None when it has no ``@``."""
    if raw is None:
        return None
    text = raw.strip().lower()
    if "@" not in text or text.startswith("@") or text.endswith("@"):
        return None
    return text


def mask_phone(value: str | None) -> str:
    """Return a phone number with all but its last two digits hidden, for logs."""
    if not value:
        return "(none)"
    digits = [c for c in value if c.isdigit()]
    return "*" * max(len(digits) - 2, 0) + "".join(digits[-2:])


_PHONE_LIKE = re.compile(r"\+?\d[\d\s().-]{5,}\d")
_EMAIL_LIKE = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


def redact(text: str) -> str:
    """Mask phone-number-like digit runs and email addresses in free text, for logs."""
    text = _EMAIL_LIKE.sub("<email>", text)
    return _PHONE_LIKE.sub(lambda match: mask_phone(match.group(0)), text)
