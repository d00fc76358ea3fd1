"""parley finds the plugin through its entry point."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

PLUGIN_ID = "{{ cookiecutter.__plugin_id }}"
{%- if cookiecutter.kind == "crm" %}
HOOKS = {"register_settings", "register_fields", "lookup_contact", "resolve_field"}
{%- elif cookiecutter.kind == "store" %}
HOOKS = {"register_settings", "register_webhooks", "register_fields"}
{%- elif cookiecutter.kind == "channel" %}
HOOKS = {"register_settings", "register_channels"}
{%- else %}
HOOKS = {"register_settings"}
{%- endif %}


def test_entry_point_names_package() -> None:
    entry_points = importlib.metadata.entry_points(group="parley", name=PLUGIN_ID)

    assert [entry.value for entry in entry_points] == ["{{ cookiecutter.__package }}"]


def test_parley_plugins_lists_plugin(tmp_path: Path) -> None:
    # Run where no parley.toml is, with no PARLEY_* variables, so that only
    # what is installed decides the output.
    env = {
        key: value for key, value in os.environ.items() if not key.startswith("PARLEY_")
    }
    completed = subprocess.run(
        [sys.executable, "-m", "parley", "plugins", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = {row["id"]: row for row in json.loads(completed.stdout)}

    assert PLUGIN_ID in rows
    row = rows[PLUGIN_ID]
    assert row["distribution"] == "{{ cookiecutter.__distribution }}"
    assert "error" not in row
    assert HOOKS <= set(row["hooks"])
