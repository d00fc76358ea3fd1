"""The contact sync: backfill, paging, resuming, incremental runs and bulk imports."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hubspot_support import (
    CASSETTES,
    base_settings,
    hubspot_instance,
    hubspot_vcr,
)

from parley import (
    AddressKind,
    ChannelAddress,
    ContactSync,
    PluginContext,
    RetriableSyncError,
)
from parley_hubspot.const import STATE_BACKFILL_COMPLETE, STATE_SYNC_CURSOR
from parley_hubspot.sync import SyncCursor


class RecordingProgress:
    def __init__(self) -> None:
        self.totals: list[int | None] = []
        self.advanced: list[int] = []

    def set_total(self, total: int | None) -> None:
        self.totals.append(total)

    def advance(self, count: int) -> None:
        self.advanced.append(count)


def contact_sync(context: PluginContext) -> ContactSync:
    syncs: list[ContactSync] = []
    context.plugin_manager.hook.register_contact_syncs(
        register=syncs.append, context=context
    )
    assert len(syncs) == 1
    return syncs[0]


def state(context: PluginContext, key: str) -> str | None:
    return context.get_state("hubspot", key)


def test_sync_registered_with_interval(tmp_path: Path) -> None:
    with hubspot_instance(tmp_path, base_settings(sync_interval_seconds=120)) as inst:
        sync = contact_sync(inst.context)

    assert sync.plugin_id == "hubspot"
    assert sync.interval_seconds == 120


def test_backfill_pages_by_change_time(tmp_path: Path) -> None:
    progress = RecordingProgress()
    with hubspot_instance(tmp_path, base_settings(sync_page_size=2)) as instance:
        with hubspot_vcr().use_cassette("sync_three_contacts.yaml") as cassette:
            contact_sync(instance.context).run(progress, False)
        avery = instance.context.find_contact(
            ChannelAddress(AddressKind.PHONE, "+14155550123")
        )
        jordan = instance.context.find_contact(
            ChannelAddress(AddressKind.PHONE, "+14155550147")
        )
        cursor = SyncCursor.load(state(instance.context, STATE_SYNC_CURSOR))
        complete = state(instance.context, STATE_BACKFILL_COMPLETE)

    assert cassette.all_played
    assert progress.totals == [3]
    assert sum(progress.advanced) == 3
    assert avery is not None
    assert avery.fields["Loyalty Program"] == "Gold tier"
    assert avery.fields["HubSpot Contact ID"] == "86420173501"
    assert jordan is not None
    assert jordan.first_name == "Jordan"
    assert cursor == SyncCursor(since_ms=1794645000000)
    assert complete == "true"


def test_interrupted_sync_resumes_from_cursor(tmp_path: Path) -> None:
    settings = base_settings(sync_page_size=2, max_attempts=2)
    with hubspot_instance(tmp_path, settings) as instance:
        sync = contact_sync(instance.context)
        with hubspot_vcr().use_cassette("sync_interrupted.yaml") as cassette:
            with pytest.raises(RetriableSyncError):
                sync.run(RecordingProgress(), False)
        assert cassette.all_played
        interrupted = SyncCursor.load(state(instance.context, STATE_SYNC_CURSOR))
        assert state(instance.context, STATE_BACKFILL_COMPLETE) is None

        progress = RecordingProgress()
        with hubspot_vcr().use_cassette("sync_resumed.yaml") as cassette:
            sync.run(progress, False)
        resumed = cassette.all_played
        complete = state(instance.context, STATE_BACKFILL_COMPLETE)

    assert interrupted == SyncCursor(since_ms=1794517435640)
    assert resumed
    assert sum(progress.advanced) == 2
    assert complete == "true"


def test_incremental_run_starts_before_cursor(tmp_path: Path) -> None:
    settings = base_settings(sync_page_size=2)
    with hubspot_instance(tmp_path, settings) as instance:
        instance.context.set_state("hubspot", STATE_BACKFILL_COMPLETE, "true")
        instance.context.set_state(
            "hubspot", STATE_SYNC_CURSOR, SyncCursor(since_ms=1794645000000).dump()
        )
        with hubspot_vcr().use_cassette("sync_incremental.yaml") as cassette:
            contact_sync(instance.context).run(RecordingProgress(), False)
        cursor = SyncCursor.load(state(instance.context, STATE_SYNC_CURSOR))

    assert cassette.all_played
    assert cursor == SyncCursor(since_ms=1794645000000)


def test_full_run_ignores_cursor(tmp_path: Path) -> None:
    with hubspot_instance(tmp_path, base_settings(sync_page_size=2)) as instance:
        instance.context.set_state(
            "hubspot", STATE_SYNC_CURSOR, SyncCursor(since_ms=1794645000000).dump()
        )
        with hubspot_vcr().use_cassette("sync_three_contacts.yaml") as cassette:
            contact_sync(instance.context).run(RecordingProgress(), True)

    assert cassette.all_played


def test_same_millisecond_page_read_by_id(tmp_path: Path) -> None:
    progress = RecordingProgress()
    with hubspot_instance(tmp_path, base_settings(sync_page_size=2)) as instance:
        with hubspot_vcr().use_cassette("sync_same_millisecond.yaml") as cassette:
            contact_sync(instance.context).run(progress, False)
        stored = [
            instance.context.find_contact(ChannelAddress(AddressKind.EMAIL, email))
            for email in ("a1@example.com", "a2@example.com", "a3@example.com")
        ]

    assert cassette.all_played
    assert sum(progress.advanced) == 3
    assert all(contact is not None for contact in stored)


def test_unreadable_cursor_starts_over(caplog: pytest.LogCaptureFixture) -> None:
    assert SyncCursor.load("{not json") == SyncCursor()
    assert "unreadable" in caplog.text


# The backfill of 1,000 contacts: the cassette is built here from the same
# documented shapes as the hand-written ones, because 1,000 contacts do not
# fit a file a person writes.
FIRST_CHANGE = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CONTACT_COUNT = 1000
PAGE_SIZE = 200
ASCENDING = [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]


def generated_contact(index: int) -> dict[str, Any]:
    changed = FIRST_CHANGE + timedelta(seconds=index)
    stamp = changed.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    contact_id = str(90000000000 + index)
    tiers = ("Silver", "Gold", "Platinum")
    return {
        "id": contact_id,
        "properties": {
            "createdate": "2025-12-01T10:00:00.000Z",
            "email": f"customer{index:04d}@example.com",
            "firstname": f"Customer{index:04d}",
            "hs_object_id": contact_id,
            "lastmodifieddate": stamp,
            "lastname": "Example",
            "loyalty_program": tiers[index % 3],
            "mobilephone": f"+1 628 555 {index:04d}",
            "phone": None,
        },
        "createdAt": "2025-12-01T10:00:00.000Z",
        "updatedAt": stamp,
        "archived": False,
    }


def change_ms(index: int) -> int:
    return int((FIRST_CHANGE + timedelta(seconds=index)).timestamp() * 1000)


def search_interaction(request: dict[str, Any], response: dict[str, Any]) -> dict:
    return {
        "request": {
            "method": "POST",
            "uri": "http://127.0.0.1:8765/crm/v3/objects/contacts/search",
            "body": json.dumps(request),
            "headers": {},
        },
        "response": {
            "status": {"code": 200, "message": "OK"},
            "headers": {"Content-Type": ["application/json;charset=utf-8"]},
            "body": {"string": json.dumps(response)},
        },
    }


def write_backfill_cassette(directory: Path) -> None:
    properties = yaml.safe_load((CASSETTES / "lookup_miss.yaml").read_text())
    interactions = [properties["interactions"][0]]

    start = 0
    filters: list[dict[str, Any]] = []
    while True:
        page = [
            generated_contact(i)
            for i in range(start, min(start + PAGE_SIZE, CONTACT_COUNT))
        ]
        response: dict[str, Any] = {"total": CONTACT_COUNT - start, "results": page}
        if len(page) == PAGE_SIZE:
            response["paging"] = {"next": {"after": str(PAGE_SIZE)}}
        request = {"filterGroups": filters, "sorts": ASCENDING, "limit": PAGE_SIZE}
        interactions.append(search_interaction(request, response))
        if len(page) < PAGE_SIZE:
            break
        # The next query starts at the last page's newest change, which it
        # returns again.
        start = start + PAGE_SIZE - 1
        filters = [
            {
                "filters": [
                    {
                        "propertyName": "lastmodifieddate",
                        "operator": "GTE",
                        "value": str(change_ms(start)),
                    }
                ]
            }
        ]
    (directory / "backfill_1000.yaml").write_text(
        yaml.safe_dump({"interactions": interactions, "version": 1})
    )


def test_backfill_1000_contacts_then_no_calls(tmp_path: Path) -> None:
    write_backfill_cassette(tmp_path)
    progress = RecordingProgress()
    with hubspot_instance(tmp_path) as instance:
        replayer = hubspot_vcr(tmp_path)
        with replayer.use_cassette("backfill_1000.yaml") as cassette:
            contact_sync(instance.context).run(progress, False)
            calls_for_backfill = cassette.play_count

            stored = instance.context.find_contact(
                ChannelAddress(AddressKind.PHONE, "+16285550999")
            )
            unknown = instance.connector.lookup(
                ChannelAddress(AddressKind.PHONE, "+14155550199")
            )
            calls_after_lookup = cassette.play_count

    assert calls_for_backfill <= 10
    assert cassette.all_played
    assert sum(progress.advanced) == CONTACT_COUNT
    assert progress.totals == [CONTACT_COUNT]
    assert stored is not None
    assert stored.first_name == "Customer0999"
    assert unknown is None
    assert calls_after_lookup == calls_for_backfill
