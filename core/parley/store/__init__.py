"""Durable storage: contacts, conversations, messages, events and the outbox.

One schema serves SQLite (the embedded default, in WAL mode) and PostgreSQL
(for several daemons). Every write that must be atomic runs in one
transaction; methods that take a ``conn`` join the caller's transaction,
and open their own when it is None.
"""

from parley.store.core import Store, open_store
from parley.store.records import ClaimedEvent, ClaimedMessage, MessageRecord

__all__ = ["ClaimedEvent", "ClaimedMessage", "MessageRecord", "Store", "open_store"]
