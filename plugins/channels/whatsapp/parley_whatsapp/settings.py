"""The ``[whatsapp]`` section of ``parley.toml``."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from parley import PluginContext, PluginError
from parley_whatsapp.const import (
    DEFAULT_API_VERSION,
    DEFAULT_BASE_URL,
    DEFAULT_MESSAGES_PER_SECOND,
    PLUGIN_ID,
)

# Placeholders that 'parley init --with whatsapp' writes; a config that
# still has one is rejected, so a half-filled section never starts.
STARTER_PHONE_NUMBER_ID = "your-phone-number-id"
STARTER_ACCESS_TOKEN = "your-system-user-access-token"
STARTER_APP_SECRET = "your-app-secret"
STARTER_VERIFY_TOKEN = "a-verify-token-you-choose"

# The starter placeholder and the source of each credential, for error
# messages.
_SECRET_SOURCES = {
    "access_token": (
        STARTER_ACCESS_TOKEN,
        "a system user's access token with the whatsapp_business_messaging "
        "permission (Business Settings > System users)",
    ),
    "app_secret": (
        STARTER_APP_SECRET,
        "the app secret from App Dashboard > App settings > Basic",
    ),
    "verify_token": (
        STARTER_VERIFY_TOKEN,
        "a random string you invent and also type into the webhook settings "
        "of the App Dashboard",
    ),
}

_KIND_PATTERN = re.compile(r"[a-z][a-z0-9_]*")


class TemplateSettings(BaseModel):
    """An approved WhatsApp message template and where its parameters come from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        pattern=r"^[a-z0-9_]{1,512}$",
        description="The template's name as approved in WhatsApp Manager, such "
        "as order_update (lower case letters, digits and underscores).",
    )
    language: str = Field(
        pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$",
        description="The code of an approved translation of the template, such "
        "as en_US, en or pt_BR.",
    )
    parameters: tuple[str, ...] = Field(
        (),
        description="Template field names ({{1}}, {{2}} ... of the body, in "
        'order), such as ["First Name", "Order Number", "Order Status"].',
    )
    url_button: str | None = Field(
        None,
        description="Template field name whose value fills the variable at the "
        "end of the template's URL button, such as Tracking Number; empty for "
        "templates without a dynamic URL button.",
    )
    url_button_index: int = Field(
        0,
        ge=0,
        le=9,
        description="Position of that URL button among the template's buttons, "
        "starting at 0.",
    )

    @field_validator("parameters")
    @classmethod
    def _check_parameters(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for position, name in enumerate(value, start=1):
            if not name.strip():
                raise ValueError(
                    f"parameter {position} is empty; name the template field that "
                    "fills {{" + str(position) + "}}, such as First Name"
                )
        return tuple(name.strip() for name in value)

    @field_validator("url_button", mode="before")
    @classmethod
    def _empty_to_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @property
    def field_names(self) -> tuple[str, ...]:
        """Every template field the template needs, body parameters first."""
        if self.url_button is None:
            return self.parameters
        return (*self.parameters, self.url_button)


class WhatsAppSettings(BaseModel):
    """Settings of the WhatsApp Cloud API channel."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    phone_number_id: str = Field(
        description="The id of the business phone number that sends and "
        "receives (WhatsApp Manager > Phone numbers, or App Dashboard > "
        "WhatsApp > API Setup); not the phone number itself.",
    )
    access_token: SecretStr = Field(
        description="A system user's access token with the "
        "whatsapp_business_messaging permission, sent as a bearer token.",
    )
    app_secret: SecretStr = Field(
        description="The app secret (App Dashboard > App settings > Basic); the "
        "key of the X-Hub-Signature-256 signature on every webhook.",
    )
    verify_token: SecretStr = Field(
        description="The string you type as Verify token in the App "
        "Dashboard's webhook settings; Meta sends it once to check the URL.",
    )
    base_url: str = Field(
        DEFAULT_BASE_URL,
        description="Scheme and host of the Graph API, such as "
        "http://127.0.0.1:8766 for a test server.",
    )
    api_version: str = Field(
        DEFAULT_API_VERSION,
        pattern=r"^v\d{1,3}\.\d$",
        description="Graph API version in the request path, such as v26.0. Meta "
        "retires versions on a published schedule, so update it now and then.",
    )
    timeout_seconds: float = Field(
        30.0,
        gt=0,
        le=300,
        description="Seconds for connecting to the Graph API and for each read.",
    )
    messages_per_second: float = Field(
        DEFAULT_MESSAGES_PER_SECOND,
        gt=0,
        le=1000,
        description="Sends per second from this phone number. Meta allows 80 by "
        "default, 1000 after an upgrade and 20 for a number also used in the "
        "WhatsApp Business app.",
    )
    max_concurrent_requests: int = Field(
        8,
        ge=1,
        le=64,
        description="Send requests to the Graph API in flight at the same time.",
    )
    window_margin_seconds: float = Field(
        30.0,
        ge=0,
        le=3600,
        description="Seconds before the 24-hour customer service window closes "
        "from which a message goes out as a template instead of free-form text, "
        "so that it cannot reach Meta after the window closed.",
    )
    preview_url: bool = Field(
        True,
        description="Show a preview of the first link in free-form text messages.",
    )
    templates: dict[str, TemplateSettings] = Field(
        default_factory=dict,
        description="Approved template per message kind (order_update, "
        "agent_reply, auto_reply ...), used outside the customer service window.",
    )

    @field_validator("phone_number_id", mode="before")
    @classmethod
    def _check_phone_number_id(cls, value: object) -> object:
        if not isinstance(value, str | int) or isinstance(value, bool):
            return value

        text = str(value).strip()
        if text == STARTER_PHONE_NUMBER_ID:
            raise ValueError(
                f"{STARTER_PHONE_NUMBER_ID!r} is the starter config's placeholder; "
                "put the phone number id from App Dashboard > WhatsApp > API Setup "
                "here"
            )
        if not text.isdigit():
            raise ValueError(
                "expected the numeric phone number id, such as 109876543210987, "
                "not the phone number; find it in App Dashboard > WhatsApp > API "
                "Setup"
            )
        return text

    @field_validator("access_token", "app_secret", "verify_token", mode="before")
    @classmethod
    def _check_secret(cls, value: object, info: ValidationInfo) -> object:
        name = info.field_name or ""
        placeholder, source = _SECRET_SOURCES[name]
        if isinstance(value, str) and value.strip() == placeholder:
            raise ValueError(
                f"{name} is still the starter config's placeholder; set it to "
                f"{source}, preferably through PARLEY_WHATSAPP__{name.upper()}"
            )
        if isinstance(value, str) and not value.strip():
            raise ValueError(f"{name} is empty; set it to {source}")
        return value

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        url = value.strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "expected a URL with http:// or https:// and a host, such as "
                f"{DEFAULT_BASE_URL}"
            )
        if parts.path or parts.query or parts.fragment:
            raise ValueError(
                "expected only the scheme and host (and port); the plugin adds "
                "/<api_version>/<phone_number_id>/messages itself"
            )
        return url

    @field_validator("templates")
    @classmethod
    def _check_template_kinds(
        cls, value: dict[str, TemplateSettings]
    ) -> dict[str, TemplateSettings]:
        for kind in value:
            if not _KIND_PATTERN.fullmatch(kind):
                raise ValueError(
                    f"template key {kind!r} is not a message kind; use a kind such "
                    "as order_update or agent_reply: [whatsapp.templates.order_update]"
                )
        return value

    @model_validator(mode="after")
    def _check_distinct_secrets(self) -> WhatsAppSettings:
        # Meta sends the verify token in a query string, which proxies and
        # access logs may record, so it must not double as the app secret.
        if self.verify_token.get_secret_value() == self.app_secret.get_secret_value():
            raise ValueError(
                "verify_token equals app_secret; choose a different random string "
                "as the verify token, because it travels in a URL"
            )
        return self

    def template_for(self, kind: str) -> TemplateSettings | None:
        """Return the template configured for a message kind, or None."""
        return self.templates.get(kind)


def whatsapp_settings(context: PluginContext) -> WhatsAppSettings:
    """Return the validated ``[whatsapp]`` settings of a running instance.

    Raises:
        PluginError: another plugin registered settings under the same id.
    """
    settings = context.settings_for(PLUGIN_ID)
    if not isinstance(settings, WhatsAppSettings):
        raise PluginError(
            f"[{PLUGIN_ID}] settings are {type(settings).__name__}, not "
            "WhatsAppSettings; disable the other plugin that registers "
            f"settings for {PLUGIN_ID!r}"
        )
    return settings
