"""The ``[twilio]`` section of ``parley.toml``."""

from __future__ import annotations

import ipaddress
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

from parley import PluginContext, PluginError
from parley_twilio.const import (
    ACCOUNT_SID_PATTERN,
    API_KEY_SID_PATTERN,
    DEFAULT_API_BASE_URL,
    DEFAULT_MAX_CONCURRENT_REQUESTS,
    DEFAULT_MPS,
    E164_PATTERN,
    MAX_VALIDITY_PERIOD_SECONDS,
    MESSAGING_SERVICE_SID_PATTERN,
    PLUGIN_ID,
)

# Placeholders that 'parley init --with twilio' writes; a config that still
# has them is rejected with a message saying where the real value is.
STARTER_ACCOUNT_SID = "your Account SID (AC...)"
STARTER_AUTH_TOKEN = "your Auth Token"
STARTER_FROM_NUMBER = "your Twilio number in E.164 (+1...)"
STARTER_VALUES = (STARTER_ACCOUNT_SID, STARTER_AUTH_TOKEN, STARTER_FROM_NUMBER)

SenderType = Literal["long_code", "toll_free", "short_code"]


class TwilioSettings(BaseModel):
    """Settings of the Twilio SMS and MMS channel."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    account_sid: str = Field(
        description="The Account SID (AC followed by 32 hex digits) from the "
        "Twilio Console; messages are created under this account.",
    )
    auth_token: SecretStr = Field(
        description="The account's primary Auth Token. Twilio signs webhooks "
        "with it, so it is needed even when an API key sends.",
    )
    api_key_sid: SecretStr | None = Field(
        None,
        description="An API key SID (SK...) to send with instead of the Auth "
        "Token; set it together with api_key_secret. It is masked like a "
        "secret in logs and errors.",
    )
    api_key_secret: SecretStr | None = Field(
        None, description="The secret of api_key_sid."
    )
    from_number: str | None = Field(
        None,
        description="The Twilio number messages are sent from, in E.164 "
        "(+14155550100). With messaging_service_sid it must belong to the "
        "service's sender pool.",
    )
    messaging_service_sid: str | None = Field(
        None,
        description="A Messaging Service SID (MG...) to send through; Twilio "
        "picks the sender from its pool. Set it, from_number, or both.",
    )
    webhook_url: str | None = Field(
        None,
        description="The public URL at which Twilio reaches /webhooks/twilio, "
        "such as https://hooks.example.com/webhooks/twilio. Signatures are "
        "checked against it and status callbacks go to <webhook_url>/status. "
        "Empty means [server] public_url followed by /webhooks/twilio.",
    )
    status_callbacks: bool = Field(
        True,
        description="Ask Twilio for delivery status callbacks at "
        "<webhook_url>/status on every message.",
    )
    validity_period_seconds: int | None = Field(
        900,
        ge=1,
        le=MAX_VALIDITY_PERIOD_SECONDS,
        description="How long a message may wait in Twilio's queue before "
        "Twilio drops it, in seconds (1 to 36000). An empty string leaves "
        "Twilio's default of 36000.",
    )
    sender_type: SenderType = Field(
        "long_code",
        description="What sends: long_code (about 1 message segment per "
        "second), toll_free (3) or short_code (100). Sets the sending rate "
        "unless messages_per_second is given.",
    )
    messages_per_second: float | None = Field(
        None,
        gt=0,
        le=10_000,
        description="The sender's rate in message segments per second, such "
        "as the throughput of a 10DLC campaign or of a whole Messaging "
        "Service pool; overrides sender_type's default.",
    )
    max_concurrent_requests: int = Field(
        DEFAULT_MAX_CONCURRENT_REQUESTS,
        ge=1,
        le=1000,
        description="The maximum number of send requests in flight to Twilio at once. "
        "Twilio answers 20429 above the account's concurrency limit.",
    )
    api_base_url: str = Field(
        DEFAULT_API_BASE_URL,
        description="Scheme and host of Twilio's REST API; change it only for "
        "a test server such as http://127.0.0.1:8766.",
    )
    timeout_seconds: float = Field(
        10.0,
        gt=0,
        le=120,
        description="Seconds for connecting to Twilio and for each read.",
    )
    trusted_proxies: tuple[str, ...] = Field(
        (),
        description="IP addresses or networks of proxies whose "
        "X-Forwarded-Proto and X-Forwarded-Host headers rebuild the signed URL "
        "when neither webhook_url nor [server] public_url is set.",
    )

    @field_validator(
        "api_key_sid",
        "api_key_secret",
        "from_number",
        "messaging_service_sid",
        "webhook_url",
        "validity_period_seconds",
        mode="before",
    )
    @classmethod
    def _empty_to_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("account_sid", "from_number", mode="before")
    @classmethod
    def _reject_placeholders(cls, value: object) -> object:
        if isinstance(value, str) and value.strip() in STARTER_VALUES:
            raise ValueError(
                f"{value.strip()!r} is the starter config's placeholder; copy the "
                "value from the Twilio Console"
            )
        return value

    @field_validator("account_sid")
    @classmethod
    def _check_account_sid(cls, value: str) -> str:
        sid = value.strip()
        if not ACCOUNT_SID_PATTERN.fullmatch(sid):
            raise ValueError(
                f"{sid!r} is not an Account SID; expected AC followed by 32 hex "
                "digits, as shown on the Twilio Console's dashboard"
            )
        return sid

    @field_validator("auth_token", "api_key_secret", mode="before")
    @classmethod
    def _check_secret(cls, value: object) -> object:
        if isinstance(value, str) and value.strip() == STARTER_AUTH_TOKEN:
            raise ValueError(
                "the value is still the starter config's placeholder; copy it "
                "from the Twilio Console, or set it in the environment"
            )
        if isinstance(value, str) and not value.strip():
            raise ValueError(
                "the value is empty; copy it from the Twilio Console, or set it "
                "in the environment"
            )
        return value

    @field_validator("api_key_sid")
    @classmethod
    def _check_api_key_sid(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        sid = value.get_secret_value().strip()
        if not API_KEY_SID_PATTERN.fullmatch(sid):
            raise ValueError(
                "the value is not an API key SID; expected SK followed by 32 hex digits"
            )
        return SecretStr(sid)

    @field_validator("from_number")
    @classmethod
    def _check_from_number(cls, value: str | None) -> str | None:
        if value is None:
            return None
        number = value.strip()
        if not E164_PATTERN.fullmatch(number):
            raise ValueError(
                f"{number!r} is not a phone number in E.164; write it as + and the "
                "country code and number without spaces, such as +14155550100"
            )
        return number

    @field_validator("messaging_service_sid")
    @classmethod
    def _check_messaging_service_sid(cls, value: str | None) -> str | None:
        if value is None:
            return None
        sid = value.strip()
        if not MESSAGING_SERVICE_SID_PATTERN.fullmatch(sid):
            raise ValueError(
                f"{sid!r} is not a Messaging Service SID; expected MG followed by "
                "32 hex digits"
            )
        return sid

    @field_validator("webhook_url")
    @classmethod
    def _check_webhook_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return check_public_url(value)

    @field_validator("api_base_url")
    @classmethod
    def _check_api_base_url(cls, value: str) -> str:
        url = value.strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"{url!r} is not a URL with http:// or https:// and a host, such as "
                f"{DEFAULT_API_BASE_URL}"
            )
        if parts.path or parts.query or parts.fragment:
            raise ValueError(
                f"{url!r} has a path; give only the scheme and host (and port), "
                "the plugin adds /2010-04-01/Accounts/... itself"
            )
        return url

    @field_validator("trusted_proxies")
    @classmethod
    def _check_trusted_proxies(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                raise ValueError(
                    f"{entry!r} is not an IP address or network; write it as "
                    "10.0.0.5 or 10.0.0.0/8"
                ) from None
        return tuple(entry.strip() for entry in value)

    @model_validator(mode="after")
    def _check_pairs(self) -> TwilioSettings:
        if self.from_number is None and self.messaging_service_sid is None:
            raise ValueError(
                "set from_number or messaging_service_sid (or both) so that "
                "Twilio knows what to send from"
            )
        if (self.api_key_sid is None) != (self.api_key_secret is None):
            raise ValueError(
                "api_key_sid and api_key_secret go together; set both to send "
                "with an API key, or neither to send with the Auth Token"
            )
        return self

    @property
    def sender_key(self) -> str:
        """The sender that a rate limit applies to: the service or the number."""
        return self.messaging_service_sid or self.from_number or self.account_sid

    @property
    def rate_per_second(self) -> float:
        """Message segments per second the sender may send."""
        if self.messages_per_second is not None:
            return self.messages_per_second
        return DEFAULT_MPS[self.sender_type]

    def credentials(self) -> tuple[str, str]:
        """Return the HTTP basic-auth user and password for the REST API."""
        if self.api_key_sid is not None and self.api_key_secret is not None:
            return (
                self.api_key_sid.get_secret_value(),
                self.api_key_secret.get_secret_value(),
            )
        return self.account_sid, self.auth_token.get_secret_value()


def check_public_url(value: str) -> str:
    """Validate a public webhook URL and return it without a trailing slash.

    Raises:
        ValueError: the URL has no http(s) scheme or host, has a query or
            fragment, or its host has an underscore, which Twilio rejects in
            StatusCallback URLs.
    """
    url = value.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"{url!r} is not a URL with http:// or https:// and a host, such as "
            "https://hooks.example.com/webhooks/twilio"
        )
    if parts.query or parts.fragment:
        raise ValueError(
            f"{url!r} has a query or fragment; give the URL of /webhooks/twilio only"
        )
    if "_" in parts.hostname:
        raise ValueError(
            f"the host of {url!r} contains an underscore, which Twilio rejects in "
            "status callback URLs; use a host name without one"
        )
    return url


def twilio_settings(context: PluginContext) -> TwilioSettings:
    """Return the validated ``[twilio]`` settings of a running instance.

    Raises:
        PluginError: another plugin registered settings under the same id.
    """
    settings = context.settings_for(PLUGIN_ID)
    if not isinstance(settings, TwilioSettings):
        raise PluginError(
            f"[{PLUGIN_ID}] settings are {type(settings).__name__}, not "
            "TwilioSettings; disable the other plugin that registers settings "
            f"for {PLUGIN_ID!r}"
        )
    return settings


def public_webhook_url(
    settings: TwilioSettings, server_public_url: str | None
) -> str | None:
    """Return the public URL of ``/webhooks/twilio``, or None when unknown.

    Args:
        settings: the ``[twilio]`` section; its ``webhook_url`` wins.
        server_public_url: ``[server] public_url``, such as
            ``https://hooks.example.com``.
    """
    if settings.webhook_url is not None:
        return settings.webhook_url
    if not server_public_url or not server_public_url.strip():
        return None
    return check_public_url(server_public_url) + f"/webhooks/{PLUGIN_ID}"
