"""The ``Orders Count`` and ``Last Order ID`` template fields.

Order bodies lost the customer's order count in Admin API 2022-04, so
``Orders Count`` is read from ``Customer.numberOfOrders`` over the Admin
GraphQL API, together with ``Customer.lastOrder``. That happens only for a
shop with an access token, and only when the template of the event's
status mentions one of the two fields. The values are kept in the plugin
state for ``orders_count_ttl_seconds``.

The core renders templates inside a store transaction, where a plugin must
not open another one and should not wait on the network. So the daemon's
values are read in ``order_status_changed``, which runs just before, and
``resolve_field`` finds them in memory. Only when it is called for an event
that hook did not see does ``resolve_field`` read them itself, without the
plugin state.

Without a token, or when the read fails for good, ``Orders Count`` is
empty, so the template's fallback applies, and ``Last Order ID`` is the id
of the order the event is about.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from parley import FatalSyncError, OrderStatusEvent, PluginContext
from parley_shopify.client import AdminClient, Monotonic, Sleep
from parley_shopify.const import FIELD_LAST_ORDER_ID, FIELD_ORDERS_COUNT, PLUGIN_ID
from parley_shopify.graphql_order import numeric_id
from parley_shopify.queries import CUSTOMER_STATS_OPERATION, CUSTOMER_STATS_QUERY
from parley_shopify.settings import ShopifySettings, ShopSettings, shopify_settings
from parley_shopify.state import (
    CustomerStats,
    load_customer_stats,
    save_customer_stats,
)
from parley_shopify.values import as_dict, as_text

logger = logging.getLogger(__name__)

ORDERS_COUNT = FIELD_ORDERS_COUNT.casefold()
LAST_ORDER_ID = FIELD_LAST_ORDER_ID.casefold()

# Events whose values are kept in memory between order_status_changed and
# resolve_field; the core renders an event's template right after the hook.
_MEMO_SIZE = 256


class _Memo:
    """The values read for the latest events, by dedupe key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: OrderedDict[str, CustomerStats] = OrderedDict()

    def put(self, dedupe_key: str, stats: CustomerStats) -> None:
        with self._lock:
            self._values[dedupe_key] = stats
            self._values.move_to_end(dedupe_key)
            while len(self._values) > _MEMO_SIZE:
                self._values.popitem(last=False)

    def get(self, dedupe_key: str) -> CustomerStats | None:
        with self._lock:
            return self._values.get(dedupe_key)


_memos: weakref.WeakKeyDictionary[PluginContext, _Memo] = weakref.WeakKeyDictionary()
_memos_lock = threading.Lock()


def _memo_of(context: PluginContext) -> _Memo:
    with _memos_lock:
        memo = _memos.get(context)
        if memo is None:
            memo = _memos[context] = _Memo()
        return memo


@dataclass(frozen=True)
class _Lookup:
    """The shop and customer whose order statistics an event needs."""

    shop: ShopSettings
    settings: ShopifySettings
    customer_id: str

    @classmethod
    def of(cls, event: OrderStatusEvent, context: PluginContext) -> _Lookup | None:
        """Return the lookup, or None when the shop has no token or no customer."""
        settings = shopify_settings(context)
        shop = settings.shop(event.store)
        customer_id = event.customer.external_id
        if shop is None or not shop.polled or not customer_id:
            return None
        return cls(shop, settings, customer_id)

    def fetch(
        self,
        now: datetime,
        sleep: Sleep,
        monotonic: Monotonic,
        transport: httpx.BaseTransport | None,
    ) -> CustomerStats:
        """Read the statistics; empty ones when Shopify refuses for good.

        Raises:
            RetriableSyncError: every attempt was throttled or failed.
        """
        try:
            data = self._query(sleep, monotonic, transport)
        except FatalSyncError as err:
            # A lasting failure (a revoked token) must not hold every order
            # update back, so the template's fallback applies instead.
            logger.warning(
                "shop %s: order count of customer %s not read: %s",
                self.shop.domain,
                self.customer_id,
                err,
            )
            return CustomerStats(None, None, now)

        customer = as_dict(data.get("customer"))
        last_order = as_dict(customer.get("lastOrder"))
        return CustomerStats(
            # UnsignedInt64 values are strings ("3"); as_text also takes numbers.
            orders_count=as_text(customer.get("numberOfOrders")),
            last_order_id=numeric_id(last_order.get("id")),
            fetched_at=now,
        )

    def _query(
        self,
        sleep: Sleep,
        monotonic: Monotonic,
        transport: httpx.BaseTransport | None,
    ) -> Mapping[str, Any]:
        variables = {"id": f"gid://shopify/Customer/{self.customer_id}"}
        with AdminClient(
            self.shop,
            self.settings.api_version,
            self.settings.max_attempts,
            sleep=sleep,
            monotonic=monotonic,
            transport=transport,
        ) as client:
            return client.execute(
                CUSTOMER_STATS_QUERY, variables, CUSTOMER_STATS_OPERATION
            )


def prefetch_customer_stats(
    event: OrderStatusEvent,
    context: PluginContext,
    *,
    sleep: Sleep = time.sleep,
    monotonic: Monotonic = time.monotonic,
    transport: httpx.BaseTransport | None = None,
) -> None:
    """Read the customer's order count and last order for an event's template.

    Does nothing for another plugin's event, a shop without an access
    token, an event without a Shopify customer id, or a template that
    mentions neither field. Stored values are reused while they are younger
    than ``orders_count_ttl_seconds`` and were read after the event happened.

    Args:
        event: the event about to be rendered.
        context: the running instance.
        sleep: waits between requests; tests pass a fake one.
        monotonic: the clock that ``sleep`` advances.
        transport: an httpx transport; None uses the network.

    Raises:
        RetriableSyncError: Shopify throttled or failed on every attempt, so
            the core retries the event later instead of sending it with the
            fallback.
    """
    if event.source != PLUGIN_ID or not _template_mentions_fields(event, context):
        return
    lookup = _Lookup.of(event, context)
    if lookup is None:
        return

    now = context.clock()
    ttl = lookup.settings.orders_count_ttl_seconds
    stats = load_customer_stats(context, lookup.shop.domain, lookup.customer_id)
    if stats is None or not stats.usable_for(event.occurred_at, now, ttl):
        stats = lookup.fetch(now, sleep, monotonic, transport)
        if stats.orders_count is not None or stats.last_order_id is not None:
            save_customer_stats(context, lookup.shop.domain, lookup.customer_id, stats)

    _memo_of(context).put(event.dedupe_key, stats)


def resolve_customer_field(
    name: str, event: OrderStatusEvent | None, context: PluginContext
) -> str | None:
    """Resolve ``orders count`` or ``last order id`` for a Shopify event.

    The values come from :func:`prefetch_customer_stats`. For an event it
    did not see, they are read from the Admin API here, without the plugin
    state, because the core may hold a store transaction.

    Args:
        name: the normalised field name.
        event: the event being rendered, if any.
        context: the running instance.

    Returns:
        The value, or ``""`` for an order count that could not be read. None
        for another field or another plugin's event, and for a last order id
        that could not be read, so the core takes the event's own value.

    Raises:
        RetriableSyncError: reading the values was throttled or failed on
            every attempt.
    """
    if name not in (ORDERS_COUNT, LAST_ORDER_ID):
        return None
    if event is None or event.source != PLUGIN_ID:
        return None

    memo = _memo_of(context)
    stats = memo.get(event.dedupe_key)
    if stats is None:
        lookup = _Lookup.of(event, context)
        if lookup is None:
            return "" if name == ORDERS_COUNT else None
        stats = lookup.fetch(context.clock(), time.sleep, time.monotonic, None)
        memo.put(event.dedupe_key, stats)

    if name == ORDERS_COUNT:
        return stats.orders_count or ""
    return stats.last_order_id


def _template_mentions_fields(event: OrderStatusEvent, context: PluginContext) -> bool:
    """Return True when the event's template may use one of the two fields.

    The text is compared with case and spacing folded, as the core matches
    field names; a false positive costs one Admin API request.
    """
    settings = context.settings
    if not settings.order_updates.enabled:
        return False
    name = settings.order_updates.templates.get(event.status)
    text = settings.templates.get(name or "")
    if not text:
        return False
    folded = " ".join(text.split()).casefold()
    return ORDERS_COUNT in folded or LAST_ORDER_ID in folded
