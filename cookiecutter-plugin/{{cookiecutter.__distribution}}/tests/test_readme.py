"""The README's settings table matches the settings model."""

from __future__ import annotations

from pathlib import Path

from {{ cookiecutter.__package }}.settings import {{ cookiecutter.__class_prefix }}Settings

README = Path(__file__).parents[1] / "README.md"
ENV_PREFIX = "{{ cookiecutter.__env_prefix }}"


def documented_settings() -> dict[str, list[str]]:
    """Return the Configuration table's rows, keyed by setting name."""
    section = README.read_text(encoding="utf-8").split("## Configuration", 1)[1]
    section = section.split("\n## ", 1)[0]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = cells
    return rows


def test_readme_lists_every_setting() -> None:
    assert set(documented_settings()) == set({{ cookiecutter.__class_prefix }}Settings.model_fields)


def test_readme_environment_variables() -> None:
    for name, cells in documented_settings().items():
        assert cells[1] == f"`{ENV_PREFIX}{name.upper()}`"


def test_readme_required_column() -> None:
    fields = {{ cookiecutter.__class_prefix }}Settings.model_fields
    for name, cells in documented_settings().items():
        assert cells[2] == ("yes" if fields[name].is_required() else "no"), name
