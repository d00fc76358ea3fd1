"""Background threads of the daemon: the event worker, the outbox worker and pollers.

Each runs a loop that does one unit of work, then waits for its interval
or for the stop signal. Stopping lets the current unit finish, so a
message being handed to a provider is recorded before the daemon exits.
Log records made while an event is processed carry its id.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from parley.backoff import retry_delay
from parley.context import PluginContext, Poller
from parley.leases import LeasedPollerStep, PollerLease, SharedPoller
from parley.log_context import log_context
from parley.metrics import Metrics
from parley.pipeline import EventProcessor
from parley.store.records import ClaimedEvent

logger = logging.getLogger(__name__)


class LoopThread:
    """Runs ``step`` in a thread until stopped.

    ``step`` returns True when it found work, and the loop then runs it
    again at once; otherwise it waits ``interval`` seconds. A step object
    with a ``wait_seconds()`` method sets that wait itself, and its
    ``close()`` method, when it has one, is called when the loop ends.
    """

    def __init__(self, name: str, step: Callable[[], bool], interval: float) -> None:
        self.name = name
        self.step = step
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.failures = 0

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self) -> None:
        """Ask the loop to stop after its current step."""
        self._stop.set()

    def join(self, timeout: float) -> bool:
        """Wait for the thread; return True when it has ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        """True while the thread runs."""
        return self._thread.is_alive()

    def _run(self) -> None:
        logger.info("%s started", self.name)
        while not self._stop.is_set():
            try:
                busy = self.step()
            except Exception:  # noqa: BLE001 - the daemon's outer loop logs and goes on
                self.failures += 1
                logger.exception(
                    "%s failed; retrying in %.1f s", self.name, self.interval
                )
                busy = False
            if not busy:
                self._stop.wait(self._wait_seconds())
        self._close_step()
        logger.info("%s stopped", self.name)

    def _wait_seconds(self) -> float:
        wait_seconds = getattr(self.step, "wait_seconds", None)
        if wait_seconds is None:
            return self.interval
        return max(float(wait_seconds()), 0.0)

    def _close_step(self) -> None:
        close = getattr(self.step, "close", None)
        if close is None:
            return
        try:
            close()
        except Exception:  # noqa: BLE001 - stopping must go on
            logger.exception("%s failed while stopping", self.name)


class EventWorker:
    """Claims stored events and processes them, retrying failures with backoff."""

    def __init__(
        self,
        context: PluginContext,
        processor: EventProcessor,
        worker_id: str,
        metrics: Metrics | None = None,
    ) -> None:
        self.context = context
        self.store = context.store
        self.settings = context.settings.outbox
        self.processor = processor
        self.worker_id = worker_id
        self.metrics = metrics or Metrics(clock=context.clock)

    def run_once(self) -> int:
        """Process one batch of due events; return how many were claimed."""
        claimed = self.store.claim_events(
            self.worker_id,
            self.settings.batch_size,
            self.context.clock(),
            self.settings.claim_timeout_seconds,
        )
        for event in claimed:
            self._process(event)
        return len(claimed)

    def _process(self, event: ClaimedEvent) -> None:
        with log_context(**event_log_ids(event)):
            try:
                self.processor.process(event)
            except Exception as err:  # noqa: BLE001 - a plugin failure must not stop the worker
                self._retry(event, err)
                return
            self.metrics.event_processed(event.kind, "processed")

    def _retry(self, event: ClaimedEvent, err: Exception) -> None:
        now = self.context.clock()
        error = f"{type(err).__name__}: {err}"
        if event.attempts >= self.settings.max_attempts:
            self.store.fail_event(event.id, error, now)
            self.metrics.event_processed(event.kind, "failed")
            logger.error(
                "event %s (%s from %s) failed after %d attempts: %s",
                event.id,
                event.kind,
                event.source,
                event.attempts,
                error,
                exc_info=err,
            )
            return

        retry_after = getattr(err, "retry_after", None)
        delay = retry_delay(
            event.attempts,
            self.settings.backoff_initial_seconds,
            self.settings.backoff_max_seconds,
            retry_after,
        )
        self.store.retry_event(event.id, error, now + timedelta(seconds=delay))
        self.metrics.event_processed(event.kind, "retried")
        logger.warning(
            "event %s (%s from %s) attempt %d failed: %s; retrying in %.1f s",
            event.id,
            event.kind,
            event.source,
            event.attempts,
            error,
            delay,
            exc_info=err,
        )


def event_log_ids(event: ClaimedEvent) -> dict[str, str | int | None]:
    """Return the log ids an event names: its id, and its channel or plugin.

    Inbound and sent-message events come from a channel; a ``message_sent``
    event also names its message and conversation. Order events come from
    the plugin that received them.
    """
    ids: dict[str, str | int | None] = {"event_id": event.id}
    if event.kind in ("message_received", "message_sent"):
        ids["channel"] = event.source
    elif event.kind == "order_status":
        ids["plugin"] = event.source
    message = event.payload.get("message") if event.kind == "message_sent" else None
    if isinstance(message, dict):
        ids["message_id"] = message.get("id")
        ids["conversation_id"] = message.get("conversation_id")
    return ids


def poller_step(poller: Poller) -> Callable[[], bool]:
    """Wrap a poller's job as a loop step.

    A :class:`~parley.leases.SharedPoller` runs only in the daemon that
    holds its lease; any other poller runs here and waits its interval.
    """
    if isinstance(poller, SharedPoller) and poller.store is not None:
        lease = PollerLease(
            poller.store,
            f"{poller.plugin_id}/{poller.name}",
            poller.worker_id,
            poller.lease_seconds,
            poller.clock,
        )
        return LeasedPollerStep(poller, lease)

    def step() -> bool:
        with log_context(plugin=poller.plugin_id):
            poller.run()
        return False

    return step


def worker_thread(
    name: str, run_once: Callable[[], int], interval: float
) -> LoopThread:
    """Build a loop thread for a worker whose ``run_once`` returns a count."""
    return LoopThread(name, lambda: run_once() > 0, interval)
