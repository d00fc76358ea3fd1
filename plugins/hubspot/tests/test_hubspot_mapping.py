"""Property values rendered for people, contact records, and templates that use them."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hubspot_support import contact_payload, hubspot_instance, hubspot_vcr

from parley import (
    AddressKind,
    ChannelAddress,
    ContactRecord,
    OrderStatus,
    OrderStatusEvent,
    PluginContext,
)
from parley.templates import parse_template, render
from parley_hubspot.const import FIELD_CONTACT_ID
from parley_hubspot.mapping import (
    Rendering,
    contact_record,
    iana_zone,
    render_value,
)
from parley_hubspot.properties import PropertyDefinition

RENDERING = Rendering(
    date_format="%B %-d, %Y",
    datetime_format="%B %-d, %Y %-I:%M %p",
    time_zone=zoneinfo.ZoneInfo("America/Los_Angeles"),
)
LOYALTY = PropertyDefinition(
    name="loyalty_program",
    label="Loyalty Program",
    type="enumeration",
    field_type="select",
    options={"gold_member": "Gold", "silver_member": "Silver"},
)
INTERESTS = PropertyDefinition(
    name="interests",
    label="Interests",
    type="enumeration",
    field_type="checkbox",
    options={"hiking": "Hiking", "camp_cooking": "Camp cooking"},
)


def definition(kind: str, field_type: str = "", **options: str) -> PropertyDefinition:
    return PropertyDefinition("prop", "Prop", kind, field_type, options)


@pytest.mark.parametrize(
    ("raw", "prop", "expected"),
    [
        ("gold_member", LOYALTY, "Gold"),
        ("unknown_tier", LOYALTY, "unknown_tier"),
        ("hiking;camp_cooking", INTERESTS, "Hiking, Camp cooking"),
        ("true", definition("bool", "booleancheckbox"), "Yes"),
        ("false", definition("bool", "booleancheckbox"), "No"),
        (
            "true",
            definition("bool", "booleancheckbox", true="Subscribed"),
            "Subscribed",
        ),
        ("12.50", definition("number"), "12.5"),
        ("3.0", definition("number"), "3"),
        ("1000", definition("number"), "1000"),
        ("0.000", definition("number"), "0"),
        ("-4.10", definition("number"), "-4.1"),
        ("n/a", definition("number"), "n/a"),
        ("2026-11-05", definition("date"), "November 5, 2026"),
        ("1762300800000", definition("date"), "November 5, 2025"),
        (
            "2026-11-10T09:12:45.031Z",
            definition("datetime"),
            "November 10, 2026 1:12 AM",
        ),
        ("1794301965031", definition("datetime"), "November 10, 2026 1:12 AM"),
        ("not a date", definition("date"), "not a date"),
        ("  Harbor  ", definition("string"), "Harbor"),
        ("", LOYALTY, ""),
        ("   ", definition("number"), ""),
        (None, definition("string"), ""),
        ("raw value", None, "raw value"),
    ],
)
def test_render_value(
    raw: str | None, prop: PropertyDefinition | None, expected: str
) -> None:
    assert render_value(raw, prop, RENDERING) == expected


def test_date_format_setting_applies() -> None:
    rendering = Rendering(
        "%d/%m/%Y", "%Y-%m-%d %H:%M", zoneinfo.ZoneInfo("Europe/Berlin")
    )

    assert render_value("2026-11-05", definition("date"), rendering) == "05/11/2026"
    assert (
        render_value("2026-11-10T09:12:45.031Z", definition("datetime"), rendering)
        == "2026-11-10 10:12"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("america_slash_los_angeles", "America/Los_Angeles"),
        ("europe_slash_berlin", "Europe/Berlin"),
        (
            "america_slash_argentina_slash_buenos_aires",
            "America/Argentina/Buenos_Aires",
        ),
        ("mars_slash_olympus", None),
        ("", None),
        (None, None),
    ],
)
def test_iana_zone(value: str | None, expected: str | None) -> None:
    assert iana_zone(value) == expected


def test_record_leaves_out_empty_fields() -> None:
    contact = contact_payload(
        "86420173501",
        "2026-11-10T09:12:45.031Z",
        firstname="   ",
        phone="(415) 555-0123",
        loyalty_program=None,
    )

    record = contact_record(
        contact,
        {"Loyalty Program": "loyalty_program"},
        {"loyalty_program": LOYALTY},
        RENDERING,
        "US",
    )

    assert record.first_name is None
    assert record.fields == {FIELD_CONTACT_ID: "86420173501"}
    assert record.phone == "+14155550123"
    assert record.addresses == (ChannelAddress(AddressKind.PHONE, "+14155550123"),)


def test_record_mobile_first_and_both_phones() -> None:
    contact = contact_payload(
        "1",
        "2026-11-10T09:12:45.031Z",
        phone="415.555.0186",
        mobilephone="+1 415 555 0123",
        email="Avery@Example.com",
    )

    record = contact_record(contact, {}, {}, RENDERING, "US")

    assert record.phone == "+14155550123"
    assert record.email == "avery@example.com"
    assert [a.value for a in record.addresses] == [
        "+14155550123",
        "+14155550186",
        "avery@example.com",
    ]


def stored_contact(context: PluginContext, record: ContactRecord):  # noqa: ANN201
    return context.sync_contact(record)


def render_for(context: PluginContext, text: str, contact, event=None) -> str | None:  # noqa: ANN001
    hook = context.plugin_manager.hook.resolve_field
    result = render(
        parse_template("test", text),
        lambda name: hook(name=name, contact=contact, event=event, context=context),
    )
    return result.text


def shipped_event() -> OrderStatusEvent:
    return OrderStatusEvent(
        source="shopify",
        store="harbor-and-pine-test.myshopify.com",
        order_id="1001",
        order_name="#1001",
        status=OrderStatus.SHIPPED,
        occurred_at=datetime(2026, 11, 17, 14, 0, tzinfo=UTC),
        dedupe_key="1001:shipped:1",
        customer=ContactRecord(source="shopify"),
    )


def test_loyalty_program_renders_option_label(tmp_path: Path) -> None:
    address = ChannelAddress(AddressKind.PHONE, "+14155550123")
    with hubspot_instance(tmp_path) as instance:
        with hubspot_vcr().use_cassette("lookup_phone_hit.yaml"):
            record = instance.connector.lookup(address)
        assert record is not None
        contact = stored_contact(instance.context, record)

        text = render_for(
            instance.context,
            "Hi {{First Name | there}}, you are a {{Loyalty Program}} member.",
            contact,
        )

    assert text == "Hi Avery, you are a Gold tier member."


@pytest.mark.parametrize(
    ("firstname", "expected"),
    [
        ("Zoë", "Hi Zoë, your order #1001 has been shipped"),
        ("", "Hi there, your order #1001 has been shipped"),
        (None, "Hi there, your order #1001 has been shipped"),
        ("   ", "Hi there, your order #1001 has been shipped"),
    ],
    ids=["name", "empty", "absent", "blank"],
)
def test_first_name_fallback(
    tmp_path: Path, firstname: str | None, expected: str
) -> None:
    payload = contact_payload(
        "86420173501",
        "2026-11-10T09:12:45.031Z",
        firstname=firstname,
        phone="(415) 555-0123",
        loyalty_program="Gold",
    )
    with hubspot_instance(tmp_path) as instance:
        with hubspot_vcr().use_cassette("lookup_phone_hit.yaml"):
            fields = instance.connector.mapped_fields()
        record = instance.connector.to_record(payload, fields)
        contact = stored_contact(instance.context, record)

        text = render_for(
            instance.context,
            "Hi {{First Name | there}}, your order {{order number}} has been "
            "{{order status}}",
            contact,
            shipped_event(),
        )

    assert text == expected
    assert "{{" not in text
    assert "  " not in text


def test_missing_loyalty_program_blocks_without_fallback(tmp_path: Path) -> None:
    payload = contact_payload(
        "86420173501", "2026-11-10T09:12:45.031Z", phone="(415) 555-0123"
    )
    with hubspot_instance(tmp_path) as instance:
        with hubspot_vcr().use_cassette("lookup_phone_hit.yaml"):
            fields = instance.connector.mapped_fields()
        contact = stored_contact(
            instance.context, instance.connector.to_record(payload, fields)
        )

        blocked = render_for(instance.context, "Tier: {{Loyalty Program}}", contact)
        fallback = render_for(
            instance.context, "Tier: {{Loyalty Program | member}}", contact
        )

    assert blocked is None
    assert fallback == "Tier: member"
