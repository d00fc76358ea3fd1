"""Names fixed by HubSpot's CRM API and by this plugin's templates and state."""

from __future__ import annotations

PLUGIN_ID = "hubspot"

DEFAULT_BASE_URL = "https://api.hubapi.com"

# Contact properties every request reads. Phone properties are free text in
# HubSpot, so both are read and normalised in code.
PROPERTY_EMAIL = "email"
PROPERTY_FIRST_NAME = "firstname"
PROPERTY_LAST_NAME = "lastname"
PROPERTY_PHONE = "phone"
PROPERTY_MOBILE_PHONE = "mobilephone"
PROPERTY_TIME_ZONE = "hs_timezone"
PROPERTY_LAST_MODIFIED = "lastmodifieddate"
PROPERTY_CREATED = "createdate"
PROPERTY_OBJECT_ID = "hs_object_id"

BASE_PROPERTIES = (
    PROPERTY_EMAIL,
    PROPERTY_FIRST_NAME,
    PROPERTY_LAST_NAME,
    PROPERTY_PHONE,
    PROPERTY_MOBILE_PHONE,
    PROPERTY_TIME_ZONE,
    PROPERTY_OBJECT_ID,
    PROPERTY_LAST_MODIFIED,
    PROPERTY_CREATED,
)

# Read-only phone properties HubSpot calculates from phone and mobilephone.
# NOTE: HubSpot does not document their format; the lookup searches them with
# the national number's digits and confirms every candidate in code.
SEARCHABLE_PHONE_PROPERTIES = (
    "hs_searchable_calculated_phone_number",
    "hs_searchable_calculated_mobile_number",
)

# Template fields. First Name, Last Name and Email are the core's own fields
# and come from ContactRecord's attributes.
FIELD_CONTACT_ID = "HubSpot Contact ID"
BUILTIN_FIELD_NAMES = ("First Name", "Last Name", "Full Name", "Email", "Phone")

# Limits documented by HubSpot.
SEARCH_MAX_PAGE_SIZE = 200
SEARCH_MAX_RESULTS = 10_000
BATCH_READ_MAX_INPUTS = 100
DEFAULT_REQUESTS_PER_TEN_SECONDS = 100
DEFAULT_SEARCH_REQUESTS_PER_SECOND = 5

# Rate-limit policies in 429 bodies, and their windows in seconds.
POLICY_TEN_SECONDLY = "TEN_SECONDLY_ROLLING"
POLICY_SECONDLY = "SECONDLY"
POLICY_DAILY = "DAILY"
POLICY_WINDOWS = {POLICY_TEN_SECONDLY: 10.0, POLICY_SECONDLY: 1.0}

# Response headers.
HEADER_RETRY_AFTER = "Retry-After"
HEADER_RATE_LIMIT_INTERVAL = "X-HubSpot-RateLimit-Interval-Milliseconds"
HEADER_RATE_LIMIT_REMAINING = "X-HubSpot-RateLimit-Remaining"

# Webhook request headers (signature v3).
HEADER_SIGNATURE_V3 = "X-HubSpot-Signature-v3"
HEADER_REQUEST_TIMESTAMP = "X-HubSpot-Request-Timestamp"
MAX_WEBHOOK_AGE_SECONDS = 300

# Webhook subscription types that change what a contact's record holds.
REFETCH_SUBSCRIPTIONS = (
    "contact.creation",
    "contact.propertyChange",
    "contact.merge",
    "contact.restore",
    "contact.associationChange",
)
DELETION_SUBSCRIPTIONS = ("contact.deletion", "contact.privacyDeletion")

# Scopes, named in errors when HubSpot refuses a call.
SCOPE_CONTACTS_READ = "crm.objects.contacts.read"
SCOPE_CONTACTS_WRITE = "crm.objects.contacts.write"
SCOPE_SCHEMAS_READ = "crm.schemas.contacts.read"

# Communications (logged SMS and WhatsApp messages). 81 is HubSpot's
# association type from a communication to a contact.
COMMUNICATION_CHANNEL_TYPES = ("SMS", "WHATS_APP")
COMMUNICATION_CONTACT_ASSOCIATION = 81

# Keys of this plugin's state in the store.
STATE_SYNC_CURSOR = "sync_cursor"
STATE_BACKFILL_COMPLETE = "backfill_complete"
STATE_LOGGED_PREFIX = "logged:"
STATE_CONSENT_PREFIX = "consent:"
