"""``parley doctor``: print what an installation needs fixed."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from parley.config import load_config
from parley.errors import ConfigError, PluginError

if TYPE_CHECKING:
    from parley.doctor import CheckResult

CONFIG_OPTION_HELP = "Config file; default $PARLEY_CONFIG, then ./parley.toml."

_STYLES = {"ok": "green", "warning": "yellow", "error": "bold red", "skipped": "dim"}


@click.command()
@click.option("-c", "--config", "config_path", default=None, help=CONFIG_OPTION_HELP)
@click.option(
    "--probe",
    is_flag=True,
    help="Also GET <[server] public_url>/healthz to check that the public URL "
    "reaches this daemon.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def doctor(config_path: str | None, probe: bool, as_json: bool) -> None:
    """Check the config, store, keys, plugin credentials and public URL.

    Each enabled plugin's credentials are checked with one read-only request
    to its provider. Exits 1 when something must be fixed.
    """
    from parley.doctor import CheckResult, needs_fixing, run_doctor

    try:
        loaded = load_config(config_path)
    except (ConfigError, PluginError) as err:
        results = [CheckResult("config", "error", str(err), "fix the config file")]
    else:
        results = run_doctor(loaded, probe=probe)

    failed = needs_fixing(results)
    if as_json:
        report = {"ok": not failed, "checks": [result.to_json() for result in results]}
        click.echo(json.dumps(report, indent=2))
    else:
        _print_table(results, failed)
    if failed:
        sys.exit(1)


def _print_table(results: list[CheckResult], failed: bool) -> None:
    table = Table("Check", "Status", "Details", "What to fix")
    for result in results:
        style = _STYLES.get(result.status, "")
        # Details name config sections such as [server], which rich would
        # otherwise read as markup.
        table.add_row(
            escape(result.check),
            f"[{style}]{result.status}[/]" if style else result.status,
            escape(result.detail),
            escape(result.fix),
        )
    console = Console()
    console.print(table)
    summary = "something must be fixed" if failed else "nothing must be fixed"
    console.print(f"parley doctor: {summary}")
