"""Masks phone numbers and email addresses in log records.

:class:`RedactFilter` sits on the log handler, so it also masks what a
plugin logs with a full number. It formats the message with its arguments,
masks the result and stores it as the record's message; it masks the
exception text, the stack text and string values passed with ``extra=`` in
the same way.

A phone number here is a run of at least seven digits that is not part of
a word and that either starts with ``+`` or is written with spaces, dots,
dashes or brackets between its digit groups, or a bare run of ten or eleven
digits shaped like a North American number (``4155550123``,
``14155550123``). Such a run keeps its last two digits. Runs that are ISO
dates or timestamps are left alone.

Other bare digit runs stay readable, because they are the ids an operator
searches for: HubSpot contact ids, Shopify order ids, Meta page and phone
number ids. The cost is that a number from outside North America written
without ``+`` and without separators is not recognised; parley's own code
masks numbers before it logs them, and plugins should use
:func:`parley.mask_phone` the same way.
"""

from __future__ import annotations

import logging
import re

from parley.phones import mask_phone

MIN_PHONE_DIGITS = 7

# The record attribute that keeps the message template before masking.
TEMPLATE_ATTRIBUTE = "parley_template"

_TOKEN = re.compile(
    r"(?P<timestamp>\b\d{4}-\d{2}-\d{2}"
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?)"
    r"|(?P<email>[\w.+-]+@[\w-]+(?:\.[\w-]+)+)"
    r"|(?P<phone>(?<!\w)\+?\d[\d\s().-]{5,}\d(?!\w))"
)

# A bare North American number: an optional 1, an area code and an exchange
# that do not start with 0 or 1, and four more digits.
_BARE_NANP = re.compile(r"1?[2-9]\d{2}[2-9]\d{6}")

_STANDARD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None))
) | {"message", "asctime"}


def mask_text(text: str) -> str:
    """Return text with phone numbers and email addresses masked."""
    return _TOKEN.sub(_mask_token, text)


def _mask_token(match: re.Match[str]) -> str:
    if match.group("email") is not None:
        return "<email>"
    phone = match.group("phone")
    if phone is not None and _looks_like_phone(phone):
        return mask_phone(phone)
    return match.group(0)


def _looks_like_phone(run: str) -> bool:
    if sum(c.isdigit() for c in run) < MIN_PHONE_DIGITS:
        return False
    if run.startswith("+") or not run.isdigit():
        return True
    return _BARE_NANP.fullmatch(run) is not None


class RedactFilter(logging.Filter):
    """Replaces a record's message, exception and string extras with masked text."""

    def __init__(self) -> None:
        super().__init__()
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the record in place; never drops it."""
        # The repeat filter groups records by their template, so keep it
        # when another handler sees this record after this one.
        if not hasattr(record, TEMPLATE_ATTRIBUTE):
            setattr(record, TEMPLATE_ATTRIBUTE, str(record.msg))
        record.msg = mask_text(_message_of(record))
        record.args = None

        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)

        for name, value in list(vars(record).items()):
            if name == TEMPLATE_ATTRIBUTE:
                continue
            if name not in _STANDARD_ATTRIBUTES and isinstance(value, str):
                setattr(record, name, mask_text(value))
        return True


def _message_of(record: logging.LogRecord) -> str:
    """Format the message, or describe it when its arguments do not fit."""
    try:
        return record.getMessage()
    except (TypeError, ValueError) as err:
        # logging would report this through handleError and drop the record;
        # keeping the template still shows what was being logged.
        return f"{record.msg} (log arguments did not fit the message: {err})"
