"""docs/plugin-hooks.md has one section per hook spec, with its exact signature."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from parley import hookspecs
from parley.plugins import new_plugin_manager

DOC = Path(__file__).resolve().parents[1] / "docs" / "plugin-hooks.md"


def spec_names() -> list[str]:
    """Return the hook spec names in the order hookspecs.py defines them."""
    manager = new_plugin_manager()
    names = [
        name
        for name, value in vars(hookspecs).items()
        if inspect.isfunction(value) and getattr(manager.hook, name, None) is not None
    ]
    assert names, "no hook specs found"
    return names


def doc_sections() -> dict[str, str]:
    """Return the text of each ``## <hook>`` section, keyed by hook name."""
    text = DOC.read_text(encoding="utf-8")
    parts = re.split(r"^## (\S+)\n", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def documented_signature(section: str) -> ast.FunctionDef:
    """Parse the first python block of a section, a ``def`` without a body."""
    match = re.search(r"```python\n(def .*?)\n```", section, flags=re.DOTALL)
    assert match, "the section has no ```python block starting with 'def'"
    tree = ast.parse(match.group(1) + ": ...")
    function = tree.body[0]
    assert isinstance(function, ast.FunctionDef)
    return function


def normalize(annotation: str) -> str:
    return ast.unparse(ast.parse(annotation, mode="eval"))


def test_every_hook_has_a_section() -> None:
    missing = [name for name in spec_names() if name not in doc_sections()]

    assert not missing, f"docs/plugin-hooks.md lacks sections for: {missing}"


def test_no_section_without_a_hook() -> None:
    stale = [name for name in doc_sections() if name not in spec_names()]

    assert not stale, f"docs/plugin-hooks.md documents unknown hooks: {stale}"


def test_sections_in_spec_order() -> None:
    assert list(doc_sections()) == spec_names()


@pytest.mark.parametrize("name", spec_names())
def test_documented_signature_matches_spec(name: str) -> None:
    documented = documented_signature(doc_sections()[name])
    actual = inspect.signature(getattr(hookspecs, name))

    assert documented.name == name
    documented_parameters = [
        (argument.arg, normalize(ast.unparse(argument.annotation)))
        for argument in documented.args.args
        if argument.annotation is not None
    ]
    assert len(documented_parameters) == len(documented.args.args), (
        "every documented parameter needs its annotation"
    )
    actual_parameters = [
        (parameter.name, normalize(str(parameter.annotation)))
        for parameter in actual.parameters.values()
    ]
    assert documented_parameters == actual_parameters
    assert documented.returns is not None
    assert normalize(ast.unparse(documented.returns)) == normalize(
        str(actual.return_annotation)
    )


@pytest.mark.parametrize("name", spec_names())
def test_section_states_when_and_returns(name: str) -> None:
    section = doc_sections()[name]

    assert "**When:**" in section
    assert "**Returns:**" in section
    assert "**Example:**" in section
    assert "**Edge cases:**" in section


@pytest.mark.parametrize("name", spec_names())
def test_firstresult_stated(name: str) -> None:
    spec = getattr(new_plugin_manager().hook, name).spec
    words = " ".join(doc_sections()[name].split())

    says_first_wins = "first non-None result wins" in words
    assert says_first_wins is bool(spec.opts.get("firstresult"))
