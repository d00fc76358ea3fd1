"""Masking of phone numbers in logs and error messages.

Twilio's error messages can quote the number they refer to ("Invalid 'To'
Phone Number: +1415555012"), and parley keeps full phone numbers out of its
logs and stored failure reasons, so such text passes through here first.
"""

from __future__ import annotations

import re

_PHONE_LIKE = re.compile(r"\+?\d[\d\s().-]{5,}\d")


def mask_phone(value: str | None) -> str:
    """Return a phone number with all but its last two digits hidden."""
    if not value:
        return "(none)"
    digits = [char for char in value if char.isdigit()]
    return "*" * max(len(digits) - 2, 0) + "".join(digits[-2:])


def redact_numbers(text: str) -> str:
    """Mask every run of digits in free text that could be a phone number."""
    return _PHONE_LIKE.sub(lambda match: mask_phone(match.group(0)), text)
