"""Poller leases: each poller runs in one daemon at a time on a shared PostgreSQL store.

Every daemon starts a thread per poller. Before each run the thread takes
the poller's lease, a row in the store naming the holder's worker id and an
expiry ``[outbox] poller_lease_seconds`` ahead. The holder renews it every
third of that time, also while a run is in progress; the other daemons find
it held and stand by, checking as often. When the holder dies, its lease
expires and a standby takes it over, so the poller stops for at most the
lease duration plus one check interval. A daemon that stops gracefully
releases its leases at once.

The lease row also stores when the poller last finished, so a daemon that
takes the lease over keeps the poller's interval instead of running it at
once. Lease times come from the daemons' clocks, which must agree to within
a few seconds (NTP). A SQLite store serves one daemon, which runs every
poller without a lease.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from parley.context import Clock, Poller, utc_now
from parley.log_context import log_context

if TYPE_CHECKING:
    from parley.store import Store
    from parley.store.coordination import Lease

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SharedPoller(Poller):
    """A poller whose runs are coordinated through a lease in a shared store.

    ``run`` is still the bare job, so calling it runs the job at once; the
    daemon's poller thread goes through :class:`LeasedPollerStep` instead.
    """

    store: Store | None = field(default=None, compare=False, repr=False)
    worker_id: str = ""
    lease_seconds: float = 30.0
    clock: Clock = field(default=utc_now, compare=False, repr=False)


def share_poller(
    poller: Poller, store: Store, worker_id: str, lease_seconds: float, clock: Clock
) -> SharedPoller:
    """Return the poller with what its thread needs to take a lease."""
    return SharedPoller(
        plugin_id=poller.plugin_id,
        name=poller.name,
        interval_seconds=poller.interval_seconds,
        run=poller.run,
        store=store,
        worker_id=worker_id,
        lease_seconds=lease_seconds,
        clock=clock,
    )


class PollerLease:
    """One worker's view of one poller's lease."""

    def __init__(
        self, store: Store, name: str, worker_id: str, seconds: float, clock: Clock
    ) -> None:
        self.store = store
        self.name = name
        self.worker_id = worker_id
        self.seconds = seconds
        self.clock = clock
        self.held = False
        self._standby_logged = False

    @property
    def check_seconds(self) -> float:
        """Seconds between renewals by the holder and checks by the others."""
        return self.seconds / 3

    def hold(self) -> Lease | None:
        """Take or renew the lease; return it, or None when another worker holds it."""
        lease = self.store.take_lease(
            self.name, self.worker_id, self.clock(), self.seconds
        )
        if lease is not None and not self.held:
            logger.info("poller %s: this daemon now runs it", self.name)
        elif lease is None and self.held:
            logger.warning(
                "poller %s: lease taken over by another daemon; standing by",
                self.name,
            )
        elif lease is None and not self._standby_logged:
            self._standby_logged = True
            logger.info(
                "poller %s: the lease is held by another daemon; waiting", self.name
            )
        self.held = lease is not None
        return lease

    def finished(self) -> None:
        """Record the end of a run in the lease row."""
        if not self.store.finish_lease_run(self.name, self.worker_id, self.clock()):
            logger.warning(
                "poller %s: the lease expired during the run; another daemon may "
                "have started the poller meanwhile",
                self.name,
            )

    def release(self) -> None:
        """Give the lease up, when held, so that a standby daemon takes over at once."""
        if self.held and self.store.release_lease(
            self.name, self.worker_id, self.clock()
        ):
            logger.info("poller %s: lease released", self.name)
        self.held = False

    @contextlib.contextmanager
    def renewing(self) -> Iterator[None]:
        """Renew the lease in a background thread for as long as the block runs."""
        done = threading.Event()

        def renew() -> None:
            while not done.wait(self.check_seconds):
                try:
                    lease = self.store.take_lease(
                        self.name, self.worker_id, self.clock(), self.seconds
                    )
                except Exception:  # noqa: BLE001 - keep renewing after a store outage
                    logger.exception("poller %s: lease renewal failed", self.name)
                    continue
                if lease is None:
                    logger.warning(
                        "poller %s: lease lost during a run; another daemon may run "
                        "the poller at the same time",
                        self.name,
                    )
                    return

        thread = threading.Thread(target=renew, name=f"lease {self.name}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()


class LeasedPollerStep:
    """The loop step of a poller thread that runs the job only while holding its lease.

    The loop calls :meth:`wait_seconds` for the pause before the next step
    and :meth:`close` when it stops.
    """

    def __init__(self, poller: Poller, lease: PollerLease) -> None:
        self.poller = poller
        self.lease = lease
        self._wait = 0.0

    def __call__(self) -> bool:
        """Run the job when this worker holds the lease and the job is due."""
        with log_context(plugin=self.poller.plugin_id):
            return self._step()

    def _step(self) -> bool:
        self._wait = min(self.lease.check_seconds, self.poller.interval_seconds)
        lease = self.lease.hold()
        if lease is None:
            self._wait = self.lease.check_seconds
            return False

        now = self.lease.clock()
        if lease.last_run_at is not None:
            due = lease.last_run_at + timedelta(seconds=self.poller.interval_seconds)
            if now < due:
                until_due = (due - now).total_seconds()
                self._wait = min(self.lease.check_seconds, until_due)
                return False

        try:
            with self.lease.renewing():
                self.poller.run()
        finally:
            self.lease.finished()
        return False

    def wait_seconds(self) -> float:
        """Return the pause before the next step, in seconds."""
        return self._wait

    def close(self) -> None:
        """Release the lease when the thread stops."""
        self.lease.release()
