"""Assembles a running instance from validated configuration.

The daemon and store-backed CLI commands share this: open the store,
collect channels, webhook routes and pollers from the plugins, and build
the workers. On PostgreSQL, where several daemons may share the store,
each poller is given a lease so that one daemon at a time runs it.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from parley.automation_actions import automation_poller
from parley.channels import Channel
from parley.config import LoadedConfig
from parley.context import Clock, PluginContext, Poller, utc_now
from parley.csat import csat_poller
from parley.double_opt_in import signup_poller
from parley.errors import PluginError
from parley.leases import share_poller
from parley.metrics import CountingGate, Metrics
from parley.outbox import OutboxWorker
from parley.pipeline import EventProcessor
from parley.plugins import plugin_id_of
from parley.purge import purge_poller
from parley.store import Store, open_store
from parley.sync import ContactSync, SilentProgress
from parley.webhooks import WebhookRoute
from parley.workers import EventWorker

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything a running daemon holds."""

    loaded: LoadedConfig
    store: Store
    context: PluginContext
    channels: dict[str, Channel]
    routes: list[WebhookRoute]
    pollers: list[Poller]
    worker_id: str
    event_worker: EventWorker = field(init=False)
    outbox_worker: OutboxWorker = field(init=False)
    metrics: Metrics = field(init=False)

    def __post_init__(self) -> None:
        self.metrics = Metrics(clock=self.context.clock)
        self.metrics.watch_outbox(self.store, self.context.clock)
        processor = EventProcessor(self.context, self.channels)
        # Counts the messages the event worker blocks when it queues them.
        processor.gate = CountingGate(processor.gate, self.metrics)  # type: ignore[assignment]
        self.event_worker = EventWorker(
            self.context, processor, self.worker_id, self.metrics
        )
        self.outbox_worker = OutboxWorker(
            self.context, self.channels, self.worker_id, self.metrics
        )

    def close(self) -> None:
        """Stop the send threads and release the store's connections."""
        self.outbox_worker.close()
        self.store.close()


def new_worker_id() -> str:
    """Return an id for this process's workers: host name and process id."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


def build_runtime(loaded: LoadedConfig, clock: Clock = utc_now) -> Runtime:
    """Open the store and collect everything the plugins contribute.

    Raises:
        StoreError: the store cannot be opened.
        PluginError: two plugins register the same channel or route, or a
            plugin registers something of the wrong type.
    """
    store = open_store(loaded.settings.store_url)
    try:
        return _assemble(loaded, store, clock)
    except BaseException:
        # A plugin or config error after the store opened must not leave its
        # connections open.
        store.close()
        raise


def _assemble(loaded: LoadedConfig, store: Store, clock: Clock) -> Runtime:
    settings = loaded.settings
    context = PluginContext(settings, loaded.plugin_manager, store, clock=clock)
    channels = collect_channels(context)
    routes = collect_routes(context, channels)
    pollers = collect_pollers(context)
    pollers.extend(sync_poller(sync) for sync in collect_contact_syncs(context))
    for core_job in (
        purge_poller(context),
        signup_poller(context),
        csat_poller(context, channels),
        automation_poller(context, channels),
    ):
        if core_job is not None:
            pollers.append(core_job)
    store.emit_consent_events = bool(
        loaded.plugin_manager.hook.consent_changed.get_hookimpls()
    )
    worker_id = new_worker_id()
    if not store.is_sqlite:
        lease_seconds = settings.outbox.poller_lease_seconds
        pollers = [
            share_poller(poller, store, worker_id, lease_seconds, clock)
            for poller in pollers
        ]
    return Runtime(loaded, store, context, channels, routes, pollers, worker_id)


def collect_channels(context: PluginContext) -> dict[str, Channel]:
    """Call ``register_channels`` and check the channels it returns."""
    channels: dict[str, Channel] = {}

    def register(channel: Channel) -> None:
        if not isinstance(channel, Channel):
            raise PluginError(
                f"register_channels got {channel!r}, which is not a parley.Channel"
            )
        if channel.id in channels:
            raise PluginError(f"two plugins register a channel with id {channel.id!r}")
        channels[channel.id] = channel

    _call_registration(context, "register_channels", register)
    return channels


def collect_routes(
    context: PluginContext, channels: dict[str, Channel]
) -> list[WebhookRoute]:
    """Call ``register_webhooks`` and check for clashing paths."""
    routes: list[WebhookRoute] = []
    taken = {f"/webhooks/{channel_id}" for channel_id in channels}

    def register(route: WebhookRoute) -> None:
        if not isinstance(route, WebhookRoute):
            raise PluginError(
                f"register_webhooks got {route!r}, which is not a parley.WebhookRoute"
            )
        if route.path and not route.path.startswith("/"):
            raise PluginError(
                f"webhook path {route.path!r} of plugin {route.plugin_id!r} must be empty or start with '/'"
            )
        if route.full_path in taken:
            raise PluginError(f"webhook path {route.full_path} is registered twice")
        taken.add(route.full_path)
        routes.append(route)

    _call_registration(context, "register_webhooks", register)
    return routes


def collect_pollers(context: PluginContext) -> list[Poller]:
    """Call ``register_pollers`` and check poller names."""
    pollers: list[Poller] = []

    def register(poller: Poller) -> None:
        if not isinstance(poller, Poller):
            raise PluginError(
                f"register_pollers got {poller!r}, which is not a parley.Poller"
            )
        if any(
            p.plugin_id == poller.plugin_id and p.name == poller.name for p in pollers
        ):
            raise PluginError(
                f"poller {poller.plugin_id}/{poller.name} is registered twice"
            )
        pollers.append(poller)

    _call_registration(context, "register_pollers", register)
    return pollers


def collect_contact_syncs(context: PluginContext) -> list[ContactSync]:
    """Call ``register_contact_syncs``; each plugin may register one sync."""
    syncs: list[ContactSync] = []

    def register(sync: ContactSync) -> None:
        if not isinstance(sync, ContactSync):
            raise PluginError(
                f"register_contact_syncs got {sync!r}, which is not a parley.ContactSync"
            )
        if any(existing.plugin_id == sync.plugin_id for existing in syncs):
            raise PluginError(
                f"plugin {sync.plugin_id!r} registers more than one contact sync"
            )
        syncs.append(sync)

    _call_registration(context, "register_contact_syncs", register)
    return syncs


def sync_poller(sync: ContactSync) -> Poller:
    """Return a poller that runs a contact sync incrementally in the daemon."""

    def run() -> None:
        progress = SilentProgress()
        sync.run(progress, False)
        logger.info(
            "contact sync of %s stored %d contact(s)",
            sync.plugin_id,
            progress.processed,
        )

    return Poller(sync.plugin_id, "contact-sync", sync.interval_seconds, run)


def _call_registration(
    context: PluginContext, hook_name: str, register: Callable[[object], None]
) -> None:
    hook = getattr(context.plugin_manager.hook, hook_name)
    for implementation in hook.get_hookimpls():
        plugin_id = plugin_id_of(context.plugin_manager, implementation.plugin)
        offered = {"register": register, "context": context}
        arguments = {name: offered[name] for name in implementation.argnames}
        try:
            implementation.function(**arguments)
        except PluginError:
            raise
        except Exception as err:  # noqa: BLE001 - name the plugin that failed
            raise PluginError(
                f"plugin {plugin_id!r} failed in {hook_name}: {type(err).__name__}: {err}"
            ) from err
