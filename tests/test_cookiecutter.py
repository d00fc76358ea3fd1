"""The plugin template renders, lints and produces plugins whose tests pass.

Rendering uses cookiecutter's API with no prompts. The fast tests check each
kind's exact file set and conditional content, and run the generated tests
(all but discovery) against this checkout's core. The slow test installs the
rendered plugins and this checkout's core into a fresh virtual environment,
as a plugin author would, and runs every generated test there.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest
from cookiecutter.exceptions import FailedHookException
from cookiecutter.main import cookiecutter

from parley.config import CoreSettings
from parley.plugins import CORE_PLUGIN_ID

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "cookiecutter-plugin"
KINDS = ("crm", "store", "channel", "other")

# Files of every rendered plugin, relative to its folder; PKG is the package.
COMMON_FILES = {
    ".gitignore",
    "README.md",
    "pyproject.toml",
    "PKG/__init__.py",
    "PKG/const.py",
    "PKG/settings.py",
    "tests/test_contract.py",
    "tests/test_discovery.py",
    "tests/test_readme.py",
}
HTTP_FILES = {"PKG/client.py", "tests/conftest.py", "tests/test_client.py"}
KIND_FILES = {
    "crm": HTTP_FILES | {"PKG/mapping.py", "tests/cassettes/contacts.yaml"},
    "store": HTTP_FILES
    | {"PKG/mapping.py", "PKG/webhook.py", "tests/cassettes/orders.yaml"},
    "channel": HTTP_FILES | {"PKG/channel.py", "tests/cassettes/messages.yaml"},
    "other": set(),
}
KIND_HOOKS = {
    "crm": {"register_settings", "register_fields", "lookup_contact", "resolve_field"},
    "store": {"register_settings", "register_webhooks", "register_fields"},
    "channel": {"register_settings", "register_channels"},
    "other": {"register_settings"},
}
KIND_CONTRACTS = {
    "crm": {"SettingsContract", "ContactLookupContract", "FieldsContract"},
    "store": {"SettingsContract", "WebhookContract", "FieldsContract"},
    "channel": {"SettingsContract", "ChannelContract"},
    "other": {"SettingsContract"},
}


def render(output_dir: Path, kind: str, name: str | None = None) -> Path:
    """Render the template without prompts; return the plugin's folder."""
    context = {
        "plugin_name": name or f"harbor-{kind}",
        "description": "Connects parley to Harbor.",
        "author": "Parley Tests",
        "kind": kind,
    }
    return Path(
        cookiecutter(
            str(TEMPLATE),
            no_input=True,
            extra_context=context,
            output_dir=str(output_dir),
        )
    )


def files_of(project: Path) -> set[str]:
    return {
        str(path.relative_to(project))
        for path in project.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def hookimpls(module: Path) -> set[str]:
    """Return the names of the functions decorated with ``@hookimpl``."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any(
            isinstance(decorator, ast.Name) and decorator.id == "hookimpl"
            for decorator in node.decorator_list
        )
    }


def test_cookiecutter_json_in_step_with_tests() -> None:
    config = json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8"))

    assert tuple(config["kind"]) == KINDS
    prompts = config["__prompts__"]["kind"]
    for kind in KINDS:
        assert prompts[kind].startswith(f"{kind}: ")
    assert set(config) >= {"plugin_name", "description", "author", "kind"}


@pytest.mark.parametrize("kind", KINDS)
def test_template_file_set(tmp_path: Path, kind: str) -> None:
    project = render(tmp_path, kind)
    package = f"parley_harbor_{kind}"

    expected = {
        path.replace("PKG", package) for path in COMMON_FILES | KIND_FILES[kind]
    }
    assert files_of(project) == expected


@pytest.mark.parametrize("kind", KINDS)
def test_template_hooks_of_kind(tmp_path: Path, kind: str) -> None:
    project = render(tmp_path, kind)
    module = project / f"parley_harbor_{kind}" / "__init__.py"

    assert hookimpls(module) == KIND_HOOKS[kind]


@pytest.mark.parametrize("kind", KINDS)
def test_template_contracts_of_kind(tmp_path: Path, kind: str) -> None:
    project = render(tmp_path, kind)
    tree = ast.parse((project / "tests" / "test_contract.py").read_text())

    bases = {
        base.id
        for node in tree.body
        if isinstance(node, ast.ClassDef)
        for base in node.bases
        if isinstance(base, ast.Name)
    }
    assert bases == KIND_CONTRACTS[kind]


@pytest.mark.parametrize("kind", KINDS)
def test_template_pyproject(tmp_path: Path, kind: str) -> None:
    project = render(tmp_path, kind)
    data = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))

    assert data["project"]["name"] == f"parley-harbor-{kind}"
    assert data["project"]["entry-points"]["parley"] == {
        f"harbor_{kind}": f"parley_harbor_{kind}"
    }
    dependencies = " ".join(data["project"]["dependencies"])
    test_extra = " ".join(data["project"]["optional-dependencies"]["test"])
    assert "parley" in dependencies
    assert "pytest" in test_extra
    uses_http = kind != "other"
    assert ("httpx" in dependencies) is uses_http
    assert ("tenacity" in dependencies) is uses_http
    assert ("vcrpy" in test_extra) is uses_http


def test_template_derives_names(tmp_path: Path) -> None:
    project = render(tmp_path, "channel", name="bay-texts")

    assert project.name == "parley-bay-texts"
    assert (project / "parley_bay_texts" / "__init__.py").is_file()
    const = (project / "parley_bay_texts" / "const.py").read_text()
    assert 'PLUGIN_ID = "bay_texts"' in const
    assert "class BayTextsChannel(Channel)" in (
        project / "parley_bay_texts" / "channel.py"
    ).read_text(encoding="utf-8")
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert "`PARLEY_BAY_TEXTS__API_KEY`" in readme
    assert "/webhooks/bay_texts" in readme


@pytest.mark.parametrize("kind", KINDS)
def test_template_readme_sections(tmp_path: Path, kind: str) -> None:
    project = render(tmp_path, kind)
    readme = (project / "README.md").read_text(encoding="utf-8")

    headings = [line for line in readme.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Installation",
        "## Configuration",
        "## Usage",
        "## Development",
    ]
    assert "pip install parley-harbor-" in readme
    assert f'enabled = ["sandbox", "harbor_{kind}"]' in readme


@pytest.mark.parametrize("kind", KINDS)
def test_template_leaves_no_jinja(tmp_path: Path, kind: str) -> None:
    project = render(tmp_path, kind)

    for relative in files_of(project):
        text = (project / relative).read_text(encoding="utf-8")
        assert "cookiecutter" not in text, relative
        assert "{%" not in text, relative
        if relative != "README.md":
            assert "{{" not in text, relative


@pytest.mark.parametrize("name", ["Harbor CRM", "harbor_crm", "-harbor", "harbor--crm"])
def test_template_rejects_invalid_name(tmp_path: Path, name: str) -> None:
    with pytest.raises(FailedHookException):
        render(tmp_path, "crm", name=name)

    assert list(tmp_path.iterdir()) == []


def test_template_rejects_core_section_name(tmp_path: Path) -> None:
    with pytest.raises(FailedHookException):
        render(tmp_path, "other", name="store")


def test_template_rejects_unknown_kind(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Store"):
        render(tmp_path, "Store")


def test_reserved_ids_match_core_sections() -> None:
    source = (TEMPLATE / "hooks" / "pre_gen_project.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    [assignment] = [
        node
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(
            isinstance(target, ast.Name) and target.id == "RESERVED_IDS"
            for target in node.targets
        )
    ]
    assert isinstance(assignment.value, ast.Call)
    reserved = ast.literal_eval(assignment.value.args[0])

    assert reserved == set(CoreSettings.model_fields) | {CORE_PLUGIN_ID}


@pytest.mark.parametrize("kind", KINDS)
def test_template_passes_ruff(tmp_path: Path, kind: str) -> None:
    project = render(tmp_path, kind)

    for command in (["check", "."], ["format", "--check", "."]):
        completed = subprocess.run(
            [sys.executable, "-m", "ruff", *command],
            cwd=project,
            capture_output=True,
            text=True,
        )
        assert completed.returncode == 0, completed.stdout + completed.stderr


@pytest.mark.parametrize("kind", KINDS)
def test_generated_tests_pass_uninstalled(tmp_path: Path, kind: str) -> None:
    # The discovery tests need the plugin installed; the slow test runs them.
    project = render(tmp_path, kind)
    env = {**os.environ, "PYTHONPATH": str(project)}

    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--ignore",
            "tests/test_discovery.py",
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr
    assert " failed" not in completed.stdout
    assert " passed" in completed.stdout


def run_checked(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    completed = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=240
    )
    assert completed.returncode == 0, (
        f"{' '.join(command)} exited {completed.returncode}:\n"
        f"{completed.stdout[-4000:]}\n{completed.stderr[-4000:]}"
    )
    return completed.stdout


@pytest.mark.slow
def test_rendered_plugins_install_and_pass(tmp_path: Path) -> None:
    projects = {kind: render(tmp_path / "src", kind) for kind in KINDS}
    environment = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(environment)
    python = environment / "bin" / "python"
    env = {
        key: value for key, value in os.environ.items() if not key.startswith("PARLEY_")
    }
    env.pop("PYTHONPATH", None)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"

    editable = [f"{project}[test]" for project in projects.values()]
    install = [str(python), "-m", "pip", "install", "--quiet", "-e", str(REPO)]
    for requirement in editable:
        install += ["-e", requirement]
    run_checked(install, tmp_path, env)

    for kind, project in projects.items():
        output = run_checked(
            [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"], project, env
        )
        assert " passed" in output, kind
        assert " failed" not in output, kind
        assert " skipped" not in output, kind

    listing = run_checked(
        [str(environment / "bin" / "parley"), "plugins", "--json"], tmp_path, env
    )
    rows = {row["id"]: row for row in json.loads(listing)}
    for kind in KINDS:
        row = rows[f"harbor_{kind}"]
        assert row["distribution"] == f"parley-harbor-{kind}"
        assert "error" not in row
        assert set(row["hooks"]) == KIND_HOOKS[kind]
