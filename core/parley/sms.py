"""SMS encoding detection and segment counting.

A message is sent as GSM-7 when every character is in the GSM 7-bit default
alphabet or its extension table (3GPP TS 23.038, formerly GSM 03.38), and as
UCS-2 otherwise. The encoding sets how much text fits in one segment:

========  ==============  ==========================
Encoding  Single segment  Each part of a split message
========  ==============  ==========================
GSM-7     160 septets     153 septets
UCS-2     70 code units   67 code units
========  ==============  ==========================

A split message loses 7 septets (or 3 UCS-2 units) per part to the
concatenation header, and each part travels as a separate SMS.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "GSM7_BASIC_CHARS",
    "GSM7_EXTENSION_CHARS",
    "GSM7_PART_SEPTETS",
    "GSM7_SINGLE_SEPTETS",
    "UCS2_PART_UNITS",
    "UCS2_SINGLE_UNITS",
    "SegmentInfo",
    "SmsEncoding",
    "ascii_replacements",
    "count_segments",
]


# The basic table of the GSM 7-bit default alphabet, without the escape code
# 0x1B, which only introduces an extension-table character.
GSM7_BASIC_CHARS: frozenset[str] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)

# Extension-table characters. Each is sent as the escape code followed by its
# own code, so it takes 2 septets. "\f" is the form feed (page break) control.
GSM7_EXTENSION_CHARS: frozenset[str] = frozenset("\f^{}\\[]~|€")

GSM7_SINGLE_SEPTETS = 160
GSM7_PART_SEPTETS = 153
UCS2_SINGLE_UNITS = 70
UCS2_PART_UNITS = 67

# Typographic characters that word processors insert, mapped to GSM-7
# equivalents. Keys are code points, as str.translate expects.
_ASCII_REPLACEMENTS: dict[int, str] = {
    ord("\u2018"): "'",  # left single quotation mark
    ord("\u2019"): "'",  # right single quotation mark, also the apostrophe
    ord("\u201a"): "'",  # single low-9 quotation mark
    ord("\u201c"): '"',  # left double quotation mark
    ord("\u201d"): '"',  # right double quotation mark
    ord("\u201e"): '"',  # double low-9 quotation mark
    ord("\u2010"): "-",  # hyphen
    ord("\u2011"): "-",  # non-breaking hyphen
    ord("\u2013"): "-",  # en dash
    ord("\u2014"): "-",  # em dash
    ord("\u2026"): "...",  # horizontal ellipsis
    ord("\u00a0"): " ",  # no-break space
    ord("\u202f"): " ",  # narrow no-break space
}


class SmsEncoding(enum.StrEnum):
    """Character encoding of an SMS body. Formats as its value, such as "GSM-7"."""

    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@dataclass(frozen=True)
class SegmentInfo:
    """Encoding and size of an SMS body.

    Attributes:
        encoding: Encoding the body needs.
        units: Encoded length. For GSM-7 this is septets, where
            extension-table characters count 2. For UCS-2 this is UTF-16 code
            units, where a character outside the Basic Multilingual Plane
            (most emoji) counts 2.
        segments: Number of segments the body is split into. 0 for an empty
            body.
        per_segment: Capacity of each segment in `units`: 160 or 70 when the
            body fits in one segment (or is empty), 153 or 67 when it is split.
        non_gsm_chars: Distinct characters outside the GSM 7-bit alphabet, in
            order of first appearance. These force UCS-2, so the tuple is
            empty for GSM-7 bodies.
    """

    encoding: SmsEncoding
    units: int
    segments: int
    per_segment: int
    non_gsm_chars: tuple[str, ...]


def count_segments(text: str) -> SegmentInfo:
    """Detect the encoding of an SMS body and count its segments.

    A split message is counted by packing characters into parts greedily,
    because no character may straddle two parts. An extension-table character
    (escape code plus code) and a UTF-16 surrogate pair each stay in one part.
    A part that cannot fit the next such character ends one unit short, so
    the count can exceed ``ceil(units / per_part)``.

    An empty body counts as 0 units and 0 segments because nothing is sent.
    Callers that bill a minimum of one segment apply that minimum themselves.

    Args:
        text: Message body as it will be sent.

    Returns:
        Encoding, encoded length, segment count, segment capacity and the
        characters that forced UCS-2.
    """
    non_gsm_chars = _find_non_gsm_chars(text)

    if non_gsm_chars:
        encoding = SmsEncoding.UCS2
        widths = [_ucs2_width(char) for char in text]
        single_capacity = UCS2_SINGLE_UNITS
        part_capacity = UCS2_PART_UNITS
    else:
        encoding = SmsEncoding.GSM7
        widths = [_gsm7_width(char) for char in text]
        single_capacity = GSM7_SINGLE_SEPTETS
        part_capacity = GSM7_PART_SEPTETS

    units = sum(widths)

    if units <= single_capacity:
        segments = 1 if units else 0
        per_segment = single_capacity
    else:
        segments = _pack_segments(widths, part_capacity)
        per_segment = part_capacity

    return SegmentInfo(
        encoding=encoding,
        units=units,
        segments=segments,
        per_segment=per_segment,
        non_gsm_chars=non_gsm_chars,
    )


def ascii_replacements(text: str) -> str:
    """Replace typographic punctuation with GSM-7 characters.

    Curly single quotes become ``'``, curly double quotes become ``"``,
    hyphen and dash characters become ``-``, the ellipsis becomes ``...`` and
    no-break spaces become plain spaces. Other characters are unchanged, so
    the result can still need UCS-2.

    Args:
        text: Message body.

    Returns:
        The body with the replacements applied.
    """
    return text.translate(_ASCII_REPLACEMENTS)


def _find_non_gsm_chars(text: str) -> tuple[str, ...]:
    found: dict[str, None] = {}

    for char in text:
        if char not in GSM7_BASIC_CHARS and char not in GSM7_EXTENSION_CHARS:
            found[char] = None

    return tuple(found)


def _gsm7_width(char: str) -> int:
    return 2 if char in GSM7_EXTENSION_CHARS else 1


def _ucs2_width(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def _pack_segments(widths: Iterable[int], capacity: int) -> int:
    segments = 1
    used = 0

    for width in widths:
        if used + width > capacity:
            segments += 1
            used = 0
        used += width

    return segments
