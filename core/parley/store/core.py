"""The :class:`Store`: every read and write the core makes, one part per concept."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Connection,
    func,
    select,
)

from parley.crypto import Keyring
from parley.errors import StoreError
from parley.store import schema
from parley.store.access import AccessStore
from parley.store.automations import AutomationStore
from parley.store.contacts import ContactStore
from parley.store.coordination import CoordinationStore
from parley.store.csat import CsatStore
from parley.store.events import EventStore
from parley.store.ledger import ConsentStore
from parley.store.messages import MessageStore
from parley.store.outbox import OutboxStore
from parley.store.support import SupportStore


def open_store(url: str, keyring: Keyring | None = None) -> Store:
    """Open the store at a SQLAlchemy URL, check its keys and apply pending migrations.

    Args:
        url: the SQLAlchemy URL.
        keyring: the data keys; None reads them from PARLEY_KEYS,
            PARLEY_KEY_FILE or the per-user key file.

    Raises:
        StoreError: the database cannot be reached or migrated, no key is
            configured, or a key does not match the store.
    """
    store = Store(url, keyring)
    try:
        store.migrate()
    except StoreError:
        store.close()
        raise
    return store


class Store(
    EventStore,
    ContactStore,
    SupportStore,
    MessageStore,
    OutboxStore,
    ConsentStore,
    AccessStore,
    CoordinationStore,
    AutomationStore,
    CsatStore,
):
    """Durable state behind one SQLAlchemy engine.

    SupportStore comes before MessageStore so that its version of
    ``add_inbound_message``, which reopens the conversation, is the one used.
    """

    # Plugin state

    def get_plugin_state(
        self, plugin_id: str, key: str, conn: Connection | None = None
    ) -> str | None:
        """Return a stored plugin value, or None."""
        table = schema.plugin_state
        with self._tx(conn) as tx:
            return tx.execute(
                select(table.c.value).where(
                    table.c.plugin_id == plugin_id, table.c.key == key
                )
            ).scalar()

    def set_plugin_state(
        self,
        plugin_id: str,
        key: str,
        value: str,
        now: datetime,
        conn: Connection | None = None,
    ) -> None:
        """Store a plugin value, replacing the previous one atomically."""
        table = schema.plugin_state
        insert_statement = self._dialect_insert(table).values(
            plugin_id=plugin_id, key=key, value=value, updated_at=now
        )
        upsert = insert_statement.on_conflict_do_update(
            index_elements=[table.c.plugin_id, table.c.key],
            set_={"value": value, "updated_at": now},
        )
        with self._tx(conn) as tx:
            tx.execute(upsert)

    # Reports

    def counts(self) -> dict[str, int]:
        """Return row counts that tell whether work is pending."""
        with self.read_engine.connect() as conn:
            pending_events = conn.execute(
                select(func.count())
                .select_from(schema.events)
                .where(schema.events.c.status == "pending")
            ).scalar_one()
            outbox_rows = conn.execute(
                select(func.count()).select_from(schema.outbox)
            ).scalar_one()
            events_total = conn.execute(
                select(func.count()).select_from(schema.events)
            ).scalar_one()
            deliveries = conn.execute(
                select(func.count()).select_from(schema.webhook_deliveries)
            ).scalar_one()
        return {
            "events": events_total,
            "pending_events": pending_events,
            "outbox": outbox_rows,
            "webhook_deliveries": deliveries,
        }
