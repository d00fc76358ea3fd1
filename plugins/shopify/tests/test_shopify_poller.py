"""Polling the Admin GraphQL API: pages, cursor, throttling, missed webhooks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from shopify_graphql_support import (
    ADMIN_URL,
    TOKEN,
    FakeClock,
    Reply,
    fixed_clock,
    graphql_server,
    order_node,
    orders_page,
    shopify_vcr,
)
from shopify_support import (
    SECRET,
    SHOP,
    ContextFactory,
    load_fixture,
    make_request,
    shopify_toml,
    stored_events,
    write_config,
)

import parley.config
from parley import OrderStatus, PluginContext, Poller, RetriableSyncError
from parley.runtime import Runtime, build_runtime
from parley.store import MessageRecord
from parley_shopify.poller import OrderPoller
from parley_shopify.settings import shopify_settings

NOW = "2026-11-17T15:00:00Z"

TEMPLATES = {
    "order_confirmed": "Hi {{First Name | there}}, thanks for your order "
    "{{Order Number}}.",
    "order_shipped": "Hi {{First Name | there}}, your order {{Order Number}} "
    "has been shipped. Track it: {{Tracking URL | no tracking yet}}",
    "order_cancelled": "Hi {{First Name | there}}, your order {{Order Number}} "
    "has been cancelled ({{Cancel Reason}}).",
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


def polled_shop(**changes: object) -> dict[str, object]:
    shop: dict[str, object] = {
        "domain": SHOP,
        "client_secret": SECRET,
        "access_token": TOKEN,
        "admin_base_url": ADMIN_URL,
    }
    shop.update(changes)
    return shop


def run_poll(context: PluginContext, clock: FakeClock | None = None) -> FakeClock:
    clock = clock or FakeClock()
    shop = shopify_settings(context).shops[0]
    poller = OrderPoller(context, shop, sleep=clock.sleep, monotonic=clock.monotonic)
    poller.run()
    return clock


def cursor_of(context: PluginContext, shop: str = SHOP) -> str | None:
    return context.get_state("shopify", f"poll_cursor:{shop}")


@pytest.fixture
def poll_context(make_context: ContextFactory) -> PluginContext:
    return make_context([polled_shop()], clock=fixed_clock(NOW))


def make_runtime(tmp_path: Path, store_url: str, now: str) -> Runtime:
    lines = [f"{name} = {json.dumps(text)}" for name, text in TEMPLATES.items()]
    body = (
        shopify_toml([polled_shop()])
        + ORDER_UPDATES
        + "\n[templates]\n"
        + "\n".join(lines)
        + "\n"
    )
    path = write_config(tmp_path, store_url, body, plugins=("sandbox", "shopify"))
    return build_runtime(
        parley.config.load_config(path, environ={}), clock=fixed_clock(now)
    )


@pytest.fixture
def runtime_at(tmp_path: Path, store_url: str) -> Iterator[object]:
    built: list[Runtime] = []

    def factory(now: str) -> Runtime:
        runtime = make_runtime(tmp_path, store_url, now)
        built.append(runtime)
        return runtime

    try:
        yield factory
    finally:
        for runtime in built:
            runtime.close()


def drain(runtime: Runtime) -> None:
    for _ in range(20):
        busy = runtime.event_worker.run_once() + runtime.outbox_worker.run_once()
        if not busy:
            return
    raise AssertionError("workers still busy after 20 rounds")


def order_updates(runtime: Runtime) -> list[MessageRecord]:
    return [m for m in runtime.store.messages() if m.kind == "order_update"]


def deliver_fixture(runtime: Runtime, name: str) -> dict[str, object]:
    [route] = [r for r in runtime.routes if r.plugin_id == "shopify"]
    body, headers = load_fixture(name)
    response = route.handler(make_request(body, headers))
    assert response.status == 200
    return dict(response.body)


# Pages and cursor


def test_poll_reads_two_pages(poll_context: PluginContext) -> None:
    with shopify_vcr().use_cassette("poll_two_pages.yaml") as cassette:
        run_poll(poll_context)

    assert cassette.all_played
    keys = [event.dedupe_key for event in stored_events(poll_context)]
    assert keys == [
        f"shopify:{SHOP}:1001:confirmed",
        f"shopify:{SHOP}:1002:shipped:9002",
        f"shopify:{SHOP}:1002:confirmed",
    ]
    assert cursor_of(poll_context) == "2026-11-17T14:57:30Z"


def test_poll_event_values(poll_context: PluginContext) -> None:
    with shopify_vcr().use_cassette("poll_two_pages.yaml"):
        run_poll(poll_context)

    shipped = stored_events(poll_context)[1]
    assert shipped.status is OrderStatus.SHIPPED
    assert shipped.order_name == "#1002"
    assert shipped.fields["Carrier"] == "USPS"
    assert shipped.fields["Tracking Number"] == "9400100000000000000002"
    assert shipped.fields["Order Total"] == "18.50 USD"
    assert shipped.fields["Last Order ID"] == "1002"
    assert shipped.customer.phone == "+14155550142"
    assert shipped.customer.external_id == "7002"
    assert shipped.occurred_at.isoformat() == "2026-11-17T14:57:29+00:00"


def test_cursor_stored_and_reused(poll_context: PluginContext) -> None:
    with shopify_vcr().use_cassette("poll_cursor_reuse.yaml") as cassette:
        run_poll(poll_context)
        first_cursor = cursor_of(poll_context)
        run_poll(poll_context)

    assert first_cursor == "2026-11-17T14:56:10Z"
    assert cassette.all_played
    assert cursor_of(poll_context) == "2026-11-17T14:56:10Z"
    assert len(stored_events(poll_context)) == 1
    assert poll_context.store.counts()["webhook_deliveries"] == 1


def test_first_poll_starts_one_interval_back(
    make_context: ContextFactory,
) -> None:
    context = make_context(
        [polled_shop(poll_interval_seconds=600)], clock=fixed_clock(NOW)
    )
    reply = Reply(orders_page([]))

    with graphql_server([reply]) as (base_url, seen):
        shop = (
            shopify_settings(context)
            .shops[0]
            .model_copy(update={"admin_base_url": base_url})
        )
        OrderPoller(context, shop).run()

    assert seen[0].body["variables"]["query"] == "updated_at:>='2026-11-17T14:50:00Z'"
    assert cursor_of(context) == "2026-11-17T14:50:00Z"


# Responses without data


def test_data_null_stores_no_event(make_context: ContextFactory) -> None:
    context = make_context(
        [polled_shop()], extra="max_attempts = 2\n", clock=fixed_clock(NOW)
    )

    with shopify_vcr().use_cassette("poll_data_null.yaml") as cassette:
        with pytest.raises(RetriableSyncError):
            clock = FakeClock()
            run_poll(context, clock)

    assert cassette.all_played
    assert clock.sleeps == [2.0]
    assert context.store.counts()["events"] == 0
    assert context.store.counts()["webhook_deliveries"] == 0
    assert cursor_of(context) == "2026-11-17T14:55:00Z"


# Through the runtime, up to the messages sent


def test_throttled_poll_sends_cancel_once(runtime_at: object) -> None:
    runtime = runtime_at(NOW)  # type: ignore[operator]
    clock = FakeClock()

    with shopify_vcr().use_cassette("poll_throttled_cancel.yaml") as cassette:
        run_poll(runtime.context, clock)
    drain(runtime)

    assert cassette.all_played
    assert clock.sleeps == [1.8]
    bodies = [message.body for message in order_updates(runtime)]
    assert bodies == ["Hi Sam, your order #1003 has been cancelled (Customer request)."]


def test_missed_webhook_sent_once(runtime_at: object) -> None:
    runtime = runtime_at("2026-11-17T14:45:00Z")  # type: ignore[operator]
    [poller] = runtime.pollers
    shipped = (
        "Hi Avery, your order #1042 has been shipped. Track it: "
        "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1Z999AA10123456784"
    )

    # The confirmation arrives; the fulfillment webhook is lost.
    deliver_fixture(runtime, "orders_create")
    drain(runtime)
    with shopify_vcr().use_cassette("poll_missed_fulfillment.yaml") as cassette:
        poller.run()
        drain(runtime)
        after_poll = [message.body for message in order_updates(runtime)]

        # Shopify redelivers the lost webhook, and the next poll runs.
        redelivered = deliver_fixture(runtime, "fulfillments_create")
        poller.run()
        drain(runtime)

    assert cassette.all_played
    assert after_poll == ["Hi Avery, thanks for your order #1042.", shipped]
    assert redelivered == {"status": "accepted", "events": 0}
    assert [message.body for message in order_updates(runtime)] == after_poll
    assert all(message.status == "sent" for message in order_updates(runtime))


def test_poller_registered_per_token(make_context: ContextFactory) -> None:
    context = make_context(
        [
            polled_shop(),
            polled_shop(domain="second-shop.myshopify.com", poll_interval_seconds=60),
            {"domain": "webhook-only.myshopify.com", "client_secret": "s3"},
        ]
    )
    pollers: list[Poller] = []

    context.plugin_manager.hook.register_pollers(
        register=pollers.append, context=context
    )

    assert [(p.name, p.interval_seconds) for p in pollers] == [
        (f"orders:{SHOP}", 300.0),
        ("orders:second-shop.myshopify.com", 60.0),
    ]
    assert all(p.plugin_id == "shopify" for p in pollers)


def test_two_shops_polled_separately(make_context: ContextFactory) -> None:
    second = "second-shop.myshopify.com"
    first_page = orders_page([order_node(2001, "#2001", "2026-11-17T14:58:00Z")])
    second_page = orders_page([order_node(3001, "#3001", "2026-11-17T14:59:00Z")])

    with (
        graphql_server([Reply(first_page)]) as (first_url, first_seen),
        graphql_server([Reply(second_page)]) as (second_url, second_seen),
    ):
        context = make_context(
            [
                polled_shop(admin_base_url=first_url),
                polled_shop(
                    domain=second,
                    access_token="shpat_second_shop_token_9c41",
                    admin_base_url=second_url,
                ),
            ],
            clock=fixed_clock(NOW),
        )
        pollers: list[Poller] = []
        context.plugin_manager.hook.register_pollers(
            register=pollers.append, context=context
        )
        for poller in pollers:
            poller.run()

    assert [request.token for request in first_seen] == [TOKEN]
    assert [request.token for request in second_seen] == [
        "shpat_second_shop_token_9c41"
    ]
    stores = {event.order_id: event.store for event in stored_events(context)}
    assert stores == {"2001": SHOP, "3001": second}
    assert cursor_of(context) == "2026-11-17T14:58:00Z"
    assert cursor_of(context, second) == "2026-11-17T14:59:00Z"
