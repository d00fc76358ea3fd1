"""The running instance as plugins see it.

A :class:`PluginContext` is passed to hooks. It gives a plugin its own
validated settings and the few store operations a plugin needs: accepting
webhook deliveries with their events, and keeping small pieces of state
such as a polling cursor. Plugins never open files or read the environment
themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from parley.errors import PluginError

if TYPE_CHECKING:
    import pluggy

    from parley.config import CoreSettings
    from parley.models import (
        ChannelAddress,
        ConsentRecord,
        Contact,
        ContactRecord,
        OrderStatusEvent,
    )
    from parley.store import Store

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Poller:
    """A background job the daemon runs every ``interval_seconds``.

    Attributes:
        plugin_id: the plugin that owns it.
        name: unique within the plugin; used in logs and for its state.
        interval_seconds: time between the end of one run and the next start.
        run: the job; it raises :class:`parley.errors.SyncError` subclasses
            on failure, and the daemon logs them and tries again next time.
    """

    plugin_id: str
    name: str
    interval_seconds: float
    run: Callable[[], None]


@dataclass(frozen=True)
class DeliveryReceipt:
    """The store's outcome for one webhook delivery.

    Attributes:
        duplicate_delivery: the delivery id was seen before; nothing was stored.
        events_stored: how many of its events were new business events.
    """

    duplicate_delivery: bool
    events_stored: int


class PluginContext:
    """Settings and store access handed to hook implementations."""

    def __init__(
        self,
        settings: CoreSettings,
        plugin_manager: pluggy.PluginManager,
        store: Store | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.settings = settings
        self.plugin_manager = plugin_manager
        self._store = store
        self.clock = clock

    @property
    def store(self) -> Store:
        """The store; only available inside the daemon and store-backed commands."""
        if self._store is None:
            raise PluginError("this command runs without a store")
        return self._store

    def settings_for(self, plugin_id: str) -> BaseModel:
        """Return the validated, read-only settings of a plugin's section.

        Raises:
            PluginError: the plugin registered no settings model.
        """
        value = self.settings.plugin_settings(plugin_id)
        if value is None:
            raise PluginError(
                f"plugin {plugin_id!r} has no settings; implement register_settings"
            )
        return value

    def logger(self, plugin_id: str) -> logging.Logger:
        """Return the logger named after a plugin, ``parley.plugin.<id>``."""
        return logging.getLogger(f"parley.plugin.{plugin_id}")

    def accept_order_events(
        self,
        source: str,
        delivery_id: str,
        topic: str,
        events: Sequence[OrderStatusEvent],
    ) -> DeliveryReceipt:
        """Store a webhook delivery and its order-status events in one transaction.

        The delivery id is claimed atomically first, so a redelivery, even in
        parallel, stores nothing. Events whose ``dedupe_key`` was stored
        before are dropped. Call this before answering the webhook: once it
        returns, the events survive a crash.

        Args:
            source: the plugin id.
            delivery_id: the provider's delivery id (``X-Shopify-Webhook-Id``).
            topic: the provider's topic, for the record.
            events: zero or more events the delivery produced.
        """
        return self.store.accept_delivery(
            source=source,
            delivery_id=delivery_id,
            topic=topic,
            events=[
                ("order_status", event.dedupe_key, event.to_json()) for event in events
            ],
            now=self.clock(),
        )

    def record_consent(self, record: ConsentRecord, channel: str = "*") -> None:
        """Append a consent record to the ledger, such as a provider's block list entry.

        Args:
            record: what the customer did, with its source and evidence.
            channel: the channel id it came from; ``*`` for every channel.
        """
        self.store.add_consent(
            channel=channel,
            address=record.address.value,
            purpose=record.purpose.value,
            action=record.action.value,
            source=record.source.value,
            actor=record.actor,
            evidence=record.evidence,
            now=record.occurred_at,
        )

    def sync_contact(self, record: ContactRecord) -> Contact:
        """Store a plugin's current record of a contact, as a contact sync does.

        The record replaces what the same plugin stored for the contact
        before; the contact is found by ``record.source`` and
        ``record.external_id`` first, then by any of its addresses, and is
        created when neither matches. The stored contact is the merge of
        every plugin's record in ``[contacts] precedence`` order. No
        ``lookup_contact`` hook is called.

        Args:
            record: the plugin's record; ``source`` is the plugin id and
                ``external_id`` its id for the contact.

        Returns:
            The stored, merged contact.
        """
        from parley.contacts import ContactDirectory

        return ContactDirectory(self).sync(record, self.clock())

    def forget_contact(self, source: str, external_id: str) -> Contact | None:
        """Remove a plugin's record of a contact, as when the CRM deleted it.

        The values that came only from that plugin are removed from the
        merged contact; its addresses, conversations and consent records
        stay.

        Returns:
            The re-merged contact, or None when the plugin stored no contact
            with ``external_id``.
        """
        from parley.contacts import ContactDirectory

        return ContactDirectory(self).forget(source, external_id, self.clock())

    def find_contact(self, address: ChannelAddress) -> Contact | None:
        """Return the stored contact that owns an address, or None.

        The address is normalised first (E.164 phone numbers, lower-case
        email addresses) with ``[contacts] default_region``.
        """
        from parley.contacts import normalize_address

        normalized = normalize_address(address, self.settings.contacts.default_region)
        if normalized is None:
            return None
        return self.store.find_contact(normalized)

    def report_call(
        self,
        channel: str,
        caller: ChannelAddress,
        call_id: str,
        status: str,
        missed: bool,
        occurred_at: datetime | None = None,
    ) -> bool:
        """Record a phone call for the ``incoming_call`` and ``missed_call`` automations.

        The call is stored in the durable event queue; the event worker then
        finds the caller's contact, plans the automations and calls the
        ``call_received`` hook. Call this before answering the provider.

        Args:
            channel: the channel id texts to the caller go out on.
            caller: the caller's address; it is normalised first.
            call_id: the provider's id of the call; a second report of the
                same id records nothing.
            status: the provider's call status, for the record.
            missed: True when nobody at the business answered.
            occurred_at: when the call came in; default now.

        Returns:
            False when the call id was reported before, or the caller's
            number is invalid, so nothing was recorded.
        """
        from parley.automations import IncomingCall, record_call
        from parley.contacts import normalize_address

        normalized = normalize_address(caller, self.settings.contacts.default_region)
        if normalized is None:
            self.logger(channel).warning(
                "call %s has an invalid caller number; not recorded", call_id
            )
            return False
        call = IncomingCall(
            channel, normalized, call_id, status, missed, occurred_at or self.clock()
        )
        return record_call(self, call)

    def fire_trigger(
        self,
        kind: str,
        occurrence_id: str,
        channel: str | None = None,
        address: ChannelAddress | None = None,
        occurred_at: datetime | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> bool:
        """Fire a trigger kind the plugin registered in ``register_automation_kinds``.

        The occurrence is stored in the durable event queue, and the event
        worker plans the automations whose trigger has this kind.

        Args:
            kind: the registered kind, ``<plugin id>.<name>``.
            occurrence_id: unique per occurrence; a second report of the
                same id records nothing.
            channel: the channel the automations' messages go out on.
            address: the customer's address; with ``channel`` it opens the
                conversation the actions work on.
            occurred_at: when it happened; default now.
            details: JSON-compatible values stored with the run and sent
                with its webhooks.

        Returns:
            False when the occurrence was reported before.
        """
        from parley.automations import record_plugin_trigger
        from parley.contacts import normalize_address

        normalized = None
        if address is not None:
            region = self.settings.contacts.default_region
            normalized = normalize_address(address, region)
            if normalized is None:
                raise PluginError(
                    f"fire_trigger({kind!r}): the address is invalid; pass a "
                    "normalisable phone number, email or channel id"
                )
        return record_plugin_trigger(
            self,
            kind,
            occurrence_id,
            channel,
            normalized,
            occurred_at or self.clock(),
            details or {},
        )

    def get_state(self, plugin_id: str, key: str) -> str | None:
        """Return a value a plugin stored with :meth:`set_state`, or None."""
        return self.store.get_plugin_state(plugin_id, key)

    def set_state(self, plugin_id: str, key: str, value: str) -> None:
        """Store a small value for a plugin, such as a polling cursor."""
        self.store.set_plugin_state(plugin_id, key, value, now=self.clock())
