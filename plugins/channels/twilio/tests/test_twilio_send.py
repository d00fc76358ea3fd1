"""Sending through the Messages API: requests, channel rules and errors."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from twilio_support import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CUSTOMER,
    FIXTURES,
    SERVICE_SID,
    SHIPPED_TEXT,
    check_create_request,
    check_message_resource,
    closing_server,
    fake_twilio,
    form_pairs,
    load_json,
    settings,
    twilio_vcr,
)

from parley import (
    DeliveryError,
    DeliveryStatus,
    OutboundMessage,
    Purpose,
    SendBlocked,
)
from parley_twilio.channel import TwilioChannel
from parley_twilio.client import parse_retry_after
from parley_twilio.settings import TwilioSettings

NOW = datetime(2026, 11, 17, 14, 42, tzinfo=UTC)
ChannelFactory = Callable[..., TwilioChannel]


@pytest.fixture
def make_channel() -> ChannelFactory:
    channels: list[TwilioChannel] = []

    def build(**changes: Any) -> TwilioChannel:
        section = TwilioSettings.model_validate(settings(**changes))
        channel = TwilioChannel(
            section,
            webhook_url=section.webhook_url,
            default_region="US",
            clock=lambda: NOW,
        )
        channels.append(channel)
        return channel

    yield build
    for channel in channels:
        channel.close()


def outbound(body: str = SHIPPED_TEXT, to: str = CUSTOMER) -> OutboundMessage:
    return OutboundMessage(
        id=42,
        idempotency_key="parley-message-42",
        channel="twilio",
        to=to,
        body=body,
        conversation_id=7,
        kind="order_update",
        purpose=Purpose.INFORMATIONAL,
    )


def test_send_from_number(make_channel: ChannelFactory) -> None:
    with twilio_vcr().use_cassette("send_from_number.yaml") as cassette:
        result = make_channel().send(outbound())

    assert result.provider_message_id == "SM9484a870196769e6e8c5b381b880e8e0"
    assert result.status is DeliveryStatus.QUEUED
    [request] = cassette.requests
    fields = check_create_request(request.path, request.body)
    assert fields["From"] == "+14155550100"
    assert "MessagingServiceSid" not in fields
    assert fields["StatusCallback"] == "https://hooks.example.com/twilio/sms/status"
    assert fields["ValidityPeriod"] == 900


def test_send_through_messaging_service(make_channel: ChannelFactory) -> None:
    channel = make_channel(from_number=None, messaging_service_sid=SERVICE_SID)

    with twilio_vcr().use_cassette("send_messaging_service.yaml") as cassette:
        result = channel.send(outbound())

    assert result.provider_message_id == "SM3b7b9dd70d2f646de1127320ca906108"
    assert result.status is DeliveryStatus.QUEUED
    [request] = cassette.requests
    fields = check_create_request(request.path, request.body)
    assert fields["MessagingServiceSid"] == SERVICE_SID
    assert "From" not in fields


def test_request_matches_fixture_form() -> None:
    body = (FIXTURES / "message_create_request.form").read_bytes()
    fixture = form_pairs(body)
    section = TwilioSettings.model_validate(
        settings(
            from_number=None,
            messaging_service_sid=SERVICE_SID,
            validity_period_seconds="",
        )
    )
    channel = TwilioChannel(section, section.webhook_url, "US", lambda: NOW)

    params = channel._params(outbound())

    assert sorted(params.items()) == sorted(fixture)
    check_create_request(f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json", body)


def test_cassette_responses_match_schema() -> None:
    for name in (
        "message_create_response.json",
        "message_create_response_messaging_service.json",
    ):
        check_message_resource(load_json(name))


def test_send_authenticates_with_account(make_channel: ChannelFactory) -> None:
    with fake_twilio() as fake:
        make_channel(api_base_url=fake.url).send(outbound())

    [request] = fake.requests
    expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert request.authorization == f"Basic {expected}"
    assert fake.invalid == []


def test_send_authenticates_with_api_key(make_channel: ChannelFactory) -> None:
    key_sid = "SK" + "1" * 32
    with fake_twilio() as fake:
        channel = make_channel(
            api_base_url=fake.url, api_key_sid=key_sid, api_key_secret="key-secret-1"
        )
        channel.send(outbound())

    [request] = fake.requests
    expected = base64.b64encode(f"{key_sid}:key-secret-1".encode()).decode()
    assert request.authorization == f"Basic {expected}"
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


def test_send_without_public_url(make_channel: ChannelFactory) -> None:
    with fake_twilio() as fake:
        make_channel(api_base_url=fake.url, webhook_url=None).send(outbound())

    [request] = fake.requests
    assert "StatusCallback" not in request.fields
    assert fake.invalid == []


def test_send_logs_masked_recipient(
    make_channel: ChannelFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with twilio_vcr().use_cassette("send_from_number.yaml"):
        make_channel().send(outbound())
    text = "\n".join(
        record.getMessage()
        for record in caplog.records
        if record.name.startswith(("parley_twilio", "httpx"))
    )

    assert "message 42 to *********23: sending 178 characters" in text
    assert "accepted by Twilio as SM9484a870196769e6e8c5b381b880e8e0" in text
    assert "4155550123" not in text
    assert AUTH_TOKEN not in text
    assert "Hi Avery" not in text


# Twilio's errors


def failed_send(channel: TwilioChannel, cassette_name: str) -> DeliveryError:
    with twilio_vcr().use_cassette(cassette_name) as cassette:
        with pytest.raises(DeliveryError) as caught:
            channel.send(outbound())
    assert cassette.play_count == 1
    return caught.value


def test_21610_marks_recipient_opted_out(make_channel: ChannelFactory) -> None:
    error = failed_send(make_channel(), "error_21610.yaml")

    assert error.recipient_opted_out
    assert error.permanent
    assert error.code == "21610"
    assert "Attempt to send to unsubscribed recipient" in str(error)


@pytest.mark.parametrize(
    ("cassette", "code", "meaning"),
    [
        ("error_21211.yaml", "21211", "invalid 'To' phone number"),
        ("error_21614.yaml", "21614", "not a mobile number"),
    ],
)
def test_invalid_number_is_permanent(
    make_channel: ChannelFactory, cassette: str, code: str, meaning: str
) -> None:
    error = failed_send(make_channel(), cassette)

    assert error.permanent
    assert not error.recipient_opted_out
    assert error.code == code
    assert meaning in str(error)
    assert "not retried" in str(error)


def test_error_message_hides_number(make_channel: ChannelFactory) -> None:
    error = failed_send(make_channel(), "error_21211.yaml")

    assert "+1415555012" not in str(error)
    assert "Invalid 'To' Phone Number: ********12" in str(error)


def test_20429_is_retriable(make_channel: ChannelFactory) -> None:
    error = failed_send(make_channel(), "error_20429.yaml")

    assert not error.permanent
    assert error.code == "20429"
    assert error.retry_after is None


def test_429_honours_retry_after(make_channel: ChannelFactory) -> None:
    error = failed_send(make_channel(), "error_429_retry_after.yaml")

    assert not error.permanent
    assert error.retry_after == 7.0


def test_500_is_retriable(make_channel: ChannelFactory) -> None:
    error = failed_send(make_channel(), "error_500.yaml")

    assert not error.permanent
    assert error.code is None
    assert error.retry_after == 30.0
    assert "Twilio responded with HTTP 500" in str(error)


def test_queue_full_is_retriable(make_channel: ChannelFactory) -> None:
    error = failed_send(make_channel(), "error_21611.yaml")

    assert not error.permanent
    assert error.code == "21611"


def test_401_names_credential_settings(make_channel: ChannelFactory) -> None:
    error = failed_send(make_channel(), "error_401.yaml")

    assert error.permanent
    assert error.code == "20003"
    assert "account_sid" in str(error)
    assert "PARLEY_TWILIO__AUTH_TOKEN" in str(error)
    assert AUTH_TOKEN not in str(error)


def test_closed_connection_is_retriable(make_channel: ChannelFactory) -> None:
    with closing_server() as url:
        with pytest.raises(DeliveryError) as caught:
            make_channel(api_base_url=url).send(outbound())

    assert not caught.value.permanent
    assert "deliver it twice" in str(caught.value)


def test_created_without_sid_not_retried(make_channel: ChannelFactory) -> None:
    with fake_twilio() as fake:
        fake.replies.append((201, {"status": "queued"}, {}))
        with pytest.raises(DeliveryError) as caught:
            make_channel(api_base_url=fake.url).send(outbound())

    assert caught.value.permanent
    assert "but no message sid" in str(caught.value)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        ("1.5", 1.5),
        ("Tue, 17 Nov 2026 14:42:30 GMT", 30.0),
        ("Tue, 17 Nov 2026 14:41:00 GMT", 0.0),
        ("soon", None),
        ("-3", None),
        (None, None),
    ],
)
def test_retry_after_parsing(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


# Channel rules, checked before any request


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (outbound(to="4155550123"), "only to phone numbers in E.164"),
        (outbound(to="+1415"), "only to phone numbers in E.164"),
        (outbound(to="avery@example.com"), "only to phone numbers in E.164"),
        (outbound(body="x" * 1601), "the body is 1601 characters"),
        (outbound(body="   "), "the message body is empty"),
    ],
)
def test_rule_blocks_before_request(
    make_channel: ChannelFactory, message: OutboundMessage, reason: str
) -> None:
    channel = make_channel()

    with fake_twilio() as fake:
        channel = make_channel(api_base_url=fake.url)
        with pytest.raises(SendBlocked) as caught:
            channel.send(message)
        window = channel.window_rule(message, NOW)

    assert reason in caught.value.reason
    assert window is not None and reason in window
    assert fake.requests == []


def test_rule_allows_longest_body(make_channel: ChannelFactory) -> None:
    assert make_channel().window_rule(outbound(body="x" * 1600), NOW) is None


def test_sms_has_no_service_window(make_channel: ChannelFactory) -> None:
    channel = make_channel()

    assert channel.service_window is None
    assert channel.window_rule(outbound(), NOW) is None


# Throughput


@pytest.mark.parametrize(
    ("changes", "key", "rate"),
    [
        ({}, "twilio:+14155550100", 1.0),
        ({"sender_type": "toll_free"}, "twilio:+14155550100", 3.0),
        ({"sender_type": "short_code"}, "twilio:+14155550100", 100.0),
        ({"messages_per_second": 4.5}, "twilio:+14155550100", 4.5),
        (
            {"messaging_service_sid": SERVICE_SID, "messages_per_second": 12},
            f"twilio:{SERVICE_SID}",
            12.0,
        ),
    ],
)
def test_throughput_per_sender(
    make_channel: ChannelFactory, changes: dict[str, Any], key: str, rate: float
) -> None:
    throughput = make_channel(**changes).throughput(outbound(body="Hi"))

    assert throughput.key == key
    assert throughput.per_second == rate


def test_concurrency_from_settings(make_channel: ChannelFactory) -> None:
    assert make_channel().max_concurrent_requests == 10
    assert make_channel(max_concurrent_requests=3).max_concurrent_requests == 3
