"""The sections ``parley init --with messenger`` and ``--with instagram`` add."""

from __future__ import annotations

from parley import StarterConfig

# The id lines hold placeholders that the settings reject, so that
# `parley config check` names each value still to fill in. The secrets are
# left out, so that the check names their environment variables.
MESSENGER_SECTION = """\
[messenger]
# Facebook Messenger: customers write to your Facebook Page and parley
# replies through the Send API. In the App Dashboard, set the Page webhook's
# callback URL to https://<your public host>/webhooks/messenger with the
# verify token below, and subscribe the Page to the messages,
# message_deliveries and messaging_postbacks fields.
#
# The Page id (digits), from the Page's About section.
page_id = "your-page-id"
# Keep the secrets out of this file and set them in the environment:
#   PARLEY_MESSENGER__PAGE_ACCESS_TOKEN  a Page access token (pages_messaging)
#   PARLEY_MESSENGER__APP_SECRET         the app's App Secret
#   PARLEY_MESSENGER__VERIFY_TOKEN       a random string, also typed into the
#                                        App Dashboard's webhook setup
api_version = "v26.0"
# A person's reply goes with the HUMAN_AGENT tag up to 7 days after the
# customer's last message. The app needs Meta's approval of the Human Agent
# feature; set false without it.
human_agent_tag = true
# After the 24-hour window, a kind goes out only with a message tag. Check
# Meta's "Message tags" page that the tag is still allowed for your Graph
# version before you turn this on; tagged messages must not be promotional.
# message_tags = { order_update = "POST_PURCHASE_UPDATE" }
"""

INSTAGRAM_SECTION = """\
[instagram]
# Instagram messaging: customers write to your Instagram professional
# account and parley replies through the Send API. In the App Dashboard, set
# the Instagram webhook's callback URL to
# https://<your public host>/webhooks/instagram with the verify token below,
# and subscribe to the messages and messaging_seen fields. The app must be
# Live for webhooks of people who have no role on it.
#
# The Instagram professional account id (digits).
account_id = "your-instagram-account-id"
# With Facebook Login, the id of the Page linked to the account; sends go
# through the Page. Remove the line for Instagram Login, and set
# base_url = "https://graph.instagram.com".
page_id = "your-page-id"
# Keep the secrets out of this file and set them in the environment:
#   PARLEY_INSTAGRAM__ACCESS_TOKEN  the Page (or Instagram user) access token
#   PARLEY_INSTAGRAM__APP_SECRET    the app's App Secret
#   PARLEY_INSTAGRAM__VERIFY_TOKEN  a random string, also typed into the
#                                   App Dashboard's webhook setup
api_version = "v26.0"
# Outside the 24-hour window Instagram takes only a person's reply, with the
# HUMAN_AGENT tag, up to 7 days after the customer's last message.
human_agent_tag = true
"""


def messenger_starter() -> StarterConfig:
    """Return the commented ``[messenger]`` section."""
    return StarterConfig(section=MESSENGER_SECTION)


def instagram_starter() -> StarterConfig:
    """Return the commented ``[instagram]`` section."""
    return StarterConfig(section=INSTAGRAM_SECTION)
