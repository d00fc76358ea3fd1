"""The contact sync: a backfill of every contact, then changes since the last run.

Contacts are read with the CRM search API, oldest change first, filtered on
``lastmodifieddate``. Each page starts a new query at the last change time
the previous page reached, so no query meets the search API's limit of
10,000 results. A contact that changes during the run is read again at its
new time, instead of shifting an offset. When a whole page shares one
change time (a bulk import), the contacts of that millisecond are read in
order of their id instead.

The cursor is stored after every page, so an interrupted run resumes where
it stopped. Once a run reaches the end, the backfill is marked complete and
lookups stop asking HubSpot about addresses the local store does not know.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from parley import ContactSync, PluginContext, SyncProgress
from parley_hubspot.connector import HubSpotConnector
from parley_hubspot.const import (
    PLUGIN_ID,
    PROPERTY_LAST_MODIFIED,
    PROPERTY_OBJECT_ID,
    STATE_BACKFILL_COMPLETE,
    STATE_SYNC_CURSOR,
)
from parley_hubspot.mapping import last_modified_ms

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncCursor:
    """The position where the next page of a sync starts.

    Attributes:
        since_ms: contacts changed at or after this time (epoch ms) are read
            next; None reads from the first contact.
        tie_ms: set while the contacts changed in this one millisecond are
            read in id order.
        tie_after_id: the last contact id read within ``tie_ms``.
    """

    since_ms: int | None = None
    tie_ms: int | None = None
    tie_after_id: str | None = None

    @classmethod
    def load(cls, text: str | None) -> SyncCursor:
        """Read a stored cursor; a missing or unreadable one starts from the beginning."""
        if not text:
            return cls()
        try:
            data = json.loads(text)
            return cls(
                since_ms=_optional_int(data.get("since_ms")),
                tie_ms=_optional_int(data.get("tie_ms")),
                tie_after_id=data.get("tie_after_id") or None,
            )
        except (ValueError, AttributeError, TypeError):
            logger.warning(
                "the stored HubSpot sync cursor is unreadable; starting over"
            )
            return cls()

    def dump(self) -> str:
        """Return the cursor as stored text."""
        return json.dumps(asdict(self), sort_keys=True)


class ContactSyncJob:
    """Copies HubSpot contacts into the local contact store."""

    def __init__(self, context: PluginContext, connector: HubSpotConnector) -> None:
        """Create the job of a running instance."""
        self.context = context
        self.connector = connector
        self.settings = connector.settings

    def run(self, progress: SyncProgress, full: bool) -> None:
        """Read contacts page by page from the cursor and store each one.

        Args:
            progress: receives the expected total and the count stored.
            full: start from the first contact instead of the stored cursor.

        Raises:
            parley.SyncError: a request failed; the cursor keeps the pages
                already stored.
        """
        complete = self._backfill_complete()
        cursor = SyncCursor() if full else self._stored_cursor()
        high_water = cursor.since_ms
        if complete and not full and cursor.since_ms is not None:
            overlap_ms = int(self.settings.sync_overlap_seconds * 1000)
            cursor = SyncCursor(since_ms=max(cursor.since_ms - overlap_ms, 0))

        fields = self.connector.mapped_fields()
        properties = self.connector.read_properties(fields)
        kind = "incremental" if complete and not full else "backfill"
        logger.info("HubSpot contact sync (%s) starts at %s", kind, _describe(cursor))

        seen: set[str] = set()
        first = True
        while True:
            page = self.connector.client.search_contacts(
                _page_query(cursor, properties, self.settings.sync_page_size)
            )
            if first:
                progress.set_total(_total(page))
                first = False

            results = _results(page)
            stored = self._store(results, fields, seen)
            progress.advance(stored)

            cursor, done = _next_cursor(cursor, results, self.settings.sync_page_size)
            if done:
                cursor = _not_before(cursor, high_water)
            self.context.set_state(PLUGIN_ID, STATE_SYNC_CURSOR, cursor.dump())
            if done:
                break

        if not complete:
            self.context.set_state(PLUGIN_ID, STATE_BACKFILL_COMPLETE, "true")
        logger.info(
            "HubSpot contact sync (%s) stored %d contacts; next run starts at %s",
            kind,
            len(seen),
            _describe(cursor),
        )

    def _store(
        self,
        results: Sequence[Mapping[str, Any]],
        fields: Mapping[str, str],
        seen: set[str],
    ) -> int:
        """Store the page's contacts not stored earlier in this run; return how many."""
        stored = 0
        for result in results:
            contact_id = str(result.get("id") or "")
            if not contact_id or contact_id in seen:
                continue
            seen.add(contact_id)
            record = self.connector.to_record(result, fields)
            if not record.addresses:
                logger.debug(
                    "HubSpot contact %s has no phone number or email; not stored",
                    contact_id,
                )
                continue
            self.context.sync_contact(record)
            stored += 1
        return stored

    def _stored_cursor(self) -> SyncCursor:
        return SyncCursor.load(self.context.get_state(PLUGIN_ID, STATE_SYNC_CURSOR))

    def _backfill_complete(self) -> bool:
        return self.context.get_state(PLUGIN_ID, STATE_BACKFILL_COMPLETE) == "true"


def build_contact_sync(
    context: PluginContext, connector: HubSpotConnector
) -> ContactSync:
    """Return the ContactSync the daemon and ``parley contacts sync`` run."""
    job = ContactSyncJob(context, connector)
    return ContactSync(
        plugin_id=PLUGIN_ID,
        interval_seconds=connector.settings.sync_interval_seconds,
        run=job.run,
    )


def _page_query(
    cursor: SyncCursor, properties: Sequence[str], limit: int
) -> dict[str, Any]:
    if cursor.tie_ms is not None:
        moment = str(cursor.tie_ms)
        filters = [
            _filter(PROPERTY_LAST_MODIFIED, "GTE", moment),
            _filter(PROPERTY_LAST_MODIFIED, "LTE", moment),
        ]
        if cursor.tie_after_id is not None:
            filters.append(_filter(PROPERTY_OBJECT_ID, "GT", cursor.tie_after_id))
        sort = PROPERTY_OBJECT_ID
    else:
        filters = []
        if cursor.since_ms is not None:
            filters.append(_filter(PROPERTY_LAST_MODIFIED, "GTE", str(cursor.since_ms)))
        sort = PROPERTY_LAST_MODIFIED

    return {
        "filterGroups": [{"filters": filters}] if filters else [],
        "properties": list(properties),
        "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
        "limit": limit,
    }


def _next_cursor(
    cursor: SyncCursor, results: Sequence[Mapping[str, Any]], limit: int
) -> tuple[SyncCursor, bool]:
    """Return the cursor after a page, and True when the run is done."""
    times = [ms for ms in (last_modified_ms(result) for result in results) if ms]
    full_page = len(results) >= limit

    if cursor.tie_ms is not None:
        if full_page:
            last_id = max((str(result.get("id")) for result in results), key=_id_order)
            return SyncCursor(tie_ms=cursor.tie_ms, tie_after_id=last_id), False
        # The millisecond is exhausted; continue after it.
        return SyncCursor(since_ms=cursor.tie_ms + 1), False

    if not times:
        return cursor, True
    newest = max(times)
    if not full_page:
        return SyncCursor(since_ms=newest), True
    if newest == min(times):
        # A whole page changed in one millisecond: read it in id order, or
        # the next query would return the same page again.
        return SyncCursor(tie_ms=newest), False
    return SyncCursor(since_ms=newest), False


def _not_before(cursor: SyncCursor, high_water: int | None) -> SyncCursor:
    """Keep a finished run's cursor from moving back behind the stored one."""
    if high_water is None or cursor.since_ms is None:
        return cursor if cursor.since_ms is not None else SyncCursor(high_water)
    return SyncCursor(since_ms=max(cursor.since_ms, high_water))


def _filter(prop: str, operator: str, value: str) -> dict[str, str]:
    return {"propertyName": prop, "operator": operator, "value": value}


def _id_order(contact_id: str) -> tuple[int, str]:
    return (int(contact_id), contact_id) if contact_id.isdigit() else (0, contact_id)


def _results(page: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    results = page.get("results")
    if not isinstance(results, list):
        return []
    return [result for result in results if isinstance(result, Mapping)]


def _total(page: Mapping[str, Any]) -> int | None:
    total = page.get("total")
    return total if isinstance(total, int) and not isinstance(total, bool) else None


def _optional_int(value: Any) -> int | None:
    if value is None:
        return None
    return int(value)


def _describe(cursor: SyncCursor) -> str:
    if cursor.tie_ms is not None:
        return f"contacts changed at {cursor.tie_ms} ms after id {cursor.tie_after_id}"
    if cursor.since_ms is None:
        return "the first contact"
    return f"contacts changed at or after {cursor.since_ms} ms"
