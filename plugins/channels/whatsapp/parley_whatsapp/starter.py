"""The section ``parley init --with whatsapp`` adds to ``parley.toml``."""

from __future__ import annotations

from parley import StarterConfig

# The credentials are placeholders that the settings reject, so that
# `parley config check` names each one still to fill in.
SECTION = """\
[whatsapp]
# WhatsApp messages through Meta's Cloud API. In the App Dashboard, set the
# webhook callback URL to https://<your public host>/webhooks/whatsapp with
# the verify token below, and subscribe the app to the "messages" field.
#
# Replace each placeholder. To keep secrets out of this file, set them in
# the environment instead, which overrides this file:
# PARLEY_WHATSAPP__ACCESS_TOKEN, PARLEY_WHATSAPP__APP_SECRET and
# PARLEY_WHATSAPP__VERIFY_TOKEN.
#
# The id of the business phone number (App Dashboard > WhatsApp > API
# Setup), not the number itself.
phone_number_id = "your-phone-number-id"
# A system user's token with the whatsapp_business_messaging permission.
access_token = "your-system-user-access-token"
# App Dashboard > App settings > Basic; it signs every webhook.
app_secret = "your-app-secret"
# A random string you invent and type into the webhook settings too.
verify_token = "a-verify-token-you-choose"
# The Graph API version; Meta retires old versions on a published schedule.
api_version = "v26.0"
# Sends per second from the number: 80 by default, 1000 once Meta upgrades
# it, 20 for a number also used in the WhatsApp Business app.
messages_per_second = 80

# Outside the 24-hour customer service window WhatsApp delivers only
# approved templates. Name one per message kind, with its language and the
# template fields that fill its {{1}}, {{2}}, ... in order. A message whose
# kind has no template, or whose parameter is empty, is blocked with the
# reason instead of failing at Meta.
[whatsapp.templates.order_update]
name = "order_update"
language = "en_US"
parameters = ["First Name", "Order Number", "Order Status"]
# The field for the variable at the end of a URL button, if the template
# has one:
# url_button = "Tracking Number"

# An agent's reply to a customer who wrote more than 24 hours ago:
# [whatsapp.templates.agent_reply]
# name = "reply_waiting"
# language = "en_US"
# parameters = ["First Name"]
"""


def starter_config() -> StarterConfig:
    """Return the commented ``[whatsapp]`` section."""
    return StarterConfig(section=SECTION)
