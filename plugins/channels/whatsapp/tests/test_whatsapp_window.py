"""The 24-hour window: free-form text or template, and the gate's reasons."""

from __future__ import annotations

from datetime import timedelta

import pytest
from whatsapp_support import (
    INBOUND_AT,
    PHONE_NUMBER_ID,
    SHIPPED_FIELDS,
    make_settings,
    outbound,
)

from parley import Throughput
from parley_whatsapp.channel import WhatsAppChannel
from parley_whatsapp.window import TemplatePlan, TextPlan, plan_message, window_open

MARGIN = timedelta(seconds=30)


def channel(**changes: object) -> WhatsAppChannel:
    return WhatsAppChannel(make_settings(**changes), clock=lambda: INBOUND_AT)


@pytest.mark.parametrize(
    ("age", "is_open"),
    [
        (timedelta(0), True),
        (timedelta(hours=23, minutes=59), True),
        (timedelta(hours=23, minutes=59, seconds=29), True),
        (timedelta(hours=23, minutes=59, seconds=30), False),
        (timedelta(hours=24), False),
        (timedelta(days=3), False),
    ],
)
def test_window_open_by_age(age: timedelta, is_open: bool) -> None:
    assert window_open(INBOUND_AT, INBOUND_AT + age, MARGIN) is is_open


def test_window_closed_without_inbound() -> None:
    assert window_open(None, INBOUND_AT, MARGIN) is False


def test_zero_margin_open_until_24_hours() -> None:
    almost = INBOUND_AT + timedelta(hours=24) - timedelta(microseconds=1)

    assert window_open(INBOUND_AT, almost, timedelta(0)) is True
    assert (
        window_open(INBOUND_AT, INBOUND_AT + timedelta(hours=24), timedelta(0)) is False
    )


def test_plan_text_inside_window() -> None:
    message = outbound(last_inbound_at=INBOUND_AT)

    plan = plan_message(message, INBOUND_AT + timedelta(hours=2), make_settings())

    assert plan == TextPlan(message.body)


def test_plan_template_outside_window() -> None:
    settings = make_settings()
    message = outbound(last_inbound_at=INBOUND_AT)

    plan = plan_message(message, INBOUND_AT + timedelta(hours=25), settings)

    assert isinstance(plan, TemplatePlan)
    assert plan.template.name == "order_shipped_v2"
    assert plan.parameters == ("Avery", "#1042", "UPS")
    assert plan.url_button_value == "1Z999AA10123456784"


def test_plan_matches_field_names_loosely() -> None:
    fields = {"first  name": "Avery", "ORDER NUMBER": "#1042", "carrier": "UPS"}
    fields["Tracking Number"] = "1Z999AA10123456784"

    plan = plan_message(outbound(fields=fields), INBOUND_AT, make_settings())

    assert isinstance(plan, TemplatePlan)
    assert plan.parameters == ("Avery", "#1042", "UPS")


def test_parameter_whitespace_collapsed() -> None:
    fields = dict(SHIPPED_FIELDS, Carrier="UPS\n\tGround     Saver")

    plan = plan_message(outbound(fields=fields), INBOUND_AT, make_settings())

    assert isinstance(plan, TemplatePlan)
    assert plan.parameters[2] == "UPS Ground Saver"


def test_window_rule_none_inside_window() -> None:
    message = outbound(kind="agent_reply", last_inbound_at=INBOUND_AT, fields={})

    reason = channel().window_rule(message, INBOUND_AT + timedelta(hours=23))

    assert reason is None


def test_window_rule_none_with_template() -> None:
    reason = channel().window_rule(outbound(), INBOUND_AT)

    assert reason is None


def test_window_rule_names_missing_template() -> None:
    message = outbound(kind="agent_reply", last_inbound_at=INBOUND_AT, fields={})

    reason = channel().window_rule(message, INBOUND_AT + timedelta(hours=30))

    assert reason is not None
    assert "outside the 24-hour customer service window" in reason
    assert "last wrote 30.0 h ago" in reason
    assert "no template configured for agent_reply" in reason


def test_window_rule_names_never_written() -> None:
    message = outbound(kind="agent_reply", fields={})

    reason = channel().window_rule(message, INBOUND_AT)

    assert reason is not None
    assert "never written" in reason


def test_window_rule_names_empty_parameter() -> None:
    fields = dict(SHIPPED_FIELDS, **{"First Name": ""})

    reason = channel().window_rule(outbound(fields=fields), INBOUND_AT)

    assert reason is not None
    assert "{{1}} 'First Name'" in reason


def test_fields_for_template_kind() -> None:
    assert channel().fields_for("order_update") == (
        "First Name",
        "Order Number",
        "Carrier",
        "Tracking Number",
    )


def test_fields_for_kind_without_template() -> None:
    assert channel().fields_for("agent_reply") == ()


def test_throughput_per_phone_number() -> None:
    assert channel().throughput(outbound()) == Throughput(
        key=f"whatsapp:{PHONE_NUMBER_ID}", per_second=80.0
    )


def test_throughput_and_concurrency_configurable() -> None:
    configured = channel(messages_per_second=20, max_concurrent_requests=3)

    assert configured.throughput(outbound()).per_second == 20.0
    assert configured.max_concurrent_requests == 3


def test_channel_window_is_24_hours() -> None:
    assert channel().service_window == timedelta(hours=24)
