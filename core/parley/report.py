"""Rendering of a KPI report as a terminal table, JSON, CSV or a self-contained HTML page.

The HTML page draws its bar charts as inline SVG and has no scripts,
external stylesheets or fonts, so it opens offline and can be mailed.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from parley.kpis import Durations, KpiFigures, KpiReport

FORMATS = ("table", "json", "csv", "html")

# The duration KPIs, in the order every format lists them.
DURATION_FIELDS = (
    ("first_response", "first response"),
    ("response", "response"),
    ("resolution", "resolution"),
    ("wait", "customer wait"),
)

COUNT_FIELDS = (
    ("conversations", "conversations"),
    ("inbound", "customer messages"),
    ("replies", "replies"),
    ("automated", "automated messages"),
    ("unanswered", "unanswered"),
    ("waiting", "waiting now"),
    ("csat_answers", "CSAT answers"),
)


def render(report: KpiReport, fmt: str) -> str:
    """Return the report in one of :data:`FORMATS`.

    Raises:
        ValueError: the format is not one of :data:`FORMATS`.
    """
    renderers: dict[str, Callable[[KpiReport], str]] = {
        "table": render_table,
        "json": render_json,
        "csv": render_csv,
        "html": render_html,
    }
    renderer = renderers.get(fmt)
    if renderer is None:
        raise ValueError(
            f"invalid report format {fmt!r}; use one of {', '.join(FORMATS)}"
        )
    return renderer(report)


def report_to_dict(report: KpiReport) -> dict[str, Any]:
    """Return the report as JSON-ready data; durations are in seconds."""
    return {
        "since": report.since.isoformat(),
        "until": report.until.isoformat(),
        "group_by": report.group_by,
        "business_hours": report.business_hours,
        "time_zone": report.time_zone,
        "team": report.team,
        "groups": [asdict(figures) for figures in report.groups],
        "total": asdict(report.total),
    }


def render_json(report: KpiReport) -> str:
    """Return the report as indented JSON."""
    return json.dumps(report_to_dict(report), indent=2) + "\n"


def csv_columns() -> list[str]:
    """Return the CSV header: counts, then count, mean, median and total per duration."""
    columns = ["group", *(name for name, _label in COUNT_FIELDS)]
    for name, _label in DURATION_FIELDS:
        columns += [f"{name}_{part}" for part in ("count", "mean", "median", "total")]
    return [*columns, "csat_mean", "csat_satisfied_share"]


def _csv_row(figures: KpiFigures) -> list[object]:
    row: list[object] = [figures.group]
    row += [getattr(figures, name) for name, _label in COUNT_FIELDS]
    for name, _label in DURATION_FIELDS:
        durations: Durations = getattr(figures, name)
        row += [
            durations.count,
            _number(durations.mean),
            _number(durations.median),
            _number(durations.total),
        ]
    return [*row, _number(figures.csat_mean), _number(figures.csat_satisfied_share)]


def render_csv(report: KpiReport) -> str:
    """Return one CSV row per group and a last row for the total; durations in seconds."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(csv_columns())
    for figures in [*report.groups, report.total]:
        writer.writerow(_csv_row(figures))
    return buffer.getvalue()


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}".rstrip("0").rstrip(".")


def format_duration(seconds: float | None) -> str:
    """Return a duration such as ``1h 05m``, ``4m 10s`` or ``-`` for none."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _title(report: KpiReport) -> str:
    parts = [f"KPIs from {_stamp(report.since)} to {_stamp(report.until)}"]
    if report.group_by:
        parts.append(f"by {report.group_by}")
    if report.team:
        parts.append(f"team {report.team}")
    if report.business_hours:
        parts.append("business hours only")
    return ", ".join(parts)


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="minutes")


def _table_rows(report: KpiReport) -> list[tuple[str, ...]]:
    rows = []
    for figures in [*report.groups, report.total]:
        rows.append(
            (
                figures.group,
                str(figures.conversations),
                str(figures.inbound),
                str(figures.replies),
                str(figures.automated),
                *(
                    f"{format_duration(getattr(figures, name).median)} / "
                    f"{format_duration(getattr(figures, name).mean)}"
                    for name, _label in DURATION_FIELDS
                ),
                str(figures.waiting),
                _score(figures.csat_mean),
                _share(figures.csat_satisfied_share),
            )
        )
    return rows


TABLE_HEADERS = (
    "group",
    "conversations",
    "customer msgs",
    "replies",
    "automated",
    "first response (median / mean)",
    "response (median / mean)",
    "resolution (median / mean)",
    "wait (median / mean)",
    "waiting",
    "CSAT",
    "CSAT 4-5",
)


def render_table(report: KpiReport, width: int = 200) -> str:
    """Return the report as a text table drawn with rich."""
    table = Table(title=_title(report))
    for header in TABLE_HEADERS:
        table.add_column(header, overflow="fold")
    rows = _table_rows(report)
    for index, row in enumerate(rows):
        table.add_row(*row, end_section=index == len(rows) - 2)
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, no_color=True, highlight=False)
    console.print(table)
    console.print(
        f"Times in {report.time_zone}. Waiting counts customers whose last "
        "message has no reply yet; auto replies never count as replies."
    )
    return buffer.getvalue()


# HTML


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1f2933; }
table { border-collapse: collapse; margin: 1rem 0 2rem; font-size: 0.9rem; }
th, td { border: 1px solid #cbd2d9; padding: 0.3rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
tr.total td { font-weight: bold; background: #f0f4f8; }
.charts { display: flex; flex-wrap: wrap; gap: 2rem; }
figure { margin: 0; }
figcaption { font-weight: bold; margin-bottom: 0.3rem; }
"""

BAR_HEIGHT = 22
CHART_WIDTH = 420
LABEL_WIDTH = 120


def render_html(report: KpiReport) -> str:
    """Return a self-contained HTML page with the figures and SVG bar charts."""
    figures = report.groups or [report.total]
    charts = [
        bar_chart(
            "Median first response",
            [(f.group, f.first_response.median) for f in figures],
            format_duration,
        ),
        bar_chart(
            "Median response",
            [(f.group, f.response.median) for f in figures],
            format_duration,
        ),
        bar_chart(
            "Median resolution",
            [(f.group, f.resolution.median) for f in figures],
            format_duration,
        ),
        bar_chart(
            "Customer messages",
            [(f.group, float(f.inbound)) for f in figures],
            lambda value: f"{value:.0f}",
        ),
        bar_chart("CSAT mean (1-5)", [(f.group, f.csat_mean) for f in figures], _score),
    ]
    title = html.escape(_title(report))
    head = "".join(f"<th>{html.escape(header)}</th>" for header in TABLE_HEADERS)
    rows = _table_rows(report)
    body_rows = []
    for index, row in enumerate(rows):
        cells = "".join(f"<td>{html.escape(cell)}</td>" for cell in row)
        css = ' class="total"' if index == len(rows) - 1 else ""
        body_rows.append(f"<tr{css}>{cells}</tr>")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{title}</h1>\n"
        f'<div class="charts">\n{"".join(charts)}</div>\n'
        f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n"
        + "\n".join(body_rows)
        + "\n</tbody>\n</table>\n"
        f"<p>Times in {html.escape(report.time_zone)}. Durations are median / "
        "mean. Auto replies never count as replies.</p>\n</body>\n</html>\n"
    )


def bar_chart(
    title: str,
    values: Sequence[tuple[str, float | None]],
    label: Callable[[float | None], str],
) -> str:
    """Return a horizontal bar chart as an inline SVG figure; None draws no bar."""
    largest = max((value for _name, value in values if value), default=0.0)
    height = BAR_HEIGHT * max(len(values), 1) + 10
    bar_space = CHART_WIDTH - LABEL_WIDTH - 80
    parts = [
        f"<figure><figcaption>{html.escape(title)}</figcaption>"
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_WIDTH}" '
        f'height="{height}" role="img" aria-label="{html.escape(title)}">'
    ]
    for index, (name, value) in enumerate(values):
        y = 5 + index * BAR_HEIGHT
        width = 0.0 if not value or not largest else bar_space * value / largest
        parts.append(
            f'<text x="0" y="{y + 15}" font-size="12">{html.escape(name[:18])}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{width:.1f}" '
            f'height="{BAR_HEIGHT - 6}" fill="#3e7cb1"><title>{html.escape(name)}: '
            f"{html.escape(label(value))}</title></rect>"
            f'<text x="{LABEL_WIDTH + width + 4:.1f}" y="{y + 15}" font-size="12">'
            f"{html.escape(label(value))}</text>"
        )
    parts.append("</svg></figure>\n")
    return "".join(parts)
