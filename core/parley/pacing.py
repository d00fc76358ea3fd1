"""Send pacing: keeps each sender under its provider's messages-per-second rate.

Channels report a sender key and its rate through
:meth:`parley.Channel.throughput`. The outbox requests a slot from the pacer
before each send. A slot that is free within ``max_wait`` seconds is taken
and waited for; a later one is not taken, and the outbox defers the message
to that time instead, so that a long backlog on a slow sender does not hold
send threads or outlive the outbox's claim.

:class:`SendPacer` keeps the slots in the process, for one daemon on
SQLite. :class:`StorePacer` keeps them in the store, so that several
daemons on one PostgreSQL database share each sender's rate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from parley.store import Store


class Pacer(Protocol):
    """The interface the outbox uses to pace sends."""

    def acquire(self, key: str, per_second: float, max_wait: float) -> float | None:
        """Take the sender's next slot and wait for it, if it is free soon enough."""
        ...


class SendPacer:
    """Spaces sends that share a sender key by ``1 / per_second`` seconds, in one process."""

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


class StorePacer:
    """Spaces sends that share a sender key across every daemon using the store.

    Each slot is reserved in a ``plugin_state`` row per sender, locked with
    ``SELECT ... FOR UPDATE``, and timed by the database server's clock, so
    daemons on several hosts take distinct slots ``1 / per_second`` apart.
    A send starts when its slot comes or a little later, never earlier.

    Args:
        store: the shared store.
        clock: epoch seconds; None uses the database server's clock.
        sleep: waits for a slot; tests pass a fake one.
    """

    def __init__(
        self,
        store: Store,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._store = store
        self._clock = clock
        self._sleep = sleep

    def acquire(self, key: str, per_second: float, max_wait: float) -> float | None:
        """Take the sender's next slot and wait for it, if it is free soon enough.

        Arguments and return value are those of :meth:`SendPacer.acquire`.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the store cannot be reached; the
                outbox retries the message later.
        """
        if per_second <= 0:
            return None

        now = self._clock() if self._clock is not None else None
        taken, wait = self._store.reserve_send_slot(
            key, 1.0 / per_second, max_wait, now=now
        )
        if not taken:
            return wait
        if wait > 0:
            self._sleep(wait)
        return None


def pacer_for(store: Store) -> Pacer:
    """Return the store-backed pacer on PostgreSQL and the in-process one on SQLite."""
    if store.is_sqlite:
        return SendPacer()
    return StorePacer(store)
