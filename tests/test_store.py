import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import func, select

from parley.consent import ConsentState, derive_state
from parley.context import DeliveryReceipt
from parley.models import (
    AddressKind,
    ChannelAddress,
    ContactRecord,
    DeliveryStatus,
    Purpose,
)
from parley.store import Store, open_store, schema
from parley.store.migrations import MIGRATIONS, latest_version

NOW = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)
PHONE = "+14155550123"
OTHER_PHONE = "+14155550199"
THREADS = 8

Result = TypeVar("Result")


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    yield opened
    opened.close()


def run_together(count: int, call: Callable[[int], Result]) -> list[Result]:
    """Run call(0) … call(count - 1) in threads released at the same moment."""
    barrier = threading.Barrier(count)

    def run(index: int) -> Result:
        barrier.wait(timeout=30)
        return call(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def new_conversation(store: Store, phone: str = PHONE, channel: str = "sandbox") -> int:
    contact = store.save_contact(
        ContactRecord(source="test", first_name="Ana"),
        [ChannelAddress(AddressKind.PHONE, phone)],
        NOW,
    )
    conversation_id, _created = store.open_conversation(contact.id, channel, phone, NOW)
    return conversation_id


def queue(store: Store, conversation_id: int, dedupe_key: str) -> int | None:
    return store.queue_message(
        conversation_id,
        "sandbox",
        f"Update for {dedupe_key}",
        "order_update",
        "informational",
        dedupe_key,
        NOW,
    )


def event_keys(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(schema.events.c.dedupe_key).order_by(schema.events.c.id)
        )
        return [row.dedupe_key for row in rows]


def row_count(store: Store, table: object) -> int:
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def record_consent(store: Store, address: str, action: str) -> None:
    store.add_consent(
        "sandbox", address, "informational", action, "keyword", "customer", None, NOW
    )


# Migrations


def test_migrate_fresh_then_nothing(store_url: str) -> None:
    first = Store(store_url)
    second = Store(store_url)
    try:
        assert first.migrate() == [version for version, _name, _step in MIGRATIONS]
        assert second.migrate() == []
    finally:
        first.close()
        second.close()


def test_open_store_twice_migrates_once(store_url: str) -> None:
    open_store(store_url).close()
    reopened = open_store(store_url)
    try:
        assert row_count(reopened, schema.schema_migrations) == len(MIGRATIONS)
        assert reopened.migrate() == []
    finally:
        reopened.close()


def test_open_store_concurrently_migrates_once(store_url: str) -> None:
    stores = [Store(store_url) for _ in range(4)]
    try:
        applied = run_together(len(stores), lambda index: stores[index].migrate())

        assert sorted(len(versions) for versions in applied) == [
            0,
            0,
            0,
            len(MIGRATIONS),
        ]
        assert row_count(stores[0], schema.schema_migrations) == len(MIGRATIONS)
    finally:
        for opened in stores:
            opened.close()


def test_sqlite_open_waits_for_lock(tmp_path: Path) -> None:
    # The writer is a second connection that locks a new database file not
    # yet in WAL mode, as when two daemons start on one new file at once.
    path = tmp_path / "parley.db"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("CREATE TABLE other_program (id INTEGER)")

    with ThreadPoolExecutor(max_workers=1) as pool:
        opening = pool.submit(open_store, f"sqlite:///{path}")
        time.sleep(0.5)
        writer.execute("COMMIT")
        writer.close()
        opened = opening.result(timeout=30)

    try:
        assert row_count(opened, schema.schema_migrations) == len(MIGRATIONS)
    finally:
        opened.close()


# Webhook deliveries and events


def test_parallel_delivery_accepted_once(store: Store) -> None:
    events = [
        ("order_status", "order-1:confirmed", {"order": 1}),
        ("order_status", "order-1:shipped", {"order": 1}),
    ]

    receipts = run_together(
        THREADS,
        lambda _index: store.accept_delivery(
            "shopify", "delivery-1", "orders/updated", events, NOW
        ),
    )

    fresh = [receipt for receipt in receipts if not receipt.duplicate_delivery]
    assert len(fresh) == 1
    assert fresh[0].events_stored == 2
    assert (
        receipts.count(DeliveryReceipt(duplicate_delivery=True, events_stored=0))
        == THREADS - 1
    )
    assert event_keys(store) == ["order-1:confirmed", "order-1:shipped"]
    assert row_count(store, schema.webhook_deliveries) == 1


def test_new_delivery_known_key_stores_nothing(store: Store) -> None:
    event = ("order_status", "order-1:confirmed", {"order": 1})
    store.accept_delivery("shopify", "delivery-1", "orders/create", [event], NOW)

    receipt = store.accept_delivery(
        "shopify", "delivery-2", "orders/updated", [event], NOW
    )

    assert receipt == DeliveryReceipt(duplicate_delivery=False, events_stored=0)
    assert event_keys(store) == ["order-1:confirmed"]
    assert row_count(store, schema.webhook_deliveries) == 2


def test_new_delivery_mixed_keys_stores_new(store: Store) -> None:
    known = ("order_status", "order-1:confirmed", {"order": 1})
    new = ("order_status", "order-1:shipped", {"order": 1})
    store.accept_delivery("shopify", "delivery-1", "orders/create", [known], NOW)

    receipt = store.accept_delivery(
        "shopify", "delivery-2", "orders/updated", [known, new], NOW
    )

    assert receipt.events_stored == 1
    assert event_keys(store) == ["order-1:confirmed", "order-1:shipped"]


def test_same_delivery_id_other_source(store: Store) -> None:
    first = ("order_status", "a:1", {})
    second = ("order_status", "b:1", {})
    store.accept_delivery("shopify", "delivery-1", "orders/create", [first], NOW)

    receipt = store.accept_delivery("woo", "delivery-1", "orders/create", [second], NOW)

    assert receipt == DeliveryReceipt(duplicate_delivery=False, events_stored=1)


# Messages and the outbox


def test_queue_repeated_dedupe_key_none(store: Store) -> None:
    conversation_id = new_conversation(store)

    first = queue(store, conversation_id, "order-1:shipped")
    second = queue(store, conversation_id, "order-1:shipped")

    assert isinstance(first, int)
    assert second is None
    assert row_count(store, schema.messages) == 1
    assert row_count(store, schema.outbox) == 1


def test_claim_outbox_exclusive_until_lease(store: Store) -> None:
    conversation_id = new_conversation(store)
    queued = [queue(store, conversation_id, f"order-{n}:shipped") for n in range(3)]

    claimed_a = store.claim_outbox("worker-a", 10, NOW, lease_seconds=60)
    during_lease = store.claim_outbox("worker-b", 10, NOW + timedelta(seconds=59), 60)
    after_lease = store.claim_outbox("worker-b", 10, NOW + timedelta(seconds=61), 60)

    assert [message.message_id for message in claimed_a] == queued
    assert [message.attempts for message in claimed_a] == [1, 1, 1]
    assert during_lease == []
    assert [message.message_id for message in after_lease] == queued
    assert [message.attempts for message in after_lease] == [2, 2, 2]


def test_claim_outbox_fills_message(store: Store) -> None:
    conversation_id = new_conversation(store)
    message_id = queue(store, conversation_id, "order-1:shipped")

    [claimed] = store.claim_outbox("worker-a", 10, NOW, lease_seconds=60)

    assert claimed.message_id == message_id
    assert claimed.conversation_id == conversation_id
    assert claimed.to == PHONE
    assert claimed.channel == "sandbox"
    assert claimed.body == "Update for order-1:shipped"
    assert claimed.kind == "order_update"
    assert claimed.purpose == "informational"
    assert store.messages()[0].status == DeliveryStatus.SENDING.value


def test_claim_outbox_parallel_no_duplicates(store: Store) -> None:
    conversation_id = new_conversation(store)
    queued = [queue(store, conversation_id, f"order-{n}:shipped") for n in range(24)]

    def claim_until_empty(index: int) -> list[int]:
        ids: list[int] = []
        while batch := store.claim_outbox(f"worker-{index}", 3, NOW, lease_seconds=60):
            ids.extend(message.message_id for message in batch)
        return ids

    per_worker = run_together(4, claim_until_empty)

    claimed = [message_id for ids in per_worker for message_id in ids]
    assert len(claimed) == len(set(claimed))
    assert sorted(claimed) == sorted(queued)


def test_mark_sent_removes_from_outbox(store: Store) -> None:
    conversation_id = new_conversation(store)
    message_id = queue(store, conversation_id, "order-1:shipped")
    store.claim_outbox("worker-a", 10, NOW, lease_seconds=60)
    sent_at = NOW + timedelta(seconds=2)

    store.mark_sent(message_id, "PROVIDER-1", DeliveryStatus.SENT, sent_at)

    [message] = store.messages()
    assert row_count(store, schema.outbox) == 0
    assert message.status == DeliveryStatus.SENT.value
    assert message.provider_message_id == "PROVIDER-1"
    assert message.sent_at == sent_at
    assert store.claim_outbox("worker-b", 10, NOW + timedelta(hours=1), 60) == []


# Delivery status


@pytest.fixture
def sent_message(store: Store) -> int:
    conversation_id = new_conversation(store)
    message_id = queue(store, conversation_id, "order-1:shipped")
    store.mark_sent(message_id, "PROVIDER-1", DeliveryStatus.SENT, NOW)
    return message_id


def test_apply_status_moves_forward(store: Store, sent_message: int) -> None:
    moved = store.apply_status("sandbox", "PROVIDER-1", DeliveryStatus.DELIVERED, NOW)

    assert moved is True
    assert store.messages()[0].status == DeliveryStatus.DELIVERED.value


def test_apply_status_ignores_backward(store: Store, sent_message: int) -> None:
    store.apply_status("sandbox", "PROVIDER-1", DeliveryStatus.DELIVERED, NOW)

    moved = store.apply_status("sandbox", "PROVIDER-1", DeliveryStatus.SENT, NOW)

    assert moved is False
    assert store.messages()[0].status == DeliveryStatus.DELIVERED.value


def test_apply_status_same_status_ignored(store: Store, sent_message: int) -> None:
    assert (
        store.apply_status("sandbox", "PROVIDER-1", DeliveryStatus.SENT, NOW) is False
    )


def test_apply_status_unknown_provider_id(store: Store, sent_message: int) -> None:
    assert (
        store.apply_status("sandbox", "PROVIDER-404", DeliveryStatus.DELIVERED, NOW)
        is False
    )
    assert (
        store.apply_status("other", "PROVIDER-1", DeliveryStatus.DELIVERED, NOW)
        is False
    )
    assert store.messages()[0].status == DeliveryStatus.SENT.value


def test_apply_status_stores_error_code(store: Store, sent_message: int) -> None:
    store.apply_status(
        "sandbox", "PROVIDER-1", DeliveryStatus.UNDELIVERED, NOW, error_code="30003"
    )

    with store.engine.connect() as conn:
        row = conn.execute(
            select(schema.messages.c.status, schema.messages.c.error_code).where(
                schema.messages.c.id == sent_message
            )
        ).one()
    assert row.status == DeliveryStatus.UNDELIVERED.value
    assert row.error_code == "30003"


# Consent


def opted_out(store: Store, address: str) -> bool:
    entries = store.consent_entries(address, "informational")
    return derive_state(entries, Purpose.INFORMATIONAL).state is ConsentState.OPTED_OUT


def test_opted_out_without_records(store: Store) -> None:
    assert opted_out(store, PHONE) is False


def test_opted_out_follows_latest_record(store: Store) -> None:
    record_consent(store, PHONE, "opt_out")
    assert opted_out(store, PHONE) is True

    record_consent(store, PHONE, "opt_in")
    assert opted_out(store, PHONE) is False

    record_consent(store, PHONE, "opt_out")
    assert opted_out(store, PHONE) is True


def test_opted_out_ignores_other_actions(store: Store) -> None:
    record_consent(store, PHONE, "opt_out")
    record_consent(store, PHONE, "help_requested")

    assert opted_out(store, PHONE) is True


def test_opted_out_per_address(store: Store) -> None:
    record_consent(store, PHONE, "opt_out")

    assert opted_out(store, OTHER_PHONE) is False


# Plugin state


def test_plugin_state_missing_none(store: Store) -> None:
    assert store.get_plugin_state("shopify", "cursor") is None


def test_plugin_state_set_and_replace(store: Store) -> None:
    store.set_plugin_state("shopify", "cursor", "page-1", NOW)
    assert store.get_plugin_state("shopify", "cursor") == "page-1"

    store.set_plugin_state("shopify", "cursor", "page-2", NOW + timedelta(seconds=1))
    assert store.get_plugin_state("shopify", "cursor") == "page-2"
    assert row_count(store, schema.plugin_state) == 1


def test_plugin_state_per_plugin(store: Store) -> None:
    store.set_plugin_state("shopify", "cursor", "shop-page", NOW)
    store.set_plugin_state("woo", "cursor", "woo-page", NOW)

    assert store.get_plugin_state("shopify", "cursor") == "shop-page"
    assert store.get_plugin_state("woo", "cursor") == "woo-page"


def test_plugin_state_parallel_first_set(store: Store) -> None:
    # Several keys, because one round of threads does not always overlap.
    keys = [f"cursor-{round_number}" for round_number in range(5)]

    for key in keys:
        run_together(
            THREADS,
            lambda index, key=key: store.set_plugin_state(
                "shopify", key, f"page-{index}", NOW
            ),
        )

    assert row_count(store, schema.plugin_state) == len(keys)
    for key in keys:
        assert store.get_plugin_state("shopify", key) in {
            f"page-{n}" for n in range(THREADS)
        }


def test_migration_adds_event_outcome(store_url: str) -> None:
    from sqlalchemy import inspect, text

    store = open_store(store_url)
    with store.transaction() as conn:
        conn.execute(text("ALTER TABLE events DROP COLUMN outcome"))
        conn.execute(text("DELETE FROM schema_migrations WHERE version = 2"))
    store.close()

    reopened = open_store(store_url)
    with reopened.engine.connect() as conn:
        columns = {column["name"] for column in inspect(conn).get_columns("events")}
        versions = [
            row[0]
            for row in conn.execute(
                text("SELECT version FROM schema_migrations ORDER BY version")
            )
        ]
    reopened.close()
    assert "outcome" in columns
    assert versions == list(range(1, latest_version() + 1))
