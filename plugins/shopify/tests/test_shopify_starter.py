"""What ``parley init --with shopify`` writes, and how the config check takes it."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

import parley.config
from parley import ConfigError
from parley.checks import check_config, known_fields
from parley.starter import render_starter
from parley.templates import lint_template

SHOP_BLOCK = """
[[shopify.shops]]
domain = "harbor-and-pine.myshopify.com"
client_secret = "test_shopify_client_secret_0f3a9c2e"
"""


def write_starter(tmp_path: Path, text: str) -> Path:
    # The starter keeps its data directory relative; tests keep it in tmp_path.
    text = text.replace('data_dir = ".parley"', f'data_dir = "{tmp_path / "data"}"')
    path = tmp_path / "parley.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_starter_parses() -> None:
    config = tomllib.loads(render_starter(["shopify"]))

    assert config["plugins"]["enabled"] == ["sandbox", "shopify"]
    assert config["shopify"] == {
        "confirmed_on": "orders/create",
        "api_version": "2026-07",
    }
    assert "Carrier" in config["templates"]["order_shipped"]
    assert "Refund Amount" in config["templates"]["order_refunded"]


def test_starter_templates_lint_clean(tmp_path: Path) -> None:
    text = render_starter(["shopify"]) + SHOP_BLOCK
    loaded = parley.config.load_config(write_starter(tmp_path, text), environ={})
    fields = known_fields(loaded)
    names = (
        "order_confirmed",
        "order_shipped",
        "order_out_for_delivery",
        "order_delivered",
        "order_cancelled",
        "order_refunded",
    )

    for name in names:
        text = loaded.settings.templates[name]
        issues = lint_template(name, text, fields, channel="sms")
        assert [i for i in issues if i.severity == "error"] == [], name
        assert not any(i.code == "sms-ucs2" for i in issues), name


def test_starter_names_missing_shop(tmp_path: Path) -> None:
    path = write_starter(tmp_path, render_starter(["shopify"]))

    with pytest.raises(ConfigError) as caught:
        parley.config.load_config(path, environ={})

    assert caught.value.problems == [
        "shopify.shops: required setting is missing; set it in the file or in "
        "PARLEY_SHOPIFY__SHOPS"
    ]


def test_starter_checks_once_filled_in(tmp_path: Path) -> None:
    path = write_starter(tmp_path, render_starter(["shopify"]) + SHOP_BLOCK)
    loaded = parley.config.load_config(path, environ={})

    issues, problems = check_config(loaded)

    assert [i.message for i in issues if i.severity == "error"] == []
    assert [p.message for p in problems if p.severity == "error"] == []


def test_starter_empty_secret_named(tmp_path: Path) -> None:
    block = SHOP_BLOCK.replace("test_shopify_client_secret_0f3a9c2e", "")
    path = write_starter(tmp_path, render_starter(["shopify"]) + block)

    with pytest.raises(ConfigError) as caught:
        parley.config.load_config(path, environ={})

    [problem] = caught.value.problems
    assert problem.startswith("shopify.shops.0.client_secret:")
    assert "client_secret is empty" in problem


def test_starter_placeholders_rejected(tmp_path: Path) -> None:
    from parley.config import load_config
    from parley.errors import ConfigError
    from parley.starter import render_starter

    text = render_starter(["shopify"]).replace(
        "# [[shopify.shops]]", "[[shopify.shops]]"
    )
    text = text.replace('# domain = "your-shop', 'domain = "your-shop')
    text = text.replace("# client_secret = \"the app's", "client_secret = \"the app's")
    path = tmp_path / "parley.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    message = str(caught.value)
    assert "shopify.shops.0.domain" in message
    assert "placeholder" in message
    assert "shopify.shops.0.client_secret" in message
