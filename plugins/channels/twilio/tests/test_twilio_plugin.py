"""The installed plugin: its entry point, public imports and README."""

from __future__ import annotations

import ast
import importlib.metadata
from pathlib import Path

import parley_twilio
from parley_twilio.settings import TwilioSettings

PACKAGE = Path(parley_twilio.__file__).parent
README = PACKAGE.parent / "README.md"


def test_entry_point_installed() -> None:
    entry_points = importlib.metadata.entry_points(group="parley")

    [entry] = [e for e in entry_points if e.name == "twilio"]
    assert entry.value == "parley_twilio"


def test_imports_only_public_parley() -> None:
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("parley."), (path.name, node.module)
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith("parley."), (path.name, alias.name)


def test_readme_lists_every_setting() -> None:
    readme = README.read_text(encoding="utf-8")

    for name in TwilioSettings.model_fields:
        assert f"| `{name}` | `PARLEY_TWILIO__{name.upper()}`" in readme, name
