"""The two plugins as parley loads them: entry points, config, starter sections."""

from __future__ import annotations

import importlib.metadata
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from messenger_support import (
    APP_SECRET,
    IG_TOKEN,
    PAGE_TOKEN,
    VERIFY_TOKEN,
    instagram_section,
    messenger_section,
    outbound,
)

import parley.config
from parley import AddressKind, ConfigError, PluginContext, Throughput
from parley.runtime import collect_channels
from parley.starter import render_starter
from parley_messenger.channel import MetaChannel


def write_config(tmp_path: Path, sections: dict[str, dict[str, Any]]) -> Path:
    lines = [
        f"data_dir = {json.dumps(str(tmp_path / 'data'))}",
        "[plugins]",
        f"enabled = {json.dumps(list(sections))}",
    ]
    for name, section in sections.items():
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {json.dumps(value)}" for key, value in section.items())
    path = tmp_path / "parley.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def load_channels(
    tmp_path: Path,
    sections: dict[str, dict[str, Any]],
    environ: dict[str, str] | None = None,
) -> dict[str, Any]:
    loaded = parley.config.load_config(write_config(tmp_path, sections), environ or {})
    context = PluginContext(loaded.settings, loaded.plugin_manager)
    return collect_channels(context)


def test_entry_points_name_both_plugins() -> None:
    entry_points = {
        entry.name: entry.value
        for entry in importlib.metadata.entry_points(group="parley")
    }

    assert entry_points["messenger"] == "parley_messenger.messenger"
    assert entry_points["instagram"] == "parley_messenger.instagram"


def test_both_channels_register(tmp_path: Path) -> None:
    channels = load_channels(
        tmp_path,
        {"messenger": messenger_section(), "instagram": instagram_section()},
    )

    assert sorted(channels) == ["instagram", "messenger"]
    for channel in channels.values():
        assert isinstance(channel, MetaChannel)
        assert channel.address_kind is AddressKind.PAGE_SCOPED_ID


def test_secrets_from_environment(tmp_path: Path) -> None:
    section = messenger_section()
    for name in ("page_access_token", "app_secret", "verify_token"):
        del section[name]
    environ = {
        "PARLEY_MESSENGER__PAGE_ACCESS_TOKEN": PAGE_TOKEN,
        "PARLEY_MESSENGER__APP_SECRET": APP_SECRET,
        "PARLEY_MESSENGER__VERIFY_TOKEN": VERIFY_TOKEN,
    }

    channels = load_channels(tmp_path, {"messenger": section}, environ)

    assert channels["messenger"].id == "messenger"


def test_missing_secret_names_variable(tmp_path: Path) -> None:
    section = instagram_section()
    del section["access_token"]

    with pytest.raises(ConfigError) as failure:
        load_channels(tmp_path, {"instagram": section})

    assert "PARLEY_INSTAGRAM__ACCESS_TOKEN" in str(failure.value)


def test_concurrency_and_rate_from_settings(tmp_path: Path) -> None:
    section = messenger_section(max_concurrent_requests=3, max_messages_per_second=5)

    channel = load_channels(tmp_path, {"messenger": section})["messenger"]

    assert channel.max_concurrent_requests == 3
    assert channel.throughput(outbound()) == Throughput(
        key="messenger:112233445566778", per_second=5.0
    )


def test_no_rate_limit_by_default(tmp_path: Path) -> None:
    channel = load_channels(tmp_path, {"instagram": instagram_section()})["instagram"]

    assert channel.max_concurrent_requests is None
    assert channel.throughput(outbound(channel="instagram")) is None


@pytest.mark.parametrize("plugin_id", ["messenger", "instagram"])
def test_starter_section_parses(plugin_id: str) -> None:
    text = render_starter([plugin_id])

    section = tomllib.loads(text)[plugin_id]
    assert section["api_version"] == "v26.0"
    assert section["human_agent_tag"] is True
    assert f"PARLEY_{plugin_id.upper()}__APP_SECRET" in text
    assert f"https://<your public host>/webhooks/{plugin_id}" in text


# The starter leaves the secrets to the environment; these fill them in so
# that the only problems left are the placeholders.
STARTER_SECRETS = {
    "messenger": {
        "PARLEY_MESSENGER__PAGE_ACCESS_TOKEN": PAGE_TOKEN,
        "PARLEY_MESSENGER__APP_SECRET": APP_SECRET,
        "PARLEY_MESSENGER__VERIFY_TOKEN": VERIFY_TOKEN,
    },
    "instagram": {
        "PARLEY_INSTAGRAM__ACCESS_TOKEN": IG_TOKEN,
        "PARLEY_INSTAGRAM__APP_SECRET": APP_SECRET,
        "PARLEY_INSTAGRAM__VERIFY_TOKEN": VERIFY_TOKEN,
    },
}


@pytest.mark.parametrize("plugin_id", ["messenger", "instagram"])
def test_starter_placeholders_rejected(tmp_path: Path, plugin_id: str) -> None:
    path = tmp_path / "parley.toml"
    path.write_text(render_starter([plugin_id]), encoding="utf-8")

    with pytest.raises(ConfigError) as failure:
        parley.config.load_config(path, STARTER_SECRETS[plugin_id])

    problems = "\n".join(failure.value.problems)
    assert "placeholder" in problems
    assert f"{plugin_id}.page_id" in problems
    assert "required setting is missing" not in problems


def test_readme_lists_every_setting() -> None:
    from parley_messenger.settings import InstagramSettings, MessengerSettings

    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    for model in (MessengerSettings, InstagramSettings):
        for name in model.model_fields:
            assert f"| `{name}` |" in readme, f"README has no row for {name}"
