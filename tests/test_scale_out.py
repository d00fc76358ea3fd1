"""Three daemons on one PostgreSQL database, one of them killed and restarted.

2,000 customers each text the sandbox channel once, through whichever
daemon the load balancer picks, and each gets one welcome message. The
sandbox stands in for a provider that accepts at most ``PER_SECOND`` sends
a second from the business's sender. The test checks that each welcome went
out exactly once, that the daemons together kept to the sender's rate, and
that the poller lease moved off the killed daemon.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from parley.store import Store

from .daemon_process import DaemonProcess, wait_for

pytestmark = pytest.mark.slow

CUSTOMERS = 2_000
PER_SECOND = 40
# Sends over PER_SECOND tolerated in one second (15 %); see the rate check.
# Four runs on 2 cores peaked at 41 to 44 sends; without shared pacing, 74.
BUNCHING_ALLOWANCE = 6
# [outbox] concurrency: the most sends a daemon has in flight when killed.
CONCURRENCY = 8
SECRET = "scale-out-test-secret"
LEASE = "core/suspend-inactive"

CONFIG = f"""
[logging]
level = "WARNING"

[sandbox]
secret = "{SECRET}"
per_second = {PER_SECOND}

[outbox]
concurrency = {CONCURRENCY}
poll_interval_seconds = 0.05
batch_size = 20
claim_timeout_seconds = 10
poller_lease_seconds = 3
"""


def signed(number: int) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {"from": f"+1415555{number:04d}", "body": "Hi there", "id": f"in-{number}"}
    ).encode()
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return body, {"X-Sandbox-Signature": f"sha256={digest}"}


class Cluster:
    """Three daemons behind a round-robin load balancer that skips dead ones."""

    def __init__(self, config: Path, logs: Path) -> None:
        self.config = config
        self.logs = logs
        self.daemons = [self._new(index) for index in range(3)]

    def _new(self, index: int) -> DaemonProcess:
        return DaemonProcess(self.config, self.logs / f"daemon-{index}.log")

    def start(self) -> None:
        for daemon in self.daemons:
            daemon.start()

    def kill(self, index: int) -> int:
        daemon = self.daemons[index]
        assert daemon.process is not None
        daemon.kill()
        return daemon.process.pid

    def restart(self, index: int) -> None:
        self.daemons[index] = self._new(index)
        self.daemons[index].start()

    def post(self, client: httpx.Client, number: int) -> int:
        """Post one inbound message, retrying on another daemon when one is down."""
        body, headers = signed(number)
        for attempt in range(6):
            daemon = self.daemons[(number + attempt) % len(self.daemons)]
            try:
                response = client.post(
                    f"{daemon.url}/webhooks/sandbox", content=body, headers=headers
                )
            except httpx.TransportError:
                continue
            if response.status_code == 200:
                return 200
        raise AssertionError(f"no daemon accepted inbound message {number}")

    def stop(self) -> list[int]:
        codes = []
        for daemon in self.daemons:
            if daemon.process is not None and daemon.process.poll() is None:
                codes.append(daemon.terminate())
        return codes

    def kill_all(self) -> None:
        for daemon in self.daemons:
            daemon.kill()


@pytest.fixture
def cluster(
    write_config: Callable[..., Path], store_url: str, tmp_path: Path
) -> Iterator[Cluster]:
    config = write_config(
        CONFIG,
        store_url=store_url,
        compliance=(
            "\n[compliance]\nrequire_informational_consent = false\n"
            'sending_window = "00:00-00:00"\nopt_out_notice = ""\n'
            "suspend_after_inactive_days = 365\n"
        ),
    )
    built = Cluster(config, tmp_path)
    try:
        yield built
    finally:
        built.kill_all()


def post_range(cluster: Cluster, numbers: range) -> None:
    with httpx.Client(timeout=15) as client, ThreadPoolExecutor(12) as pool:
        assert set(pool.map(lambda n: cluster.post(client, n), numbers)) == {200}


def holds_lease(store: Store, pid: int) -> bool:
    return str(store.read_lease(LEASE).holder).endswith(f":{pid}")


def sent_count(data_dir: Path) -> int:
    path = data_dir / "sandbox-outbox.jsonl"
    return path.read_bytes().count(b"\n") if path.exists() else 0


def busiest_second(lines: list[dict[str, object]]) -> int:
    """Return the most sends that started within any one second."""
    times = sorted(
        datetime.fromisoformat(str(line["sent_at"])).timestamp() for line in lines
    )
    return max(
        bisect.bisect_left(times, start + 1.0) - index
        for index, start in enumerate(times)
    )


def sent_lines(data_dir: Path) -> list[dict[str, object]]:
    path = data_dir / "sandbox-outbox.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_three_daemons_send_once_within_rate(
    cluster: Cluster, store_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    started = time.monotonic()
    cluster.start()
    store = Store(store_url)
    try:
        post_range(cluster, range(0, 700))
        wait_for(lambda: store.read_lease(LEASE).holder is not None)
        holder_pid = int(str(store.read_lease(LEASE).holder).rsplit(":", 1)[1])
        victim = next(
            index
            for index, daemon in enumerate(cluster.daemons)
            if daemon.process is not None and daemon.process.pid == holder_pid
        )

        # The poller's holder dies with events and messages claimed.
        killed_at = datetime.now(UTC)
        killed_pid = cluster.kill(victim)
        post_range(cluster, range(700, 1400))
        # The lease runs out 3 s after the last renewal; a standby checks every 1 s.
        wait_for(lambda: not holds_lease(store, killed_pid), timeout=10)
        cluster.restart(victim)
        post_range(cluster, range(1400, CUSTOMERS))

        wait_for(lambda: sent_count(data_dir) >= CUSTOMERS, timeout=75, interval=0.5)
        wait_for(lambda: store.counts()["pending_events"] == 0, timeout=20)
        new_holder = store.read_lease(LEASE).holder
        live_pids = [d.process.pid for d in cluster.daemons if d.process is not None]
        messages = [m for m in store.messages() if m.direction == "out"]
        exit_codes = cluster.stop()
    finally:
        store.close()
    elapsed = time.monotonic() - started

    lines = sent_lines(data_dir)
    print(f"{CUSTOMERS} customers through 3 daemons in {elapsed:.1f} s")

    # Every customer got one welcome. The only repeats allowed are sends the
    # killed daemon had handed to the provider without recording them yet:
    # another daemon sends those again once their claim expires.
    first_sends = {}
    repeats = []
    for line in lines:
        if line["message_id"] in first_sends:
            repeats.append(first_sends[line["message_id"]])
        else:
            first_sends[line["message_id"]] = line
    print(f"{len(repeats)} send(s) repeated after the SIGKILL")
    assert len(first_sends) == CUSTOMERS
    assert len({line["to"] for line in first_sends.values()}) == CUSTOMERS
    assert len(repeats) <= CONCURRENCY
    for first in repeats:
        assert datetime.fromisoformat(str(first["sent_at"])) <= killed_at
    assert len(messages) == CUSTOMERS
    assert Counter(m.status for m in messages) == {"sent": CUSTOMERS}
    provider_ids = {line["message_id"]: line["id"] for line in lines}
    assert all(provider_ids[m.id] == m.provider_message_id for m in messages)

    # Together the daemons kept to the sender's rate. Slots are exactly
    # 1/PER_SECOND apart, but a send starts when its daemon's thread wakes
    # after its slot, and on a loaded machine that delay varies by tens of
    # milliseconds, so a couple of sends may bunch into one second.
    busiest = busiest_second(lines)
    print(f"busiest second: {busiest} sends, limit {PER_SECOND}")
    assert busiest <= PER_SECOND + BUNCHING_ALLOWANCE

    # The poller moved to a live daemon, and every daemon stopped cleanly.
    assert new_holder is not None
    assert not new_holder.endswith(f":{killed_pid}")
    assert any(new_holder.endswith(f":{pid}") for pid in live_pids)
    assert exit_codes == [0, 0, 0]
