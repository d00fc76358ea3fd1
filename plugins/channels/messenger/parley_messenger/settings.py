"""The ``[messenger]`` and ``[instagram]`` sections of ``parley.toml``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from parley import AGENT_REPLY_KIND, PluginContext, PluginError
from parley_messenger.const import (
    DEFAULT_API_VERSION,
    DEFAULT_BASE_URL,
    HUMAN_AGENT,
    INSTAGRAM,
    MESSENGER,
    MESSENGER_KIND_TAGS,
    Platform,
)

_API_VERSION = r"^v\d+\.\d+$"
_NUMERIC_ID = re.compile(r"\d{1,32}")
_KIND_NAME = re.compile(r"[a-z][a-z0-9_]*")

# Values that 'parley init --with messenger|instagram' writes, and other
# values that mark a setting left unfilled. A config that still contains one
# is rejected, not accepted with a value Meta would reject.
_PLACEHOLDERS = frozenset(
    {
        "changeme",
        "change-me",
        "placeholder",
        "todo",
        "xxx",
        "the page access token",
        "the app secret",
        "the verify token",
        "the access token",
    }
)


def _is_placeholder(value: str) -> bool:
    text = value.strip().lower()
    if text in _PLACEHOLDERS:
        return True
    if text.startswith("<") and text.endswith(">"):
        return True
    return text.startswith("your-") or text.startswith("your ") or "..." in text


def _check_secret_text(value: object, setting: str) -> object:
    """Reject an empty or placeholder credential; the value is never echoed."""
    if not isinstance(value, str):
        return value
    if not value.strip():
        raise ValueError(f"{setting} is empty")
    if _is_placeholder(value):
        raise ValueError(f"{setting} is still a placeholder, not a real value")
    return value.strip()


def _check_numeric_id(value: object, hint: str) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return value

    text = value.strip()
    if not text or _is_placeholder(text):
        raise ValueError(f"still a placeholder; {hint}")
    if not _NUMERIC_ID.fullmatch(text):
        raise ValueError(f"expected digits only, such as 112233445566778; {hint}")
    return text


class MetaChannelSettings(BaseModel):
    """Settings the Messenger and Instagram channels share."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    platform: ClassVar[Platform]

    app_secret: SecretStr = Field(
        description="The Meta app's App Secret (App Dashboard, App settings, "
        "Basic). It is the HMAC key of the X-Hub-Signature-256 header.",
    )
    verify_token: SecretStr = Field(
        description="A string you invent and type into the App Dashboard's "
        "webhook setup; the GET verification request must carry it.",
    )
    base_url: str = Field(
        DEFAULT_BASE_URL,
        description="Scheme and host of the Graph API, such as "
        "https://graph.facebook.com, or http://127.0.0.1:8765 for a test server.",
    )
    api_version: str = Field(
        DEFAULT_API_VERSION,
        pattern=_API_VERSION,
        description="Graph API version in request paths, such as v26.0.",
    )
    human_agent_tag: bool = Field(
        True,
        description="Send a person's reply (kind agent_reply) with the "
        "HUMAN_AGENT tag up to 7 days after the customer's last message. The "
        "app needs Meta's approval of the Human Agent feature; when false, "
        "such replies are blocked once the 24-hour window has closed.",
    )
    window_margin_seconds: float = Field(
        60.0,
        ge=0,
        le=3600,
        description="Seconds taken off the end of the 24-hour and 7-day "
        "windows, so that a send decided just before the end does not reach "
        "Meta after it.",
    )
    max_concurrent_requests: int | None = Field(
        None,
        ge=1,
        le=1000,
        description="The maximum Send API requests in flight at once on this "
        "channel; empty means the outbox's concurrency.",
    )
    max_messages_per_second: float | None = Field(
        None,
        gt=0,
        description="The maximum messages per second sent from this Page or "
        "account; the outbox spaces sends to keep to it. Empty means no "
        "spacing.",
    )
    timeout_seconds: float = Field(
        30.0,
        gt=0,
        le=300,
        description="Seconds to wait for Meta to connect and to respond to each "
        "send request.",
    )

    @field_validator("app_secret", mode="before")
    @classmethod
    def _check_app_secret(cls, value: object) -> object:
        try:
            return _check_secret_text(value, "app_secret")
        except ValueError as err:
            raise ValueError(
                f"{err}; copy the App Secret from the App Dashboard "
                "(App settings, Basic)"
            ) from None

    @field_validator("verify_token", mode="before")
    @classmethod
    def _check_verify_token(cls, value: object) -> object:
        try:
            return _check_secret_text(value, "verify_token")
        except ValueError as err:
            raise ValueError(
                f"{err}; invent a random string and type the same one into "
                "the App Dashboard's webhook setup"
            ) from None

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
                "expected only the scheme and host (and port); the channel adds "
                "/<api_version>/<id>/messages itself"
            )
        return url

    @field_validator(
        "max_concurrent_requests", "max_messages_per_second", mode="before"
    )
    @classmethod
    def _empty_to_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @property
    def window_margin(self) -> timedelta:
        """The margin taken off the end of each window."""
        return timedelta(seconds=self.window_margin_seconds)

    @property
    def webhook_account_id(self) -> str:
        """The id that webhook entries carry in ``entry[].id``."""
        raise NotImplementedError

    @property
    def sender_id(self) -> str:
        """The id in the Send API path, ``/<version>/<sender_id>/messages``."""
        raise NotImplementedError

    @property
    def token(self) -> SecretStr:
        """The access token of Send API requests."""
        raise NotImplementedError

    @property
    def kind_tags(self) -> Mapping[str, str]:
        """The message tag to use outside the window, by message kind."""
        return {}


class MessengerSettings(MetaChannelSettings):
    """Settings of the Facebook Messenger channel."""

    platform: ClassVar[Platform] = MESSENGER

    page_id: str = Field(
        description="The Facebook Page id. Webhook entries for other Pages "
        "are ignored, and sends go to /<api_version>/<page_id>/messages.",
    )
    page_access_token: SecretStr = Field(
        description="A Page access token with the pages_messaging permission.",
    )
    message_tags: dict[str, str] = Field(
        default_factory=dict,
        description="Message tag per message kind for sends after the 24-hour "
        'window, such as {order_update = "POST_PURCHASE_UPDATE"}. Allowed: '
        f"{', '.join(MESSENGER_KIND_TAGS)}. Tagged messages must not be "
        "promotional. A kind without a tag is blocked outside the window.",
    )

    @field_validator("page_id", mode="before")
    @classmethod
    def _check_page_id(cls, value: object) -> object:
        return _check_numeric_id(
            value,
            "copy the Page id from the Page's About section or Meta Business Suite",
        )

    @field_validator("page_access_token", mode="before")
    @classmethod
    def _check_page_access_token(cls, value: object) -> object:
        try:
            return _check_secret_text(value, "page_access_token")
        except ValueError as err:
            raise ValueError(
                f"{err}; generate a Page access token with the pages_messaging "
                "permission in the App Dashboard (Messenger API settings)"
            ) from None

    @field_validator("message_tags", mode="before")
    @classmethod
    def _check_message_tags(cls, value: object) -> object:
        if not isinstance(value, Mapping):
            return value
        return {
            _check_tag_kind(kind): _check_tag_name(kind, tag)
            for kind, tag in value.items()
        }

    @property
    def webhook_account_id(self) -> str:
        """The Page id."""
        return self.page_id

    @property
    def sender_id(self) -> str:
        """The Page id, which the Send API path names."""
        return self.page_id

    @property
    def token(self) -> SecretStr:
        """The Page access token."""
        return self.page_access_token

    @property
    def kind_tags(self) -> Mapping[str, str]:
        """The configured ``message_tags``."""
        return self.message_tags


class InstagramSettings(MetaChannelSettings):
    """Settings of the Instagram messaging channel."""

    platform: ClassVar[Platform] = INSTAGRAM

    account_id: str = Field(
        description="The Instagram professional account id, which webhook "
        "entries carry; entries for other accounts are ignored.",
    )
    page_id: str | None = Field(
        None,
        description="The Facebook Page linked to the account, when the app "
        "uses Facebook Login: sends then go to /<api_version>/<page_id>/messages "
        "with a Page access token. Empty for Instagram Login, where sends go to "
        "/<api_version>/<account_id>/messages (set base_url to "
        "https://graph.instagram.com).",
    )
    access_token: SecretStr = Field(
        description="The Page access token (Facebook Login) or the Instagram "
        "user access token (Instagram Login) with messaging permission.",
    )

    @model_validator(mode="before")
    @classmethod
    def _reject_message_tags(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "message_tags" in data:
            raise ValueError(
                "message_tags is not available for Instagram: Instagram accepts "
                "only the HUMAN_AGENT tag outside the 24-hour window, which "
                "human_agent_tag turns on for agent replies; remove message_tags"
            )
        return data

    @field_validator("account_id", mode="before")
    @classmethod
    def _check_account_id(cls, value: object) -> object:
        return _check_numeric_id(
            value,
            "copy the Instagram professional account id from the App "
            "Dashboard's Instagram API setup",
        )

    @field_validator("page_id", mode="before")
    @classmethod
    def _check_page_id(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return _check_numeric_id(
            value, "copy the id of the Page linked to the Instagram account"
        )

    @field_validator("access_token", mode="before")
    @classmethod
    def _check_access_token(cls, value: object) -> object:
        try:
            return _check_secret_text(value, "access_token")
        except ValueError as err:
            raise ValueError(
                f"{err}; generate an access token with Instagram messaging "
                "permission in the App Dashboard"
            ) from None

    @property
    def webhook_account_id(self) -> str:
        """The Instagram professional account id."""
        return self.account_id

    @property
    def sender_id(self) -> str:
        """The linked Page id with Facebook Login, else the account id."""
        return self.page_id or self.account_id

    @property
    def token(self) -> SecretStr:
        """The access token."""
        return self.access_token


def _check_tag_kind(kind: object) -> str:
    if not isinstance(kind, str) or not _KIND_NAME.fullmatch(kind):
        raise ValueError(
            f"message_tags key {kind!r} is not a message kind; use kind names "
            "such as order_update"
        )
    if kind == AGENT_REPLY_KIND:
        raise ValueError(
            f"message_tags.{kind}: a person's reply always goes with the "
            "HUMAN_AGENT tag, which human_agent_tag controls; remove this key"
        )
    return kind


def _check_tag_name(kind: str, tag: object) -> str:
    name = tag.strip().upper() if isinstance(tag, str) else tag
    if name == HUMAN_AGENT:
        raise ValueError(
            f"message_tags.{kind}: HUMAN_AGENT is only for replies a person "
            "writes (kind agent_reply) and is set by the channel; choose one of "
            f"{', '.join(MESSENGER_KIND_TAGS)}"
        )
    if name not in MESSENGER_KIND_TAGS:
        raise ValueError(
            f"message_tags.{kind} is {tag!r}; expected one of "
            f"{', '.join(MESSENGER_KIND_TAGS)}"
        )
    return name


def channel_settings(context: PluginContext, platform: Platform) -> MetaChannelSettings:
    """Return the validated settings of one platform's section.

    Raises:
        PluginError: another plugin registered settings under the same id.
    """
    settings = context.settings_for(platform.channel_id)
    expected = MessengerSettings if platform is MESSENGER else InstagramSettings
    if not isinstance(settings, expected):
        raise PluginError(
            f"[{platform.channel_id}] settings are {type(settings).__name__}, not "
            f"{expected.__name__}; disable the other plugin that registers "
            f"settings for {platform.channel_id!r}"
        )
    return settings
