"""The verification handshake and signed deliveries, from the fixtures' bytes."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest
from whatsapp_support import (
    APP_SECRET,
    BSUID,
    INBOUND_AT,
    VERIFY_TOKEN,
    WAMID_FAILED,
    WAMID_SENT,
    compact,
    get_request,
    load_fixture,
    load_json,
    make_settings,
    post_request,
    signed_post,
)

from parley import (
    AddressKind,
    ChannelAddress,
    DeliveryStatus,
    SignatureError,
    WebhookRejected,
)
from parley_whatsapp.channel import WhatsAppChannel


@pytest.fixture
def channel() -> WhatsAppChannel:
    return WhatsAppChannel(make_settings(), clock=lambda: INBOUND_AT)


def handshake(token: str = VERIFY_TOKEN, mode: str = "subscribe") -> dict[str, str]:
    return {
        "hub.mode": mode,
        "hub.verify_token": token,
        "hub.challenge": "1158201444",
    }


def inbound_payload() -> dict:
    return load_json("inbound_text")


def value_of(payload: dict) -> dict:
    return payload["entry"][0]["changes"][0]["value"]


# Verification handshake


def test_handshake_echoes_challenge(channel: WhatsAppChannel) -> None:
    batch = channel.handle_webhook(get_request(handshake()))

    assert batch.response.status == 200
    assert batch.response.body == "1158201444"
    assert batch.response.content_type.startswith("text/plain")
    assert batch.messages == ()
    assert batch.statuses == ()


def test_handshake_wrong_token_rejected(channel: WhatsAppChannel) -> None:
    with pytest.raises(WebhookRejected) as caught:
        channel.handle_webhook(get_request(handshake(token="guessed-token")))

    assert caught.value.status == 403
    assert "verify_token" in caught.value.reason
    assert VERIFY_TOKEN not in caught.value.reason


def test_handshake_wrong_mode_rejected(channel: WhatsAppChannel) -> None:
    with pytest.raises(WebhookRejected) as caught:
        channel.handle_webhook(get_request(handshake(mode="unsubscribe")))

    assert caught.value.status == 403


def test_handshake_without_token_rejected(channel: WhatsAppChannel) -> None:
    with pytest.raises(WebhookRejected) as caught:
        channel.handle_webhook(get_request({"hub.mode": "subscribe"}))

    assert caught.value.status == 403


def test_handshake_without_challenge_rejected(channel: WhatsAppChannel) -> None:
    query = handshake()
    del query["hub.challenge"]

    with pytest.raises(WebhookRejected) as caught:
        channel.handle_webhook(get_request(query))

    assert caught.value.status == 400


def test_other_path_not_found(channel: WhatsAppChannel) -> None:
    with pytest.raises(WebhookRejected) as caught:
        channel.handle_webhook(get_request(handshake(), path="/other"))

    assert caught.value.status == 404


# Signatures


@pytest.mark.parametrize(
    "name", ["inbound_text", "status_delivered", "status_read", "status_failed_131047"]
)
def test_fixture_signature_accepted(channel: WhatsAppChannel, name: str) -> None:
    body, headers = load_fixture(name)

    batch = channel.handle_webhook(post_request(body, headers))

    assert batch.response.status == 200
    assert len(batch.messages) + len(batch.statuses) == 1


def test_unsigned_request_rejected(channel: WhatsAppChannel) -> None:
    body, headers = load_fixture("inbound_text")
    del headers["X-Hub-Signature-256"]

    with pytest.raises(SignatureError) as caught:
        channel.handle_webhook(post_request(body, headers))

    assert caught.value.status == 403
    assert "missing X-Hub-Signature-256" in caught.value.reason


def test_flipped_byte_rejected(channel: WhatsAppChannel) -> None:
    body, headers = load_fixture("inbound_text")
    tampered = body.replace(b"#1042", b"#1043")

    with pytest.raises(SignatureError) as caught:
        channel.handle_webhook(post_request(tampered, headers))

    assert caught.value.status == 403
    assert APP_SECRET not in caught.value.reason


def test_trailing_newline_rejected(channel: WhatsAppChannel) -> None:
    body, headers = load_fixture("inbound_text")

    with pytest.raises(SignatureError):
        channel.handle_webhook(post_request(body + b"\n", headers))


def test_reencoded_body_rejected(channel: WhatsAppChannel) -> None:
    body, headers = load_fixture("inbound_text")
    reencoded = json.dumps(json.loads(body)).encode()

    with pytest.raises(SignatureError):
        channel.handle_webhook(post_request(reencoded, headers))


def test_wrong_secret_rejected(channel: WhatsAppChannel) -> None:
    body, _headers = load_fixture("inbound_text")

    with pytest.raises(SignatureError):
        channel.handle_webhook(signed_post(body, secret="another-app-secret-123"))


def test_signature_without_prefix_rejected(channel: WhatsAppChannel) -> None:
    body, headers = load_fixture("inbound_text")
    headers["X-Hub-Signature-256"] = headers["X-Hub-Signature-256"].removeprefix(
        "sha256="
    )

    with pytest.raises(SignatureError) as caught:
        channel.handle_webhook(post_request(body, headers))

    assert "'sha256='" in caught.value.reason


def test_uppercase_hex_accepted(channel: WhatsAppChannel) -> None:
    body, headers = load_fixture("inbound_text")
    digest = headers["X-Hub-Signature-256"].removeprefix("sha256=")
    headers["X-Hub-Signature-256"] = "sha256=" + digest.upper()

    batch = channel.handle_webhook(post_request(body, headers))

    assert len(batch.messages) == 1


def test_non_ascii_body_verified_over_raw_bytes(channel: WhatsAppChannel) -> None:
    payload = inbound_payload()
    value_of(payload)["messages"][0]["text"]["body"] = "¿Dónde está mi pedido? 📦"
    body = json.dumps(payload).encode()

    batch = channel.handle_webhook(signed_post(body))

    assert batch.messages[0].body == "¿Dónde está mi pedido? 📦"


# Inbound messages


def test_inbound_text_parsed(channel: WhatsAppChannel) -> None:
    body, headers = load_fixture("inbound_text")

    [message] = channel.handle_webhook(post_request(body, headers)).messages

    assert message.channel == "whatsapp"
    assert message.sender == ChannelAddress(AddressKind.PHONE, "+14155550123")
    assert message.recipient == "+14155550100"
    assert message.body == "Hi! Has order #1042 shipped yet?"
    assert message.provider_message_id == (
        "wamid.HBgLMTQxNTU1NTAxMjMVAgASGBQzQUY4QjdFNjJDMTA0QTlEMkU1RgA="
    )
    assert message.received_at == datetime(2026, 11, 17, 14, 2, 9, tzinfo=UTC)
    assert message.profile_name == "Avery Q."


def test_bsuid_only_sender(channel: WhatsAppChannel) -> None:
    payload = inbound_payload()
    value = value_of(payload)
    value["contacts"] = [
        {"profile": {"name": "Avery Q.", "username": "averyq"}, "user_id": BSUID}
    ]
    del value["messages"][0]["from"]

    [message] = channel.handle_webhook(signed_post(compact(payload))).messages

    assert message.sender == ChannelAddress(AddressKind.WHATSAPP_USER_ID, BSUID)
    assert message.profile_name == "Avery Q."


def test_phone_wins_over_bsuid(channel: WhatsAppChannel) -> None:
    payload = inbound_payload()
    value_of(payload)["contacts"][0]["user_id"] = BSUID

    [message] = channel.handle_webhook(signed_post(compact(payload))).messages

    assert message.sender == ChannelAddress(AddressKind.PHONE, "+14155550123")


def test_wa_id_used_when_from_missing(channel: WhatsAppChannel) -> None:
    payload = inbound_payload()
    del value_of(payload)["messages"][0]["from"]

    [message] = channel.handle_webhook(signed_post(compact(payload))).messages

    assert message.sender.value == "+14155550123"


def test_brazilian_wa_id_kept_as_reported(channel: WhatsAppChannel) -> None:
    payload = inbound_payload()
    value = value_of(payload)
    value["contacts"][0]["wa_id"] = "551185550101"
    value["messages"][0]["from"] = "551185550101"

    [message] = channel.handle_webhook(signed_post(compact(payload))).messages

    assert message.sender == ChannelAddress(AddressKind.PHONE, "+551185550101")


def test_sender_missing_rejected(channel: WhatsAppChannel) -> None:
    payload = inbound_payload()
    value = value_of(payload)
    del value["contacts"]
    del value["messages"][0]["from"]

    with pytest.raises(WebhookRejected) as caught:
        channel.handle_webhook(signed_post(compact(payload)))

    assert caught.value.status == 400
    assert "neither a sender phone number" in caught.value.reason


def message_with(part: dict) -> dict:
    payload = inbound_payload()
    message = value_of(payload)["messages"][0]
    del message["text"]
    message.update(part)
    return payload


@pytest.mark.parametrize(
    ("part", "expected"),
    [
        (
            {
                "type": "interactive",
                "interactive": {
                    "type": "button_reply",
                    "button_reply": {"id": "track", "title": "Track my order"},
                },
            },
            "Track my order",
        ),
        (
            {
                "type": "interactive",
                "interactive": {
                    "type": "list_reply",
                    "list_reply": {"id": "o-1042", "title": "Order #1042"},
                },
            },
            "Order #1042",
        ),
        (
            {"type": "button", "button": {"text": "Stop", "payload": "opt-out"}},
            "Stop",
        ),
        (
            {
                "type": "image",
                "image": {"id": "1481352", "mime_type": "image/jpeg", "caption": "Box"},
            },
            "Box\n[image attached; WhatsApp media id 1481352]",
        ),
        (
            {
                "type": "document",
                "document": {"id": "99", "filename": "receipt.pdf"},
            },
            "[document receipt.pdf attached; WhatsApp media id 99]",
        ),
        (
            {"type": "reaction", "reaction": {"message_id": WAMID_SENT, "emoji": "👍"}},
            "[reacted 👍 to an earlier message]",
        ),
        (
            {
                "type": "location",
                "location": {"latitude": 37.77, "longitude": -122.42, "name": "Shop"},
            },
            "[location shared: Shop (37.77, -122.42)]",
        ),
        (
            {"type": "unsupported", "errors": [{"code": 131051}]},
            "[a WhatsApp unsupported message, which parley cannot show]",
        ),
    ],
)
def test_non_text_messages_as_text(
    channel: WhatsAppChannel, part: dict, expected: str
) -> None:
    payload = message_with(part)

    [message] = channel.handle_webhook(signed_post(compact(payload))).messages

    assert message.body == expected


def test_system_message_skipped(channel: WhatsAppChannel) -> None:
    payload = message_with(
        {"type": "system", "system": {"body": "User changed number"}}
    )
    del value_of(payload)["contacts"]

    batch = channel.handle_webhook(signed_post(compact(payload)))

    assert batch.messages == ()


def test_removed_reaction_skipped(channel: WhatsAppChannel) -> None:
    payload = message_with({"type": "reaction", "reaction": {"message_id": WAMID_SENT}})

    batch = channel.handle_webhook(signed_post(compact(payload)))

    assert batch.messages == ()


def test_several_entries_and_changes_read(channel: WhatsAppChannel) -> None:
    payload = inbound_payload()
    second = copy.deepcopy(payload["entry"][0]["changes"][0])
    second["value"]["messages"][0]["id"] = "wamid.second"
    payload["entry"][0]["changes"].append(second)
    payload["entry"].append(copy.deepcopy(load_json("status_read")["entry"][0]))

    batch = channel.handle_webhook(signed_post(compact(payload)))

    assert [m.provider_message_id for m in batch.messages][1] == "wamid.second"
    assert len(batch.messages) == 2
    assert len(batch.statuses) == 1


def test_other_phone_number_ignored(
    channel: WhatsAppChannel, caplog: pytest.LogCaptureFixture
) -> None:
    payload = inbound_payload()
    value_of(payload)["metadata"]["phone_number_id"] = "555000111222333"

    batch = channel.handle_webhook(signed_post(compact(payload)))

    assert batch.messages == ()
    assert batch.response.status == 200
    assert "phone number id 555000111222333 skipped" in caplog.text


def test_other_field_ignored(channel: WhatsAppChannel) -> None:
    payload = inbound_payload()
    payload["entry"][0]["changes"][0]["field"] = "message_template_status_update"

    batch = channel.handle_webhook(signed_post(compact(payload)))

    assert batch.messages == ()


# Statuses


def test_delivered_status_parsed(channel: WhatsAppChannel) -> None:
    body, headers = load_fixture("status_delivered")

    [status] = channel.handle_webhook(post_request(body, headers)).statuses

    assert status.channel == "whatsapp"
    assert status.provider_message_id == WAMID_SENT
    assert status.status is DeliveryStatus.DELIVERED
    assert status.occurred_at == datetime.fromtimestamp(1794926551, UTC)
    assert status.error_code is None


def test_read_status_counts_as_delivered(channel: WhatsAppChannel) -> None:
    body, headers = load_fixture("status_read")

    [status] = channel.handle_webhook(post_request(body, headers)).statuses

    assert status.status is DeliveryStatus.DELIVERED


def test_reengagement_failure_parsed(channel: WhatsAppChannel) -> None:
    body, headers = load_fixture("status_failed_131047")

    [status] = channel.handle_webhook(post_request(body, headers)).statuses

    assert status.provider_message_id == WAMID_FAILED
    assert status.status is DeliveryStatus.FAILED
    assert status.error_code == "131047"
    assert status.error_message == (
        "Re-engagement message: Free-form message not sent: the customer's last "
        "reply is more than 24 hours old."
    )


def test_unknown_status_skipped(channel: WhatsAppChannel) -> None:
    payload = load_json("status_read")
    value_of(payload)["statuses"][0]["status"] = "deleted"

    batch = channel.handle_webhook(signed_post(compact(payload)))

    assert batch.statuses == ()


# Malformed deliveries


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"object": "whatsapp_business_account", "entry": [', "not valid JSON"),
        (b"[]", "must be a JSON object"),
        (b'{"object": "page", "entry": []}', "not a WhatsApp delivery"),
        (b'{"object": "whatsapp_business_account"}', "entry is not a list"),
        (
            b'{"object": "whatsapp_business_account", "entry": [{"changes": {}}]}',
            "entry[0].changes is not a list",
        ),
        (b"\xff\xfe", "not valid JSON"),
    ],
)
def test_malformed_body_rejected(
    channel: WhatsAppChannel, body: bytes, reason: str
) -> None:
    with pytest.raises(WebhookRejected) as caught:
        channel.handle_webhook(signed_post(body))

    assert caught.value.status == 400
    assert reason in caught.value.reason


def test_bad_timestamp_rejected(channel: WhatsAppChannel) -> None:
    payload = inbound_payload()
    value_of(payload)["messages"][0]["timestamp"] = "yesterday"

    with pytest.raises(WebhookRejected) as caught:
        channel.handle_webhook(signed_post(compact(payload)))

    assert "expected Unix seconds" in caught.value.reason


def test_message_without_id_rejected(channel: WhatsAppChannel) -> None:
    payload = inbound_payload()
    del value_of(payload)["messages"][0]["id"]

    with pytest.raises(WebhookRejected) as caught:
        channel.handle_webhook(signed_post(compact(payload)))

    assert "messages[].id is missing" in caught.value.reason


def test_put_not_allowed(channel: WhatsAppChannel) -> None:
    body, headers = load_fixture("inbound_text")
    request = post_request(body, headers)

    with pytest.raises(WebhookRejected) as caught:
        channel.handle_webhook(
            type(request)("PUT", request.url, "", request.headers, body)
        )

    assert caught.value.status == 405


def test_inbound_logs_no_body_or_number(
    channel: WhatsAppChannel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    body, headers = load_fixture("inbound_text")

    channel.handle_webhook(post_request(body, headers))

    assert "1 message(s)" in caplog.text
    assert "4155550123" not in caplog.text
    assert "#1042" not in caplog.text
