"""The section ``parley init --with twilio`` adds to ``parley.toml``."""

from __future__ import annotations

from parley import StarterConfig
from parley_twilio.settings import (
    STARTER_ACCOUNT_SID,
    STARTER_AUTH_TOKEN,
    STARTER_FROM_NUMBER,
)

# The placeholders are rejected until they are replaced, so that
# `parley config check` names each value still to fill in.
SECTION = f"""\
[twilio]
# SMS and MMS through Twilio. In the Twilio Console, set the number's (or the
# Messaging Service's) incoming-message webhook to
#   POST <webhook_url>/inbound
# where webhook_url is the public URL of /webhooks/twilio below.
#
# Account SID and Auth Token from the Console's dashboard. Twilio signs its
# webhooks with the Auth Token. To keep it out of this file, delete the line
# and set PARLEY_TWILIO__AUTH_TOKEN instead.
account_sid = "{STARTER_ACCOUNT_SID}"
auth_token = "{STARTER_AUTH_TOKEN}"
# Optional: send with an API key (SK...) instead of the Auth Token.
# api_key_sid = ""
# api_key_secret = ""

# The sender: a Twilio number, a Messaging Service (MG...), or both.
from_number = "{STARTER_FROM_NUMBER}"
# messaging_service_sid = ""

# The public URL at which Twilio reaches /webhooks/twilio. Signatures are
# checked against it, and status callbacks go to <webhook_url>/status.
# Empty means [server] public_url followed by /webhooks/twilio.
# webhook_url = "https://hooks.example.com/webhooks/twilio"

# long_code (1 segment per second), toll_free (3) or short_code (100); or
# set messages_per_second to the rate Twilio gives your sender.
sender_type = "long_code"
# messages_per_second = 1.0

# Seconds a message may wait in Twilio's queue before Twilio drops it.
validity_period_seconds = 900
"""


def starter_config() -> StarterConfig:
    """Return the commented ``[twilio]`` section."""
    return StarterConfig(section=SECTION)
