"""Consent that a Shopify order carries, as :class:`parley.ConsentRecord` items.

Two kinds are read from an Order body (webhook or poll):

- With the shop's ``checkout_phone_is_consent`` on, the phone number the
  order's updates go to is an INFORMATIONAL opt-in given at checkout, at the
  order's ``created_at``.
- ``customer.sms_marketing_consent`` in state ``subscribed`` is a
  PROMOTIONAL opt-in and ``unsubscribed`` a PROMOTIONAL opt-out of the
  customer's phone number, at its ``consent_updated_at``. Other states
  (``not_subscribed``, ``pending``, ``redacted``) record nothing.

Only the order's CONFIRMED event carries them, and the core stores that
event once per order, so each order adds its records to the ledger once.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from parley import (
    AddressKind,
    ChannelAddress,
    ConsentAction,
    ConsentRecord,
    ConsentSource,
    Purpose,
    normalize_phone,
)
from parley_shopify.const import PLUGIN_ID
from parley_shopify.customer import order_phone_source
from parley_shopify.settings import ShopSettings
from parley_shopify.values import as_dict, as_text, parse_timestamp

_MARKETING_ACTIONS = {
    "subscribed": ConsentAction.OPT_IN,
    "unsubscribed": ConsentAction.OPT_OUT,
}


def order_consents(
    order: Mapping[str, Any],
    order_id: str,
    shop: ShopSettings,
    region: str,
    fallback_time: datetime,
) -> tuple[ConsentRecord, ...]:
    """Return the consent records an Order body implies.

    Args:
        order: the REST Order resource.
        order_id: the order's id, for the evidence.
        shop: the shop's settings.
        region: ISO country code for phone numbers without a country code.
        fallback_time: when the consent happened if the body gives no time.
    """
    created_at = parse_timestamp(as_text(order.get("created_at"))) or fallback_time
    records: list[ConsentRecord] = []

    if shop.checkout_phone_is_consent:
        checkout = _checkout_consent(order, order_id, shop.domain, region, created_at)
        if checkout is not None:
            records.append(checkout)

    marketing = _marketing_consent(order, shop.domain, region, created_at)
    if marketing is not None:
        records.append(marketing)
    return tuple(records)


def _checkout_consent(
    order: Mapping[str, Any],
    order_id: str,
    shop: str,
    region: str,
    created_at: datetime,
) -> ConsentRecord | None:
    found = order_phone_source(order, region)
    if found is None:
        return None

    phone, field = found
    return ConsentRecord(
        address=ChannelAddress(AddressKind.PHONE, phone),
        purpose=Purpose.INFORMATIONAL,
        action=ConsentAction.OPT_IN,
        source=ConsentSource.CHECKOUT,
        occurred_at=created_at,
        evidence=f"order {order_id}, {field}",
        actor=f"{PLUGIN_ID}:{shop}",
    )


def _marketing_consent(
    order: Mapping[str, Any], shop: str, region: str, created_at: datetime
) -> ConsentRecord | None:
    customer = as_dict(order.get("customer"))
    consent = as_dict(customer.get("sms_marketing_consent"))
    state = (as_text(consent.get("state")) or "").lower()
    action = _MARKETING_ACTIONS.get(state)
    if action is None:
        return None

    # Shopify keeps SMS marketing consent for the customer's own phone number.
    phone = normalize_phone(as_text(customer.get("phone")), region)
    if phone is None:
        return None

    updated_at = as_text(consent.get("consent_updated_at"))
    evidence = (
        f"Shopify customer {as_text(customer.get('id')) or '(no id)'} SMS "
        f"marketing consent {state}, opt_in_level "
        f"{as_text(consent.get('opt_in_level')) or 'not given'}, "
        f"consent_updated_at {updated_at or 'not given'}"
    )
    collected_from = as_text(consent.get("consent_collected_from"))
    if collected_from:
        evidence += f", collected from {collected_from}"

    return ConsentRecord(
        address=ChannelAddress(AddressKind.PHONE, phone),
        purpose=Purpose.PROMOTIONAL,
        action=action,
        # parley did not see the customer consent; it copies Shopify's record.
        source=ConsentSource.IMPORT,
        occurred_at=parse_timestamp(updated_at) or created_at,
        evidence=evidence,
        actor=f"{PLUGIN_ID}:{shop}",
    )
