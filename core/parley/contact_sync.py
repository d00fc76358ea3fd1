"""``parley contacts sync``: run a plugin's contact sync in the foreground."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from parley.config import LoadedConfig
from parley.context import PluginContext
from parley.errors import ParleyError
from parley.runtime import collect_contact_syncs
from parley.store import open_store


class RateColumn(TextColumn):
    """Shows contacts per second for the running task."""

    def __init__(self) -> None:
        super().__init__("")

    def render(self, task):  # noqa: ANN001, ANN201 - rich's column protocol
        """Render the task's speed in contacts per second."""
        speed = task.finished_speed or task.speed
        self.text_format = f"{speed:,.0f} contacts/s" if speed else "-- contacts/s"
        return super().render(task)


class RichProgress:
    """Feeds a sync's counts into a rich progress bar."""

    def __init__(self, progress: Progress, task: TaskID) -> None:
        self.progress = progress
        self.task = task
        self.processed = 0

    def set_total(self, total: int | None) -> None:
        """Set the bar's total; None shows an open-ended bar."""
        self.progress.update(self.task, total=total)

    def advance(self, count: int) -> None:
        """Advance the bar by ``count`` contacts."""
        self.processed += count
        self.progress.advance(self.task, count)


def run_contact_sync(
    loaded: LoadedConfig, plugin_id: str, full: bool, console: Console
) -> int:
    """Run one plugin's contact sync with a progress bar; return the count stored.

    Raises:
        ParleyError: the plugin is not enabled or registers no contact sync,
            or the sync failed.
    """
    store = open_store(loaded.settings.store_url)
    try:
        context = PluginContext(loaded.settings, loaded.plugin_manager, store)
        syncs = {sync.plugin_id: sync for sync in collect_contact_syncs(context)}
        sync = syncs.get(plugin_id)
        if sync is None:
            available = ", ".join(sorted(syncs)) or "(none)"
            raise ParleyError(
                f"plugin {plugin_id!r} has no contact sync; plugins with one: {available}. "
                "Check that the plugin is installed and listed in [plugins] enabled"
            )

        columns = (
            TextColumn(f"{plugin_id} contacts"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=False) as progress:
            receiver = RichProgress(progress, progress.add_task("sync", total=None))
            sync.run(receiver, full)
        return receiver.processed
    finally:
        store.close()
