"""Rendering KPI reports as a table, JSON, CSV and HTML, and `parley report`."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner

from parley.cli import cli
from parley.conversations import SupportDesk
from parley.kpis import Durations, KpiFigures, KpiReport
from parley.report import (
    bar_chart,
    csv_columns,
    format_duration,
    render,
    render_csv,
    render_html,
    render_json,
    render_table,
)
from parley.runtime import Runtime
from parley.tokens import Role

from .conftest import FakeClock
from .desk_helpers import AVERY, inbound, issue


def figures(
    group: str, first: float | None, inbound_count: int, csat: float | None
) -> KpiFigures:
    durations = Durations.of([first] if first is not None else [])
    return KpiFigures(
        group=group,
        conversations=1,
        inbound=inbound_count,
        replies=1,
        automated=2,
        first_response=durations,
        response=durations,
        resolution=Durations.of([]),
        wait=durations,
        unanswered=0,
        waiting=0,
        csat_answers=1 if csat else 0,
        csat_mean=csat,
        csat_satisfied_share=1.0 if csat else None,
    )


REPORT = KpiReport(
    since=datetime(2026, 11, 1, 4, tzinfo=UTC),
    until=datetime(2026, 11, 18, 4, tzinfo=UTC),
    group_by="agent",
    business_hours=False,
    time_zone="America/New_York",
    team=None,
    groups=[figures("ana", 5400, 3, 5.0), figures("<bo & co>", 600, 1, None)],
    total=figures("total", 3000, 4, 5.0),
)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (0, "0s"),
        (59.6, "1m 00s"),
        (250, "4m 10s"),
        (3900, "1h 05m"),
        (90_000, "1d 01h"),
    ],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_table_lists_groups_and_total() -> None:
    text = render_table(REPORT)

    assert "ana" in text
    assert "1h 30m / 1h 30m" in text
    assert "total" in text
    assert "by agent" in text


def test_json_round_trip() -> None:
    data = json.loads(render_json(REPORT))

    assert data["group_by"] == "agent"
    assert data["groups"][0]["first_response"]["median"] == 5400
    assert data["total"]["inbound"] == 4
    assert data["since"] == "2026-11-01T04:00:00+00:00"


def test_csv_rows_and_columns() -> None:
    rows = list(csv.reader(io.StringIO(render_csv(REPORT))))

    assert rows[0] == csv_columns()
    assert [row[0] for row in rows[1:]] == ["ana", "<bo & co>", "total"]
    header = rows[0]
    ana = dict(zip(header, rows[1], strict=True))
    assert ana["first_response_median"] == "5400"
    assert ana["csat_mean"] == "5"
    bo = dict(zip(header, rows[2], strict=True))
    assert bo["csat_mean"] == ""


def test_html_self_contained_with_charts() -> None:
    page = render_html(REPORT)

    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") == 5
    assert "<script" not in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page
    assert "&lt;bo &amp; co&gt;" in page
    assert "<bo & co>" not in page


def test_bar_chart_is_valid_svg() -> None:
    figure = bar_chart("Volume", [("ana", 10.0), ("bo", 5.0), ("cy", None)], str)

    svg = figure[figure.index("<svg") : figure.index("</svg>") + 6]
    root = ElementTree.fromstring(svg)
    widths = [
        float(rect.attrib["width"])
        for rect in root.iter("{http://www.w3.org/2000/svg}rect")
    ]
    assert widths[0] == pytest.approx(2 * widths[1])
    assert widths[2] == 0


def test_render_unknown_format() -> None:
    with pytest.raises(ValueError, match="'pdf'"):
        render(REPORT, "pdf")


# The command


@pytest.fixture
def config(
    make_runtime: Callable[..., Runtime], clock: FakeClock, tmp_path: Path
) -> Path:
    runtime = make_runtime()
    issue(runtime, "ana", Role.AGENT, "billing")
    desk = SupportDesk(runtime.context, runtime.channels)
    conversation = inbound(runtime, "Where is my order?", "a-1", AVERY)
    clock.advance(300)
    desk.reply("ana", conversation, "It ships today.")
    # make_runtime wrote the config there.
    return tmp_path / "parley.toml"


def run(config: Path, *args: str):  # noqa: ANN201 - a click result
    return CliRunner().invoke(cli, ["report", "-c", str(config), *args])


def test_cli_report_json(config: Path) -> None:
    result = run(config, "--since", "2026-11-01", "--by", "agent", "--format", "json")

    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [group["group"] for group in data["groups"]] == ["(unassigned)", "ana"]
    assert data["total"]["first_response"]["mean"] == pytest.approx(300)


def test_cli_report_html_file(config: Path, tmp_path: Path) -> None:
    output = tmp_path / "kpis.html"

    result = run(config, "--since", "2026-11-01", "--format", "html", "-o", str(output))

    assert result.exit_code == 0, result.output
    assert "<svg" in output.read_text(encoding="utf-8")


def test_cli_report_table(config: Path) -> None:
    result = run(config, "--since", "2026-11-01", "--by", "channel")

    assert result.exit_code == 0, result.output
    assert "sandbox" in result.output
    assert "5m 00s" in result.output


def test_cli_report_bad_since(config: Path) -> None:
    result = run(config, "--since", "last week")

    assert result.exit_code == 1
    assert "'last week'" in result.output
    assert "30d or 12h" in result.output


def test_cli_report_business_hours_without_calendar(config: Path) -> None:
    result = run(config, "--since", "2026-11-01", "--business-hours")

    assert result.exit_code == 1
    assert "[calendar]" in result.output
