"""Export and import of the consent ledger (``parley consent export|import``).

An export lists every record with its evidence, for audits. An import loads
consent gathered elsewhere, one CSV row per record with the columns
``address, purpose, action, source, recorded_at, evidence`` and an optional
``actor``. Every row is checked; valid rows are appended, rows already in
the ledger are skipped, and each rejected row is reported with its line
number. An opt-in from a source that needs double opt-in (a web form, a
point of sale, an import) queues one confirmation prompt to the address.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from parley.config import CoreSettings
from parley.consent import LedgerEntry
from parley.double_opt_in import PROMPT_KIND, queue_prompt
from parley.models import (
    AddressKind,
    ChannelAddress,
    ConsentAction,
    ConsentSource,
    Purpose,
)
from parley.phones import normalize_email, normalize_phone
from parley.store import Store

EXPORT_COLUMNS = (
    "id",
    "address",
    "purpose",
    "action",
    "source",
    "recorded_at",
    "actor",
    "evidence",
)
REQUIRED_COLUMNS = ("address", "purpose", "action", "source", "recorded_at", "evidence")


@dataclass
class ImportReport:
    """Counts and rejected rows of one import."""

    added: int = 0
    skipped: int = 0
    prompts: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)


def export_ledger(entries: Iterable[LedgerEntry], fmt: str) -> str:
    """Return ledger entries as CSV or JSON lines."""
    rows = [
        {
            "id": entry.id,
            "address": entry.address,
            "purpose": entry.purpose,
            "action": entry.action,
            "source": entry.source,
            "recorded_at": entry.recorded_at.isoformat(),
            "actor": entry.actor,
            "evidence": entry.evidence or "",
        }
        for entry in entries
    ]
    if fmt == "jsonl":
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def import_ledger(
    text: str, store: Store, settings: CoreSettings, now: datetime
) -> ImportReport:
    """Validate CSV rows and append the valid ones to the ledger."""
    report = ImportReport()
    reader = csv.DictReader(io.StringIO(text))
    missing = [
        column for column in REQUIRED_COLUMNS if column not in (reader.fieldnames or [])
    ]
    if missing:
        report.rejected.append(
            (
                1,
                f"header is missing column(s) {', '.join(missing)}; expected {', '.join(REQUIRED_COLUMNS)}",
            )
        )
        return report

    for row in reader:
        line = reader.line_num
        try:
            record = _parse_row(row, settings, now)
        except ValueError as err:
            report.rejected.append((line, str(err)))
            continue
        _store_record(record, store, settings, now, report)
    return report


@dataclass(frozen=True)
class _ImportedRecord:
    address: ChannelAddress
    purpose: Purpose
    action: ConsentAction
    source: ConsentSource
    recorded_at: datetime
    evidence: str
    actor: str


def _parse_row(
    row: dict[str, str], settings: CoreSettings, now: datetime
) -> _ImportedRecord:
    raw_address = (row.get("address") or "").strip()
    phone = normalize_phone(raw_address, settings.contacts.default_region)
    email = normalize_email(raw_address) if phone is None else None
    if phone is None and email is None:
        raise ValueError(
            f"address {raw_address!r} is not a phone number or email address"
        )
    address = (
        ChannelAddress(AddressKind.PHONE, phone)
        if phone
        else ChannelAddress(AddressKind.EMAIL, email or "")
    )

    purpose = _choice(row, "purpose", Purpose)
    action = _choice(row, "action", ConsentAction)
    source = _choice(row, "source", ConsentSource)

    raw_time = (row.get("recorded_at") or "").strip()
    try:
        recorded_at = datetime.fromisoformat(raw_time)
    except ValueError:
        raise ValueError(
            f"recorded_at {raw_time!r} is not an ISO-8601 time such as 2026-11-16T10:15:00-05:00"
        ) from None
    if recorded_at.tzinfo is None:
        raise ValueError(
            f"recorded_at {raw_time!r} has no UTC offset; add one such as Z or -05:00"
        )
    if recorded_at > now:
        raise ValueError(f"recorded_at {raw_time!r} is in the future")

    evidence = (row.get("evidence") or "").strip()
    if not evidence:
        raise ValueError(
            "evidence is empty; say how consent was given, such as the form and its disclosure text"
        )
    actor = (row.get("actor") or "").strip() or "import"
    return _ImportedRecord(
        address, purpose, action, source, recorded_at, evidence, actor
    )


def _choice(row: dict[str, str], column: str, kind: type) -> object:  # type: ignore[type-arg]
    raw = (row.get(column) or "").strip().lower()
    allowed = [member.value for member in kind]
    if raw not in allowed:
        raise ValueError(f"{column} {raw!r} is not one of {', '.join(allowed)}")
    return kind(raw)


def _store_record(
    record: _ImportedRecord,
    store: Store,
    settings: CoreSettings,
    now: datetime,
    report: ImportReport,
) -> None:
    with store.transaction() as conn:
        existing = store.consent_entries(
            record.address.value, record.purpose.value, conn=conn
        )
        duplicate = any(
            entry.action == record.action.value
            and entry.source == record.source.value
            and entry.recorded_at == record.recorded_at
            for entry in existing
        )
        if duplicate:
            report.skipped += 1
            return
        store.add_consent(
            channel="*",
            address=record.address.value,
            purpose=record.purpose.value,
            action=record.action.value,
            source=record.source.value,
            actor=record.actor,
            evidence=record.evidence,
            now=record.recorded_at,
            conn=conn,
        )
        report.added += 1
        key = (
            f"{PROMPT_KIND}:{record.address.value}:{record.purpose.value}:"
            f"{record.recorded_at.isoformat()}"
        )
        if _needs_prompt(record, settings) and queue_prompt(
            store, settings, record.address.value, record.purpose, key, now, conn
        ):
            report.prompts += 1


def _needs_prompt(record: _ImportedRecord, settings: CoreSettings) -> bool:
    return (
        record.action is ConsentAction.OPT_IN
        and record.source in settings.compliance.double_opt_in_sources
        and record.address.kind is AddressKind.PHONE
        and settings.replies.opt_in_prompt in settings.templates
    )
