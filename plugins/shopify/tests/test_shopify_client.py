"""The Admin GraphQL client: cost-based waits, retries and errors."""

from __future__ import annotations

import pytest
from shopify_graphql_support import (
    TOKEN,
    FakeClock,
    Reply,
    graphql_server,
    shop_settings,
    shopify_vcr,
)

from parley import FatalSyncError, RetriableSyncError
from parley_shopify.client import AdminClient, QueryCost
from parley_shopify.queries import CUSTOMER_STATS_OPERATION, CUSTOMER_STATS_QUERY

CUSTOMER = {"id": "gid://shopify/Customer/7410238472295"}


def run_query(clock: FakeClock, max_attempts: int = 5, **shop: object) -> object:
    with AdminClient(
        shop_settings(**shop),
        "2026-07",
        max_attempts,
        sleep=clock.sleep,
        monotonic=clock.monotonic,
    ) as client:
        return client.execute(CUSTOMER_STATS_QUERY, CUSTOMER, CUSTOMER_STATS_OPERATION)


def test_throttled_200_waits_then_succeeds() -> None:
    clock = FakeClock()

    with shopify_vcr().use_cassette("client_throttled_then_ok.yaml") as cassette:
        data = run_query(clock)

    assert data == {
        "customer": {
            "numberOfOrders": "3",
            "lastOrder": {"id": "gid://shopify/Order/6120459210842"},
        }
    }
    assert clock.sleeps == [1.8]
    assert cassette.play_count == 2


def test_429_honours_retry_after() -> None:
    clock = FakeClock()

    with shopify_vcr().use_cassette("client_429_retry_after.yaml") as cassette:
        run_query(clock)

    assert clock.sleeps == [2.0]
    assert cassette.play_count == 2


def test_5xx_backs_off_then_succeeds() -> None:
    clock = FakeClock()

    with shopify_vcr().use_cassette("client_503_then_ok.yaml") as cassette:
        run_query(clock)

    assert clock.sleeps == [1.0]
    assert cassette.play_count == 2


def test_all_429_gives_up() -> None:
    clock = FakeClock()

    with shopify_vcr().use_cassette("client_always_429.yaml") as cassette:
        with pytest.raises(RetriableSyncError) as caught:
            run_query(clock, max_attempts=3)

    assert cassette.play_count == 3
    assert cassette.all_played
    assert clock.sleeps == [1.0, 1.0]
    assert "failed 3 times" in str(caught.value)
    assert "HTTP 429" in str(caught.value)
    assert caught.value.retry_after == 1.0


def test_unauthorized_is_fatal_at_once() -> None:
    clock = FakeClock()

    with shopify_vcr().use_cassette("client_unauthorized.yaml") as cassette:
        with pytest.raises(FatalSyncError) as caught:
            run_query(clock)

    assert cassette.play_count == 1
    assert clock.sleeps == []
    assert "HTTP 401" in str(caught.value)
    assert "access_token" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_graphql_error_is_fatal() -> None:
    clock = FakeClock()

    with shopify_vcr().use_cassette("client_graphql_error.yaml"):
        with pytest.raises(FatalSyncError) as caught:
            run_query(clock)

    assert "undefinedField" in str(caught.value)
    assert "api_version" in str(caught.value)
    assert clock.sleeps == []


def test_data_null_is_never_returned() -> None:
    clock = FakeClock()

    with shopify_vcr().use_cassette("client_data_null.yaml") as cassette:
        with pytest.raises(RetriableSyncError) as caught:
            run_query(clock, max_attempts=3)

    assert cassette.play_count == 3
    assert "without data" in str(caught.value)


def test_waits_for_points_before_next_request() -> None:
    clock = FakeClock()

    with shopify_vcr().use_cassette("client_cost_wait.yaml"):
        with AdminClient(
            shop_settings(),
            "2026-07",
            5,
            sleep=clock.sleep,
            monotonic=clock.monotonic,
        ) as client:
            client.execute(CUSTOMER_STATS_QUERY, CUSTOMER, CUSTOMER_STATS_OPERATION)
            client.execute(CUSTOMER_STATS_QUERY, CUSTOMER, CUSTOMER_STATS_OPERATION)

    assert clock.sleeps == [0.07]


def test_throttle_wait_formula() -> None:
    cost = QueryCost(requested=100, available=10, restore_rate=50, maximum=1000)

    assert cost.throttle_wait() == pytest.approx(1.8)


@pytest.mark.parametrize(
    "cost",
    [
        QueryCost(requested=None, available=10, restore_rate=50, maximum=None),
        QueryCost(requested=100, available=10, restore_rate=0, maximum=None),
        QueryCost(requested=5, available=10, restore_rate=50, maximum=None),
    ],
    ids=["no-requested", "no-rate", "enough-points"],
)
def test_throttle_wait_unknown(cost: QueryCost) -> None:
    assert cost.throttle_wait() is None


def test_request_format_on_local_server() -> None:
    reply = Reply({"data": {"customer": {"numberOfOrders": "2", "lastOrder": None}}})

    with graphql_server([reply]) as (base_url, seen):
        data = run_query(FakeClock(), admin_base_url=base_url)

    assert data == {"customer": {"numberOfOrders": "2", "lastOrder": None}}
    [request] = seen
    assert request.path == "/admin/api/2026-07/graphql.json"
    assert request.token == TOKEN
    assert request.body["operationName"] == "CustomerOrderStats"
    assert request.body["variables"] == CUSTOMER
    assert request.body["query"] == CUSTOMER_STATS_QUERY


def test_network_error_is_retried() -> None:
    clock = FakeClock()
    # A port of this machine that nothing listens on once the server stopped.
    with graphql_server([]) as (base_url, _seen):
        closed_url = base_url

    with pytest.raises(RetriableSyncError) as caught:
        run_query(clock, max_attempts=2, admin_base_url=closed_url)

    assert "network error" in str(caught.value)
    assert clock.sleeps == [1.0]


def test_shop_without_token_rejected() -> None:
    with pytest.raises(FatalSyncError) as caught:
        AdminClient(shop_settings(access_token=None), "2026-07", 3)

    assert "has no access_token" in str(caught.value)
