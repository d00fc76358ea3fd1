"""What the plugin keeps between deliveries in the core's plugin state.

Three kinds of value, each keyed by shop:

- ``order:<shop>:<order id>``: the latest :class:`OrderSummary` of an order,
  so that fulfillment and refund deliveries, which carry no customer, can be
  addressed.
- ``poll_cursor:<shop>``: the ``updatedAt`` of the newest order a poll has
  stored, in UTC (``2026-11-17T14:41:58Z``).
- ``customer_stats:<shop>:<customer id>``: a customer's order count and last
  order, read from the Admin API, with the time they were read.

Call these only where the core has no open transaction: in webhook
handlers, pollers and ``order_status_changed``, never in ``resolve_field``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from parley import PluginContext
from parley_shopify.const import PLUGIN_ID
from parley_shopify.customer import OrderSummary
from parley_shopify.values import parse_timestamp

logger = logging.getLogger(__name__)


def recall_summary(
    context: PluginContext, shop: str, order_id: str
) -> OrderSummary | None:
    """Return the stored summary of an order, or None when there is none."""
    stored = context.get_state(PLUGIN_ID, _summary_key(shop, order_id))
    if stored is None:
        return None

    summary = OrderSummary.from_json(stored)
    if summary is None:
        logger.warning(
            "shop %s: stored summary of order %s is not valid JSON; ignored",
            shop,
            order_id,
        )
    return summary


def remember_summary(
    context: PluginContext, shop: str, order_id: str, summary: OrderSummary
) -> None:
    """Store the summary of an order, replacing the previous one."""
    context.set_state(PLUGIN_ID, _summary_key(shop, order_id), summary.to_json())


def load_cursor(context: PluginContext, shop: str) -> datetime | None:
    """Return the poll cursor of a shop, or None before its first poll."""
    stored = context.get_state(PLUGIN_ID, f"poll_cursor:{shop}")
    cursor = parse_timestamp(stored)
    if stored is not None and cursor is None:
        logger.warning("shop %s: stored poll cursor is not a timestamp; reset", shop)
    return cursor


def save_cursor(context: PluginContext, shop: str, cursor: datetime) -> None:
    """Store the poll cursor of a shop."""
    context.set_state(PLUGIN_ID, f"poll_cursor:{shop}", format_utc(cursor))


def format_utc(moment: datetime) -> str:
    """Write a time in UTC to the second, the way Shopify's search syntax takes it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class CustomerStats:
    """A customer's order count and last order, as the Admin API returned them.

    Attributes:
        orders_count: ``Customer.numberOfOrders`` as text, such as ``"3"``.
        last_order_id: the numeric id of ``Customer.lastOrder``.
        fetched_at: when they were read (timezone-aware).
    """

    orders_count: str | None
    last_order_id: str | None
    fetched_at: datetime

    def usable_for(self, occurred_at: datetime, now: datetime, ttl: float) -> bool:
        """Return True when these values can fill an event's fields.

        They must be younger than ``ttl`` seconds and read after the event
        happened, so that an order confirmation never shows the count from
        before that order.
        """
        age = (now - self.fetched_at).total_seconds()
        return age <= ttl and self.fetched_at >= occurred_at

    def to_json(self) -> str:
        """Return the values as compact JSON for the plugin state."""
        data = asdict(self)
        data["fetched_at"] = self.fetched_at.isoformat()
        return json.dumps(data, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> CustomerStats | None:
        """Rebuild the values from :meth:`to_json` output; None when invalid."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return None
        if not isinstance(data, dict):
            return None

        fetched_at = parse_timestamp(data.get("fetched_at"))
        if fetched_at is None:
            return None
        return cls(
            orders_count=_text_or_none(data.get("orders_count")),
            last_order_id=_text_or_none(data.get("last_order_id")),
            fetched_at=fetched_at,
        )


def load_customer_stats(
    context: PluginContext, shop: str, customer_id: str
) -> CustomerStats | None:
    """Return a customer's stored order statistics, or None."""
    stored = context.get_state(PLUGIN_ID, _stats_key(shop, customer_id))
    return CustomerStats.from_json(stored) if stored is not None else None


def save_customer_stats(
    context: PluginContext, shop: str, customer_id: str, stats: CustomerStats
) -> None:
    """Store a customer's order statistics, replacing the previous ones."""
    context.set_state(PLUGIN_ID, _stats_key(shop, customer_id), stats.to_json())


def _summary_key(shop: str, order_id: str) -> str:
    return f"order:{shop}:{order_id}"


def _stats_key(shop: str, customer_id: str) -> str:
    return f"customer_stats:{shop}:{customer_id}"


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
