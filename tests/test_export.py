"""The audit export: threads with internal notes, history, surveys and consent."""

from __future__ import annotations

import csv
import io
import json
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import insert

from parley.cli import cli
from parley.conversations import SupportDesk
from parley.export import (
    CSV_COLUMNS,
    ExportError,
    ExportFilter,
    UnknownContact,
    export_records,
    find_contact_id,
    write_export,
)
from parley.models import AddressKind, ChannelAddress, ContactRecord
from parley.runtime import Runtime
from parley.store import schema
from parley.store.desk_records import ConversationState
from parley.tokens import Role

from .conftest import FakeClock
from .desk_helpers import AVERY, BLAKE, inbound, issue


@dataclass
class Store:
    runtime: Runtime
    config: Path
    avery: int
    blake: int
    avery_contact: int


@pytest.fixture
def filled(
    make_runtime: Callable[..., Runtime], clock: FakeClock, tmp_path: Path
) -> Store:
    runtime = make_runtime()
    issue(runtime, "ana", Role.AGENT, "billing")
    issue(runtime, "ben", Role.LEAD, "billing")
    desk = SupportDesk(runtime.context, runtime.channels)
    runtime.store.add_consent(
        "sandbox",
        AVERY,
        "informational",
        "opt_in",
        "checkout",
        "shopify",
        "checkbox on order 1001",
        clock(),
    )

    clock.advance(60)
    avery = inbound(runtime, "=cmd|' /C calc'!A0 where is my order", "a-1", AVERY)
    desk.assign("ben", avery, {"agent": "ana", "team": "billing"})
    clock.advance(60)
    desk.add_note("ana", avery, "Customer is upset; offer a discount.")
    clock.advance(60)
    desk.reply("ana", avery, "It ships today.")
    clock.advance(60)
    desk.set_state("ana", avery, ConversationState.CLOSED)
    closing = runtime.store.state_history(avery)[-1]
    conversation = runtime.store.get_conversation(avery)
    assert conversation is not None
    with runtime.store.transaction() as conn:
        conn.execute(
            insert(schema.csat_surveys).values(
                conversation_id=avery,
                contact_id=conversation.contact_id,
                channel="sandbox",
                closing_id=closing.id,
                state="answered",
                agent="ana",
                score=4,
                comment="Quick, thanks",
                clarified=0,
                created_at=clock(),
                answered_at=clock(),
            )
        )

    clock.advance(86_400)
    blake = inbound(runtime, "Hello?", "b-1", BLAKE)
    # make_runtime wrote the config there.
    config = tmp_path / "parley.toml"
    return Store(runtime, config, avery, blake, conversation.contact_id)


def records(filled: Store, **selection: object) -> list[dict[str, object]]:
    return list(export_records(filled.runtime.store, ExportFilter(**selection)))  # type: ignore[arg-type]


def test_thread_with_internal_note(filled: Store) -> None:
    found = records(filled, contact_id=filled.avery_contact)

    kinds = [record["record"] for record in found]
    assert kinds[0] == "conversation"
    note = next(record for record in found if record["record"] == "note")
    assert note["internal"] is True
    assert note["author"] == "ana"
    assert note["body"] == "Customer is upset; offer a discount."
    messages = [record for record in found if record["record"] == "message"]
    assert [message["direction"] for message in messages] == ["in", "out", "out"]
    assert all(message["internal"] is False for message in messages)
    reply = messages[-1]
    assert reply["author"] == "ana"
    assert reply["kind"] == "agent_reply"


def test_history_survey_and_consent(filled: Store) -> None:
    found = records(filled, contact_id=filled.avery_contact)

    assignment = next(record for record in found if record["record"] == "assignment")
    assert (assignment["agent"], assignment["team"], assignment["actor"]) == (
        "ana",
        "billing",
        "ben",
    )
    states = [record["state"] for record in found if record["record"] == "state_change"]
    assert states == ["closed"]
    survey = next(record for record in found if record["record"] == "survey")
    assert (survey["score"], survey["comment"]) == (4, "Quick, thanks")
    consent = [record for record in found if record["record"] == "consent"]
    assert len(consent) == 1
    assert consent[0]["evidence"] == "checkbox on order 1001"
    assert consent[0]["source"] == "checkout"


def test_records_in_time_order(filled: Store) -> None:
    found = records(filled, contact_id=filled.avery_contact)
    thread = [
        record
        for record in found
        if record["record"] not in {"conversation", "consent"}
    ]

    times = [str(record["occurred_at"]) for record in thread]
    assert times == sorted(times)


def test_since_leaves_out_older(filled: Store, clock: FakeClock) -> None:
    found = records(filled, since=clock.now)

    conversations = [record for record in found if record["record"] == "conversation"]
    assert [record["conversation_id"] for record in conversations] == [filled.blake]


def test_every_contact_without_filter(filled: Store) -> None:
    found = records(filled)

    conversations = [record for record in found if record["record"] == "conversation"]
    assert len(conversations) == 2


def test_contact_any_format(filled: Store) -> None:
    for written in ("(415) 555-0123", "+1 415 555 0123", "14155550123"):
        found = find_contact_id(filled.runtime.store, written, "US")

        assert found == filled.avery_contact, written


def test_contact_unknown_or_invalid(filled: Store) -> None:
    with pytest.raises(UnknownContact, match="no contact has the address"):
        find_contact_id(filled.runtime.store, "+14155550999", "US")
    with pytest.raises(ExportError, match="invalid contact address"):
        find_contact_id(filled.runtime.store, "   ", "US")


def test_jsonl_lines_parse(filled: Store) -> None:
    out = io.StringIO()
    count = write_export(records(filled), "jsonl", out)

    lines = out.getvalue().splitlines()
    assert len(lines) == count
    assert [json.loads(line)["record"] for line in lines][0] == "conversation"


def test_csv_columns_and_formula_guard(filled: Store) -> None:
    out = io.StringIO()
    count = write_export(records(filled, contact_id=filled.avery_contact), "csv", out)

    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == count
    assert tuple(rows[0]) == CSV_COLUMNS
    first_message = next(row for row in rows if row["record"] == "message")
    assert first_message["body"].startswith("'=cmd")
    note = next(row for row in rows if row["record"] == "note")
    assert note["internal"] == "true"


def test_unknown_format_rejected() -> None:
    with pytest.raises(ExportError, match="'xml'"):
        write_export([], "xml", io.StringIO())


# The command


def test_cli_export_contact_jsonl(filled: Store, tmp_path: Path) -> None:
    output = tmp_path / "audit.jsonl"
    result = CliRunner().invoke(
        cli,
        [
            "export",
            "--contact",
            "(415) 555-0123",
            "--format",
            "jsonl",
            "--output",
            str(output),
            "-c",
            str(filled.config),
        ],
    )

    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert {line.get("conversation_id") for line in lines} - {None} == {filled.avery}
    assert any(line["record"] == "note" and line["internal"] is True for line in lines)
    rows, _next = SupportDesk(filled.runtime.context, filled.runtime.channels).audit(
        5, action="export"
    )
    assert rows[0].target_id == str(filled.avery_contact)
    assert rows[0].detail["records"] == len(lines)


def test_cli_export_bad_since(filled: Store, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["export", "--since", "yesterday", "--format", "csv", "-c", str(filled.config)],
    )

    assert result.exit_code == 1
    assert "'yesterday'" in result.output
    assert "30d or 12h" in result.output


def test_cli_export_unknown_contact(filled: Store, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "export",
            "--contact",
            "nobody@example.com",
            "--format",
            "csv",
            "-c",
            str(filled.config),
        ],
    )

    assert result.exit_code == 1
    assert "no contact has the address 'nobody@example.com'" in result.output


def test_contact_without_conversation(filled: Store, clock: FakeClock) -> None:
    carol = "+14155550177"
    store = filled.runtime.store
    store.save_contact(
        ContactRecord(source="shopify", email="carol@example.com", phone=carol),
        [ChannelAddress(AddressKind.PHONE, carol)],
        clock(),
    )
    store.add_consent(
        "sandbox",
        carol,
        "promotional",
        "opt_in",
        "web_form",
        "shopify",
        "form 7",
        clock(),
    )
    contact_id = find_contact_id(store, "(415) 555-0177", "US")

    found = records(filled, contact_id=contact_id)

    assert [record["record"] for record in found] == ["consent"]
    assert found[0]["evidence"] == "form 7"
