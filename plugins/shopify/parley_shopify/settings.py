"""The ``[shopify]`` section of ``parley.toml``."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

import phonenumbers
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from parley import PluginContext, PluginError
from parley_shopify.const import (
    PLUGIN_ID,
    SHOP_DOMAIN_PATTERN,
    TOPIC_ORDERS_CREATE,
    TOPIC_ORDERS_PAID,
)

_API_VERSION = r"^(\d{4}-(01|04|07|10)|unstable)$"

# The poller reads Customer.defaultPhoneNumber, which Admin API 2025-04 added.
_FIRST_POLLING_VERSION = "2025-04"


# Placeholders in the [shopify] section that 'parley init --with shopify'
# writes; a config that still has them is rejected, not silently accepted.
STARTER_DOMAIN = "your-shop.myshopify.com"
STARTER_SECRET = "the app's client secret"


class ShopSettings(BaseModel):
    """One connected shop and the app secret that signs its webhooks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    domain: str = Field(
        description="The shop's permanent domain, such as "
        "harbor-and-pine.myshopify.com; webhooks name it in X-Shopify-Shop-Domain.",
    )
    client_secret: SecretStr = Field(
        min_length=1,
        description="The app's client secret, which Shopify uses as the HMAC key "
        "for webhook signatures.",
    )
    previous_client_secret: SecretStr | None = Field(
        None,
        description="The client secret before the last rotation. Shopify can take "
        "up to an hour to sign with a new secret, so signatures made with this one "
        "are accepted too. Remove it once the rotation is over.",
    )
    access_token: SecretStr | None = Field(
        None,
        description="Admin API access token of the app installed on this shop "
        "(shpat_...). Polling for missed webhooks and the Orders Count field run "
        "only for shops that have one.",
    )
    poll_interval_seconds: float = Field(
        300.0,
        ge=1,
        description="Seconds between the end of one poll of this shop and the "
        "start of the next.",
    )
    admin_base_url: str | None = Field(
        None,
        description="Scheme and host of the shop's Admin API, such as "
        "http://127.0.0.1:8765 for a test server; empty means https://<domain>.",
    )
    country: str | None = Field(
        None,
        description="ISO 3166 country code (US, GB, DE) for phone numbers written "
        "without a country code; empty means [contacts] default_region. An "
        "address phone is read in the address's own country first.",
    )
    checkout_phone_is_consent: bool = Field(
        False,
        description="Record the phone number of each confirmed order as the "
        "customer's opt-in to order updates, with the order as evidence. Turn it "
        "on only when the checkout informs customers that they get order texts.",
    )

    @field_validator("domain", mode="before")
    @classmethod
    def _check_domain(cls, value: object) -> object:
        if not isinstance(value, str):
            return value

        domain = value.strip().lower()
        if domain == STARTER_DOMAIN:
            raise ValueError(
                f"{STARTER_DOMAIN!r} is the starter config's placeholder; put your "
                "shop's myshopify.com domain here"
            )
        if not SHOP_DOMAIN_PATTERN.fullmatch(domain):
            raise ValueError(
                "expected the shop's myshopify.com domain, such as "
                "harbor-and-pine.myshopify.com, without https:// or a path; a "
                "custom storefront domain does not identify the shop in webhooks"
            )
        return domain

    @field_validator("client_secret", mode="before")
    @classmethod
    def _check_client_secret(cls, value: object) -> object:
        if isinstance(value, str) and value.strip() == STARTER_SECRET:
            raise ValueError(
                "client_secret is still the starter config's placeholder; copy the "
                "client secret from the app's API credentials"
            )
        if isinstance(value, str) and not value.strip():
            raise ValueError(
                "client_secret is empty; copy the client secret from the app's "
                "API credentials in the Shopify admin or the Partner Dashboard"
            )
        return value

    @field_validator(
        "previous_client_secret",
        "access_token",
        "admin_base_url",
        "country",
        mode="before",
    )
    @classmethod
    def _empty_to_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("admin_base_url")
    @classmethod
    def _check_admin_base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None

        url = value.strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "expected a URL with http:// or https:// and a host, such as "
                "https://harbor-and-pine.myshopify.com"
            )
        if parts.path or parts.query or parts.fragment:
            raise ValueError(
                "expected only the scheme and host (and port); the plugin adds "
                "/admin/api/<api_version>/graphql.json itself"
            )
        return url

    @field_validator("country")
    @classmethod
    def _check_country(cls, value: str | None) -> str | None:
        if value is None:
            return None

        country = value.strip().upper()
        if country not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(
                "expected a two-letter ISO 3166 country code such as US, GB or "
                "DE (the United Kingdom is GB)"
            )
        return country

    @property
    def admin_url(self) -> str:
        """Scheme and host of the shop's Admin API, without a trailing slash."""
        return self.admin_base_url or f"https://{self.domain}"

    @property
    def polled(self) -> bool:
        """True when the shop has an access token, so that it can be polled."""
        return self.access_token is not None

    def region(self, default_region: str) -> str:
        """Return the country for phone numbers without a country code.

        Args:
            default_region: the core's ``[contacts] default_region``, used
                when the shop sets no ``country``.
        """
        return self.country or default_region


class ShopifySettings(BaseModel):
    """Settings of the Shopify connector."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    shops: tuple[ShopSettings, ...] = Field(
        description="The shops whose webhooks are accepted; at least one.",
    )
    confirmed_on: Literal["orders/create", "orders/paid"] = Field(
        TOPIC_ORDERS_CREATE,
        description="The webhook topic that sends the order-confirmed update: "
        f"{TOPIC_ORDERS_CREATE} when the order is placed, or {TOPIC_ORDERS_PAID} "
        "when its payment is captured.",
    )
    api_version: str = Field(
        "2026-07",
        pattern=_API_VERSION,
        description="Admin API version (YYYY-MM, one quarter's release) that "
        "webhook subscriptions and the poller use.",
    )
    max_attempts: int = Field(
        5,
        ge=1,
        le=20,
        description="Attempts per Admin API request before a poll or a field "
        "lookup gives up. Throttled, 429 and 5xx responses and network errors "
        "are retried; other errors are not.",
    )
    poll_page_size: int = Field(
        20,
        ge=1,
        le=250,
        description="Orders read per Admin API request when polling. A query's "
        "cost grows with the page size, and Shopify has long capped one query "
        "at 1000 points, so lower it if polls fail with MAX_COST_EXCEEDED.",
    )
    orders_count_ttl_seconds: float = Field(
        3600.0,
        ge=0,
        description="How long a customer's order count, read for the Orders "
        "Count field, is reused. A count read before the order event happened "
        "is never reused, so a new order is counted.",
    )

    # The shop list is checked as a whole here, after each shop was validated,
    # so that an error is reported at the section and never echoes the list
    # with its secrets.
    @model_validator(mode="after")
    def _check_shops(self) -> ShopifySettings:
        if not self.shops:
            raise ValueError(
                "shops is empty; add at least one shop as "
                '{domain = "your-shop.myshopify.com", client_secret = "..."}'
            )

        seen: set[str] = set()
        for shop in self.shops:
            if shop.domain in seen:
                raise ValueError(
                    f"shops lists {shop.domain} twice; keep one entry per domain"
                )
            seen.add(shop.domain)
        self._check_polling_version()
        return self

    def _check_polling_version(self) -> None:
        polled = any(shop.polled for shop in self.shops)
        if not polled or self.api_version == "unstable":
            return
        if self.api_version < _FIRST_POLLING_VERSION:
            raise ValueError(
                f"api_version {self.api_version} is too old for polling, which "
                f"reads Customer.defaultPhoneNumber; use {_FIRST_POLLING_VERSION} "
                "or later, or remove access_token from every shop"
            )

    def shop(self, domain: str) -> ShopSettings | None:
        """Return the configured shop with this domain, or None.

        Args:
            domain: a shop domain in any letter case.
        """
        normalized = domain.strip().lower()
        for shop in self.shops:
            if shop.domain == normalized:
                return shop
        return None


def shopify_settings(context: PluginContext) -> ShopifySettings:
    """Return the validated ``[shopify]`` settings of a running instance.

    Raises:
        PluginError: another plugin registered settings under the same id.
    """
    settings = context.settings_for(PLUGIN_ID)
    if not isinstance(settings, ShopifySettings):
        raise PluginError(
            f"[{PLUGIN_ID}] settings are {type(settings).__name__}, not "
            "ShopifySettings; disable the other plugin that registers "
            f"settings for {PLUGIN_ID!r}"
        )
    return settings
