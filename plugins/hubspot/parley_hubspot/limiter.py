"""Client-side rate limits: HubSpot's rolling 10-second limit and the search limit.

HubSpot counts requests per account in a rolling window and returns 429
once the window is full. Search responses carry no rate-limit headers, so
waiting on this side is the only way to stay under the search limit.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

Sleep = Callable[[float], None]
Monotonic = Callable[[], float]


class SlidingWindow:
    """At most ``limit`` acquisitions in any ``window_seconds``, across threads."""

    def __init__(
        self,
        limit: int,
        window_seconds: float,
        *,
        sleep: Sleep = time.sleep,
        monotonic: Monotonic = time.monotonic,
    ) -> None:
        """Create a window.

        Args:
            limit: acquisitions allowed per window; at least 1.
            window_seconds: the window's length.
            sleep: waits the given seconds; tests pass a fake one.
            monotonic: a monotonic clock in seconds, read with ``sleep``.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        self.limit = limit
        self.window_seconds = window_seconds
        self._sleep = sleep
        self._monotonic = monotonic
        self._starts: deque[float] = deque()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait until one more request fits in the window, then count it.

        Returns:
            The seconds waited, 0.0 when the request could go at once.
        """
        waited = 0.0
        while True:
            with self._lock:
                now = self._monotonic()
                wait = self._wait_at(now)
                if wait <= 0:
                    self._starts.append(now)
                    return waited
            self._sleep(wait)
            waited += wait

    def pause(self, seconds: float) -> None:
        """Let no request start for ``seconds``, as when HubSpot reports the window full."""
        with self._lock:
            until = self._monotonic() + seconds
            self._paused_until = max(self._paused_until, until)

    def _wait_at(self, now: float) -> float:
        while self._starts and self._starts[0] <= now - self.window_seconds:
            self._starts.popleft()

        wait = self._paused_until - now
        if len(self._starts) >= self.limit:
            wait = max(wait, self._starts[0] + self.window_seconds - now)
        return wait


class RateLimiter:
    """The account's general window and the tighter search window.

    A search request counts against both windows, because HubSpot counts it
    towards the account's totals as well.
    """

    def __init__(
        self,
        requests_per_ten_seconds: int,
        search_requests_per_second: int,
        *,
        sleep: Sleep = time.sleep,
        monotonic: Monotonic = time.monotonic,
    ) -> None:
        """Create the two windows.

        Args:
            requests_per_ten_seconds: the account's burst limit.
            search_requests_per_second: the CRM search limit.
            sleep: waits the given seconds; tests pass a fake one.
            monotonic: a monotonic clock in seconds.
        """
        self.general = SlidingWindow(
            requests_per_ten_seconds, 10.0, sleep=sleep, monotonic=monotonic
        )
        self.search = SlidingWindow(
            search_requests_per_second, 1.0, sleep=sleep, monotonic=monotonic
        )

    def acquire(self, *, search: bool) -> float:
        """Wait for room in the windows a request counts against.

        Returns:
            The seconds waited in all.
        """
        waited = self.search.acquire() if search else 0.0
        return waited + self.general.acquire()
