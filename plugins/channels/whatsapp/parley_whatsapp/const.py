"""Names and numbers fixed by the WhatsApp Cloud API and by this plugin."""

from __future__ import annotations

import re
from datetime import timedelta

PLUGIN_ID = "whatsapp"

# The customer service window: a message from the customer opens or restarts
# it, and free-form messages are allowed only while it is open.
SERVICE_WINDOW = timedelta(hours=24)

# Graph API

DEFAULT_BASE_URL = "https://graph.facebook.com"
# The newest Graph API version in Meta's WhatsApp examples in July 2026.
DEFAULT_API_VERSION = "v26.0"
MESSAGES_PATH = "/{api_version}/{phone_number_id}/messages"
MESSAGING_PRODUCT = "whatsapp"

# Meta's documented limit for the body of a text message, in characters.
MAX_TEXT_LENGTH = 4096

# Throughput of one business phone number: 80 messages per second by
# default, 1,000 after Meta's automatic upgrade, 20 for a number that is
# also used in the WhatsApp Business app.
DEFAULT_MESSAGES_PER_SECOND = 80.0

# Webhooks

OBJECT_WHATSAPP = "whatsapp_business_account"
FIELD_MESSAGES = "messages"
HEADER_SIGNATURE = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="
QUERY_MODE = "hub.mode"
QUERY_VERIFY_TOKEN = "hub.verify_token"
QUERY_CHALLENGE = "hub.challenge"
MODE_SUBSCRIBE = "subscribe"

# A business-scoped user id (BSUID): an ISO 3166 country code, a dot, and an
# alphanumeric id, such as US.13491208655302741918. A parent BSUID, shared
# by linked business portfolios, has ENT between them (US.ENT.1181...).
BSUID_PATTERN = re.compile(r"[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}")

# Message kinds the core sends; a template can be configured for each.
KNOWN_KINDS = (
    "order_update",
    "auto_reply",
    "agent_reply",
    "reply",
    "first_message",
    "opt_out_confirmation",
    "opt_in_confirmation",
    "opt_in_prompt",
    "help",
)
