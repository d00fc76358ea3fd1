"""Prometheus metrics of one daemon, served at ``/metrics``.

Each :class:`Metrics` owns its own registry instead of the prometheus-client
default, so that several daemons built in one process (as tests do) keep
separate counters. Counters count what this process did since it started.
With several daemons on one PostgreSQL database, scrape each one and sum
the series. The outbox gauges are read from the store at scrape time, so
every daemon reports the same shared outbox.

Label values are bounded: plugin and channel ids, event kinds, gate rule
names and fixed outcome words. Message, contact and conversation ids never
become labels.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from parley.context import Clock, utc_now
from parley.gate import GateDecision, SendGate, SendRequest
from parley.store import Store, schema

__all__ = [
    "CONTENT_TYPE_LATEST",
    "CountingGate",
    "Metrics",
    "OutboxHealth",
    "OutboxStats",
    "OutboxWatch",
    "blocking_rule",
    "outbox_stats",
]

logger = logging.getLogger(__name__)

# Provider calls usually take tens to hundreds of milliseconds; the top
# buckets catch calls that run into the HTTP client's timeout.
PROVIDER_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# A send thread waits at most MAX_PACING_WAIT_SECONDS (2 s) for a slot.
RATE_WAIT_BUCKETS = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)


class Metrics:
    """The counters and histograms of one daemon, with their registry.

    Args:
        clock: the time recorded as the outbox's last progress.
        monotonic: the timer for provider calls and rate-limiter waits.
    """

    def __init__(
        self,
        clock: Clock = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self.monotonic = monotonic
        self.registry = CollectorRegistry()
        # The time the outbox worker last finished handling a claimed message,
        # whatever the outcome; /readyz uses it to tell a stuck outbox from a
        # busy one.
        self.last_outbox_progress: datetime | None = None
        self._outbox_collector: Collector | None = None

        self.webhooks = Counter(
            "parley_webhooks_received",
            "Webhook requests received, by plugin or channel id and outcome "
            "(accepted, rejected, too_large, disconnected, error).",
            ["plugin", "outcome"],
            registry=self.registry,
        )
        self.events = Counter(
            "parley_events_processed",
            "Stored events the event worker handled, by kind and outcome "
            "(processed, retried, failed).",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.messages = Counter(
            "parley_messages",
            "Outbound messages by channel, status (sent, blocked, failed) and "
            "reason: a send gate rule name or a fixed failure cause.",
            ["channel", "status", "reason"],
            registry=self.registry,
        )
        self.provider_seconds = Histogram(
            "parley_provider_request_seconds",
            "Duration of a channel's send call to its provider, in seconds.",
            ["channel"],
            buckets=PROVIDER_BUCKETS,
            registry=self.registry,
        )
        self.provider_retries = Counter(
            "parley_provider_retries",
            "Send attempts that failed transiently and were scheduled again.",
            ["channel"],
            registry=self.registry,
        )
        self.rate_wait_seconds = Histogram(
            "parley_rate_limiter_wait_seconds",
            "Time a send waited for its sender's rate-limit slot, in seconds.",
            ["channel"],
            buckets=RATE_WAIT_BUCKETS,
            registry=self.registry,
        )
        self.rate_deferrals = Counter(
            "parley_rate_limiter_deferrals",
            "Sends put back in the outbox because the sender's next slot was "
            "too far away to wait for.",
            ["channel"],
            registry=self.registry,
        )

    # Recording

    def webhook_received(self, plugin: str, outcome: str) -> None:
        """Count one webhook request of a plugin or channel."""
        self.webhooks.labels(plugin=plugin, outcome=outcome).inc()

    def event_processed(self, kind: str, outcome: str) -> None:
        """Count one event the event worker handled."""
        self.events.labels(kind=kind, outcome=outcome).inc()

    def message_outcome(self, channel: str, status: str, reason: str = "") -> None:
        """Count one outbound message that reached a final status."""
        self.messages.labels(channel=channel, status=status, reason=reason).inc()

    def outbox_progress(self) -> None:
        """Record that the outbox worker finished handling a claimed message."""
        self.last_outbox_progress = self.clock()

    def provider_retry(self, channel: str) -> None:
        """Count one send attempt scheduled again after a transient failure."""
        self.provider_retries.labels(channel=channel).inc()

    def rate_limiter_deferral(self, channel: str) -> None:
        """Count one send deferred because its sender's slot was too far away."""
        self.rate_deferrals.labels(channel=channel).inc()

    @contextlib.contextmanager
    def time_provider_request(self, channel: str) -> Iterator[None]:
        """Observe how long the block takes, whether it returns or raises."""
        with self._timed(self.provider_seconds.labels(channel=channel)):
            yield

    def rate_limiter_waited(self, channel: str, seconds: float) -> None:
        """Observe the time one send waited for its sender's slot."""
        self.rate_wait_seconds.labels(channel=channel).observe(max(seconds, 0.0))

    @contextlib.contextmanager
    def _timed(self, histogram: Histogram) -> Iterator[None]:
        started = self.monotonic()
        try:
            yield
        finally:
            histogram.observe(max(self.monotonic() - started, 0.0))

    # Scraping

    def watch_outbox(self, store: Store, clock: Clock) -> None:
        """Add the outbox depth and age gauges, read from ``store`` at each scrape."""
        if self._outbox_collector is not None:
            self.registry.unregister(self._outbox_collector)
        self._outbox_collector = OutboxCollector(store, clock)
        self.registry.register(self._outbox_collector)

    def render(self) -> bytes:
        """Return every metric in the Prometheus text format."""
        return generate_latest(self.registry)


@dataclass(frozen=True)
class OutboxStats:
    """The outbox at one instant.

    Attributes:
        depth: messages in the outbox, due or not.
        due: messages whose next attempt time has come.
        oldest_age_seconds: age of the oldest message in the outbox.
        oldest_due_seconds: how long the earliest due message has waited
            past its next attempt time; 0 when nothing is due.
    """

    depth: int
    due: int
    oldest_age_seconds: float
    oldest_due_seconds: float


def outbox_stats(store: Store, now: datetime) -> OutboxStats:
    """Count the outbox and measure its oldest messages.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the store cannot be reached.
    """
    box = schema.outbox
    due = box.c.next_attempt_at <= now
    query = select(
        func.count(),
        func.min(box.c.created_at),
        func.count().filter(due),
        func.min(box.c.next_attempt_at).filter(due),
    )
    with store.read_engine.connect() as conn:
        depth, oldest, due_count, earliest_due = conn.execute(query).one()
    return OutboxStats(
        depth=int(depth),
        due=int(due_count or 0),
        oldest_age_seconds=_seconds_since(oldest, now),
        oldest_due_seconds=_seconds_since(earliest_due, now),
    )


def _seconds_since(moment: datetime | None, now: datetime) -> float:
    if moment is None:
        return 0.0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=now.tzinfo)
    return max((now - moment).total_seconds(), 0.0)


class OutboxCollector(Collector):
    """Reads the outbox gauges from the store when Prometheus scrapes."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def describe(self) -> Iterable[Metric]:
        # Describing without querying keeps registration free of store access.
        return list(self._families(None))

    def collect(self) -> Iterable[Metric]:
        try:
            stats = outbox_stats(self.store, self.clock())
        except SQLAlchemyError as err:
            # The scrape still returns the counters; /readyz reports the store.
            logger.warning(
                "metrics: cannot read the outbox from the store: %s",
                type(err).__name__,
            )
            stats = None
        return list(self._families(stats))

    def _families(self, stats: OutboxStats | None) -> Iterator[Metric]:
        values = (
            (
                "parley_outbox_depth",
                "Messages in the outbox, due or waiting for a later time.",
                stats.depth if stats else None,
            ),
            (
                "parley_outbox_due_messages",
                "Messages in the outbox whose next attempt time has come.",
                stats.due if stats else None,
            ),
            (
                "parley_outbox_oldest_age_seconds",
                "Age of the oldest message in the outbox, in seconds.",
                stats.oldest_age_seconds if stats else None,
            ),
            (
                "parley_outbox_oldest_due_seconds",
                "How long the earliest due message has waited past its next "
                "attempt time, in seconds.",
                stats.oldest_due_seconds if stats else None,
            ),
        )
        for name, documentation, value in values:
            family = GaugeMetricFamily(name, documentation)
            if value is not None:
                family.add_metric([], float(value))
            yield family


def blocking_rule(decision: GateDecision) -> str:
    """Return the name of the send gate rule that blocked a message.

    Rule names are a fixed set, so they are safe as label values, unlike
    the decision's reason text, which names addresses and times.
    """
    for result in decision.results:
        if not result.passed and result.defer_until is None:
            return result.rule
    return "unknown"


class CountingGate:
    """A send gate that counts the messages it blocks.

    The event worker's gate is wrapped in one, so that messages blocked
    when they are queued are counted beside those the outbox blocks.

    NOTE: an event that fails after its gate check and is processed again
    counts its blocked message again.
    """

    def __init__(self, gate: SendGate, metrics: Metrics) -> None:
        self.gate = gate
        self.metrics = metrics

    def check(
        self, request: SendRequest, now: datetime, **options: object
    ) -> GateDecision:
        """Evaluate the wrapped gate and count a blocking decision."""
        decision = self.gate.check(request, now, **options)  # type: ignore[arg-type]
        if not decision.allowed and not decision.deferred:
            self.metrics.message_outcome(
                request.channel or "unknown", "blocked", blocking_rule(decision)
            )
        return decision

    def __getattr__(self, name: str) -> object:
        return getattr(self.gate, name)


# A claimed message keeps its next attempt time while its send runs, so it
# looks overdue until the claim ends. The stuck threshold stays above two
# claim timeouts, and at least this many seconds.
MIN_STUCK_AFTER_SECONDS = 300.0


@dataclass(frozen=True)
class OutboxHealth:
    """The outbox's state, as ``/readyz`` reports it.

    Attributes:
        state: ``ok`` or ``stuck``.
        cause: why it is stuck and what to check; None when it is not.
        details: numbers for the JSON body.
    """

    state: str
    cause: str | None
    details: dict[str, float | int]


class OutboxWatch:
    """Tells a stuck outbox from a busy one, for ``/readyz``.

    The outbox is stuck when its earliest due message has waited past its
    attempt time longer than the threshold, and this process's outbox
    worker has finished no message for as long (counted from ``start``).

    Args:
        store: the store the outbox lives in.
        metrics: where the outbox worker records its progress.
        clock: the daemon's clock.
        stuck_after_seconds: the threshold; None derives it from the claim
            timeout.
        claim_timeout_seconds: ``[outbox] claim_timeout_seconds``.
    """

    def __init__(
        self,
        store: Store,
        metrics: Metrics,
        clock: Clock,
        stuck_after_seconds: float | None,
        claim_timeout_seconds: float,
    ) -> None:
        if stuck_after_seconds is not None and stuck_after_seconds <= 0:
            raise ValueError(
                f"outbox_stuck_after_seconds must be positive, got {stuck_after_seconds}"
            )
        self.store = store
        self.metrics = metrics
        self.clock = clock
        self.stuck_after_seconds = stuck_after_seconds or max(
            MIN_STUCK_AFTER_SECONDS, 2 * claim_timeout_seconds
        )
        self.started_at: datetime | None = None

    def start(self) -> None:
        """Mark the time the workers started, the baseline for progress."""
        self.started_at = self.clock()

    def check(self) -> OutboxHealth:
        """Return the outbox's health now.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the store cannot be reached.
        """
        now = self.clock()
        stats = outbox_stats(self.store, now)
        idle = self._idle_seconds(now)
        details: dict[str, float | int] = {
            "outbox_depth": stats.depth,
            "outbox_due": stats.due,
            "outbox_oldest_due_seconds": round(stats.oldest_due_seconds, 1),
        }
        limit = self.stuck_after_seconds
        if stats.oldest_due_seconds <= limit or idle <= limit:
            return OutboxHealth("ok", None, details)
        cause = (
            f"the outbox is stuck: a message has been due for "
            f"{stats.oldest_due_seconds:.0f} s and this daemon finished no message "
            f"for {idle:.0f} s (threshold {limit:.0f} s); check the outbox worker "
            "in the log and the provider's status"
        )
        return OutboxHealth("stuck", cause, details)

    def _idle_seconds(self, now: datetime) -> float:
        marks = [
            mark
            for mark in (self.metrics.last_outbox_progress, self.started_at)
            if mark is not None
        ]
        if not marks:
            return float("inf")
        return max((now - max(marks)).total_seconds(), 0.0)
