"""Retry delays for durable retries, computed with tenacity's wait strategies.

Retries of queued messages and events survive restarts, so the delay is
computed once and stored as the next attempt time, instead of sleeping
inside a tenacity retry loop.
"""

from __future__ import annotations

import tenacity


def retry_delay(
    attempt: int,
    initial: float,
    maximum: float,
    retry_after: float | None = None,
) -> float:
    """Return seconds to wait before attempt ``attempt + 1``.

    The delay grows exponentially from ``initial`` with random jitter, is
    capped at ``maximum``, and is never shorter than a provider's
    ``Retry-After``.

    Args:
        attempt: the number of the attempt that just failed, from 1.
        initial: the first delay, in seconds.
        maximum: the largest delay, in seconds.
        retry_after: what the provider asked for, in seconds, if anything.
    """
    wait = tenacity.wait_exponential(
        multiplier=initial, max=maximum
    ) + tenacity.wait_random(0, initial)
    state = tenacity.RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = max(attempt, 1)
    delay = min(float(wait(state)), maximum)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay
