"""The ``[shopify]`` section of ``parley.toml``."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from parley_shopify.const import (
    SHOP_DOMAIN_PATTERN,
    TOPIC_ORDERS_CREATE,
    TOPIC_ORDERS_PAID,
)

_API_VERSION = r"^(\d{4}-(01|04|07|10)|unstable)$"


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

    @field_validator("domain", mode="before")
    @classmethod
    def _check_domain(cls, value: object) -> object:
        if not isinstance(value, str):
            return value

        domain = value.strip().lower()
        if not SHOP_DOMAIN_PATTERN.fullmatch(domain):
            raise ValueError(
                "expected the shop's myshopify.com domain, such as "
                "harbor-and-pine.myshopify.com, without https:// or a path; a "
                "custom storefront domain does not identify the shop in webhooks"
            )
        return domain

    @field_validator("previous_client_secret", mode="before")
    @classmethod
    def _empty_secret_to_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value


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
        return self

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
