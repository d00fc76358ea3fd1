"""Write-back: messages logged as communications, consent written to properties."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hubspot_support import AVERY_ID, base_settings, hubspot_instance, hubspot_vcr

from parley import (
    AddressKind,
    ChannelAddress,
    ConsentAction,
    ConsentRecord,
    ConsentSource,
    InboundMessage,
    OutboundMessage,
    PluginContext,
    Purpose,
)
from parley.testing import make_contact

AVERY = make_contact(
    first_name="Avery",
    phone="+14155550123",
    fields={"HubSpot Contact ID": AVERY_ID, "Loyalty Program": "Gold tier"},
    addresses=(ChannelAddress(AddressKind.PHONE, "+14155550123"),),
)
LOG_SETTINGS = base_settings(log_messages=True)
CONSENT_SETTINGS = base_settings(
    write_consent=True, consent_properties={"informational": "sms_order_updates"}
)


def outbound(message_id: int = 41, channel: str = "twilio") -> OutboundMessage:
    return OutboundMessage(
        id=message_id,
        idempotency_key=f"msg-{message_id}",
        channel=channel,
        to="+14155550123",
        body="Hi Avery, order #1042 <shipped> & is on its way.",
        conversation_id=7,
        kind="order_update",
        purpose=Purpose.INFORMATIONAL,
    )


def inbound() -> InboundMessage:
    return InboundMessage(
        channel="twilio",
        sender=ChannelAddress(AddressKind.PHONE, "+14155550123"),
        body="Where is my order?\nThanks",
        provider_message_id="SM0123456789abcdef0123456789abcdef",
        received_at=datetime(2026, 11, 17, 14, 2, tzinfo=UTC),
    )


def opt_out(
    minute: int = 3, action: ConsentAction = ConsentAction.OPT_OUT
) -> ConsentRecord:
    return ConsentRecord(
        address=ChannelAddress(AddressKind.PHONE, "+14155550123"),
        purpose=Purpose.INFORMATIONAL,
        action=action,
        source=ConsentSource.KEYWORD,
        occurred_at=datetime(2026, 11, 17, 14, minute, tzinfo=UTC),
        evidence="STOP",
        actor="twilio",
    )


def sent(context: PluginContext, message: OutboundMessage, contact=AVERY) -> None:  # noqa: ANN001
    context.plugin_manager.hook.message_sent(
        message=message, provider_message_id="SMabc", contact=contact, context=context
    )


def test_sent_message_logged_once(tmp_path: Path) -> None:
    with hubspot_instance(tmp_path, LOG_SETTINGS) as instance:
        requests: list[dict] = []
        replayer = hubspot_vcr(sent=requests)
        with replayer.use_cassette("writeback_communication.yaml") as cassette:
            sent(instance.context, outbound())
            sent(instance.context, outbound())

    assert cassette.play_count == 1
    properties = requests[-1]["properties"]
    assert properties["hs_communication_channel_type"] == "SMS"
    assert properties["hs_communication_logged_from"] == "CRM"
    assert "order update" in properties["hs_communication_body"]
    assert "&lt;shipped&gt; &amp;" in properties["hs_communication_body"]
    assert properties["hs_timestamp"] == "2026-11-17T14:05:42+00:00"


def test_received_message_logged_once(tmp_path: Path) -> None:
    with hubspot_instance(tmp_path, LOG_SETTINGS) as instance:
        requests: list[dict] = []
        replayer = hubspot_vcr(sent=requests)
        with replayer.use_cassette("writeback_communication.yaml") as cassette:
            for _ in range(2):
                instance.context.plugin_manager.hook.message_received(
                    message=inbound(),
                    contact=AVERY,
                    conversation_id=7,
                    context=instance.context,
                )
        request = requests[-1]

    assert cassette.play_count == 1
    body = request["properties"]["hs_communication_body"]
    assert "Received from the customer" in body
    assert "Where is my order?<br>Thanks" in body
    assert request["properties"]["hs_timestamp"] == "2026-11-17T14:02:00+00:00"


def test_contact_without_id_found_by_search(tmp_path: Path) -> None:
    contact = make_contact(phone="+14155550123")
    with hubspot_instance(tmp_path, LOG_SETTINGS) as instance:
        with hubspot_vcr().use_cassette("writeback_communication_lookup.yaml") as cas:
            sent(instance.context, outbound(), contact)

    assert cas.all_played


def test_logging_off_makes_no_call(tmp_path: Path) -> None:
    with hubspot_instance(tmp_path, base_settings()) as instance:
        with hubspot_vcr().use_cassette("writeback_communication.yaml") as cassette:
            sent(instance.context, outbound())

    assert cassette.play_count == 0


def test_unmapped_channel_not_logged(tmp_path: Path) -> None:
    with hubspot_instance(tmp_path, LOG_SETTINGS) as instance:
        with hubspot_vcr().use_cassette("writeback_communication.yaml") as cassette:
            sent(instance.context, outbound(channel="sandbox"))

    assert cassette.play_count == 0


def consent(context: PluginContext, record: ConsentRecord) -> None:
    context.plugin_manager.hook.consent_changed(
        record=record, contact=AVERY, context=context
    )


def test_opt_out_written_once(tmp_path: Path) -> None:
    with hubspot_instance(tmp_path, CONSENT_SETTINGS) as instance:
        with hubspot_vcr().use_cassette("writeback_consent.yaml") as cassette:
            consent(instance.context, opt_out())
            consent(instance.context, opt_out())

    assert cassette.play_count == 1
    assert cassette.all_played


def test_older_consent_not_written(tmp_path: Path) -> None:
    earlier_opt_in = opt_out(minute=1, action=ConsentAction.OPT_IN)
    with hubspot_instance(tmp_path, CONSENT_SETTINGS) as instance:
        with hubspot_vcr().use_cassette("writeback_consent.yaml") as cassette:
            consent(instance.context, opt_out())
            consent(instance.context, earlier_opt_in)

    assert cassette.play_count == 1


def test_unmapped_purpose_not_written(tmp_path: Path) -> None:
    record = ConsentRecord(
        address=ChannelAddress(AddressKind.PHONE, "+14155550123"),
        purpose=Purpose.PROMOTIONAL,
        action=ConsentAction.OPT_OUT,
        source=ConsentSource.KEYWORD,
        occurred_at=datetime(2026, 11, 17, 14, 3, tzinfo=UTC),
        evidence="STOP",
        actor="twilio",
    )
    with hubspot_instance(tmp_path, CONSENT_SETTINGS) as instance:
        with hubspot_vcr().use_cassette("writeback_consent.yaml") as cassette:
            consent(instance.context, record)

    assert cassette.play_count == 0
