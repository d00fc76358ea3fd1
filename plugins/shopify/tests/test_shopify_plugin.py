"""Discovery and hook implementations, as the core loads and calls them."""

from __future__ import annotations

import ast
from collections.abc import Sequence
from pathlib import Path

import parley_shopify
from parley import PluginContext
from parley.plugins import installed_plugins
from parley_shopify.settings import ShopifySettings, ShopSettings

PACKAGE = Path(parley_shopify.__file__).parent
README = PACKAGE.parent / "README.md"


def test_entry_point_installed() -> None:
    plugin = installed_plugins()["shopify"]

    assert plugin.module == "parley_shopify"
    assert plugin.distribution == "parley-shopify"


def test_loaded_by_core(context: PluginContext) -> None:
    assert context.plugin_manager.get_plugin("shopify") is parley_shopify
    assert isinstance(context.settings_for("shopify"), ShopifySettings)


def test_webhook_route(context: PluginContext) -> None:
    routes = []
    context.plugin_manager.hook.register_webhooks(
        register=routes.append, context=context
    )
    shopify_routes = [route for route in routes if route.plugin_id == "shopify"]

    assert [route.full_path for route in shopify_routes] == ["/webhooks/shopify"]
    assert shopify_routes[0].methods == ("POST",)


def test_fields_declared(context: PluginContext) -> None:
    declared: dict[str, Sequence[str]] = {}

    def register(plugin_id: str, names: Sequence[str]) -> None:
        declared[plugin_id] = names

    context.plugin_manager.hook.register_fields(register=register, context=context)

    assert set(declared["shopify"]) == {
        "Order Status URL",
        "Tracking URL",
        "Tracking Number",
        "Carrier",
        "Cancel Reason",
        "Refund Amount",
        "Order Total",
        "Last Order ID",
        "Orders Count",
    }


def test_init_imports_only_public_parley() -> None:
    tree = ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    modules = [
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    ]

    parley_modules = [name for name in modules if name.split(".")[0] == "parley"]
    assert parley_modules == ["parley"]


def test_readme_lists_every_setting() -> None:
    readme = README.read_text(encoding="utf-8")

    for name in ShopifySettings.model_fields:
        assert f"PARLEY_SHOPIFY__{name.upper()}" in readme
    for name in ShopSettings.model_fields:
        assert f"`shops[].{name}`" in readme
