"""The automation_runs table: dedupe, claims, leases and retries, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from parley.store import Store, open_store
from parley.store.automations import DONE, PENDING, RUNNING

NOW = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    yield opened
    opened.close()


def plan(store: Store, key: str, due_at: datetime = NOW) -> bool:
    return store.plan_automation_run(
        "faq", "keyword", key, None, None, {"channel": "sandbox"}, due_at, NOW
    )


def test_plan_dedupes_by_key(store: Store) -> None:
    assert plan(store, "automation:faq:message:1")
    assert not plan(store, "automation:faq:message:1")
    assert plan(store, "automation:faq:message:2")

    runs = store.automation_runs()
    assert [run.dedupe_key for run in runs] == [
        "automation:faq:message:1",
        "automation:faq:message:2",
    ]
    assert {run.status for run in runs} == {PENDING}


def test_claim_only_due_runs(store: Store) -> None:
    plan(store, "due")
    plan(store, "later", NOW + timedelta(minutes=10))

    claimed = store.claim_automation_runs("w1", 10, NOW, 300)

    assert [run.dedupe_key for run in claimed] == ["due"]
    assert claimed[0].status == RUNNING
    assert claimed[0].attempts == 1
    assert store.claim_automation_runs("w2", 10, NOW, 300) == []


def test_expired_claim_taken_again(store: Store) -> None:
    plan(store, "due")
    store.claim_automation_runs("w1", 10, NOW, 300)

    assert (
        store.claim_automation_runs("w2", 10, NOW + timedelta(seconds=299), 300) == []
    )
    [again] = store.claim_automation_runs("w2", 10, NOW + timedelta(seconds=301), 300)
    assert again.attempts == 2


def test_retry_and_finish(store: Store) -> None:
    plan(store, "due")
    [run] = store.claim_automation_runs("w1", 10, NOW, 300)
    store.record_automation_progress(run.id, 1)
    store.retry_automation_run(run.id, "action 1 failed", NOW + timedelta(minutes=1))

    assert store.claim_automation_runs("w1", 10, NOW, 300) == []
    [retried] = store.claim_automation_runs("w1", 10, NOW + timedelta(minutes=1), 300)
    assert retried.actions_done == 1
    assert retried.outcome == "action 1 failed"

    store.finish_automation_run(retried.id, DONE, "all done", NOW)
    [finished] = store.automation_runs(automation="faq")
    assert (finished.status, finished.outcome) == (DONE, "all done")
    assert store.claim_automation_runs("w1", 10, NOW + timedelta(days=1), 300) == []


def test_payload_encrypted_at_rest(store: Store) -> None:
    plan(store, "due")

    with store.engine.connect() as conn:
        raw = conn.execute(text("SELECT payload FROM automation_runs")).scalar_one()

    assert "sandbox" not in str(raw)
    [run] = store.automation_runs()
    assert run.payload == {"channel": "sandbox"}
