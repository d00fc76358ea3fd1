"""Delete the files that belong to the kinds of plugin not chosen."""

import shutil
import sys
from pathlib import Path

KIND = "{{ cookiecutter.kind }}"
PACKAGE = "{{ cookiecutter.__package }}"

# Files that only some kinds use, relative to the generated project. Every
# other file is common to all kinds.
KIND_FILES = {
    "crm": {
        f"{PACKAGE}/client.py",
        f"{PACKAGE}/mapping.py",
        "tests/conftest.py",
        "tests/test_client.py",
        "tests/cassettes/contacts.yaml",
    },
    "store": {
        f"{PACKAGE}/client.py",
        f"{PACKAGE}/mapping.py",
        f"{PACKAGE}/webhook.py",
        "tests/conftest.py",
        "tests/test_client.py",
        "tests/cassettes/orders.yaml",
    },
    "channel": {
        f"{PACKAGE}/client.py",
        f"{PACKAGE}/channel.py",
        "tests/conftest.py",
        "tests/test_client.py",
        "tests/cassettes/messages.yaml",
    },
    "other": set(),
}


def main() -> int:
    """Remove the unchosen kinds' files and any folder left empty."""
    if KIND not in KIND_FILES:
        print(
            f"error: kind {KIND!r} is unknown; choose one of {sorted(KIND_FILES)}",
            file=sys.stderr,
        )
        return 1

    project = Path.cwd()
    keep = KIND_FILES[KIND]
    every_optional = set().union(*KIND_FILES.values())
    for relative in sorted(every_optional - keep):
        (project / relative).unlink()

    cassettes = project / "tests" / "cassettes"
    if not any(cassettes.iterdir()):
        shutil.rmtree(cassettes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
