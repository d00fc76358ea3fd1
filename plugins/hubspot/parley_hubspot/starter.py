"""The section ``parley init --with hubspot`` adds to ``parley.toml``."""

from __future__ import annotations

from parley import StarterConfig
from parley_hubspot.settings import STARTER_CLIENT_SECRET, STARTER_TOKEN

# The placeholders are rejected when the config is loaded, so a config
# written by 'parley init' fails 'parley config check' until they are
# replaced, instead of failing at the first HubSpot request.
SECTION = f"""\
[hubspot]
# Contacts and template fields from HubSpot. Create a private app in HubSpot
# (Settings > Integrations > Private apps) with the scopes
# crm.objects.contacts.read and crm.schemas.contacts.read, and
# crm.objects.contacts.write for write-back, then paste its access token.
# To keep it out of this file, set PARLEY_HUBSPOT__ACCESS_TOKEN instead.
access_token = "{STARTER_TOKEN}"

# Webhooks keep contacts current between syncs. Subscribe the app to contact
# creation and property changes at https://<your public host>/webhooks/hubspot
# and paste its client secret (or set PARLEY_HUBSPOT__CLIENT_SECRET).
# Remove the line to run without webhooks.
client_secret = "{STARTER_CLIENT_SECRET}"

# The contact a lookup uses when several share a phone number or email:
# "last_modified", "first_created" or "none".
duplicate_rule = "last_modified"

# The strftime format of dates from HubSpot properties in messages.
date_format = "%B %-d, %Y"

# Log every conversation message on the HubSpot contact (SMS, WhatsApp).
log_messages = false

# Write opt-outs and opt-ins to contact properties that HubSpot workflows
# can read. Create the properties first, then list them under
# [hubspot.consent_properties].
write_consent = false

# Template fields read from HubSpot contact properties: the field name as
# templates write it = the property's internal name.
[hubspot.fields]
# "Loyalty Program" = "loyalty_program"

[hubspot.consent_properties]
# informational = "sms_order_updates_consent"
"""


def starter_config() -> StarterConfig:
    """Return the commented ``[hubspot]`` section."""
    return StarterConfig(section=SECTION)
