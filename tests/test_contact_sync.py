"""Storing contact syncs' records and merging them with other sources."""

from __future__ import annotations

from collections.abc import Callable

from parley import AddressKind, ChannelAddress, ContactRecord
from parley.runtime import Runtime

PHONE = "+14155550123"


def crm_record(**values: object) -> ContactRecord:
    defaults: dict[str, object] = {
        "source": "crm",
        "external_id": "501",
        "first_name": "Avery",
        "phone": "(415) 555-0123",
        "fields": {"Loyalty Program": "Gold"},
    }
    defaults.update(values)
    return ContactRecord(**defaults)  # type: ignore[arg-type]


def test_sync_creates_contact_with_e164(make_runtime: Callable[..., Runtime]) -> None:
    runtime = make_runtime()
    contact = runtime.context.sync_contact(crm_record())

    assert contact.phone == PHONE
    assert (
        runtime.context.find_contact(ChannelAddress(AddressKind.PHONE, "415-555-0123"))
        == contact
    )


def test_sync_replaces_previous_record(make_runtime: Callable[..., Runtime]) -> None:
    runtime = make_runtime()
    first = runtime.context.sync_contact(crm_record())
    second = runtime.context.sync_contact(
        crm_record(first_name="Ave", fields={"Loyalty Program": "Platinum"})
    )

    assert second.id == first.id
    assert second.first_name == "Ave"
    assert second.fields == {"Loyalty Program": "Platinum"}


def test_sync_matches_by_external_id(make_runtime: Callable[..., Runtime]) -> None:
    runtime = make_runtime()
    first = runtime.context.sync_contact(crm_record())
    moved = runtime.context.sync_contact(crm_record(phone="+14155550199"))

    assert moved.id == first.id
    assert ChannelAddress(AddressKind.PHONE, "+14155550199") in moved.addresses


def test_sync_keeps_higher_precedence_source(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime('\n[contacts]\nprecedence = ["store_a", "crm"]\n')
    runtime.context.sync_contact(
        ContactRecord(source="store_a", external_id="9", first_name="Jo", phone=PHONE)
    )
    merged = runtime.context.sync_contact(crm_record(first_name="Joanna"))

    assert merged.first_name == "Jo"
    assert merged.fields["Loyalty Program"] == "Gold"


def test_sync_emptied_field_removed(make_runtime: Callable[..., Runtime]) -> None:
    runtime = make_runtime()
    runtime.context.sync_contact(crm_record())
    contact = runtime.context.sync_contact(crm_record(first_name=None, fields={}))

    assert contact.first_name is None
    assert contact.fields == {}


def test_forget_keeps_other_sources(make_runtime: Callable[..., Runtime]) -> None:
    runtime = make_runtime()
    runtime.context.sync_contact(
        ContactRecord(source="store_a", external_id="9", last_name="Lee", phone=PHONE)
    )
    runtime.context.sync_contact(crm_record())
    contact = runtime.context.forget_contact("crm", "501")

    assert contact is not None
    assert contact.first_name is None
    assert contact.last_name == "Lee"
    assert contact.fields == {}
    assert contact.phone == PHONE


def test_forget_unknown_record_returns_none(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime()

    assert runtime.context.forget_contact("crm", "404") is None
