"""Send pacing: keeps each sender under its provider's messages-per-second rate.

Channels report a sender key and its rate through
:meth:`parley.Channel.throughput`. The outbox requests a slot from the pacer
before each send. A slot that is free within ``max_wait`` seconds is taken
and waited for; a later one is not taken, and the outbox defers the message
to that time instead, so that a long backlog on a slow sender does not hold
send threads or outlive the outbox's claim.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class SendPacer:
    """Spaces sends that share a sender key by ``1 / per_second`` seconds.

    NOTE: the pacing is per process. Several daemons sending from one sender
    each keep to the rate on their own, so together they can exceed it.
    """

    def __init__(
        self,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_free: dict[str, float] = {}

    def acquire(self, key: str, per_second: float, max_wait: float) -> float | None:
        """Take the sender's next slot and wait for it, if it is free soon enough.

        Args:
            key: the sender, such as its phone number.
            per_second: the sender's rate; zero or less means no limit.
            max_wait: the maximum wait, in seconds, worth holding a thread for.

        Returns:
            None when the slot was taken and its time has come, otherwise
            the seconds until the next slot is free; that slot was not taken.
        """
        if per_second <= 0:
            return None

        interval = 1.0 / per_second
        with self._lock:
            now = self._monotonic()
            slot = max(now, self._next_free.get(key, now))
            wait = slot - now
            if wait > max_wait:
                return wait
            self._next_free[key] = slot + interval

        if wait > 0:
            self._sleep(wait)
        return None
