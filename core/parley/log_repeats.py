"""Counts repeated warnings and errors instead of logging each one.

A provider outage can make every send fail with the same error, hundreds
of times a minute. :class:`RepeatFilter` lets the first record of a kind
through, where the kind is the logger, the level and the message template
(``record.msg`` before its arguments are filled in). It drops the repeats
that follow within the window and, once the window has passed, logs one
line saying how many it dropped. The next record of that kind after the
summary starts a new window and goes through.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from parley.log_redaction import TEMPLATE_ATTRIBUTE

DEFAULT_WINDOW_SECONDS = 60.0

# Marks the summary records this filter makes, so that they pass it.
_SUMMARY_ATTRIBUTE = "parley_repeat_summary"

_Key = tuple[str, int, str]


@dataclass
class _Window:
    started: float
    suppressed: int = 0
    last: logging.LogRecord | None = None


class RepeatFilter(logging.Filter):
    """Drops repeats of a WARNING-or-worse record within a window, then counts them.

    Args:
        emit: where summary records go, usually the ``handle`` method of the
            handler the filter is attached to.
        window_seconds: how long repeats are dropped after the first record.
        clock: monotonic time in seconds; tests pass a fake one.
        background: when True, a timer thread logs the summary when the
            window ends. Without it the summary is logged with the next
            record that reaches the filter, or by :meth:`flush`.
    """

    def __init__(
        self,
        emit: Callable[[logging.LogRecord], object],
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        background: bool = True,
    ) -> None:
        super().__init__()
        if window_seconds <= 0:
            raise ValueError(f"window_seconds must be positive, got {window_seconds}")
        self.emit = emit
        self.window_seconds = window_seconds
        self.clock = clock
        self.background = background
        # Re-entrant: emitting a summary passes it through this filter again.
        self._lock = threading.RLock()
        self._windows: dict[_Key, _Window] = {}
        self._timer: threading.Timer | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        """Return False for a repeat inside its window; log ended windows first."""
        if getattr(record, _SUMMARY_ATTRIBUTE, False):
            return True
        self.flush_expired()
        if record.levelno < logging.WARNING:
            return True

        template = getattr(record, TEMPLATE_ATTRIBUTE, None) or str(record.msg)
        key = (record.name, record.levelno, template)
        with self._lock:
            window = self._windows.get(key)
            if window is None:
                self._windows[key] = _Window(started=self.clock())
                return True
            window.suppressed += 1
            window.last = record
            self._schedule_flush()
        return False

    def flush_expired(self) -> None:
        """Log the summary of every window that has ended and forget it."""
        self._flush(lambda window: self.clock() - window.started >= self.window_seconds)

    def flush(self) -> None:
        """Log the summary of every open window now, as at shutdown."""
        self._flush(lambda window: True)

    def _flush(self, ended: Callable[[_Window], bool]) -> None:
        with self._lock:
            done = [key for key, window in self._windows.items() if ended(window)]
            windows = [self._windows.pop(key) for key in done]
        for window in windows:
            if window.suppressed and window.last is not None:
                self.emit(self._summary(window))

    def _summary(self, window: _Window) -> logging.LogRecord:
        last = window.last
        assert last is not None
        elapsed = min(self.clock() - window.started, self.window_seconds)
        summary = logging.makeLogRecord(vars(last))
        summary.msg = f"{last.getMessage()} (repeated {window.suppressed} times in the last {elapsed:.0f} s)"
        summary.args = None
        summary.exc_info = None
        summary.exc_text = None
        summary.stack_info = None
        setattr(summary, _SUMMARY_ATTRIBUTE, True)
        return summary

    def _schedule_flush(self) -> None:
        """Start a timer that logs summaries once the oldest window ends."""
        if not self.background or self._timer is not None:
            return
        oldest = min(window.started for window in self._windows.values())
        delay = max(oldest + self.window_seconds - self.clock(), 0.0)
        self._timer = threading.Timer(delay, self._on_timer)
        self._timer.daemon = True
        self._timer.start()

    def _on_timer(self) -> None:
        with self._lock:
            self._timer = None
        self.flush_expired()
        with self._lock:
            if any(window.suppressed for window in self._windows.values()):
                self._schedule_flush()

    def close(self) -> None:
        """Stop the timer and log what is still counted."""
        with self._lock:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        self.flush()
