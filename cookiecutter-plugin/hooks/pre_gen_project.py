"""Reject a plugin name that cannot become a distribution, package and plugin id."""

import re
import sys

NAME = "{{ cookiecutter.plugin_name }}"
PLUGIN_ID = "{{ cookiecutter.__plugin_id }}"

NAME_PATTERN = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")

# Top-level sections of parley's own config, and the id of its built-in
# fields plugin. A plugin's section shares the top level of parley.toml, so
# these ids would clash. Keep in step with parley.config.CoreSettings.
RESERVED_IDS = frozenset(
    {
        "auto_replies",
        "automations",
        "business",
        "calendar",
        "compliance",
        "contacts",
        "core",
        "csat",
        "data_dir",
        "logging",
        "order_updates",
        "outbox",
        "plugins",
        "replies",
        "server",
        "store",
        "templates",
    }
)


def main() -> int:
    """Exit non-zero with a message when the name is unusable."""
    if not NAME_PATTERN.fullmatch(NAME):
        print(
            f"error: plugin name {NAME!r} is invalid; use lower-case letters, "
            "digits and single hyphens, starting with a letter, such as acme-crm",
            file=sys.stderr,
        )
        return 1
    if PLUGIN_ID in RESERVED_IDS:
        print(
            f"error: plugin id {PLUGIN_ID!r} is taken by parley's own "
            f"[{PLUGIN_ID}] config section; choose another name",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
