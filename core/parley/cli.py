"""The ``parley`` command line."""

from __future__ import annotations

import importlib
import importlib.resources
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
import pluggy
from rich.console import Console
from rich.table import Table

from parley import __version__
from parley.cli_doctor import doctor
from parley.cli_keys import keys
from parley.cli_report import export, report
from parley.config import DEFAULT_CONFIG_FILE, LoadedConfig, load_config
from parley.errors import ConfigError, ParleyError, PluginError
from parley.logs import configure_logging
from parley.models import Purpose
from parley.plugins import installed_plugins, new_plugin_manager

if TYPE_CHECKING:
    from parley.checks import ConfigProblem
    from parley.templates import TemplateIssue

logger = logging.getLogger(__name__)

CONFIG_OPTION_HELP = "Config file; default $PARLEY_CONFIG, then ./parley.toml."


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _load(config: str | None, require_file: bool = False) -> LoadedConfig:
    try:
        loaded = load_config(config)
    except (ConfigError, PluginError) as err:
        _fail(str(err))
        raise AssertionError("unreachable") from err
    if require_file and loaded.path is None:
        # Without a file these commands would check or open an empty store in
        # the current directory and report on the wrong data.
        _fail(
            "no config file found; pass -c FILE, set PARLEY_CONFIG, or run this in the "
            "folder of your parley.toml ('parley init' creates one)"
        )
    return loaded


@click.group()
@click.version_option(__version__, prog_name="parley")
def cli() -> None:
    """parley: conversational customer messaging, driven by plugins."""


@cli.command()
@click.argument(
    "path", default=DEFAULT_CONFIG_FILE, type=click.Path(dir_okay=False, path_type=Path)
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.option(
    "--with",
    "with_plugins",
    multiple=True,
    metavar="PLUGIN",
    help="Enable an installed plugin and add its commented section; repeatable.",
)
def init(path: Path, force: bool, with_plugins: tuple[str, ...]) -> None:
    """Write a commented starter config that runs on the sandbox channel."""
    from parley.starter import render_starter

    if path.exists() and not force:
        _fail(f"{path} already exists; pass --force to overwrite it")
    try:
        text = render_starter(with_plugins)
    except PluginError as err:
        _fail(str(err))
        return
    path.write_text(text, encoding="utf-8")
    click.echo(f"wrote {path}; check it with: parley config check -c {path}")


@cli.command()
@click.option("-c", "--config", "config_path", default=None, help=CONFIG_OPTION_HELP)
@click.option(
    "--host", default=None, help="Interface to bind to; overrides [server] host."
)
@click.option(
    "--port",
    default=None,
    type=click.IntRange(0, 65535),
    help="TCP port, 0 to 65535; overrides [server] port.",
)
def run(config_path: str | None, host: str | None, port: int | None) -> None:
    """Run the daemon: serve webhooks, run pollers and send queued messages."""
    from parley.checks import check_config
    from parley.daemon import serve
    from parley.runtime import build_runtime

    loaded = _load(config_path)
    configure_logging(loaded.settings.logging)
    if loaded.path is None:
        logger.warning(
            "no config file found (-c, $PARLEY_CONFIG or ./parley.toml); running on "
            "defaults with no templates. Create one with 'parley init'."
        )
    _stop_on_config_errors(check_config(loaded))

    server = loaded.settings.server
    try:
        runtime = build_runtime(loaded)
        serve(runtime, host or server.host, server.port if port is None else port)
    except ParleyError as err:
        _fail(f"daemon failed to start: {err}")


def _stop_on_config_errors(
    found: tuple[list[TemplateIssue], list[ConfigProblem]],
) -> None:
    """Stop start-up on template and reference errors, which would block every send."""
    issues, problems = found
    errors = [issue.message for issue in issues if issue.severity == "error"]
    errors += [problem.message for problem in problems if problem.severity == "error"]
    if errors:
        listed = "\n".join(f"  - {message}" for message in errors)
        _fail(f"the configuration has errors; fix them, then start again:\n{listed}")


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("-c", "--config", "config_path", default=None, help=CONFIG_OPTION_HELP)
def plugins_command(as_json: bool, config_path: str | None) -> None:
    """List installed plugins with version, hooks and enabled state."""
    from parley.config import enabled_plugins, find_config_file, read_toml

    try:
        raw = read_toml(find_config_file(config_path))
        enabled = set(enabled_plugins(raw, os.environ))
    except ConfigError as err:
        _fail(str(err))
        return

    rows = [
        _plugin_row(plugin, plugin.id in enabled)
        for plugin in installed_plugins().values()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return

    table = Table(title="parley plugins")
    for column in ("id", "version", "enabled", "hooks"):
        table.add_column(column)
    for row in rows:
        hooks = (
            ", ".join(row["hooks"])
            if not row.get("error")
            else f"import failed: {row['error']}"
        )
        table.add_row(
            row["id"], row["version"] or "-", "yes" if row["enabled"] else "no", hooks
        )
    Console().print(table)


def _plugin_row(plugin, enabled: bool) -> dict[str, object]:  # noqa: ANN001 - InstalledPlugin
    row: dict[str, object] = {
        "id": plugin.id,
        "version": plugin.version,
        "distribution": plugin.distribution,
        "module": plugin.module,
        "enabled": enabled,
        "hooks": [],
    }
    try:
        module = importlib.import_module(plugin.module)
        manager: pluggy.PluginManager = new_plugin_manager()
        manager.register(module, name=plugin.id)
        row["hooks"] = sorted(
            caller.name for caller in manager.get_hookcallers(module) or []
        )
    except Exception as err:  # noqa: BLE001 - a broken plugin is reported in its row
        row["error"] = f"{type(err).__name__}: {err}"
    return row


@cli.group()
def config() -> None:
    """Inspect and validate the configuration."""


@config.command("check")
@click.option("-c", "--config", "config_path", default=None, help=CONFIG_OPTION_HELP)
def config_check(config_path: str | None) -> None:
    """Validate settings and lint every template; exit 1 on any error."""
    from parley.checks import check_config

    loaded = _load(config_path, require_file=True)
    try:
        issues, problems = check_config(loaded)
    except PluginError as err:
        _fail(str(err))
        return

    errors = 0
    for issue in issues:
        click.echo(f"{issue.severity}: {issue.message}")
        errors += issue.severity == "error"
    for problem in problems:
        click.echo(f"{problem.severity}: {problem.message}")
        errors += problem.severity == "error"

    source = loaded.path or "defaults"
    if errors:
        click.echo(f"{source}: {errors} error(s)", err=True)
        sys.exit(1)
    click.echo(f"{source}: OK ({len(loaded.settings.templates)} templates)")


@cli.command()
@click.option(
    "--to", "to", required=True, help="Recipient phone number, such as +14155550123."
)
@click.option(
    "--purpose",
    type=click.Choice([purpose.value for purpose in Purpose]),
    default=Purpose.INFORMATIONAL.value,
    show_default=True,
    help="The consent purpose of the message.",
)
@click.option(
    "--kind",
    default="order_update",
    show_default=True,
    help="The message kind, such as order_update, auto_reply or opt_in_prompt.",
)
@click.option(
    "--channel",
    default=None,
    help="Channel id whose rules to check; default: [order_updates] channel.",
)
@click.option("-c", "--config", "config_path", default=None, help=CONFIG_OPTION_HELP)
def explain(
    to: str, purpose: str, kind: str, channel: str | None, config_path: str | None
) -> None:
    """Print what the send gate would decide for a message sent now, and why."""
    from parley.explain import explain_send

    loaded = _load(config_path, require_file=True)
    try:
        code = explain_send(
            loaded, to, Purpose(purpose), kind, Console(), channel=channel
        )
    except ParleyError as err:
        _fail(str(err))
        return
    sys.exit(code)


@cli.group()
def consent() -> None:
    """Export or import the consent ledger."""


@consent.command("export")
@click.option(
    "--address", default=None, help="Only this phone number or email address."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl"]),
    default="csv",
    show_default=True,
)
@click.option("-c", "--config", "config_path", default=None, help=CONFIG_OPTION_HELP)
def consent_export(address: str | None, fmt: str, config_path: str | None) -> None:
    """Write the consent ledger with its evidence to standard output."""
    from parley.consent_io import export_ledger
    from parley.phones import normalize_email, normalize_phone
    from parley.store import open_store

    loaded = _load(config_path, require_file=True)
    address_filter = None
    if address is not None:
        region = loaded.settings.contacts.default_region
        address_filter = normalize_phone(address, region) or normalize_email(address)
        if address_filter is None:
            _fail(f"--address {address!r} is not a phone number or email address")
    store = open_store(loaded.settings.store_url)
    try:
        click.echo(export_ledger(store.ledger(address_filter), fmt), nl=False)
    finally:
        store.close()


@consent.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-c", "--config", "config_path", default=None, help=CONFIG_OPTION_HELP)
def consent_import(path: Path, config_path: str | None) -> None:
    """Load consent records from a CSV file; exit 1 if any row is rejected."""
    from parley.consent_io import import_ledger
    from parley.context import utc_now
    from parley.store import open_store

    loaded = _load(config_path, require_file=True)
    store = open_store(loaded.settings.store_url)
    try:
        report = import_ledger(
            path.read_text(encoding="utf-8"), store, loaded.settings, utc_now()
        )
    finally:
        store.close()

    for line, reason in report.rejected:
        click.echo(f"{path}:{line}: rejected: {reason}", err=True)
    click.echo(
        f"{report.added} record(s) added, {report.skipped} already in the ledger, "
        f"{len(report.rejected)} rejected, {report.prompts} confirmation prompt(s) queued"
    )
    if report.rejected:
        sys.exit(1)


@cli.group()
def contacts() -> None:
    """Work with the local contact store."""


@contacts.command("sync")
@click.option(
    "--plugin",
    "plugin_id",
    required=True,
    help="Id of the plugin whose contacts to copy, such as hubspot.",
)
@click.option(
    "--full",
    is_flag=True,
    help="Start from the beginning instead of where the last run stopped.",
)
@click.option("-c", "--config", "config_path", default=None, help=CONFIG_OPTION_HELP)
def contacts_sync(plugin_id: str, full: bool, config_path: str | None) -> None:
    """Copy a plugin's contacts into the local store, with a progress bar.

    An interrupted run resumes where it stopped when run again.
    """
    from parley.contact_sync import run_contact_sync

    loaded = _load(config_path, require_file=True)
    try:
        count = run_contact_sync(loaded, plugin_id, full, Console(stderr=True))
    except ParleyError as err:
        _fail(str(err))
        return
    click.echo(f"{plugin_id}: {count} contact(s) stored")


@cli.group()
def tokens() -> None:
    """Issue, list and revoke bearer tokens for the agent API."""


@tokens.command("create")
@click.option(
    "--name",
    required=True,
    help="Unique name of the person or system using the token; shown in the audit log.",
)
@click.option(
    "--role",
    type=click.Choice(["agent", "lead", "manager"]),
    required=True,
    help="agent: read, reply, notes, close; lead: also assign; manager: read only.",
)
@click.option("--team", default=None, help="The team the token's holder belongs to.")
@click.option("-c", "--config", "config_path", default=None, help=CONFIG_OPTION_HELP)
def tokens_create(
    name: str, role: str, team: str | None, config_path: str | None
) -> None:
    """Create a token and print it once; only its SHA-256 hash is stored."""
    from parley.context import utc_now
    from parley.store import open_store
    from parley.tokens import Role, TokenError, cli_actor, create_token

    loaded = _load(config_path, require_file=True)
    store = open_store(loaded.settings.store_url)
    try:
        issued = create_token(store, name, Role(role), team, cli_actor(), utc_now())
    except TokenError as err:
        _fail(str(err))
        return
    finally:
        store.close()
    click.echo(issued.secret)
    click.echo(
        f"token {name!r} ({role}) created; it is shown only now, so store it safely",
        err=True,
    )


@tokens.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("-c", "--config", "config_path", default=None, help=CONFIG_OPTION_HELP)
def tokens_list(as_json: bool, config_path: str | None) -> None:
    """List tokens with role, team, creation and revocation times; never the tokens."""
    from parley.store import open_store

    loaded = _load(config_path, require_file=True)
    store = open_store(loaded.settings.store_url)
    try:
        records = store.tokens()
    finally:
        store.close()

    rows = [
        {
            "name": record.name,
            "role": record.role,
            "team": record.team,
            "created_at": record.created_at.isoformat(),
            "revoked_at": record.revoked_at.isoformat() if record.revoked_at else None,
        }
        for record in records
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="API tokens")
    for column in ("name", "role", "team", "created", "revoked"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row["name"]),
            str(row["role"]),
            str(row["team"] or "-"),
            str(row["created_at"]),
            str(row["revoked_at"] or "-"),
        )
    Console().print(table)


@tokens.command("revoke")
@click.argument("name")
@click.option("-c", "--config", "config_path", default=None, help=CONFIG_OPTION_HELP)
def tokens_revoke(name: str, config_path: str | None) -> None:
    """Revoke the active token with NAME; requests with it get 401 at once."""
    from parley.context import utc_now
    from parley.store import open_store
    from parley.tokens import TokenError, cli_actor, revoke_token

    loaded = _load(config_path, require_file=True)
    store = open_store(loaded.settings.store_url)
    try:
        revoke_token(store, name, cli_actor(), utc_now())
    except TokenError as err:
        _fail(str(err))
        return
    finally:
        store.close()
    click.echo(f"token {name!r} revoked")


@cli.command()
@click.option(
    "--inactive-days",
    type=click.IntRange(min=1),
    required=True,
    help="Suspend addresses with no messages or consent changes for this many days.",
)
@click.option(
    "--dry-run", is_flag=True, help="List the addresses without suspending them."
)
@click.option("-c", "--config", "config_path", default=None, help=CONFIG_OPTION_HELP)
def purge(inactive_days: int, dry_run: bool, config_path: str | None) -> None:
    """Suspend stale numbers so that further sends need fresh consent."""
    from parley.context import utc_now
    from parley.purge import suspend_inactive
    from parley.store import open_store

    loaded = _load(config_path, require_file=True)
    store = open_store(loaded.settings.store_url)
    try:
        addresses = suspend_inactive(store, inactive_days, utc_now(), dry_run=dry_run)
    finally:
        store.close()
    for address in addresses:
        # The operator reviews this list, so it shows whole numbers; the
        # daemon's logs mask them.
        click.echo(f"{'would suspend' if dry_run else 'suspended'} {address}")
    click.echo(
        f"{len(addresses)} address(es) {'to suspend' if dry_run else 'suspended'}"
    )


@cli.command()
@click.option(
    "--keep",
    is_flag=True,
    help="Keep the demo's temporary directory and print its path.",
)
def demo(keep: bool) -> None:
    """Run a self-contained demo: a daemon, signed order webhooks and customer texts."""
    from parley.demo import run_demo

    try:
        sys.exit(run_demo(keep=keep))
    except ParleyError as err:
        _fail(str(err))


def _add_plugin_commands(group: click.Group) -> None:
    """Let enabled plugins add commands; a broken config only skips them."""
    try:
        loaded = load_config(None)
    except ParleyError as err:
        logger.debug("plugin commands not loaded: %s", err)
        return
    loaded.plugin_manager.hook.register_commands(cli=group)


# Built-in commands run without loading the config for plugin commands, so a
# broken config never stops 'parley init' or 'parley config check'.
_BUILT_IN = (
    "init",
    "demo",
    "plugins",
    "config",
    "run",
    "explain",
    "consent",
    "contacts",
    "purge",
    "tokens",
    "keys",
    "report",
    "export",
    "--version",
)


cli.add_command(keys)
cli.add_command(doctor)
cli.add_command(report)
cli.add_command(export)


def main() -> None:
    """Entry point of the ``parley`` command."""
    if len(sys.argv) < 2 or sys.argv[1] not in _BUILT_IN:
        _add_plugin_commands(cli)
    cli()
