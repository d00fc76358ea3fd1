"""Incoming messages and status callbacks: signatures, parsing and responses."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from twilio_support import (
    AUTH_TOKEN,
    CUSTOMER,
    FORM_TYPE,
    form_pairs,
    inbound_form,
    load_form,
    make_request,
    message_sid,
    settings,
    sign,
    signed_post,
)

from parley import (
    AddressKind,
    ChannelAddress,
    DeliveryStatus,
    InboundBatch,
    SignatureError,
    WebhookRejected,
    WebhookRequest,
)
from parley_twilio.channel import TwilioChannel
from parley_twilio.settings import TwilioSettings
from parley_twilio.signature import compute_signature, port_variants

NOW = datetime(2026, 11, 17, 14, 42, tzinfo=UTC)
ChannelFactory = Callable[..., TwilioChannel]


@pytest.fixture
def make_channel() -> ChannelFactory:
    def build(**changes: Any) -> TwilioChannel:
        section = TwilioSettings.model_validate(settings(**changes))
        return TwilioChannel(section, section.webhook_url, "US", lambda: NOW)

    return build


@pytest.fixture
def channel(make_channel: ChannelFactory) -> TwilioChannel:
    return make_channel()


def fixture_request(name: str, path: str) -> WebhookRequest:
    body, headers, _url = load_form(name)
    return make_request(body, headers, path=path)


# Signatures


def test_twilio_example_vector() -> None:
    params = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+12349013030"),
        ("Digits", "1234"),
        ("From", "+12349013030"),
        ("To", "+18005551212"),
    ]
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"

    assert compute_signature("12345", url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


@pytest.mark.parametrize(
    "name",
    [
        "inbound_sms",
        "inbound_sms_stop",
        "inbound_mms",
        "status_callback_sent",
        "status_callback_delivered",
        "status_callback_undelivered",
    ],
)
def test_fixture_signatures(name: str) -> None:
    body, headers, url = load_form(name)
    computed = compute_signature(AUTH_TOKEN, url, form_pairs(body))

    assert computed == headers["X-Twilio-Signature"]


def test_port_variants() -> None:
    assert port_variants("https://hooks.example.com:8443/sms") == [
        "https://hooks.example.com:8443/sms",
        "https://hooks.example.com/sms",
    ]
    assert port_variants("https://hooks.example.com/sms?a=1") == [
        "https://hooks.example.com/sms?a=1",
        "https://hooks.example.com:443/sms?a=1",
    ]
    assert port_variants("http://hooks.example.com/sms") == [
        "http://hooks.example.com/sms",
        "http://hooks.example.com:80/sms",
    ]


def test_missing_signature_is_403(channel: TwilioChannel) -> None:
    body, headers, _url = load_form("inbound_sms")
    del headers["X-Twilio-Signature"]

    with pytest.raises(SignatureError) as caught:
        channel.handle_webhook(make_request(body, headers))

    assert caught.value.status == 403
    assert "missing X-Twilio-Signature" in caught.value.reason


def test_body_changed_after_signing_is_403(channel: TwilioChannel) -> None:
    body, headers, _url = load_form("inbound_sms")
    changed = body.replace(b"Body=Hi%2C+any", b"Body=Hi%2C+my")
    assert changed != body

    with pytest.raises(SignatureError) as caught:
        channel.handle_webhook(make_request(changed, headers))

    assert caught.value.status == 403
    assert "invalid X-Twilio-Signature" in caught.value.reason
    assert AUTH_TOKEN not in caught.value.reason


def test_blank_field_dropped_is_403(channel: TwilioChannel) -> None:
    body, headers, _url = load_form("inbound_sms")
    dropped = body.replace(b"ToCity=&", b"")
    assert dropped != body

    with pytest.raises(SignatureError):
        channel.handle_webhook(make_request(dropped, headers))


def test_wrong_token_is_403(make_channel: ChannelFactory) -> None:
    channel = make_channel(auth_token="0" * 32)

    with pytest.raises(SignatureError):
        channel.handle_webhook(fixture_request("inbound_sms", "/inbound"))


def test_http_scheme_is_403(make_channel: ChannelFactory) -> None:
    channel = make_channel(webhook_url="http://hooks.example.com/twilio/sms")

    with pytest.raises(SignatureError):
        channel.handle_webhook(fixture_request("inbound_sms", "/inbound"))


def test_default_port_variant_accepted(channel: TwilioChannel) -> None:
    body, headers, _url = load_form("inbound_sms")
    with_port = "https://hooks.example.com:443/twilio/sms/inbound"
    headers["X-Twilio-Signature"] = sign(with_port, form_pairs(body))

    batch = channel.handle_webhook(make_request(body, headers))

    assert len(batch.messages) == 1


@pytest.mark.parametrize(
    "signed_url",
    [
        "https://hooks.example.com:8443/sms/inbound",
        "https://hooks.example.com/sms/inbound",
    ],
)
def test_non_default_port_both_forms(
    make_channel: ChannelFactory, signed_url: str
) -> None:
    channel = make_channel(webhook_url="https://hooks.example.com:8443/sms")
    pairs = inbound_form("Where is my order?", message_sid())
    body, headers = signed_post(pairs, signed_url)

    batch = channel.handle_webhook(make_request(body, headers))

    assert [m.body for m in batch.messages] == ["Where is my order?"]


def test_non_default_port_tampered_rejected(make_channel: ChannelFactory) -> None:
    channel = make_channel(webhook_url="https://hooks.example.com:8443/sms")
    pairs = inbound_form("Where is my order?", message_sid())
    body, headers = signed_post(pairs, "https://hooks.example.com:8443/sms/inbound")
    changed = body.replace(b"Where", b"When")

    with pytest.raises(SignatureError) as caught:
        channel.handle_webhook(make_request(changed, headers))

    assert caught.value.status == 403


def test_query_string_is_signed(make_channel: ChannelFactory) -> None:
    channel = make_channel()
    pairs = inbound_form("Hi", message_sid())
    body, headers = signed_post(
        pairs, "https://hooks.example.com/twilio/sms/inbound?store=harbor"
    )
    seen = "http://127.0.0.1:8080/webhooks/twilio/inbound?store=harbor"

    batch = channel.handle_webhook(make_request(body, headers, seen_url=seen))

    assert len(batch.messages) == 1
    with pytest.raises(SignatureError):
        channel.handle_webhook(make_request(body, headers))


def test_non_ascii_body_verified(channel: TwilioChannel) -> None:
    text = "¿Dónde está mi pedido? 📦"
    pairs = inbound_form(text, message_sid(), sender="+14155550128")
    body, headers = signed_post(pairs, "https://hooks.example.com/twilio/sms/inbound")

    [message] = channel.handle_webhook(make_request(body, headers)).messages

    assert message.body == text
    assert message.sender == ChannelAddress(AddressKind.PHONE, "+14155550128")


def test_trusted_proxy_headers_rebuild_url(make_channel: ChannelFactory) -> None:
    channel = make_channel(webhook_url=None, trusted_proxies=["10.0.0.0/8"])
    pairs = inbound_form("Hi", message_sid())
    body, headers = signed_post(pairs, "https://hooks.example.com/sms")
    headers["X-Forwarded-Proto"] = "https"
    headers["X-Forwarded-Host"] = "hooks.example.com"
    request = make_request(
        body,
        headers,
        path="",
        seen_url="http://127.0.0.1:8000/sms",
        client_host="10.1.2.3",
    )

    batch = channel.handle_webhook(request)

    assert len(batch.messages) == 1


def test_untrusted_forwarded_headers_ignored(
    make_channel: ChannelFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    channel = make_channel(webhook_url=None, trusted_proxies=["10.0.0.0/8"])
    pairs = inbound_form("Hi", message_sid())
    body, headers = signed_post(pairs, "https://hooks.example.com/sms")
    headers["X-Forwarded-Proto"] = "https"
    headers["X-Forwarded-Host"] = "hooks.example.com"
    request = make_request(
        body,
        headers,
        path="",
        seen_url="http://127.0.0.1:8000/sms",
        client_host="203.0.113.9",
    )

    with pytest.raises(SignatureError):
        channel.handle_webhook(request)

    assert "URL used for validation: http://127.0.0.1:8000/sms" in caplog.text
    assert CUSTOMER not in caplog.text


def test_public_url_from_server(make_channel: ChannelFactory) -> None:
    from parley_twilio.settings import public_webhook_url

    section = TwilioSettings.model_validate(settings(webhook_url=None))

    assert public_webhook_url(section, "https://hooks.example.com/") == (
        "https://hooks.example.com/webhooks/twilio"
    )
    assert public_webhook_url(section, None) is None


# Incoming messages


def test_inbound_sms_fixture(channel: TwilioChannel) -> None:
    batch = channel.handle_webhook(fixture_request("inbound_sms", "/inbound"))

    [message] = batch.messages
    assert message.channel == "twilio"
    assert message.sender == ChannelAddress(AddressKind.PHONE, "+14155550123")
    assert message.recipient == "+14155550100"
    assert message.body == "Hi, any update on order #1042? Thanks!"
    assert message.provider_message_id == "SM07556e348e546f321ce54f737a6cd308"
    assert message.received_at == NOW
    assert message.media_urls == ()
    assert message.opt_out_type is None
    assert batch.statuses == ()


def test_answer_is_empty_twiml(channel: TwilioChannel) -> None:
    batch = channel.handle_webhook(fixture_request("inbound_sms", "/inbound"))

    assert batch.response.status == 200
    assert batch.response.body == '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    assert batch.response.content_type.startswith("text/xml")


def test_inbound_mms_keeps_media(channel: TwilioChannel) -> None:
    [message] = channel.handle_webhook(
        fixture_request("inbound_mms", "/inbound")
    ).messages

    assert message.provider_message_id == "MMb3cd915d758008bd19d0f2428fbb354a"
    assert message.body == "Box arrived damaged"
    assert message.media_urls == (
        "https://api.twilio.com/2010-04-01/Accounts/AC4c122831efef10ac68b5223dccd6f614"
        "/Messages/MMb3cd915d758008bd19d0f2428fbb354a/Media/"
        "ME5e2b6f0c9d1a4e7b3c8f0a2d4b6e8c1a",
    )


def test_opt_out_type_recorded(channel: TwilioChannel) -> None:
    [message] = channel.handle_webhook(
        fixture_request("inbound_sms_stop", "/inbound")
    ).messages

    assert message.body == "Stop"
    assert message.opt_out_type == "STOP"


def test_inbound_at_channel_root(make_channel: ChannelFactory) -> None:
    channel = make_channel(webhook_url="https://hooks.example.com/twilio/sms/inbound")
    batch = channel.handle_webhook(fixture_request("inbound_sms", ""))

    assert len(batch.messages) == 1


def test_get_webhook_signs_url_only(channel: TwilioChannel) -> None:
    pairs = inbound_form("Hi there", message_sid())
    query = urlencode(pairs)
    url = f"https://hooks.example.com/twilio/sms/inbound?{query}"
    headers = {"X-Twilio-Signature": sign(url, [])}
    request = make_request(
        b"",
        headers,
        method="GET",
        seen_url=f"http://127.0.0.1:8080/webhooks/twilio/inbound?{query}",
    )

    [message] = channel.handle_webhook(request).messages

    assert message.body == "Hi there"


def rejected(channel: TwilioChannel, pairs: list[tuple[str, str]]) -> WebhookRejected:
    body, headers = signed_post(pairs, "https://hooks.example.com/twilio/sms/inbound")
    with pytest.raises(WebhookRejected) as caught:
        channel.handle_webhook(make_request(body, headers))
    assert not isinstance(caught.value, SignatureError)
    return caught.value


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"MessageSid": ""}, "field MessageSid is missing or empty"),
        ({"MessageSid": "not-a-sid"}, "field MessageSid is not a Message SID"),
        ({"From": "alerts"}, "field From is not a phone number"),
        ({"NumMedia": "2"}, "field MediaUrl0 is missing or empty"),
        ({"NumMedia": "eleven"}, "field NumMedia is not a whole number"),
        ({"NumMedia": "11"}, "field NumMedia is not a whole number"),
    ],
)
def test_invalid_fields_rejected(
    channel: TwilioChannel, change: dict[str, str], reason: str
) -> None:
    pairs = [
        (name, change.get(name, value))
        for name, value in inbound_form("Hi", message_sid())
    ]

    error = rejected(channel, pairs)

    assert error.status == 400
    assert reason in error.reason


def test_media_url_must_be_http(channel: TwilioChannel) -> None:
    pairs = inbound_form("Hi", message_sid(), NumMedia="1", MediaUrl0="ftp://x")
    pairs = [pair for pair in pairs if pair != ("NumMedia", "0")]

    error = rejected(channel, pairs)

    assert "field MediaUrl0 is not an http(s) URL" in error.reason


def test_repeated_field_rejected(channel: TwilioChannel) -> None:
    pairs = inbound_form("Hi", message_sid())
    pairs.append(("From", "+14155550147"))

    error = rejected(channel, pairs)

    assert "field From appears 2 times" in error.reason


def test_missing_sender_rejected(channel: TwilioChannel) -> None:
    pairs = [p for p in inbound_form("Hi", message_sid()) if p[0] != "From"]

    assert "field From is missing" in rejected(channel, pairs).reason


def sign_raw(body: bytes) -> dict[str, str]:
    return {"Content-Type": FORM_TYPE, "X-Twilio-Signature": "c2lnbmF0dXJl"}


@pytest.mark.parametrize(
    "body",
    [b"Body=Hi&From", b"Body=%FF", b"\xff\xfe=1"],
)
def test_malformed_form_is_400(channel: TwilioChannel, body: bytes) -> None:
    with pytest.raises(WebhookRejected) as caught:
        channel.handle_webhook(make_request(body, sign_raw(body)))

    assert caught.value.status == 400
    assert not isinstance(caught.value, SignatureError)


def test_json_body_is_415(channel: TwilioChannel) -> None:
    headers = {"Content-Type": "application/json", "X-Twilio-Signature": "c2ln"}

    with pytest.raises(WebhookRejected) as caught:
        channel.handle_webhook(make_request(b'{"Body": "Hi"}', headers))

    assert caught.value.status == 415


def test_unknown_path_is_404(channel: TwilioChannel) -> None:
    with pytest.raises(WebhookRejected) as caught:
        channel.handle_webhook(fixture_request("inbound_sms", "/voice"))

    assert caught.value.status == 404
    assert "/webhooks/twilio/inbound" in caught.value.reason


def test_rejection_reason_has_no_personal_data(channel: TwilioChannel) -> None:
    pairs = inbound_form("Hi", "bad-sid")

    error = rejected(channel, pairs)

    assert CUSTOMER not in error.reason
    assert "bad-sid" not in error.reason


# Status callbacks


def statuses(batch: InboundBatch) -> list[tuple[str, DeliveryStatus, str | None]]:
    return [(s.provider_message_id, s.status, s.error_code) for s in batch.statuses]


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("status_callback_sent", DeliveryStatus.SENT, None),
        ("status_callback_delivered", DeliveryStatus.DELIVERED, None),
        ("status_callback_undelivered", DeliveryStatus.UNDELIVERED, "30003"),
    ],
)
def test_status_callback_fixtures(
    channel: TwilioChannel, name: str, status: DeliveryStatus, code: str | None
) -> None:
    batch = channel.handle_webhook(fixture_request(name, "/status"))

    assert statuses(batch) == [("SM3b7b9dd70d2f646de1127320ca906108", status, code)]
    assert batch.messages == ()
    assert batch.statuses[0].occurred_at == NOW


def test_undelivered_30007_keeps_code(channel: TwilioChannel) -> None:
    pairs = [
        ("MessageSid", "SM3b7b9dd70d2f646de1127320ca906108"),
        ("MessageStatus", "undelivered"),
        ("SmsStatus", "undelivered"),
        ("ErrorCode", "30007"),
        ("To", CUSTOMER),
    ]
    body, headers = signed_post(pairs, "https://hooks.example.com/twilio/sms/status")

    [update] = channel.handle_webhook(
        make_request(body, headers, path="/status")
    ).statuses

    assert update.status is DeliveryStatus.UNDELIVERED
    assert update.error_code == "30007"
    assert update.error_message == "filtered by the carrier"


@pytest.mark.parametrize(
    ("twilio_status", "status"),
    [
        ("queued", DeliveryStatus.QUEUED),
        ("accepted", DeliveryStatus.QUEUED),
        ("sending", DeliveryStatus.SENDING),
        ("sent", DeliveryStatus.SENT),
        ("delivered", DeliveryStatus.DELIVERED),
        ("read", DeliveryStatus.DELIVERED),
        ("undelivered", DeliveryStatus.UNDELIVERED),
        ("failed", DeliveryStatus.FAILED),
    ],
)
def test_status_values_mapped(
    channel: TwilioChannel, twilio_status: str, status: DeliveryStatus
) -> None:
    pairs = [("MessageSid", message_sid()), ("MessageStatus", twilio_status)]
    body, headers = signed_post(pairs, "https://hooks.example.com/twilio/sms/status")

    [update] = channel.handle_webhook(
        make_request(body, headers, path="/status")
    ).statuses

    assert update.status is status


def test_unknown_status_acknowledged(channel: TwilioChannel) -> None:
    pairs = [("MessageSid", message_sid()), ("MessageStatus", "teleported")]
    body, headers = signed_post(pairs, "https://hooks.example.com/twilio/sms/status")

    batch = channel.handle_webhook(make_request(body, headers, path="/status"))

    assert batch.statuses == ()
    assert batch.messages == ()
    assert batch.response.status == 200


def test_error_code_must_be_number(channel: TwilioChannel) -> None:
    pairs = [
        ("MessageSid", message_sid()),
        ("MessageStatus", "failed"),
        ("ErrorCode", "abc"),
    ]
    body, headers = signed_post(pairs, "https://hooks.example.com/twilio/sms/status")

    with pytest.raises(WebhookRejected) as caught:
        channel.handle_webhook(make_request(body, headers, path="/status"))

    assert caught.value.status == 400
