"""The ``parley report`` and ``parley export`` commands."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import click

from parley.export import EXPORT_FORMATS
from parley.kpis import GROUPINGS
from parley.report import FORMATS

# The same text as parley.cli's option. parley.cli imports this module
# before it defines its helpers, so the commands import them when they run.
CONFIG_OPTION_HELP = "Config file; default $PARLEY_CONFIG, then ./parley.toml."
SINCE_HELP = (
    "Start of the window: a number of days or hours before now (30d, 12h), a "
    "date (2026-11-01, midnight in the business time zone) or an ISO 8601 time "
    "with an offset."
)
OUTPUT_HELP = "Write to this file instead of standard output."


@click.command("report")
@click.option("--since", default="30d", show_default=True, help=SINCE_HELP)
@click.option(
    "--by",
    "group_by",
    type=click.Choice(GROUPINGS),
    default=None,
    help="Group the figures by day (in the business time zone), agent or channel.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="table (text), json, csv, or html (a page with charts; use --output).",
)
@click.option(
    "--business-hours",
    is_flag=True,
    help="Count only the [calendar] opening hours in every duration.",
)
@click.option(
    "--team", default=None, help="Only figures of conversations assigned to this team."
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=OUTPUT_HELP,
)
@click.option("-c", "--config", "config_path", default=None, help=CONFIG_OPTION_HELP)
def report(
    since: str,
    group_by: str | None,
    fmt: str,
    business_hours: bool,
    team: str | None,
    output: Path | None,
    config_path: str | None,
) -> None:
    """Print the support KPIs: response, resolution and wait times, volume, CSAT."""
    from parley.cli import _fail, _load
    from parley.context import utc_now
    from parley.kpis import (
        KpiError,
        KpiOptions,
        business_calendar,
        compute_kpis,
        parse_since,
    )
    from parley.report import render
    from parley.store import open_store

    loaded = _load(config_path, require_file=True)
    calendar = business_calendar(loaded.settings)
    now = utc_now()
    try:
        start = parse_since(since, now, calendar.zone)
    except KpiError as err:
        _fail(f"--since: {err}")
        return
    options = KpiOptions(start, now, group_by, business_hours, team)
    store = open_store(loaded.settings.store_url)
    try:
        result = compute_kpis(store, calendar, options)
    except KpiError as err:
        _fail(str(err))
        return
    finally:
        store.close()

    with _destination(output) as out:
        out.write(render(result, fmt))
    if output is not None:
        click.echo(f"wrote {output}", err=True)


@click.command("export")
@click.option(
    "--since",
    default=None,
    help=f"{SINCE_HELP} Default: everything. Consent records are exported "
    "whatever their age.",
)
@click.option(
    "--contact",
    default=None,
    help="Only this contact: a phone number in any format, an email address or "
    "a channel user id.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(EXPORT_FORMATS),
    required=True,
    help="jsonl: one JSON object per record; csv: one column per field.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=OUTPUT_HELP,
)
@click.option("-c", "--config", "config_path", default=None, help=CONFIG_OPTION_HELP)
def export(
    since: str | None,
    contact: str | None,
    fmt: str,
    output: Path | None,
    config_path: str | None,
) -> None:
    """Write threads, internal notes, history, surveys and consent records for an audit.

    Internal notes are marked "internal": true. The export is recorded in
    the audit log.
    """
    from parley.cli import _fail, _load
    from parley.context import utc_now
    from parley.export import (
        ExportError,
        ExportFilter,
        describe_filter,
        export_records,
        find_contact_id,
        write_export,
    )
    from parley.kpis import KpiError, business_calendar, parse_since
    from parley.store import open_store
    from parley.tokens import cli_actor

    loaded = _load(config_path, require_file=True)
    now = utc_now()
    start = None
    if since is not None:
        try:
            start = parse_since(since, now, business_calendar(loaded.settings).zone)
        except KpiError as err:
            _fail(f"--since: {err}")
            return

    store = open_store(loaded.settings.store_url)
    try:
        contact_id = None
        if contact is not None:
            region = loaded.settings.contacts.default_region
            contact_id = find_contact_id(store, contact, region)
        selection = ExportFilter(since=start, contact_id=contact_id)
        with _destination(output) as out:
            count = write_export(export_records(store, selection), fmt, out)
        store.add_audit(
            cli_actor(),
            "export",
            "contact" if contact_id is not None else "store",
            contact_id if contact_id is not None else "all",
            {**describe_filter(selection, fmt), "records": count},
            utc_now(),
        )
    except ExportError as err:
        _fail(f"--contact: {err}")
        return
    finally:
        store.close()
    click.echo(f"{count} record(s) exported", err=True)


@contextlib.contextmanager
def _destination(output: Path | None) -> Iterator[TextIO]:
    """Open the output file, or standard output when none is given.

    A new file gets mode 600, because reports and exports hold customers'
    numbers and messages in plain text.
    """
    if output is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    from parley.cli import _fail

    try:
        descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        handle = os.fdopen(descriptor, "w", encoding="utf-8", newline="")
    except OSError as err:
        _fail(f"--output: cannot write {output}: {err.strerror}")
        raise AssertionError("unreachable") from err
    with handle:
        yield handle
