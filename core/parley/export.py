"""The audit export: threads with internal notes, history, surveys and consent records.

Records are read one batch of conversations at a time, so an export of a
large store keeps at most one batch in memory, never the whole store. Each
record is a flat object whose ``record`` key names its kind:
``conversation``, ``message``, ``note`` (always ``"internal": true``),
``assignment``, ``state_change``, ``survey`` and ``consent``. A
conversation's records follow its ``conversation`` record in time order,
and the consent records of its contact follow the first of its
conversations in the export.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from parley.contacts import normalize_address
from parley.errors import ParleyError
from parley.models import AddressKind, ChannelAddress
from parley.store import Store, schema
from parley.store.engine import as_utc

logger = logging.getLogger(__name__)

EXPORT_FORMATS = ("jsonl", "csv")

# Conversations whose ids are read in one query.
BATCH_SIZE = 200

# Every CSV column; a record leaves the columns it does not have empty.
CSV_COLUMNS = (
    "record",
    "conversation_id",
    "contact_id",
    "id",
    "occurred_at",
    "channel",
    "address",
    "internal",
    "direction",
    "kind",
    "purpose",
    "status",
    "status_reason",
    "author",
    "actor",
    "agent",
    "team",
    "previous_state",
    "state",
    "score",
    "comment",
    "action",
    "source",
    "evidence",
    "sent_at",
    "answered_at",
    "opened_at",
    "closed_at",
    "body",
)

# Spreadsheet programs run a cell that starts with one of these as a
# formula, so free-text CSV cells that do get a leading apostrophe. The
# JSON-lines format keeps every value exactly as stored.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FREE_TEXT = frozenset({"body", "comment", "evidence", "status_reason"})

# Within one timestamp, records keep the order in which they happen.
_RANK = {
    "state_change": 0,
    "message": 1,
    "note": 2,
    "assignment": 3,
    "survey": 4,
}


class ExportError(ParleyError):
    """An export was requested with a value that cannot be used."""


class UnknownContact(ExportError):
    """No contact has the address an export was asked for."""


@dataclass(frozen=True)
class ExportFilter:
    """The scope of an export.

    Attributes:
        since: only records at or after this time, in conversations with
            activity since then; None exports everything. Consent records
            are exported whatever their age, because older consent is the
            evidence an audit needs.
        contact_id: only this contact's conversations and consent records.
    """

    since: datetime | None = None
    contact_id: int | None = None


def find_contact_id(store: Store, address: str, default_region: str) -> int:
    """Return the id of the contact that owns an address written in any format.

    Raises:
        ExportError: the text is no valid address.
        UnknownContact: no contact has the address.
    """
    candidates: list[ChannelAddress] = []
    for kind in AddressKind:
        normalized = normalize_address(ChannelAddress(kind, address), default_region)
        if normalized is not None and normalized not in candidates:
            candidates.append(normalized)
    if not candidates:
        raise ExportError(
            f"invalid contact address {address!r}; give a phone number such as "
            "+14155550123, an email address or a channel user id"
        )
    contact = store.find_contact_any(candidates)
    if contact is None:
        raise UnknownContact(
            f"no contact has the address {address!r}; check the number or email "
            "address, or leave out the contact option to export every contact"
        )
    return contact.id


def export_records(store: Store, selection: ExportFilter) -> Iterator[dict[str, Any]]:
    """Yield every record of the export, one batch of conversations at a time."""
    exported_contacts: set[int] = set()
    after = 0
    conversations = 0
    while True:
        batch = conversation_batch(store, selection, after, BATCH_SIZE)
        if not batch:
            break
        yield from batch_records(store, batch, selection.since, exported_contacts)
        conversations += len(batch)
        after = batch[-1]
    contact_id = selection.contact_id
    if contact_id is not None and contact_id not in exported_contacts:
        # A contact may have consent records, from a checkout box for
        # example, without any conversation.
        exported_contacts.add(contact_id)
        for record in consent_records(store, contact_id):
            yield jsonable_record(record)
    logger.info(
        "export of %s conversation(s) and %s contact(s) written",
        conversations,
        len(exported_contacts),
    )


def conversation_batch(
    store: Store, selection: ExportFilter, after: int, limit: int
) -> list[int]:
    """Return the ids of up to ``limit`` exported conversations after the id ``after``."""
    conversations = schema.conversations
    query = select(conversations.c.id).where(conversations.c.id > after)
    if selection.contact_id is not None:
        query = query.where(conversations.c.contact_id == selection.contact_id)
    if selection.since is not None:
        query = query.where(_active_since(selection.since))
    query = query.order_by(conversations.c.id).limit(limit)
    with store.read_engine.connect() as conn:
        return list(conn.execute(query).scalars())


def _active_since(since: datetime) -> Any:
    conversations = schema.conversations
    activity = [
        (schema.messages, schema.messages.c.created_at),
        (schema.conversation_notes, schema.conversation_notes.c.created_at),
        (schema.conversation_states, schema.conversation_states.c.changed_at),
        (
            schema.conversation_assignments,
            schema.conversation_assignments.c.assigned_at,
        ),
        (schema.csat_surveys, schema.csat_surveys.c.created_at),
    ]
    return or_(
        conversations.c.updated_at >= since,
        *(
            conversations.c.id.in_(
                select(table.c.conversation_id).where(column >= since)
            )
            for table, column in activity
        ),
    )


def batch_records(
    store: Store,
    conversation_ids: list[int],
    since: datetime | None,
    exported_contacts: set[int],
) -> Iterator[dict[str, Any]]:
    """Yield the records of a batch of conversations, each with its contact's consent once.

    Args:
        store: the store.
        conversation_ids: the conversations, in the order they are exported.
        since: leave out entries before this time; None keeps all.
        exported_contacts: contacts whose consent records were exported
            already; each conversation's contact is added to it.
    """
    with store.read_engine.connect() as conn:
        rows = {
            row.id: row
            for row in conn.execute(
                select(schema.conversations).where(
                    schema.conversations.c.id.in_(conversation_ids)
                )
            )
        }
        entries: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for reader in (_messages, _notes, _assignments, _state_changes, _surveys):
            for entry in reader(conn, conversation_ids):
                if since is None or entry["occurred_at"] >= since:
                    entries[entry["conversation_id"]].append(entry)

    for conversation_id in conversation_ids:
        row = rows[conversation_id]
        thread = sorted(
            entries[conversation_id],
            key=lambda entry: (
                entry["occurred_at"],
                _RANK[entry["record"]],
                entry["id"],
            ),
        )
        records = [_conversation(row), *thread]
        if row.contact_id not in exported_contacts:
            exported_contacts.add(row.contact_id)
            records += consent_records(store, row.contact_id)
        for record in records:
            yield jsonable_record(record)


def _conversation(row: Any) -> dict[str, Any]:
    return {
        "record": "conversation",
        "conversation_id": row.id,
        "contact_id": row.contact_id,
        "channel": row.channel,
        "address": row.address,
        "state": row.state,
        "agent": row.assigned_agent,
        "team": row.assigned_team,
        "opened_at": as_utc(row.opened_at),
        "closed_at": as_utc(row.closed_at),
    }


def _messages(conn: Any, conversation_ids: list[int]) -> Iterator[dict[str, Any]]:
    table = schema.messages
    rows = conn.execute(
        select(table).where(table.c.conversation_id.in_(conversation_ids))
    )
    for row in rows:
        yield {
            "record": "message",
            "conversation_id": row.conversation_id,
            "id": row.id,
            "occurred_at": as_utc(row.created_at),
            "channel": row.channel,
            "internal": False,
            "direction": row.direction,
            "kind": row.kind,
            "purpose": row.purpose,
            "status": row.status,
            "status_reason": row.status_reason,
            "author": row.author,
            "sent_at": as_utc(row.sent_at),
            "body": row.body,
        }


def _notes(conn: Any, conversation_ids: list[int]) -> Iterator[dict[str, Any]]:
    table = schema.conversation_notes
    rows = conn.execute(
        select(table).where(table.c.conversation_id.in_(conversation_ids))
    )
    for row in rows:
        yield {
            "record": "note",
            "conversation_id": row.conversation_id,
            "id": row.id,
            "occurred_at": as_utc(row.created_at),
            "internal": True,
            "author": row.author,
            "body": row.body,
        }


def _assignments(conn: Any, conversation_ids: list[int]) -> Iterator[dict[str, Any]]:
    table = schema.conversation_assignments
    rows = conn.execute(
        select(table).where(table.c.conversation_id.in_(conversation_ids))
    )
    for row in rows:
        yield {
            "record": "assignment",
            "conversation_id": row.conversation_id,
            "id": row.id,
            "occurred_at": as_utc(row.assigned_at),
            "agent": row.agent,
            "team": row.team,
            "actor": row.actor,
        }


def _state_changes(conn: Any, conversation_ids: list[int]) -> Iterator[dict[str, Any]]:
    table = schema.conversation_states
    rows = conn.execute(
        select(table).where(table.c.conversation_id.in_(conversation_ids))
    )
    for row in rows:
        yield {
            "record": "state_change",
            "conversation_id": row.conversation_id,
            "id": row.id,
            "occurred_at": as_utc(row.changed_at),
            "previous_state": row.previous_state,
            "state": row.state,
            "actor": row.actor,
        }


def _surveys(conn: Any, conversation_ids: list[int]) -> Iterator[dict[str, Any]]:
    table = schema.csat_surveys
    rows = conn.execute(
        select(table).where(table.c.conversation_id.in_(conversation_ids))
    )
    for row in rows:
        yield {
            "record": "survey",
            "conversation_id": row.conversation_id,
            "id": row.id,
            "occurred_at": as_utc(row.created_at),
            "channel": row.channel,
            "state": row.state,
            "agent": row.agent,
            "score": row.score,
            "comment": row.comment,
            "sent_at": as_utc(row.sent_at),
            "answered_at": as_utc(row.answered_at),
        }


def consent_records(store: Store, contact_id: int) -> list[dict[str, Any]]:
    """Return the consent records of every address of a contact, oldest first."""
    addresses = _contact_addresses(store, contact_id)
    entries = {entry.id: entry for value in addresses for entry in store.ledger(value)}
    return [
        {
            "record": "consent",
            "contact_id": contact_id,
            "id": entry.id,
            "occurred_at": entry.recorded_at,
            "address": entry.address,
            "purpose": entry.purpose,
            "action": entry.action,
            "source": entry.source,
            "actor": entry.actor,
            "evidence": entry.evidence,
        }
        for entry in sorted(
            entries.values(), key=lambda entry: (entry.recorded_at, entry.id)
        )
    ]


def _contact_addresses(store: Store, contact_id: int) -> set[str]:
    """Return a contact's channel addresses, phone and email, without its other fields."""
    contacts = schema.contacts
    addresses = schema.contact_addresses
    with store.read_engine.connect() as conn:
        found = set(
            conn.execute(
                select(addresses.c.value).where(addresses.c.contact_id == contact_id)
            ).scalars()
        )
        row = conn.execute(
            select(contacts.c.phone, contacts.c.email).where(
                contacts.c.id == contact_id
            )
        ).first()
    if row is not None:
        found.update(value for value in (row.phone, row.email) if value)
    return found


def jsonable_record(record: dict[str, Any]) -> dict[str, Any]:
    """Return a record with its times as ISO 8601 strings."""
    return {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in record.items()
    }


# Formats


def write_export(
    records: Iterable[dict[str, Any]], fmt: str, out: io.TextIOBase | Any
) -> int:
    """Write records as JSON lines or CSV to a text stream; return how many.

    Raises:
        ExportError: the format is not one of :data:`EXPORT_FORMATS`.
    """
    if fmt not in EXPORT_FORMATS:
        raise ExportError(
            f"invalid export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}"
        )
    count = 0
    if fmt == "jsonl":
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
        return count

    writer = csv.DictWriter(
        out,
        fieldnames=CSV_COLUMNS,
        restval="",
        extrasaction="raise",
        lineterminator="\n",
    )
    writer.writeheader()
    for record in records:
        writer.writerow(_csv_cells(record))
        count += 1
    return count


def _csv_cells(record: dict[str, Any]) -> dict[str, Any]:
    cells: dict[str, Any] = {}
    for key, value in record.items():
        if value is None:
            cells[key] = ""
        elif isinstance(value, bool):
            cells[key] = "true" if value else "false"
        elif key in _FREE_TEXT and str(value).startswith(_FORMULA_STARTS):
            cells[key] = "'" + str(value)
        else:
            cells[key] = value
    return cells


def describe_filter(selection: ExportFilter, fmt: str) -> dict[str, Any]:
    """Return the audit-log detail of an export, which names no address."""
    return {
        "since": selection.since.isoformat() if selection.since else None,
        "contact_id": selection.contact_id,
        "format": fmt,
    }
