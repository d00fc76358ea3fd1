"""parley consent export and import."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from parley.cli import cli
from parley.consent_io import export_ledger, import_ledger
from parley.runtime import Runtime

from .conftest import drain

HEADER = "address,purpose,action,source,recorded_at,evidence\n"
GOOD = "(415) 555-0123,informational,opt_in,checkout,2026-11-16T10:15:00-05:00,order 1042 checkout box\n"
WEB_FORM = "+14155550124,promotional,opt_in,web_form,2026-11-16T11:00:00Z,footer form: Get texts about sales\n"
BAD_ROWS = (
    "not-a-phone,informational,opt_in,checkout,2026-11-16T10:15:00Z,x\n"
    "+14155550125,marketing,opt_in,checkout,2026-11-16T10:15:00Z,x\n"
    "+14155550125,informational,opt_in,checkout,2026-11-16T10:15:00,x\n"
    "+14155550125,informational,opt_in,checkout,2099-01-01T00:00:00Z,x\n"
    "+14155550125,informational,opt_in,checkout,2026-11-16T10:15:00Z,\n"
)
PROMPT = '\nopt_in_prompt = "{{Business Name}}: reply YES to confirm texts."\n'


@pytest.fixture
def runtime(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime(PROMPT)


def test_import_adds_valid_rows(runtime: Runtime) -> None:
    report = import_ledger(
        HEADER + GOOD, runtime.store, runtime.context.settings, runtime.context.clock()
    )
    [entry] = runtime.store.ledger()
    assert report.added == 1
    assert report.rejected == []
    assert entry.address == "+14155550123"
    assert entry.source == "checkout"
    assert entry.evidence == "order 1042 checkout box"


def test_import_rejects_rows_with_line_numbers(runtime: Runtime) -> None:
    report = import_ledger(
        HEADER + GOOD + BAD_ROWS,
        runtime.store,
        runtime.context.settings,
        runtime.context.clock(),
    )
    reasons = dict(report.rejected)
    assert report.added == 1
    assert sorted(reasons) == [3, 4, 5, 6, 7]
    assert "'not-a-phone' is not a phone number" in reasons[3]
    assert "purpose 'marketing' is not one of" in reasons[4]
    assert "has no UTC offset" in reasons[5]
    assert "in the future" in reasons[6]
    assert "evidence is empty" in reasons[7]


def test_import_twice_adds_once(runtime: Runtime) -> None:
    settings, now = runtime.context.settings, runtime.context.clock()
    import_ledger(HEADER + GOOD, runtime.store, settings, now)
    again = import_ledger(HEADER + GOOD, runtime.store, settings, now)
    assert again.added == 0
    assert again.skipped == 1
    assert len(runtime.store.ledger()) == 1


def test_import_missing_column_rejected(runtime: Runtime) -> None:
    report = import_ledger(
        "address,purpose\n+14155550123,informational\n",
        runtime.store,
        runtime.context.settings,
        runtime.context.clock(),
    )
    assert report.added == 0
    assert report.rejected[0][0] == 1
    assert "action, source, recorded_at, evidence" in report.rejected[0][1]


def test_web_form_import_sends_one_prompt(make_runtime: Callable[..., Runtime]) -> None:
    runtime = make_runtime(PROMPT, compliance_extra="")
    report = import_ledger(
        HEADER + WEB_FORM,
        runtime.store,
        runtime.context.settings,
        runtime.context.clock(),
    )
    import_ledger(
        HEADER + WEB_FORM,
        runtime.store,
        runtime.context.settings,
        runtime.context.clock(),
    )
    drain(runtime)
    prompts = [m for m in runtime.store.messages() if m.kind == "opt_in_prompt"]
    assert report.prompts == 1
    assert [(m.status, m.body) for m in prompts] == [
        ("sent", "Harbor & Pine: reply YES to confirm texts.")
    ]


def test_export_formats_keep_evidence(runtime: Runtime) -> None:
    import_ledger(
        HEADER + GOOD, runtime.store, runtime.context.settings, runtime.context.clock()
    )
    entries = runtime.store.ledger()
    csv_text = export_ledger(entries, "csv")
    jsonl = [json.loads(line) for line in export_ledger(entries, "jsonl").splitlines()]
    assert (
        csv_text.splitlines()[0]
        == "id,address,purpose,action,source,recorded_at,actor,evidence"
    )
    assert "order 1042 checkout box" in csv_text
    assert jsonl[0]["evidence"] == "order 1042 checkout box"
    assert jsonl[0]["recorded_at"] == "2026-11-16T15:15:00+00:00"


def test_cli_import_then_export(runtime: Runtime, tmp_path: Path) -> None:
    config = str(runtime.loaded.path)
    source = tmp_path / "consent.csv"
    source.write_text(HEADER + GOOD + BAD_ROWS)
    runner = CliRunner()
    imported = runner.invoke(cli, ["consent", "import", str(source), "-c", config])
    exported = runner.invoke(
        cli,
        [
            "consent",
            "export",
            "--address",
            "(415) 555-0123",
            "--format",
            "jsonl",
            "-c",
            config,
        ],
    )
    assert imported.exit_code == 1
    assert "1 record(s) added" in imported.output
    assert f"{source}:3: rejected:" in imported.output
    assert exported.exit_code == 0
    assert json.loads(exported.output)["address"] == "+14155550123"
