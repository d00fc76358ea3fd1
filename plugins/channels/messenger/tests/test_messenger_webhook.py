"""Webhooks: the verification handshake, signatures and event parsing."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from messenger_support import (
    APP_SECRET,
    IG_ACCOUNT_ID,
    IGSID,
    INBOUND_AT,
    PAGE_ID,
    PSID,
    SENT_MID,
    VERIFY_TOKEN,
    compact,
    instagram_channel,
    load_fixture,
    make_request,
    messenger_channel,
    sign,
    signed_request,
)

from parley import (
    AddressKind,
    ChannelAddress,
    DeliveryStatus,
    SignatureError,
    WebhookRejected,
)

HANDSHAKE = {
    "hub.mode": "subscribe",
    "hub.verify_token": VERIFY_TOKEN,
    "hub.challenge": "1158201444",
}


def page_body(*events: dict[str, Any], page_id: str = PAGE_ID) -> bytes:
    entry = {"id": page_id, "time": 1794924131050, "messaging": list(events)}
    return compact({"object": "page", "entry": [entry]})


def event(**parts: Any) -> dict[str, Any]:
    return {
        "sender": {"id": PSID},
        "recipient": {"id": PAGE_ID},
        "timestamp": 1794924129871,
        **parts,
    }


# Verification handshake


def test_handshake_echoes_challenge() -> None:
    batch = messenger_channel().handle_webhook(
        make_request(method="GET", query=HANDSHAKE)
    )

    assert batch.response.status == 200
    assert batch.response.body == "1158201444"
    assert batch.response.content_type.startswith("text/plain")
    assert batch.messages == ()


def test_handshake_wrong_token_forbidden() -> None:
    query = {**HANDSHAKE, "hub.verify_token": "not-the-token"}

    with pytest.raises(SignatureError) as rejected:
        messenger_channel().handle_webhook(make_request(method="GET", query=query))

    assert rejected.value.status == 403
    assert "[messenger] verify_token" in rejected.value.reason
    assert VERIFY_TOKEN not in rejected.value.reason


@pytest.mark.parametrize("mode", [None, "unsubscribe"])
def test_handshake_wrong_mode_forbidden(mode: str | None) -> None:
    query = {key: value for key, value in HANDSHAKE.items() if key != "hub.mode"}
    if mode is not None:
        query["hub.mode"] = mode

    with pytest.raises(SignatureError) as rejected:
        messenger_channel().handle_webhook(make_request(method="GET", query=query))

    assert rejected.value.status == 403


@pytest.mark.parametrize("challenge", [None, "", "<script>", "x" * 257])
def test_handshake_bad_challenge_rejected(challenge: str | None) -> None:
    query = {key: value for key, value in HANDSHAKE.items() if key != "hub.challenge"}
    if challenge is not None:
        query["hub.challenge"] = challenge

    with pytest.raises(WebhookRejected) as rejected:
        messenger_channel().handle_webhook(make_request(method="GET", query=query))

    assert rejected.value.status == 400


def test_other_method_rejected() -> None:
    with pytest.raises(WebhookRejected) as rejected:
        messenger_channel().handle_webhook(make_request(b"{}", method="PUT"))

    assert rejected.value.status == 405


def test_sub_path_not_served() -> None:
    body, headers = load_fixture("inbound_text")

    with pytest.raises(WebhookRejected) as rejected:
        messenger_channel().handle_webhook(make_request(body, headers, path="/extra"))

    assert rejected.value.status == 404


# Signatures


@pytest.mark.parametrize("name", ["inbound_text", "delivery"])
def test_fixture_signatures_accepted(name: str) -> None:
    body, headers = load_fixture(name)

    batch = messenger_channel().handle_webhook(make_request(body, headers))

    assert batch.response.status == 200


def test_flipped_byte_rejected() -> None:
    body, headers = load_fixture("inbound_text")
    changed = body.replace(b"#1042", b"#1043")

    with pytest.raises(SignatureError) as rejected:
        messenger_channel().handle_webhook(make_request(changed, headers))

    assert rejected.value.status == 403


def test_trailing_newline_rejected() -> None:
    body, headers = load_fixture("inbound_text")

    with pytest.raises(SignatureError):
        messenger_channel().handle_webhook(make_request(body + b"\n", headers))


def test_reencoded_json_rejected() -> None:
    body, headers = load_fixture("inbound_text")
    reencoded = json.dumps(json.loads(body)).encode()

    with pytest.raises(SignatureError):
        messenger_channel().handle_webhook(make_request(reencoded, headers))


def test_wrong_secret_rejected() -> None:
    body, _headers = load_fixture("inbound_text")
    headers = {"X-Hub-Signature-256": sign(body, "f" * 32)}

    with pytest.raises(SignatureError) as rejected:
        messenger_channel().handle_webhook(make_request(body, headers))

    assert APP_SECRET not in rejected.value.reason


def test_missing_signature_forbidden() -> None:
    body, _headers = load_fixture("inbound_text")

    with pytest.raises(SignatureError) as rejected:
        messenger_channel().handle_webhook(make_request(body, {}))

    assert rejected.value.status == 403
    assert "missing X-Hub-Signature-256" in rejected.value.reason


def test_signature_without_prefix_forbidden() -> None:
    body, _headers = load_fixture("inbound_text")
    bare = sign(body).removeprefix("sha256=")

    with pytest.raises(SignatureError) as rejected:
        messenger_channel().handle_webhook(
            make_request(body, {"X-Hub-Signature-256": bare})
        )

    assert "must start with sha256=" in rejected.value.reason


def test_upper_case_hex_accepted() -> None:
    body, _headers = load_fixture("inbound_text")
    upper = "sha256=" + sign(body).removeprefix("sha256=").upper()

    batch = messenger_channel().handle_webhook(
        make_request(body, {"X-Hub-Signature-256": upper})
    )

    assert len(batch.messages) == 1


# Parsing


def test_inbound_text_fixture() -> None:
    body, headers = load_fixture("inbound_text")

    batch = messenger_channel().handle_webhook(make_request(body, headers))

    [message] = batch.messages
    assert message.channel == "messenger"
    assert message.sender == ChannelAddress(AddressKind.PAGE_SCOPED_ID, PSID)
    assert message.recipient == PAGE_ID
    assert message.body == "Where is my order #1042?"
    assert message.provider_message_id.startswith("m_Xv3kQ0cYp8rJ2nW5tL7bZ1aD4fG6")
    assert message.received_at == INBOUND_AT
    assert message.media_urls == ()
    assert batch.statuses == ()
    assert batch.response.body == {"status": "accepted", "messages": 1, "statuses": 0}


def test_delivery_fixture_marks_delivered() -> None:
    body, headers = load_fixture("delivery")

    batch = messenger_channel().handle_webhook(make_request(body, headers))

    [status] = batch.statuses
    assert status.channel == "messenger"
    assert status.provider_message_id == SENT_MID
    assert status.status is DeliveryStatus.DELIVERED
    assert status.occurred_at == datetime(2026, 11, 17, 14, 42, 32, tzinfo=UTC)
    assert batch.messages == ()


def test_instagram_fixture() -> None:
    body, headers = load_fixture("instagram_inbound_text")

    batch = instagram_channel().handle_webhook(
        make_request(body, headers, channel="instagram")
    )

    [message] = batch.messages
    assert message.channel == "instagram"
    assert message.sender == ChannelAddress(AddressKind.PAGE_SCOPED_ID, IGSID)
    assert message.recipient == IG_ACCOUNT_ID
    assert message.body == "Hi, did my beanie order get cancelled?"


def test_instagram_body_rejected_on_messenger() -> None:
    body, headers = load_fixture("instagram_inbound_text")

    with pytest.raises(WebhookRejected) as rejected:
        messenger_channel().handle_webhook(make_request(body, headers))

    assert rejected.value.status == 400
    assert "'object' is 'instagram', expected 'page'" in rejected.value.reason


def test_echo_ignored() -> None:
    echo = event(message={"mid": "m_echo1", "is_echo": True, "text": "Thanks!"})

    batch = messenger_channel().handle_webhook(signed_request(page_body(echo)))

    assert batch.messages == ()


def test_attachments_become_media_urls() -> None:
    image = "https://scontent.example.com/v/t1.15752-9/photo.jpg"
    attachments = [
        {"type": "image", "payload": {"url": image}},
        {"type": "fallback", "payload": None},
    ]
    photo = event(message={"mid": "m_photo1", "attachments": attachments})

    batch = messenger_channel().handle_webhook(signed_request(page_body(photo)))

    [message] = batch.messages
    assert message.body == ""
    assert message.media_urls == (image,)


def test_message_without_content_ignored(caplog: pytest.LogCaptureFixture) -> None:
    empty = event(message={"mid": "m_empty1"})
    caplog.set_level(logging.INFO)

    batch = messenger_channel().handle_webhook(signed_request(page_body(empty)))

    assert batch.messages == ()
    assert "m_empty1 has no text and no attachment URL" in caplog.text


def test_postback_becomes_message() -> None:
    tap = event(postback={"mid": "m_tap1", "title": "Get Started", "payload": "START"})

    batch = messenger_channel().handle_webhook(signed_request(page_body(tap)))

    [message] = batch.messages
    assert message.body == "Get Started"
    assert message.provider_message_id == "m_tap1"


def test_batched_events_all_read() -> None:
    first = event(message={"mid": "m_a", "text": "one"})
    second = event(message={"mid": "m_b", "text": "two"})
    delivered = event(
        delivery={"mids": ["m_out1", "m_out2"], "watermark": 1794924129000}
    )

    batch = messenger_channel().handle_webhook(
        signed_request(page_body(first, second, delivered))
    )

    assert [m.provider_message_id for m in batch.messages] == ["m_a", "m_b"]
    assert [s.provider_message_id for s in batch.statuses] == ["m_out1", "m_out2"]


def test_delivery_without_mids_ignored() -> None:
    watermark = event(delivery={"watermark": 1794924129000})

    batch = messenger_channel().handle_webhook(signed_request(page_body(watermark)))

    assert batch.statuses == ()


def test_messenger_read_watermark_ignored() -> None:
    read = event(read={"watermark": 1794924129000})

    batch = messenger_channel().handle_webhook(signed_request(page_body(read)))

    assert batch.statuses == ()


def test_instagram_read_with_mid_marks_delivered() -> None:
    seen = {
        "sender": {"id": IGSID},
        "recipient": {"id": IG_ACCOUNT_ID},
        "timestamp": 1794924200000,
        "read": {"mid": "aWdfZAG1faXRlbTox-sent"},
    }
    body = compact(
        {"object": "instagram", "entry": [{"id": IG_ACCOUNT_ID, "messaging": [seen]}]}
    )

    batch = instagram_channel().handle_webhook(signed_request(body, "instagram"))

    [status] = batch.statuses
    assert status.provider_message_id == "aWdfZAG1faXRlbTox-sent"
    assert status.status is DeliveryStatus.DELIVERED


def test_other_page_ignored_with_log(caplog: pytest.LogCaptureFixture) -> None:
    stranger = event(message={"mid": "m_other", "text": "hello"})
    body = page_body(stranger, page_id="998877665544332")
    channel = messenger_channel()
    caplog.set_level(logging.DEBUG)

    first = channel.handle_webhook(signed_request(body))
    second = channel.handle_webhook(signed_request(body))

    assert first.messages == ()
    assert second.messages == ()
    records = [r for r in caplog.records if "998877665544332" in r.getMessage()]
    assert [r.levelno for r in records] == [logging.WARNING, logging.DEBUG]
    assert "[messenger] page_id is 112233445566778" in records[0].getMessage()


def test_unknown_event_ignored() -> None:
    reaction = event(reaction={"mid": "m_a", "action": "react", "emoji": "👍"})

    batch = messenger_channel().handle_webhook(signed_request(page_body(reaction)))

    assert batch.messages == ()
    assert batch.statuses == ()


def test_entry_without_messaging_ignored() -> None:
    body = compact(
        {"object": "page", "entry": [{"id": PAGE_ID, "time": 1, "standby": []}]}
    )

    batch = messenger_channel().handle_webhook(signed_request(body))

    assert batch.messages == ()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"object": "page", "entry": [', "not valid JSON"),
        (b'{"object": "\xff"}', "not UTF-8"),
        (b"[]", "the body must be a JSON object"),
        (compact({"object": "page"}), "entry must be a JSON array"),
        (compact({"object": "page", "entry": ["x"]}), "entry[0] must be a JSON object"),
        (
            compact({"object": "page", "entry": [{"messaging": []}]}),
            "entry[0].id is missing",
        ),
        (
            page_body({"message": {"mid": "m_1", "text": "hi"}, "timestamp": 1}),
            "entry[0].messaging[0].sender must be a JSON object",
        ),
        (
            page_body(event(message={"text": "hi"})),
            "entry[0].messaging[0].message.mid is missing",
        ),
        (
            page_body(event(message={"mid": "m_1", "text": "hi"}, timestamp="soon")),
            "entry[0].messaging[0].timestamp must be epoch milliseconds",
        ),
        (
            page_body(event(message={"mid": "m_1", "attachments": {"url": "x"}})),
            "message.attachments must be a JSON array",
        ),
        (
            page_body(event(delivery={"mids": "m_1", "watermark": 1})),
            "delivery.mids must be a JSON array",
        ),
    ],
)
def test_malformed_body_rejected(body: bytes, reason: str) -> None:
    with pytest.raises(WebhookRejected) as rejected:
        messenger_channel().handle_webhook(signed_request(body))

    assert rejected.value.status == 400
    assert reason in rejected.value.reason
    assert PSID not in rejected.value.reason
