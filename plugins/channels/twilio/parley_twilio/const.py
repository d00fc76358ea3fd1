"""Names and numbers fixed by Twilio's Messages API and its webhooks."""

from __future__ import annotations

import re

from parley import DeliveryStatus

PLUGIN_ID = "twilio"

DEFAULT_API_BASE_URL = "https://api.twilio.com"
MESSAGES_PATH = "/2010-04-01/Accounts/{account_sid}/Messages.json"

# Paths below /webhooks/twilio. Each accepts both incoming messages and
# status callbacks, because the plugin distinguishes them by their fields.
INBOUND_PATH = "/inbound"
STATUS_PATH = "/status"
WEBHOOK_PATHS = ("", "/", INBOUND_PATH, STATUS_PATH)

SIGNATURE_HEADER = "X-Twilio-Signature"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'

# Twilio's own limit for the Body parameter of a Message.
MAX_BODY_CHARS = 1600

# Twilio accepts ValidityPeriod from 1 to 36000 seconds (10 hours).
MAX_VALIDITY_PERIOD_SECONDS = 36_000

# At most 10 MediaUrl values per message, in both directions.
MAX_MEDIA = 10

ACCOUNT_SID_PATTERN = re.compile(r"AC[0-9a-fA-F]{32}")
API_KEY_SID_PATTERN = re.compile(r"SK[0-9a-fA-F]{32}")
MESSAGING_SERVICE_SID_PATTERN = re.compile(r"MG[0-9a-fA-F]{32}")
# Message SIDs start with SM (SMS) or MM (MMS); other two-letter prefixes
# exist for other channels, so only the shape is checked.
MESSAGE_SID_PATTERN = re.compile(r"[A-Z]{2}[0-9a-fA-F]{32}")
E164_PATTERN = re.compile(r"\+[1-9]\d{6,14}")

# Default messages (segments) per second per sender type. Twilio states
# about 1 segment per second for a US long code and 100 or more for a short
# code. NOTE: 3 for toll-free numbers is a common default that Twilio's own
# pages did not confirm; set messages_per_second when the account's
# verified throughput is known.
DEFAULT_MPS = {
    "long_code": 1.0,
    "toll_free": 3.0,
    "short_code": 100.0,
}

# NOTE: Twilio documents no number for its REST API concurrency limit, only
# error 20429 when it is exceeded; 10 keeps one plugin well below what an
# account shares with its other applications, and 20429 is retried.
DEFAULT_MAX_CONCURRENT_REQUESTS = 10

# Twilio message status (enum message_enum_status) to parley's status.
# "accepted" and "scheduled" come before Twilio picks a sender. WhatsApp and
# RCS report "read", which implies delivery. "partially_delivered" means
# some parts of a split message arrived.
STATUS_MAP = {
    "accepted": DeliveryStatus.QUEUED,
    "scheduled": DeliveryStatus.QUEUED,
    "queued": DeliveryStatus.QUEUED,
    "sending": DeliveryStatus.SENDING,
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.DELIVERED,
    "partially_delivered": DeliveryStatus.DELIVERED,
    "undelivered": DeliveryStatus.UNDELIVERED,
    "failed": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.FAILED,
}

# Error codes of the create-Message request.

OPTED_OUT_CODE = 21610
CONCURRENCY_CODE = 20429
AUTHENTICATION_CODE = 20003
NOT_FOUND_CODE = 20404
# The sender's queue would hold more than 10 hours of messages; Twilio
# accepts new messages again once it drains.
QUEUE_FULL_CODE = 21611

# Codes meaning that the recipient's number cannot receive this message.
RECIPIENT_CODES = {
    21211: "invalid 'To' phone number",
    21408: "sending to this region is not enabled on the account",
    21612: "the 'To' number is not reachable from this sender",
    21614: "the 'To' number is not a mobile number that can receive SMS",
    21635: "the 'To' number is a landline",
}

# Codes that point at the sender settings (Twilio's error pages 21601,
# 21603, 21606, 21659 and 21660).
SENDER_CODES = {
    21601: "from_number is not an SMS-capable number of this account",
    21603: "neither from_number nor messaging_service_sid reached Twilio",
    21606: "from_number cannot send messages to this destination",
    21659: "from_number is not a Twilio number, or a short code sends abroad",
    21660: "from_number belongs to another account than account_sid",
}

# Delivery errors reported asynchronously in status callbacks, used when a
# callback carries no ErrorMessage of its own.
DELIVERY_ERRORS = {
    "30001": "queue overflow in the Messaging Service",
    "30003": "unreachable destination handset",
    "30004": "message blocked by the recipient or the carrier",
    "30005": "unknown destination handset",
    "30006": "landline or unreachable carrier",
    "30007": "filtered by the carrier",
    "30008": "unknown error",
}
