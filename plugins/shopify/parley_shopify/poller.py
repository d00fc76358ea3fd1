"""Polling: reconcile each shop's orders through the Admin GraphQL API.

Webhooks can be lost (a delivery fails for more than Shopify's four hours
of retries, or the subscription is removed), so each shop with an access
token is polled every ``poll_interval_seconds``. A poll reads the orders
updated since the shop's cursor, maps every order to the same events, with
the same dedupe keys, as its webhooks, and stores them as one delivery per
order and ``updatedAt``. Whatever a webhook already stored is dropped as a
duplicate, so a poll sends only what the webhooks missed, and a later
redelivery of a webhook sends nothing the poll stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from parley import FatalSyncError, OrderStatusEvent, PluginContext, Poller
from parley_shopify.client import AdminClient, Monotonic, Sleep
from parley_shopify.consent import order_consents
from parley_shopify.const import PLUGIN_ID, POLL_TOPIC
from parley_shopify.customer import OrderSummary, summarize_order
from parley_shopify.graphql_order import rest_order
from parley_shopify.mapping import (
    OrderRef,
    PayloadError,
    order_id_of,
    order_state_events,
    order_total,
)
from parley_shopify.queries import ORDERS_OPERATION, ORDERS_QUERY
from parley_shopify.settings import ShopifySettings, ShopSettings, shopify_settings
from parley_shopify.state import (
    format_utc,
    load_cursor,
    recall_summary,
    remember_summary,
    save_cursor,
)
from parley_shopify.values import as_dict, as_list, as_text, parse_timestamp

logger = logging.getLogger(__name__)

# A run stops after this many pages; the next run goes on from the cursor.
MAX_PAGES_PER_RUN = 50


@dataclass(frozen=True)
class MappedOrder:
    """One order of a page, ready to store.

    Attributes:
        order_id: the numeric order id.
        updated_at: the order's ``updatedAt`` exactly as Shopify wrote it.
        events: every event the order's state implies.
        summary: the order's summary merged with the stored one.
        changed: True when the summary differs from the stored one.
    """

    order_id: str
    updated_at: str
    events: list[OrderStatusEvent]
    summary: OrderSummary
    changed: bool


@dataclass(frozen=True)
class PageResult:
    """The outcome of storing one page of orders."""

    orders: int
    new_events: int
    newest: datetime | None


def build_pollers(context: PluginContext) -> list[Poller]:
    """Return one poller per configured shop that has an access token."""
    settings = shopify_settings(context)
    pollers = []
    for shop in settings.shops:
        if shop.polled:
            pollers.append(OrderPoller(context, shop).as_poller())
        else:
            logger.info("shop %s has no access_token; it is not polled", shop.domain)
    return pollers


class OrderPoller:
    """Reads one shop's changed orders and stores the events they imply."""

    def __init__(
        self,
        context: PluginContext,
        shop: ShopSettings,
        *,
        sleep: Sleep = time.sleep,
        monotonic: Monotonic = time.monotonic,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """Create the poller of one shop.

        Args:
            context: the running instance.
            shop: the shop; it must have an access token.
            sleep: waits between requests; tests pass a fake one.
            monotonic: the clock that ``sleep`` advances.
            transport: an httpx transport; None uses the network.
        """
        self._context = context
        self.shop = shop
        self._sleep = sleep
        self._monotonic = monotonic
        self._transport = transport

    def as_poller(self) -> Poller:
        """Wrap this poller for ``register_pollers``."""
        return Poller(
            plugin_id=PLUGIN_ID,
            name=f"orders:{self.shop.domain}",
            interval_seconds=self.shop.poll_interval_seconds,
            run=self.run,
        )

    def run(self) -> None:
        """Read every order updated since the cursor and store its events.

        The cursor moves to the newest ``updatedAt`` of a page once that
        page's events are stored. The first poll of a shop starts one poll
        interval before the current time, so older orders are never read.

        Raises:
            RetriableSyncError: Shopify throttled or failed on every attempt.
            FatalSyncError: the token was rejected, or the query failed.
        """
        settings = shopify_settings(self._context)
        cursor = self._start_cursor()
        # Orders whose updatedAt equals the cursor are read again (">="),
        # because the cursor has whole seconds and another order of the
        # same second may not have been read yet. Their deliveries are
        # duplicates, so they store nothing twice.
        search = f"updated_at:>='{format_utc(cursor)}'"
        after: str | None = None
        orders = new_events = pages = 0

        with self._client(settings) as client:
            while pages < MAX_PAGES_PER_RUN:
                variables = {
                    "first": settings.poll_page_size,
                    "after": after,
                    "query": search,
                }
                connection = self._orders_connection(
                    client.execute(ORDERS_QUERY, variables, ORDERS_OPERATION)
                )
                page = self._store_page(as_list(connection.get("nodes")), settings)
                pages += 1
                orders += page.orders
                new_events += page.new_events
                if page.newest is not None and page.newest > cursor:
                    cursor = page.newest
                    save_cursor(self._context, self.shop.domain, cursor)

                after = _next_page(connection)
                if after is None:
                    break
            else:
                logger.info(
                    "shop %s: poll stopped after %d pages; the next run goes on",
                    self.shop.domain,
                    pages,
                )

        logger.info(
            "shop %s: poll read %d orders on %d pages, %d new events; cursor %s",
            self.shop.domain,
            orders,
            pages,
            new_events,
            format_utc(cursor),
        )

    def _client(self, settings: ShopifySettings) -> AdminClient:
        return AdminClient(
            self.shop,
            settings.api_version,
            settings.max_attempts,
            sleep=self._sleep,
            monotonic=self._monotonic,
            transport=self._transport,
        )

    def _start_cursor(self) -> datetime:
        cursor = load_cursor(self._context, self.shop.domain)
        if cursor is not None:
            return cursor

        start = self._context.clock() - timedelta(
            seconds=self.shop.poll_interval_seconds
        )
        save_cursor(self._context, self.shop.domain, start)
        logger.info(
            "shop %s: first poll; reading orders updated since %s",
            self.shop.domain,
            format_utc(start),
        )
        return start

    def _orders_connection(self, data: Mapping[str, Any]) -> Mapping[str, Any]:
        connection = data.get("orders")
        if not isinstance(connection, Mapping):
            raise FatalSyncError(
                f"[{PLUGIN_ID}] shop {self.shop.domain}: {ORDERS_OPERATION} "
                "returned no orders connection; check api_version"
            )
        return connection

    def _store_page(
        self, nodes: Sequence[Any], settings: ShopifySettings
    ) -> PageResult:
        newest: datetime | None = None
        new_events = 0
        for position, node in enumerate(nodes):
            try:
                mapped = self._map(as_dict(node), settings)
            except PayloadError as err:
                # One unreadable order must not stop the others from syncing.
                logger.warning(
                    "shop %s: order at position %d of a poll page skipped: %s",
                    self.shop.domain,
                    position,
                    err,
                )
                continue

            new_events += self._store(mapped)
            updated_at = parse_timestamp(mapped.updated_at)
            if updated_at is not None and (newest is None or updated_at > newest):
                newest = updated_at
        return PageResult(len(nodes), new_events, newest)

    def _map(self, node: Mapping[str, Any], settings: ShopifySettings) -> MappedOrder:
        order = rest_order(node)
        order_id = order_id_of(order, "id")
        updated_at = as_text(order.get("updated_at"))
        occurred_at = parse_timestamp(updated_at)
        if updated_at is None or occurred_at is None:
            raise PayloadError(f"order {order_id} has no valid updatedAt")

        region = self.shop.region(self._context.settings.contacts.default_region)
        previous = recall_summary(self._context, self.shop.domain, order_id)
        summary = summarize_order(order, order_total(order), region)
        summary = summary.merged_with(previous)

        order_ref = OrderRef(self.shop.domain, order_id, summary, occurred_at)
        consents = order_consents(order, order_id, self.shop, region, occurred_at)
        events = order_state_events(order_ref, order, settings.confirmed_on, consents)
        return MappedOrder(
            order_id, updated_at, events, summary, changed=summary != previous
        )

    def _store(self, mapped: MappedOrder) -> int:
        shop = self.shop.domain
        receipt = self._context.accept_order_events(
            source=PLUGIN_ID,
            delivery_id=f"poll:{shop}:{mapped.order_id}:{mapped.updated_at}",
            topic=POLL_TOPIC,
            events=mapped.events,
        )
        if mapped.changed and not receipt.duplicate_delivery:
            remember_summary(self._context, shop, mapped.order_id, mapped.summary)
        if receipt.events_stored:
            logger.info(
                "shop %s: poll stored %d new events of order %s",
                shop,
                receipt.events_stored,
                mapped.order_id,
            )
        return receipt.events_stored


def _next_page(connection: Mapping[str, Any]) -> str | None:
    page_info = as_dict(connection.get("pageInfo"))
    if page_info.get("hasNextPage") is not True:
        return None
    return as_text(page_info.get("endCursor"))
