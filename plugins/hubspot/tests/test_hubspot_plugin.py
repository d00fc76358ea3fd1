"""The plugin's entry point, declared fields and field resolution."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from hubspot_support import base_settings, hubspot_instance

import parley_hubspot
from parley.testing import make_contact


def declared(context) -> list[str]:  # noqa: ANN001
    names: list[str] = []
    context.plugin_manager.hook.register_fields(
        register=lambda plugin_id, fields: names.extend(
            fields if plugin_id == "hubspot" else []
        ),
        context=context,
    )
    return names


def test_entry_point_names_module() -> None:
    entry_points = importlib.metadata.entry_points(group="parley")

    [entry] = [ep for ep in entry_points if ep.name == "hubspot"]
    assert entry.value == "parley_hubspot"
    assert entry.load() is parley_hubspot


def test_fields_follow_config(tmp_path: Path) -> None:
    settings = base_settings(
        fields={"Loyalty Program": "loyalty_program", "Last Order Date": "last_order"}
    )
    with hubspot_instance(tmp_path, settings) as instance:
        names = declared(instance.context)

    assert names == ["HubSpot Contact ID", "Loyalty Program", "Last Order Date"]


def test_resolve_field_values(tmp_path: Path) -> None:
    contact = make_contact(fields={"loyalty  PROGRAM": "Gold tier"})
    with hubspot_instance(tmp_path) as instance:
        hook = instance.context.plugin_manager.hook.resolve_field
        values = {
            name: hook(name=name, contact=contact, event=None, context=instance.context)
            for name in ("loyalty program", "hubspot contact id", "orders count")
        }

    assert values == {
        "loyalty program": "Gold tier",
        "hubspot contact id": "",
        "orders count": None,
    }
