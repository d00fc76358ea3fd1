"""The [shopify] settings, on their own and through the core's loader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError
from shopify_support import write_config

import parley.config
from parley import ConfigError
from parley_shopify.settings import ShopifySettings, ShopSettings

STORE_URL = "sqlite:///unused.db"


def test_defaults() -> None:
    settings = ShopifySettings(
        shops=[{"domain": "a.myshopify.com", "client_secret": "s"}]
    )

    assert settings.confirmed_on == "orders/create"
    assert settings.api_version == "2026-07"
    assert settings.shops[0].previous_client_secret is None


def test_domain_lower_cased() -> None:
    settings = ShopifySettings(
        shops=[{"domain": " Harbor-And-Pine.MyShopify.com ", "client_secret": "s"}]
    )

    assert settings.shops[0].domain == "harbor-and-pine.myshopify.com"
    assert settings.shop("HARBOR-AND-PINE.myshopify.com") is settings.shops[0]
    assert settings.shop("other.myshopify.com") is None


@pytest.mark.parametrize(
    "domain",
    [
        "https://harbor-and-pine.myshopify.com",
        "harbor-and-pine.myshopify.com/admin",
        "shop.harborandpine.com",
        "myshopify.com",
        "",
    ],
)
def test_invalid_domain_rejected(domain: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ShopifySettings(shops=[{"domain": domain, "client_secret": "s"}])

    assert "myshopify.com domain" in str(caught.value)


def test_duplicate_domain_rejected() -> None:
    shop = {"domain": "a.myshopify.com", "client_secret": "s"}

    with pytest.raises(ValidationError) as caught:
        ShopifySettings(shops=[shop, dict(shop, domain="A.myshopify.com")])

    assert "a.myshopify.com twice" in str(caught.value)


def test_empty_previous_secret_is_none() -> None:
    settings = ShopifySettings(
        shops=[
            {
                "domain": "a.myshopify.com",
                "client_secret": "s",
                "previous_client_secret": "",
            }
        ]
    )

    assert settings.shops[0].previous_client_secret is None


@pytest.mark.parametrize("version", ["2026-07", "2025-10", "unstable"])
def test_api_version_accepted(version: str) -> None:
    shops = [{"domain": "a.myshopify.com", "client_secret": "s"}]

    assert ShopifySettings(shops=shops, api_version=version).api_version == version


@pytest.mark.parametrize("version", ["2026-05", "2026-7", "latest"])
def test_api_version_rejected(version: str) -> None:
    shops = [{"domain": "a.myshopify.com", "client_secret": "s"}]

    with pytest.raises(ValidationError):
        ShopifySettings(shops=shops, api_version=version)


def test_loader_requires_a_shop(tmp_path: Path) -> None:
    path = write_config(tmp_path, STORE_URL, "[shopify]\nshops = []\n")

    with pytest.raises(ConfigError) as caught:
        parley.config.load_config(path, environ={})

    assert "shops is empty" in str(caught.value)


def test_loader_hides_secrets_of_duplicates(tmp_path: Path) -> None:
    body = (
        "[shopify]\n"
        "shops = [\n"
        '  {domain = "a.myshopify.com", client_secret = "top-secret-1"},\n'
        '  {domain = "A.myshopify.com", client_secret = "top-secret-2"},\n'
        "]\n"
    )
    path = write_config(tmp_path, STORE_URL, body)

    with pytest.raises(ConfigError) as caught:
        parley.config.load_config(path, environ={})

    assert "twice" in str(caught.value)
    assert "top-secret" not in str(caught.value)


def test_loader_reports_missing_section(tmp_path: Path) -> None:
    path = write_config(tmp_path, STORE_URL, "")

    with pytest.raises(ConfigError) as caught:
        parley.config.load_config(path, environ={})

    assert "PARLEY_SHOPIFY__SHOPS" in str(caught.value)


def test_loader_reports_every_problem(tmp_path: Path) -> None:
    body = (
        "[shopify]\n"
        'shops = [{domain = "shop.example.com", client_secret = "top-secret-1"}]\n'
        'confirmed_on = "orders/fulfilled"\n'
    )
    path = write_config(tmp_path, STORE_URL, body)

    with pytest.raises(ConfigError) as caught:
        parley.config.load_config(path, environ={})

    message = str(caught.value)
    assert "shopify.shops.0.domain" in message
    assert "shopify.confirmed_on" in message
    assert "top-secret-1" not in message


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, STORE_URL, "")
    shops = [{"domain": "env-shop.myshopify.com", "client_secret": "from-env"}]
    environ = {
        "PARLEY_SHOPIFY__SHOPS": json.dumps(shops),
        "PARLEY_SHOPIFY__CONFIRMED_ON": "orders/paid",
        "PARLEY_SHOPIFY__API_VERSION": "2026-10",
    }

    settings = parley.config.load_config(path, environ=environ).settings.shopify

    assert settings.shops[0].domain == "env-shop.myshopify.com"
    assert settings.shops[0].client_secret.get_secret_value() == "from-env"
    assert settings.confirmed_on == "orders/paid"
    assert settings.api_version == "2026-10"


def test_settings_read_only() -> None:
    settings = ShopifySettings(
        shops=[{"domain": "a.myshopify.com", "client_secret": "s"}]
    )

    with pytest.raises(ValidationError):
        settings.api_version = "2026-10"


def test_secret_hidden_in_repr() -> None:
    settings = ShopifySettings(
        shops=[{"domain": "a.myshopify.com", "client_secret": "hidden-value"}]
    )

    assert "hidden-value" not in repr(settings)


# Polling, phone and consent settings of a shop


def shop_with(**changes: object) -> ShopSettings:
    values: dict[str, object] = {"domain": "a.myshopify.com", "client_secret": "s"}
    values.update(changes)
    return ShopSettings(**values)


def test_shop_polling_defaults() -> None:
    shop = shop_with()

    assert shop.access_token is None
    assert shop.polled is False
    assert shop.poll_interval_seconds == 300
    assert shop.admin_url == "https://a.myshopify.com"
    assert shop.country is None
    assert shop.region("CA") == "CA"
    assert shop.checkout_phone_is_consent is False


def test_empty_token_is_none() -> None:
    assert shop_with(access_token=" ").access_token is None


def test_token_turns_polling_on() -> None:
    shop = shop_with(access_token="shpat_abc")

    assert shop.polled is True
    assert "shpat_abc" not in repr(shop)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("https://a.myshopify.com/", "https://a.myshopify.com"),
    ],
)
def test_admin_base_url_accepted(url: str, expected: str) -> None:
    assert shop_with(admin_base_url=url).admin_url == expected


@pytest.mark.parametrize(
    "url",
    ["127.0.0.1:8765", "ftp://a.myshopify.com", "https://a.myshopify.com/admin/api"],
)
def test_admin_base_url_rejected(url: str) -> None:
    with pytest.raises(ValidationError):
        shop_with(admin_base_url=url)


def test_country_upper_cased() -> None:
    shop = shop_with(country="gb")

    assert shop.country == "GB"
    assert shop.region("US") == "GB"


def test_country_uk_rejected() -> None:
    with pytest.raises(ValidationError) as caught:
        shop_with(country="UK")

    assert "the United Kingdom is GB" in str(caught.value)


def test_empty_client_secret_named() -> None:
    with pytest.raises(ValidationError) as caught:
        shop_with(client_secret="")

    assert "client_secret is empty" in str(caught.value)


def test_poll_interval_minimum() -> None:
    with pytest.raises(ValidationError):
        shop_with(poll_interval_seconds=0.5)


def test_polling_needs_recent_api_version() -> None:
    shops = [{"domain": "a.myshopify.com", "client_secret": "s", "access_token": "t"}]

    with pytest.raises(ValidationError) as caught:
        ShopifySettings(shops=shops, api_version="2025-01")

    assert "2025-04 or later" in str(caught.value)
    assert ShopifySettings(shops=shops, api_version="2025-04").api_version == "2025-04"


def test_old_api_version_fine_without_token() -> None:
    shops = [{"domain": "a.myshopify.com", "client_secret": "s"}]

    assert ShopifySettings(shops=shops, api_version="2025-01").api_version == "2025-01"


def test_poll_settings_defaults() -> None:
    settings = ShopifySettings(
        shops=[{"domain": "a.myshopify.com", "client_secret": "s"}]
    )

    assert settings.max_attempts == 5
    assert settings.poll_page_size == 20
    assert settings.orders_count_ttl_seconds == 3600


def test_loader_hides_access_token(tmp_path: Path) -> None:
    body = (
        "[shopify]\n"
        "shops = [\n"
        '  {domain = "a.myshopify.com", client_secret = "s", '
        'access_token = "shpat_secret_value", poll_interval_seconds = -1},\n'
        "]\n"
        'api_version = "2024-10"\n'
    )
    path = write_config(tmp_path, STORE_URL, body)

    with pytest.raises(ConfigError) as caught:
        parley.config.load_config(path, environ={})

    assert "shopify.shops.0.poll_interval_seconds" in str(caught.value)
    assert "shpat_secret_value" not in str(caught.value)
