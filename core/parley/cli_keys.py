"""``parley keys``: create encryption keys and rotate the store to a new one."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from parley.config import load_config
from parley.crypto import KEYS_ENV, add_key_to_file, default_key_file, generate_key
from parley.errors import ConfigError, ParleyError, PluginError

CONFIG_OPTION_HELP = "Config file; default $PARLEY_CONFIG, then ./parley.toml."


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@click.group()
def keys() -> None:
    """Create encryption keys and re-encrypt the store with a new one."""


@keys.command("generate")
@click.option(
    "--id",
    "key_id",
    default=None,
    help="Key id stored with every value it encrypts; default a random k<hex>.",
)
@click.option(
    "--write",
    "write_path",
    is_flag=False,
    flag_value=str(default_key_file()),
    default=None,
    type=click.Path(dir_okay=False),
    help=f"Put the key first in this key file (mode 600); without a value, "
    f"{default_key_file()}.",
)
def generate(key_id: str | None, write_path: str | None) -> None:
    """Print a new random AES-256 key as id:base64, or add it to a key file."""
    try:
        entry = generate_key(key_id)
    except ParleyError as err:
        _fail(str(err))
        return
    if write_path is None:
        click.echo(entry)
        return
    path = Path(write_path).expanduser()
    had_keys = add_key_to_file(path, entry)
    click.echo(f"wrote key {entry.split(':', 1)[0]} to {path}")
    if had_keys:
        click.echo(
            "It encrypts new data once the daemon restarts. Then run "
            "`parley keys rotate` to re-encrypt existing data with it."
        )


@keys.command("rotate")
@click.option(
    "--batch-size",
    default=500,
    show_default=True,
    type=click.IntRange(min=1),
    help="Rows re-encrypted per transaction.",
)
@click.option("-c", "--config", "config_path", default=None, help=CONFIG_OPTION_HELP)
def rotate(batch_size: int, config_path: str | None) -> None:
    """Re-encrypt every stored value with the current (first) key.

    Safe to interrupt: a new run resumes after the last committed batch.
    When it finishes, the store stops accepting the old keys, and they can
    be removed from the configuration.
    """
    from parley.store import open_store
    from parley.store.rotation import KeyRotation

    try:
        loaded = load_config(config_path)
        store = open_store(loaded.settings.store_url)
    except (ConfigError, PluginError, ParleyError) as err:
        _fail(str(err))
        return
    console = Console(stderr=True)
    try:
        rotation = KeyRotation(store)
        plans = rotation.plan()
        total = sum(plan.rows for plan in plans if not plan.finished)
        done = sum(plan.rows_done for plan in plans if not plan.finished)
        console.print(
            f"re-encrypting {total} row(s) in {len(plans)} table(s) with key "
            f"{rotation.target}" + (f"; resuming after {done} row(s)" if done else "")
        )
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("rows", total=total, completed=done)

            def advance(table: str, rows: int) -> None:
                progress.update(task, advance=rows, description=table)

            report = rotation.run(batch_size=batch_size, on_batch=advance)
    except ParleyError as err:
        _fail(f"rotation stopped: {err}. Run `parley keys rotate` again to resume.")
        return
    finally:
        store.close()
    retired = ", ".join(report.retired_key_ids) or "none"
    click.echo(
        f"rotated to key {report.target_key_id}: {report.rows_rewritten} value row(s) "
        f"re-encrypted, {report.rows_read} row(s) checked; retired key(s): {retired}. "
        f"The retired keys can now be removed from {KEYS_ENV} or the key file."
    )
