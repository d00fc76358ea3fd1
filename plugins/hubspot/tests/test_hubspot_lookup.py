"""Contact lookup by phone number and email through the CRM search API."""

from __future__ import annotations

from pathlib import Path

import pytest
from hubspot_support import AVERY_ID, base_settings, hubspot_instance, hubspot_vcr

import parley_hubspot
from parley import AddressKind, ChannelAddress
from parley_hubspot.const import FIELD_CONTACT_ID, STATE_BACKFILL_COMPLETE
from parley_hubspot.lookup import phone_forms

AVERY_PHONE = ChannelAddress(AddressKind.PHONE, "+14155550123")


def test_search_hit_builds_record(tmp_path: Path) -> None:
    with hubspot_instance(tmp_path) as instance:
        with hubspot_vcr().use_cassette("lookup_phone_hit.yaml") as cassette:
            record = parley_hubspot.lookup_contact(
                address=AVERY_PHONE, context=instance.context
            )

    assert cassette.all_played
    assert record is not None
    assert record.source == "hubspot"
    assert record.external_id == AVERY_ID
    assert record.first_name == "Avery"
    assert record.last_name == "Quinlan"
    assert record.email == "avery.quinlan@example.com"
    assert record.phone == "+14155550123"
    assert record.fields == {FIELD_CONTACT_ID: AVERY_ID, "Loyalty Program": "Gold tier"}
    assert ChannelAddress(AddressKind.EMAIL, "avery.quinlan@example.com") in (
        record.addresses
    )


def test_formatted_phone_found_by_e164(tmp_path: Path) -> None:
    with hubspot_instance(tmp_path) as instance:
        with hubspot_vcr().use_cassette("lookup_formatted_phone.yaml"):
            record = instance.connector.lookup(AVERY_PHONE)

    assert record is not None
    assert record.external_id == AVERY_ID
    assert record.phone == "+14155550123"


def test_whatsapp_address_searched_as_phone(tmp_path: Path) -> None:
    address = ChannelAddress(AddressKind.WHATSAPP, "14155550123")
    with hubspot_instance(tmp_path) as instance:
        with hubspot_vcr().use_cassette("lookup_phone_hit.yaml"):
            record = instance.connector.lookup(address)

    assert record is not None
    assert record.external_id == AVERY_ID


def test_search_miss_returns_none(tmp_path: Path) -> None:
    with hubspot_instance(tmp_path) as instance:
        with hubspot_vcr().use_cassette("lookup_miss.yaml") as cassette:
            record = instance.connector.lookup(AVERY_PHONE)

    assert record is None
    assert cassette.all_played


def test_unconfirmed_candidate_rejected(tmp_path: Path) -> None:
    with hubspot_instance(tmp_path) as instance:
        with hubspot_vcr().use_cassette("lookup_unconfirmed.yaml"):
            record = instance.connector.lookup(AVERY_PHONE)

    assert record is None


def test_two_hits_take_last_modified(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with hubspot_instance(tmp_path) as instance:
        with hubspot_vcr().use_cassette("lookup_two_hits.yaml"):
            record = instance.connector.lookup(AVERY_PHONE)

    assert record is not None
    assert record.external_id == "86420199012"
    assert record.fields["Loyalty Program"] == "Platinum tier"
    [warning] = [r for r in caplog.records if "share" in r.getMessage()]
    message = warning.getMessage()
    assert "86420199012" in message
    assert AVERY_ID in message
    assert "most recently modified" in message
    assert "+14155550123" not in message
    assert "phone *********23" in message


def test_two_hits_take_first_created(tmp_path: Path) -> None:
    settings = base_settings(duplicate_rule="first_created")
    with hubspot_instance(tmp_path, settings) as instance:
        with hubspot_vcr().use_cassette("lookup_two_hits.yaml"):
            record = instance.connector.lookup(AVERY_PHONE)

    assert record is not None
    assert record.external_id == AVERY_ID


def test_two_hits_rule_none(tmp_path: Path) -> None:
    settings = base_settings(duplicate_rule="none")
    with hubspot_instance(tmp_path, settings) as instance:
        with hubspot_vcr().use_cassette("lookup_two_hits.yaml"):
            record = instance.connector.lookup(AVERY_PHONE)

    assert record is None


def test_email_lookup(tmp_path: Path) -> None:
    address = ChannelAddress(AddressKind.EMAIL, " Avery.Quinlan@Example.com ")
    with hubspot_instance(tmp_path) as instance:
        with hubspot_vcr().use_cassette("lookup_email_hit.yaml") as cassette:
            record = instance.connector.lookup(address)

    assert cassette.all_played
    assert record is not None
    assert record.external_id == AVERY_ID


def test_page_scoped_id_not_looked_up(tmp_path: Path) -> None:
    address = ChannelAddress(AddressKind.PAGE_SCOPED_ID, "6543210987654321")
    with hubspot_instance(tmp_path) as instance:
        with hubspot_vcr().use_cassette("lookup_miss.yaml") as cassette:
            record = instance.connector.lookup(address)

    assert record is None
    assert cassette.play_count == 0


def test_lookup_after_backfill_makes_no_call(tmp_path: Path) -> None:
    with hubspot_instance(tmp_path) as instance:
        instance.context.set_state("hubspot", STATE_BACKFILL_COMPLETE, "true")
        with hubspot_vcr().use_cassette("lookup_phone_hit.yaml") as cassette:
            record = instance.connector.lookup(AVERY_PHONE)

    assert record is None
    assert cassette.play_count == 0


def test_impossible_number_not_searched(tmp_path: Path) -> None:
    address = ChannelAddress(AddressKind.PHONE, "12")
    with hubspot_instance(tmp_path) as instance:
        with hubspot_vcr().use_cassette("lookup_miss.yaml") as cassette:
            record = instance.connector.lookup(address)

    assert record is None
    assert cassette.play_count == 1  # the property definitions only


def test_phone_forms_cover_common_spellings() -> None:
    forms = phone_forms("+14155550123")

    for typed in (
        "+14155550123",
        "(415) 555-0123",
        "415-555-0123",
        "415.555.0123",
        "415 555 0123",
        "4155550123",
        "14155550123",
        "+1 415-555-0123",
        "+1 415 555 0123",
        "+1 (415) 555-0123",
        "1-415-555-0123",
    ):
        assert typed in forms, typed
    assert len(forms) == len(set(forms))


def test_phone_forms_international() -> None:
    forms = phone_forms("+442079460018")

    assert "020 7946 0018" in forms
    assert "+44 20 7946 0018" in forms
    assert "02079460018" in forms
