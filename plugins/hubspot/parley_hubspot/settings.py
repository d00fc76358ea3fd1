"""The ``[hubspot]`` section of ``parley.toml``."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from parley import PluginContext, PluginError, Purpose
from parley_hubspot.const import (
    BUILTIN_FIELD_NAMES,
    COMMUNICATION_CHANNEL_TYPES,
    DEFAULT_BASE_URL,
    DEFAULT_REQUESTS_PER_TEN_SECONDS,
    DEFAULT_SEARCH_REQUESTS_PER_SECOND,
    FIELD_CONTACT_ID,
    PLUGIN_ID,
    SEARCH_MAX_PAGE_SIZE,
)

# Placeholders that 'parley init --with hubspot' writes; a config that still
# has them is rejected instead of failing at the first HubSpot call.
STARTER_TOKEN = "your private app's access token"
STARTER_CLIENT_SECRET = "your app's client secret"

# HubSpot internal property names: a letter, then letters, digits or "_".
_PROPERTY_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")

# Characters a template placeholder name cannot contain.
_PLACEHOLDER_BREAKERS = frozenset("{}|\n")

DuplicateRule = Literal["last_modified", "first_created", "none"]
ChannelType = Literal["SMS", "WHATS_APP"]


def field_key(name: str) -> str:
    """Return a field name as templates match it: lower case, single spaces."""
    return " ".join(name.split()).lower()


_RESERVED_FIELDS = {
    field_key(name) for name in (*BUILTIN_FIELD_NAMES, FIELD_CONTACT_ID)
}


class HubSpotSettings(BaseModel):
    """Settings of the HubSpot connector."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    access_token: SecretStr = Field(
        description="Access token of the HubSpot private app (pat-...) or static "
        "auth app. It needs the crm.objects.contacts.read and "
        "crm.schemas.contacts.read scopes, and crm.objects.contacts.write for "
        "write-back.",
    )
    client_secret: SecretStr | None = Field(
        None,
        description="The app's client secret, which signs webhook requests "
        "(X-HubSpot-Signature-v3). Without it the webhook route is not served.",
    )
    webhook_url: str | None = Field(
        None,
        description="The full URL HubSpot calls, as set in the app's webhook "
        "settings; the v3 signature covers it. Empty means [server] public_url "
        "followed by /webhooks/hubspot.",
    )
    portal_id: int | None = Field(
        None,
        ge=1,
        description="The HubSpot account (portal) id. When set, webhook events "
        "of other accounts are ignored.",
    )
    base_url: str = Field(
        DEFAULT_BASE_URL,
        description="Scheme and host of the HubSpot API. Change it only to point "
        "at a test server, such as http://127.0.0.1:8765.",
    )
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="Template field name to HubSpot contact property internal "
        'name, such as {"Loyalty Program" = "loyalty_program"}.',
    )
    duplicate_rule: DuplicateRule = Field(
        "last_modified",
        description="Which contact a lookup uses when several HubSpot contacts "
        "share a phone number or email: last_modified (the most recently "
        "modified), first_created (the oldest record), or none (use neither).",
    )
    date_format: str = Field(
        "%B %-d, %Y",
        description="strftime format of date properties in templates; %-d, %-m, "
        "%-H and %-I print without a leading zero.",
    )
    datetime_format: str = Field(
        "%B %-d, %Y %-I:%M %p",
        description="strftime format of date-time properties, shown in "
        "[business] time_zone.",
    )
    requests_per_ten_seconds: int = Field(
        DEFAULT_REQUESTS_PER_TEN_SECONDS,
        ge=1,
        le=1000,
        description="Client-side limit of API requests per rolling 10 seconds. "
        "HubSpot allows 100 for Free and Starter accounts, 190 for Professional "
        "and Enterprise, and 250 with the API limit increase.",
    )
    search_requests_per_second: int = Field(
        DEFAULT_SEARCH_REQUESTS_PER_SECOND,
        ge=1,
        le=50,
        description="Client-side limit of CRM search requests per second; "
        "HubSpot allows 5 per account.",
    )
    max_attempts: int = Field(
        5,
        ge=1,
        le=20,
        description="Attempts per API request. 429, 423 and 5xx responses and "
        "network errors are retried; other errors are not.",
    )
    max_retry_wait_seconds: float = Field(
        60.0,
        ge=0,
        description="The maximum wait between attempts. When HubSpot requires "
        "a longer one (the daily limit), the request fails at once as retriable "
        "and the caller tries again later.",
    )
    timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="Seconds for connecting and for each read of a request.",
    )
    sync_interval_seconds: float = Field(
        300.0,
        ge=10,
        description="Seconds between the end of one contact sync run in the "
        "daemon and the start of the next.",
    )
    sync_page_size: int = Field(
        SEARCH_MAX_PAGE_SIZE,
        ge=1,
        le=SEARCH_MAX_PAGE_SIZE,
        description="Contacts read per search request by the sync.",
    )
    sync_overlap_seconds: float = Field(
        300.0,
        ge=0,
        description="How far before its cursor an incremental sync starts "
        "reading. HubSpot's search index lags behind changes, so a contact "
        "changed just before a run may only be found by the next one.",
    )
    properties_cache_seconds: float = Field(
        3600.0,
        ge=0,
        description="How long property definitions (types and option labels) "
        "are reused before they are read again.",
    )
    log_messages: bool = Field(
        False,
        description="Log each conversation message on the HubSpot contact as a "
        "communication on its channel.",
    )
    log_channels: dict[str, ChannelType] = Field(
        default_factory=lambda: {"twilio": "SMS", "whatsapp": "WHATS_APP"},
        description="parley channel id to HubSpot communication channel (SMS or "
        "WHATS_APP). Messages on other channels are not logged.",
    )
    write_consent: bool = Field(
        False,
        description="Write opt-outs and opt-ins to the contact properties named "
        "in consent_properties.",
    )
    consent_properties: dict[Purpose, str] = Field(
        default_factory=dict,
        description="Consent purpose (conversational, informational, "
        "promotional) to the HubSpot contact property that shows it.",
    )
    consent_opt_in_value: str = Field(
        "opted_in",
        min_length=1,
        description="Value written on an opt-in or a confirmed double opt-in.",
    )
    consent_opt_out_value: str = Field(
        "opted_out",
        min_length=1,
        description="Value written on an opt-out.",
    )

    @field_validator("access_token", mode="before")
    @classmethod
    def _check_access_token(cls, value: object) -> object:
        if isinstance(value, str) and value.strip() == STARTER_TOKEN:
            raise ValueError(
                "access_token is still the starter config's placeholder; copy the "
                "token from the private app's Auth tab in HubSpot"
            )
        if isinstance(value, str) and not value.strip():
            raise ValueError(
                "access_token is empty; copy the token from the private app's "
                "Auth tab in HubSpot"
            )
        return value.strip() if isinstance(value, str) else value

    @field_validator("client_secret", mode="before")
    @classmethod
    def _check_client_secret(cls, value: object) -> object:
        if isinstance(value, str) and value.strip() == STARTER_CLIENT_SECRET:
            raise ValueError(
                "client_secret is still the starter config's placeholder; copy the "
                "client secret from the app's Auth tab, or remove the setting"
            )
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("webhook_url", mode="before")
    @classmethod
    def _empty_url_to_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("webhook_url")
    @classmethod
    def _check_webhook_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        url = value.strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "expected the full URL HubSpot calls, such as "
                "https://hooks.example.com/webhooks/hubspot"
            )
        return url

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        url = value.strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"expected a URL with http:// or https:// and a host, such as "
                f"{DEFAULT_BASE_URL}"
            )
        if parts.path or parts.query or parts.fragment:
            raise ValueError(
                "expected only the scheme and host (and port); the plugin adds "
                "the /crm/v3/... paths itself"
            )
        return url

    @field_validator("fields")
    @classmethod
    def _check_fields(cls, value: dict[str, str]) -> dict[str, str]:
        seen: dict[str, str] = {}
        checked: dict[str, str] = {}
        for name, prop in value.items():
            display = " ".join(name.split())
            _check_field_name(display)
            key = field_key(display)
            if key in seen:
                raise ValueError(
                    f"fields maps {seen[key]!r} and {name!r}, which templates "
                    "cannot tell apart; keep one of them"
                )
            seen[key] = name
            checked[display] = _check_property_name(prop, display)
        return checked

    @field_validator("consent_properties")
    @classmethod
    def _check_consent_properties(cls, value: dict[Purpose, str]) -> dict[Purpose, str]:
        return {
            purpose: _check_property_name(prop, f"consent_properties.{purpose.value}")
            for purpose, prop in value.items()
        }

    @field_validator("date_format", "datetime_format")
    @classmethod
    def _check_date_format(cls, value: str) -> str:
        if "%" not in value:
            raise ValueError(
                f"{value!r} has no strftime directive; use for example '%B %-d, %Y'"
            )
        try:
            format_date(datetime(2026, 11, 5, 14, 30), value)
        except ValueError as err:
            raise ValueError(
                f"{value!r} is not a valid strftime format: {err}"
            ) from err
        return value

    @field_validator("log_channels")
    @classmethod
    def _check_log_channels(cls, value: dict[str, str]) -> dict[str, str]:
        for channel, kind in value.items():
            if kind not in COMMUNICATION_CHANNEL_TYPES:
                raise ValueError(f"log_channels.{channel}: expected SMS or WHATS_APP")
        return value

    @model_validator(mode="after")
    def _check_consent(self) -> HubSpotSettings:
        if self.write_consent and not self.consent_properties:
            raise ValueError(
                "write_consent is true but consent_properties is empty; map at "
                'least one purpose, such as {informational = "sms_order_updates"}'
            )
        return self

    @property
    def mapped_properties(self) -> tuple[str, ...]:
        """Property names of ``fields``, without repeats, in config order."""
        return tuple(dict.fromkeys(self.fields.values()))

    @property
    def field_names(self) -> tuple[str, ...]:
        """Template field names of ``fields``, as the config writes them."""
        return tuple(self.fields)


def _check_field_name(name: str) -> None:
    if not name:
        raise ValueError("fields has an empty field name; name the template field")
    if any(char in _PLACEHOLDER_BREAKERS for char in name):
        raise ValueError(
            f"field name {name!r} cannot be a placeholder because it contains "
            "a brace, '|' or a line break"
        )
    if field_key(name) in _RESERVED_FIELDS:
        raise ValueError(
            f"field name {name!r} is built in; the plugin fills it from the "
            "contact's standard properties, so remove it from fields"
        )


def _check_property_name(value: str, where: str) -> str:
    prop = value.strip()
    if not _PROPERTY_NAME.fullmatch(prop):
        suggestion = "_".join(prop.lower().split()) or "loyalty_program"
        raise ValueError(
            f"{where}: {value!r} is not a HubSpot property internal name; use the "
            f"internal name from the property's settings, such as {suggestion!r}, "
            "not its label"
        )
    return prop


def format_date(moment: datetime, pattern: str) -> str:
    """Format a date with strftime, where ``%-d`` and the like drop leading zeros.

    ``%-d`` is a glibc extension, so the unpadded forms are replaced here and
    the same format works on every platform.
    """
    unpadded = {
        "%-d": str(moment.day),
        "%-m": str(moment.month),
        "%-H": str(moment.hour),
        "%-I": str(moment.hour % 12 or 12),
        "%-M": str(moment.minute),
    }
    text = pattern
    for directive, value in unpadded.items():
        text = text.replace(directive, value.replace("%", "%%"))
    return moment.strftime(text)


def hubspot_settings(context: PluginContext) -> HubSpotSettings:
    """Return the validated ``[hubspot]`` settings of a running instance.

    Raises:
        PluginError: another plugin registered settings under the same id.
    """
    settings = context.settings_for(PLUGIN_ID)
    if not isinstance(settings, HubSpotSettings):
        raise PluginError(
            f"[{PLUGIN_ID}] settings are {type(settings).__name__}, not "
            "HubSpotSettings; disable the other plugin that registers settings "
            f"for {PLUGIN_ID!r}"
        )
    return settings
