"""``parley contacts sync --plugin hubspot`` and ``parley config check`` end to end."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from hubspot_support import BASE_URL, TOKEN, hubspot_vcr

import parley.config
from parley.cli import cli
from parley.store import open_store


def write_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "parley.toml"
    path.write_text(
        f"data_dir = {json.dumps(str(tmp_path / 'data'))}\n"
        "[plugins]\n"
        'enabled = ["hubspot"]\n'
        "[hubspot]\n"
        f"access_token = {json.dumps(TOKEN)}\n"
        f"base_url = {json.dumps(BASE_URL)}\n"
        "sync_page_size = 2\n"
        f"{extra}"
        "[hubspot.fields]\n"
        '"Loyalty Program" = "loyalty_program"\n',
        encoding="utf-8",
    )
    return path


def test_contacts_sync_command(tmp_path: Path) -> None:
    path = write_config(tmp_path)

    with hubspot_vcr().use_cassette("sync_three_contacts.yaml") as cassette:
        result = CliRunner().invoke(
            cli, ["contacts", "sync", "--plugin", "hubspot", "-c", str(path)]
        )

    assert result.exit_code == 0, result.output
    assert "hubspot: 3 contact(s) stored" in result.output
    assert cassette.all_played
    loaded = parley.config.load_config(path, environ={})
    store = open_store(loaded.settings.store_url)
    try:
        assert store.get_plugin_state("hubspot", "backfill_complete") == "true"
    finally:
        store.close()


def test_config_check_reports_missing_property(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    text = path.read_text().replace(
        '"Loyalty Program" = "loyalty_program"',
        '"Loyalty Program" = "loyalty_programme"',
    )
    path.write_text(text)

    with hubspot_vcr().use_cassette("check_ok.yaml"):
        result = CliRunner().invoke(cli, ["config", "check", "-c", str(path)])

    assert result.exit_code == 1
    assert "hubspot.fields.'Loyalty Program'" in result.output
    assert "did you mean 'loyalty_program'" in result.output
