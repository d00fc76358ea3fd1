"""The Orders Count and Last Order ID fields, read from the Admin API."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from shopify_graphql_support import ADMIN_URL, TOKEN, fixed_clock, shopify_vcr
from shopify_support import (
    SECRET,
    SHOP,
    load_fixture,
    make_request,
    shopify_toml,
    write_config,
)

import parley.config
from parley import OrderStatusEvent
from parley.runtime import Runtime, build_runtime
from parley_shopify.state import CustomerStats, save_customer_stats

NOW = "2026-11-18T00:00:00Z"
CUSTOMER = "7410238472295"

TEMPLATES = {
    "order_confirmed": "Hi {{First Name | there}}, order {{Order Number}} is "
    "order number {{Orders Count | one}} with us (last: {{Last Order ID}}).",
    "order_shipped": "Hi {{First Name | there}}, order {{Order Number}} has "
    "shipped; that is {{orders  count | one}} orders so far.",
    "order_cancelled": "Hi {{First Name | there}}, order {{Order Number}} "
    "was cancelled.",
}

ORDER_UPDATES = """
[order_updates]
channel = "sandbox"

[order_updates.templates]
confirmed = "order_confirmed"
shipped = "order_shipped"
cancelled = "order_cancelled"

[outbox]
poll_interval_seconds = 3600
"""

RuntimeFactory = Callable[..., Runtime]


@pytest.fixture
def make_runtime(tmp_path: Path, store_url: str) -> Iterator[RuntimeFactory]:
    built: list[Runtime] = []

    def factory(token: bool = True, extra: str = "") -> Runtime:
        shop: dict[str, object] = {"domain": SHOP, "client_secret": SECRET}
        if token:
            shop.update(access_token=TOKEN, admin_base_url=ADMIN_URL)
        lines = [f"{name} = {json.dumps(text)}" for name, text in TEMPLATES.items()]
        body = (
            shopify_toml([shop])
            + extra
            + ORDER_UPDATES
            + "\n[templates]\n"
            + "\n".join(lines)
            + "\n"
        )
        path = write_config(tmp_path, store_url, body, plugins=("sandbox", "shopify"))
        loaded = parley.config.load_config(path, environ={})
        runtime = build_runtime(loaded, clock=fixed_clock(NOW))
        built.append(runtime)
        return runtime

    try:
        yield factory
    finally:
        for runtime in built:
            runtime.close()


def deliver(runtime: Runtime, *names: str) -> None:
    [route] = [r for r in runtime.routes if r.plugin_id == "shopify"]
    for name in names:
        body, headers = load_fixture(name)
        assert route.handler(make_request(body, headers)).status == 200


def drain(runtime: Runtime) -> None:
    for _ in range(20):
        busy = runtime.event_worker.run_once() + runtime.outbox_worker.run_once()
        if not busy:
            return
    raise AssertionError("workers still busy after 20 rounds")


def sent_bodies(runtime: Runtime) -> list[str]:
    return [m.body for m in runtime.store.messages() if m.kind == "order_update"]


def test_orders_count_cached(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime()
    deliver(runtime, "orders_create", "orders_fulfilled")

    with shopify_vcr().use_cassette("customer_stats.yaml") as cassette:
        drain(runtime)

    assert cassette.play_count == 1
    assert sent_bodies(runtime) == [
        "Hi Avery, order #1042 is order number 3 with us (last: 6120459210842).",
        "Hi Avery, order #1042 has shipped; that is 3 orders so far.",
    ]
    stored = runtime.context.get_state("shopify", f"customer_stats:{SHOP}:{CUSTOMER}")
    assert stored is not None
    assert json.loads(stored)["orders_count"] == "3"


def test_no_token_uses_fallback(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(token=False)
    deliver(runtime, "orders_create")

    with shopify_vcr().use_cassette("no_requests.yaml"):
        drain(runtime)

    assert sent_bodies(runtime) == [
        "Hi Avery, order #1042 is order number one with us (last: 6120459210842)."
    ]


def test_template_without_field_reads_nothing(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime()
    deliver(runtime, "orders_cancelled")

    with shopify_vcr().use_cassette("no_requests.yaml"):
        drain(runtime)

    assert sent_bodies(runtime) == ["Hi Jordan, order #1043 was cancelled."]


def test_stale_count_read_again(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime()
    # Read before the order was placed, so it cannot count that order.
    before = datetime(2026, 11, 16, 12, 0, tzinfo=UTC)
    save_customer_stats(
        runtime.context, SHOP, CUSTOMER, CustomerStats("2", "6120000000001", before)
    )
    deliver(runtime, "orders_create")

    with shopify_vcr().use_cassette("customer_stats.yaml") as cassette:
        drain(runtime)

    assert cassette.play_count == 1
    assert "order number 3 with us" in sent_bodies(runtime)[0]


def test_throttled_count_delays_message(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(extra="max_attempts = 2\n")
    deliver(runtime, "orders_create")

    with shopify_vcr().use_cassette("customer_stats_429.yaml") as cassette:
        drain(runtime)

    assert cassette.play_count == 2
    assert sent_bodies(runtime) == []
    assert runtime.store.counts()["pending_events"] == 1


def test_revoked_token_uses_fallback(
    make_runtime: RuntimeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = make_runtime()
    deliver(runtime, "orders_create")

    with shopify_vcr().use_cassette("customer_stats_401.yaml"):
        drain(runtime)

    assert sent_bodies(runtime) == [
        "Hi Avery, order #1042 is order number one with us (last: 6120459210842)."
    ]
    assert "HTTP 401" in caplog.text
    assert TOKEN not in caplog.text


def test_resolve_reads_without_prefetch(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime()
    deliver(runtime, "orders_create")
    [claimed] = runtime.store.claim_events("test", 10, datetime.now(UTC), 60)
    event = OrderStatusEvent.from_json(claimed.payload)
    resolve = runtime.context.plugin_manager.hook.resolve_field

    with shopify_vcr().use_cassette("customer_stats.yaml") as cassette:
        values = [
            resolve(name=name, contact=None, event=event, context=runtime.context)
            for name in ("orders count", "last order id")
        ]

    assert values == ["3", "6120459210842"]
    assert cassette.play_count == 1


@pytest.mark.parametrize(
    ("fetched", "occurred", "usable"),
    [
        (timedelta(minutes=-10), timedelta(minutes=-20), True),
        (timedelta(minutes=-10), timedelta(minutes=-5), False),
        (timedelta(hours=-2), timedelta(hours=-3), False),
    ],
    ids=["fresh", "read-before-event", "expired"],
)
def test_stats_usable_for(
    fetched: timedelta, occurred: timedelta, usable: bool
) -> None:
    now = datetime(2026, 11, 18, tzinfo=UTC)
    stats = CustomerStats("3", "1", now + fetched)

    assert stats.usable_for(now + occurred, now, ttl=3600) is usable


def test_stats_json_round_trip() -> None:
    stats = CustomerStats("3", None, datetime(2026, 11, 18, tzinfo=UTC))

    assert CustomerStats.from_json(stats.to_json()) == stats
    assert CustomerStats.from_json("not json") is None
    assert CustomerStats.from_json('{"orders_count": "3"}') is None
