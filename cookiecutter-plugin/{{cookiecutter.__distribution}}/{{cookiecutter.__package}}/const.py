"""Names fixed by the {{ cookiecutter.__title }} API and by this plugin's templates."""

from __future__ import annotations

PLUGIN_ID = "{{ cookiecutter.__plugin_id }}"
{%- if cookiecutter.kind == "crm" %}

# Template fields this plugin resolves, as templates write them, and the CRM
# contact property each one reads.
# TODO: replace these examples with the properties your CRM offers.
FIELD_LOYALTY_TIER = "Loyalty Tier"
FIELD_LOYALTY_POINTS = "Loyalty Points"

FIELD_PROPERTIES = {
    FIELD_LOYALTY_TIER: "loyalty_tier",
    FIELD_LOYALTY_POINTS: "loyalty_points",
}
FIELD_NAMES = tuple(FIELD_PROPERTIES)
{%- elif cookiecutter.kind == "store" %}

# Webhook headers. TODO: use the names your store sends.
SIGNATURE_HEADER = "X-{{ cookiecutter.__class_prefix }}-Signature"
DELIVERY_ID_HEADER = "X-{{ cookiecutter.__class_prefix }}-Delivery-Id"

# Template fields this plugin puts on order-status events.
FIELD_TRACKING_URL = "Tracking URL"
FIELD_CARRIER = "Carrier"
FIELD_ESTIMATED_DELIVERY = "Estimated Delivery"

FIELD_NAMES = (FIELD_TRACKING_URL, FIELD_CARRIER, FIELD_ESTIMATED_DELIVERY)
{%- elif cookiecutter.kind == "channel" %}

# Webhook header carrying the hex HMAC-SHA256 of the body.
# TODO: use the header and signature scheme your provider documents.
SIGNATURE_HEADER = "X-{{ cookiecutter.__class_prefix }}-Signature"
{%- endif %}
