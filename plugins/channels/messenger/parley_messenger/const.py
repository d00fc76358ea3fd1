"""Names fixed by Meta's Send API and webhooks, and the two platforms served."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

MESSENGER_ID = "messenger"
INSTAGRAM_ID = "instagram"

DEFAULT_BASE_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v26.0"

# Webhooks

HEADER_SIGNATURE = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="
QUERY_MODE = "hub.mode"
QUERY_VERIFY_TOKEN = "hub.verify_token"
QUERY_CHALLENGE = "hub.challenge"
MODE_SUBSCRIBE = "subscribe"

# Send API messaging types

RESPONSE = "RESPONSE"
UPDATE = "UPDATE"
MESSAGE_TAG = "MESSAGE_TAG"

# Message tags. HUMAN_AGENT is set by the channel for a person's reply and is
# never configured per kind; the others are the non-human tags Messenger
# documents. Instagram accepts HUMAN_AGENT only.

HUMAN_AGENT = "HUMAN_AGENT"
POST_PURCHASE_UPDATE = "POST_PURCHASE_UPDATE"
ACCOUNT_UPDATE = "ACCOUNT_UPDATE"
CONFIRMED_EVENT_UPDATE = "CONFIRMED_EVENT_UPDATE"
MESSENGER_KIND_TAGS = (POST_PURCHASE_UPDATE, ACCOUNT_UPDATE, CONFIRMED_EVENT_UPDATE)

# The window for free-form messages after the customer's last message, and
# the longer window for a person's reply with the HUMAN_AGENT tag.
STANDARD_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)

# Message kinds that the business sends on its own initiative rather than in
# reply to the customer. Inside the window they go as UPDATE, not RESPONSE.
PROACTIVE_KINDS = frozenset({"order_update", "opt_in_prompt"})


@dataclass(frozen=True)
class Platform:
    """What differs between the Messenger and the Instagram channel.

    Attributes:
        channel_id: the plugin id, channel id and config section.
        label: the platform's name in messages and logs.
        webhook_object: the ``object`` value of the platform's webhooks.
        account_noun: what ``entry[].id`` names, for messages.
        account_setting: the setting that contains that id.
        token_setting: the setting that contains the access token.
        kind_tags: the message tags a kind may be configured to use outside
            the window; empty when the platform allows none.
    """

    channel_id: str
    label: str
    webhook_object: str
    account_noun: str
    account_setting: str
    token_setting: str
    kind_tags: tuple[str, ...]

    @property
    def env_prefix(self) -> str:
        """The prefix of the environment variables that set this section."""
        return f"PARLEY_{self.channel_id.upper()}__"


MESSENGER = Platform(
    channel_id=MESSENGER_ID,
    label="Messenger",
    webhook_object="page",
    account_noun="Page",
    account_setting="page_id",
    token_setting="page_access_token",
    kind_tags=MESSENGER_KIND_TAGS,
)

INSTAGRAM = Platform(
    channel_id=INSTAGRAM_ID,
    label="Instagram",
    webhook_object="instagram",
    account_noun="Instagram professional account",
    account_setting="account_id",
    token_setting="access_token",
    kind_tags=(),
)
