"""The section and templates ``parley init --with shopify`` adds to ``parley.toml``."""

from __future__ import annotations

from parley import StarterConfig

# The shop entry stays commented out: an empty client_secret is rejected,
# because it would let anyone sign webhooks. Until a shop is filled in,
# `parley config check` reports "shopify.shops: required setting is missing".
SECTION = """\
[shopify]
# Order, fulfillment and refund webhooks from Shopify become order updates.
# Subscribe the app to them at https://<your public host>/webhooks/shopify.
#
# The webhook topic that sends the order-confirmed update: "orders/create"
# when the order is placed, or "orders/paid" when its payment is captured.
confirmed_on = "orders/create"
# The Admin API version of the webhook subscriptions and of polling.
api_version = "2026-07"

# One [[shopify.shops]] block per shop. Remove the "# " in front of the
# lines below and fill in the shop's domain and the app's client secret.
# To keep secrets out of this file, set the whole list in the environment
# instead: PARLEY_SHOPIFY__SHOPS='[{"domain": "...", "client_secret": "..."}]'
#
# [[shopify.shops]]
# domain = "your-shop.myshopify.com"
# client_secret = "the app's client secret"
# # Optional: an Admin API access token (shpat_...) turns on polling for
# # missed webhooks and the {{Orders Count}} field. The app needs the
# # read_orders and read_customers scopes.
# access_token = ""
# # Country for phone numbers written without a country code (ISO 3166).
# country = "US"
# # Count the order phone as consent to order updates. Turn it on only
# # when your checkout informs customers that they get order texts.
# checkout_phone_is_consent = false
"""

TEMPLATES = {
    "order_confirmed": (
        "Hi {{First Name | there}}, thanks for your order {{Order Number}} "
        "from {{Business Name}}. We'll text you when it ships. Order status: "
        "{{Order Status URL | reply here and we'll check}}"
    ),
    "order_shipped": (
        "Hi {{First Name | there}}, order {{Order Number}} is on its way "
        "with {{Carrier | our carrier}}. Track it: "
        "{{Tracking URL | reply here for tracking}}"
    ),
    "order_out_for_delivery": (
        "Hi {{First Name | there}}, order {{Order Number}} is out for "
        "delivery with {{Carrier | the carrier}} and should arrive today."
    ),
    "order_delivered": (
        "Hi {{First Name | there}}, order {{Order Number}} was delivered. "
        "If anything is missing or damaged, reply to this text."
    ),
    "order_cancelled": (
        "Hi {{First Name | there}}, order {{Order Number}} from "
        "{{Business Name}} was cancelled. Reason: {{Cancel Reason | not "
        "given}}. Refund: {{Refund Amount | any payment goes back to your "
        "original payment method}}."
    ),
    "order_refunded": (
        "Hi {{First Name | there}}, we refunded {{Refund Amount | your "
        "payment}} for order {{Order Number}}. Your bank may take a few "
        "days to show it."
    ),
}


def starter_config() -> StarterConfig:
    """Return the commented ``[shopify]`` section and Shopify's templates."""
    return StarterConfig(section=SECTION, templates=TEMPLATES)
