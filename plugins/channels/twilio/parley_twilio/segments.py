"""SMS segment counts for pacing and send logs, from the core's counter."""

from __future__ import annotations

from parley import count_segments


def segment_count(body: str) -> int:
    """Return how many SMS segments the body takes (GSM-7 or UCS-2)."""
    return count_segments(body).segments
