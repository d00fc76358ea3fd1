"""Contact syncs: plugins that copy a CRM's contacts into the local store.

A plugin registers a :class:`ContactSync` through the
``register_contact_syncs`` hook. The daemon runs it every
``interval_seconds``; ``parley contacts sync --plugin ID`` runs it once in
the foreground with a progress bar. The sync keeps its own cursor with
``context.set_state`` after each page, so a run that is interrupted resumes
where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class SyncProgress(Protocol):
    """Receives a running sync's counts, for the progress bar."""

    def set_total(self, total: int | None) -> None:
        """Set how many contacts the run expects to process, when known."""

    def advance(self, count: int) -> None:
        """Add ``count`` contacts to those processed."""


class SilentProgress:
    """A progress receiver that only counts; the daemon uses it."""

    def __init__(self) -> None:
        self.total: int | None = None
        self.processed = 0

    def set_total(self, total: int | None) -> None:
        """Store the expected total."""
        self.total = total

    def advance(self, count: int) -> None:
        """Count processed contacts."""
        self.processed += count


@dataclass(frozen=True)
class ContactSync:
    """A plugin's job that copies its contacts into the local contact store.

    Attributes:
        plugin_id: the plugin that owns it.
        interval_seconds: time between the end of one daemon run and the
            next start.
        run: the job. It stores each contact with
            ``context.sync_contact(record)`` and reports counts to the
            progress receiver. With ``full=True`` it starts from the
            beginning instead of from its saved cursor. It raises
            :class:`parley.errors.SyncError` subclasses on failure.
    """

    plugin_id: str
    interval_seconds: float
    run: Callable[[SyncProgress, bool], None]
