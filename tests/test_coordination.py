"""Several workers on one store: claims, poller leases and shared send slots."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from parley.context import Poller
from parley.leases import LeasedPollerStep, PollerLease, SharedPoller
from parley.models import AddressKind, ChannelAddress, ContactRecord
from parley.pacing import SendPacer, StorePacer, pacer_for
from parley.runtime import Runtime
from parley.store import Store, open_store
from parley.store.coordination import state_key
from parley.workers import LoopThread, poller_step
from tests.conftest import FakeClock

LEASE = "shopify/orders"


@pytest.fixture
def stores(store_url: str) -> Iterator[Callable[[], Store]]:
    """Open stores on one database, as separate daemons would."""
    opened: list[Store] = []

    def open_one() -> Store:
        store = open_store(store_url)
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


def fill_outbox(store: Store, clock: FakeClock, count: int) -> list[int]:
    contact = store.save_contact(
        ContactRecord(source="test", first_name="Ana"),
        [ChannelAddress(AddressKind.PHONE, "+14155550123")],
        clock(),
    )
    conversation_id, _ = store.open_conversation(
        contact.id, "sandbox", "+14155550123", clock()
    )
    ids = []
    for number in range(count):
        message_id = store.queue_message(
            conversation_id,
            "sandbox",
            f"update {number}",
            "order_update",
            "informational",
            f"order-{number}",
            clock(),
        )
        assert message_id is not None
        ids.append(message_id)
    return ids


# Claims


def test_outbox_claims_exclusive_under_concurrency(
    stores: Callable[[], Store], clock: FakeClock
) -> None:
    queued = fill_outbox(stores(), clock, 240)
    workers = [stores() for _ in range(4)]
    claimed: dict[str, list[int]] = {f"w{i}": [] for i in range(len(workers))}
    barrier = threading.Barrier(len(workers))

    def claim_all(name: str, store: Store) -> None:
        barrier.wait()
        while True:
            batch = store.claim_outbox(name, 7, clock(), 60)
            if not batch:
                return
            claimed[name].extend(message.message_id for message in batch)

    threads = [
        threading.Thread(target=claim_all, args=(name, store))
        for name, store in zip(claimed, workers, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    every_claim = [message_id for ids in claimed.values() for message_id in ids]
    assert sorted(every_claim) == sorted(queued)
    assert len(set(every_claim)) == len(every_claim)


def test_expired_claim_taken_by_another_worker(
    stores: Callable[[], Store], clock: FakeClock
) -> None:
    first, second = stores(), stores()
    [message_id] = fill_outbox(first, clock, 1)
    assert [m.message_id for m in first.claim_outbox("dead", 5, clock(), 30)] == [
        message_id
    ]
    assert second.claim_outbox("alive", 5, clock(), 30) == []

    clock.advance(31)
    [again] = second.claim_outbox("alive", 5, clock(), 30)

    assert again.message_id == message_id
    assert again.attempts == 2


# Lease rows


def test_lease_held_by_one_worker(
    stores: Callable[[], Store], clock: FakeClock
) -> None:
    store_a, store_b = stores(), stores()
    taken = store_a.take_lease(LEASE, "a", clock(), 30)

    assert taken is not None
    assert taken.holder == "a"
    assert taken.expires_at == clock() + timedelta(seconds=30)
    assert store_b.take_lease(LEASE, "b", clock(), 30) is None
    assert store_b.read_lease(LEASE).holder == "a"


def test_lease_renewal_keeps_holder(
    stores: Callable[[], Store], clock: FakeClock
) -> None:
    store_a, store_b = stores(), stores()
    store_a.take_lease(LEASE, "a", clock(), 30)
    clock.advance(20)
    renewed = store_a.take_lease(LEASE, "a", clock(), 30)
    clock.advance(20)

    assert renewed is not None
    assert store_b.take_lease(LEASE, "b", clock(), 30) is None


def test_expired_lease_taken_over(
    stores: Callable[[], Store], clock: FakeClock
) -> None:
    store_a, store_b = stores(), stores()
    store_a.take_lease(LEASE, "a", clock(), 30)
    store_a.finish_lease_run(LEASE, "a", clock())
    finished_at = clock()
    clock.advance(30)

    taken = store_b.take_lease(LEASE, "b", clock(), 30)

    assert taken is not None
    assert taken.holder == "b"
    assert taken.last_run_at == finished_at
    assert store_a.finish_lease_run(LEASE, "a", clock()) is False
    assert store_a.take_lease(LEASE, "a", clock(), 30) is None


def test_released_lease_free_at_once(
    stores: Callable[[], Store], clock: FakeClock
) -> None:
    store_a, store_b = stores(), stores()
    store_a.take_lease(LEASE, "a", clock(), 30)

    assert store_b.release_lease(LEASE, "b", clock()) is False
    assert store_a.release_lease(LEASE, "a", clock()) is True
    assert store_b.take_lease(LEASE, "b", clock(), 30) is not None


def test_lease_race_has_one_winner(
    stores: Callable[[], Store], clock: FakeClock
) -> None:
    contenders = {f"w{i}": stores() for i in range(6)}
    winners: list[str] = []
    barrier = threading.Barrier(len(contenders))

    def contend(name: str, store: Store) -> None:
        barrier.wait()
        if store.take_lease(LEASE, name, clock(), 30) is not None:
            winners.append(name)

    threads = [
        threading.Thread(target=contend, args=item) for item in contenders.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(winners) == 1


def test_long_state_key_hashed() -> None:
    key = state_key("pace", "x" * 300)

    assert len(key) <= 200
    assert key.startswith("pace:sha256:")
    assert state_key("pace", "+14155550100") == "pace:+14155550100"


# Leased poller steps


class CountingJob:
    def __init__(self) -> None:
        self.runs = 0

    def __call__(self) -> None:
        self.runs += 1


def leased_step(
    store: Store, worker_id: str, clock: FakeClock, job: CountingJob, interval: float
) -> LeasedPollerStep:
    poller = Poller("shopify", "orders", interval, job)
    return LeasedPollerStep(poller, PollerLease(store, LEASE, worker_id, 30, clock))


def test_one_daemon_runs_poller(stores: Callable[[], Store], clock: FakeClock) -> None:
    job = CountingJob()
    first = leased_step(stores(), "a", clock, job, interval=300)
    second = leased_step(stores(), "b", clock, job, interval=300)

    for _ in range(4):
        first()
        second()
        clock.advance(5)

    assert job.runs == 1
    assert first.wait_seconds() == pytest.approx(10)
    assert second.wait_seconds() == pytest.approx(10)


def test_poller_runs_again_when_due(
    stores: Callable[[], Store], clock: FakeClock
) -> None:
    job = CountingJob()
    step = leased_step(stores(), "a", clock, job, interval=12)
    step()
    clock.advance(4)
    step()

    assert job.runs == 1
    assert step.wait_seconds() == pytest.approx(8)
    clock.advance(8)
    step()
    assert job.runs == 2


def test_standby_takes_over_after_holder_dies(
    stores: Callable[[], Store], clock: FakeClock
) -> None:
    job = CountingJob()
    holder = leased_step(stores(), "a", clock, job, interval=60)
    standby = leased_step(stores(), "b", clock, job, interval=60)
    holder()
    standby()

    # The holder dies: nobody renews. The standby checks every 10 s.
    checks_until_takeover = 0
    while standby.lease.held is False:
        clock.advance(standby.wait_seconds())
        standby()
        checks_until_takeover += 1

    assert checks_until_takeover == 3
    assert job.runs == 1
    clock.advance(30)
    standby()
    assert job.runs == 2


def test_stopped_holder_hands_over_at_once(
    stores: Callable[[], Store], clock: FakeClock
) -> None:
    job = CountingJob()
    holder = leased_step(stores(), "a", clock, job, interval=60)
    standby = leased_step(stores(), "b", clock, job, interval=60)
    holder()
    holder.close()
    clock.advance(60)
    standby()

    assert standby.lease.held is True
    assert job.runs == 2


def test_failed_run_still_recorded(
    stores: Callable[[], Store], clock: FakeClock
) -> None:
    def broken() -> None:
        raise RuntimeError("shop unreachable")

    store = stores()
    step = LeasedPollerStep(
        Poller("shopify", "orders", 60, broken),
        PollerLease(store, LEASE, "a", 30, clock),
    )
    with pytest.raises(RuntimeError, match="shop unreachable"):
        step()

    assert store.read_lease(LEASE).last_run_at == clock()


def test_loop_thread_releases_lease_on_stop(
    stores: Callable[[], Store], clock: FakeClock
) -> None:
    store = stores()
    ran = threading.Event()
    step = LeasedPollerStep(
        Poller("shopify", "orders", 60, ran.set),
        PollerLease(store, LEASE, "a", 30, clock),
    )
    thread = LoopThread("poller shopify/orders", step, 60)
    thread.start()
    assert ran.wait(10)
    thread.stop()
    assert thread.join(10)

    assert store.read_lease(LEASE).holder is None


def test_runtime_shares_pollers_on_postgresql(
    make_runtime: Callable[..., Runtime], store_url: str
) -> None:
    runtime = make_runtime(compliance_extra="suspend_after_inactive_days = 90\n")
    [poller] = runtime.pollers
    step = poller_step(poller)

    if store_url.startswith("sqlite"):
        assert not isinstance(poller, SharedPoller)
        assert not isinstance(step, LeasedPollerStep)
    else:
        assert isinstance(poller, SharedPoller)
        assert poller.worker_id == runtime.worker_id
        assert poller.lease_seconds == 30
        assert isinstance(step, LeasedPollerStep)
        assert step.lease.name == "core/suspend-inactive"


# Shared send slots


def test_store_slots_spaced_across_stores(stores: Callable[[], Store]) -> None:
    first, second = stores(), stores()
    sleeps: list[float] = []
    now = 1_000.0
    pacer_a = StorePacer(first, clock=lambda: now, sleep=sleeps.append)
    pacer_b = StorePacer(second, clock=lambda: now, sleep=sleeps.append)

    assert pacer_a.acquire("sender-1", 4.0, max_wait=2.0) is None
    assert pacer_b.acquire("sender-1", 4.0, max_wait=2.0) is None
    assert pacer_a.acquire("sender-1", 4.0, max_wait=2.0) is None
    assert pacer_b.acquire("sender-2", 4.0, max_wait=2.0) is None

    assert sleeps == [pytest.approx(0.25), pytest.approx(0.5)]


def test_store_slot_beyond_wait_not_taken(stores: Callable[[], Store]) -> None:
    pacer = StorePacer(stores(), clock=lambda: 50.0, sleep=lambda seconds: None)

    assert pacer.acquire("sender-1", 0.1, max_wait=2.0) is None
    assert pacer.acquire("sender-1", 0.1, max_wait=2.0) == pytest.approx(10.0)
    assert pacer.acquire("sender-1", 0.1, max_wait=2.0) == pytest.approx(10.0)
    assert pacer.acquire("sender-1", 0, max_wait=0.0) is None


def test_store_slots_distinct_under_concurrency(stores: Callable[[], Store]) -> None:
    workers = [stores() for _ in range(4)]
    waits: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(workers))

    def record(seconds: float) -> None:
        with lock:
            waits.append(seconds)

    def send_many(store: Store) -> None:
        pacer = StorePacer(store, clock=lambda: 0.0, sleep=record)
        barrier.wait()
        for _ in range(25):
            assert pacer.acquire("sender-1", 10.0, max_wait=100.0) is None

    threads = [threading.Thread(target=send_many, args=(s,)) for s in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # The first slot needs no wait; the other 99 are 0.1 s apart.
    slots = sorted(round(wait, 6) for wait in waits)
    assert slots == [round(0.1 * n, 6) for n in range(1, 100)]


def test_store_pacer_uses_server_clock(stores: Callable[[], Store]) -> None:
    sleeps: list[float] = []
    pacer = StorePacer(stores(), sleep=sleeps.append)

    assert pacer.acquire("sender-1", 1.0, max_wait=5.0) is None
    assert pacer.acquire("sender-1", 1.0, max_wait=5.0) is None

    assert len(sleeps) == 1
    assert 0 < sleeps[0] <= 1.0


def test_pacer_for_backend(stores: Callable[[], Store]) -> None:
    store = stores()
    pacer = pacer_for(store)

    expected = SendPacer if store.is_sqlite else StorePacer
    assert isinstance(pacer, expected)


# Claim deadline


class ClockPushingPacer:
    """A pacer whose slot comes only after most of the claim has passed."""

    def __init__(self, clock: FakeClock, seconds: float) -> None:
        self.clock = clock
        self.seconds = seconds

    def acquire(self, key: str, per_second: float, max_wait: float) -> float | None:
        self.clock.advance(self.seconds)
        self.seconds = 0
        return None


def test_send_skipped_when_claim_nearly_over(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    runtime = make_runtime(
        "\n[sandbox]\nper_second = 5\n\n[outbox]\nclaim_timeout_seconds = 20\n"
    )
    [message_id] = fill_outbox(runtime.store, clock, 1)
    runtime.outbox_worker.pacer = ClockPushingPacer(clock, 11)

    assert runtime.outbox_worker.run_once() == 1
    assert status_of(runtime.store, message_id) == "sending"
    assert runtime.outbox_worker.run_once() == 0

    clock.advance(10)
    assert runtime.outbox_worker.run_once() == 1
    assert status_of(runtime.store, message_id) == "sent"


def status_of(store: Store, message_id: int) -> str:
    [message] = [m for m in store.messages() if m.id == message_id]
    return message.status
