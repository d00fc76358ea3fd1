"""The window rules: messaging type, tags and blocks by time since the last message."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from messenger_support import INBOUND_AT, instagram_channel, messenger_channel, outbound

from parley import AGENT_REPLY_KIND, Purpose, SendBlocked
from parley_messenger.const import INSTAGRAM, MESSENGER
from parley_messenger.window import SendPlan, WindowPolicy

TAGS = {"order_update": "POST_PURCHASE_UPDATE", "order_cancelled": "ACCOUNT_UPDATE"}
MARGIN = timedelta(seconds=60)


def policy(
    tags: dict[str, str] | None = None, human_agent: bool = True
) -> WindowPolicy:
    return WindowPolicy(MESSENGER, tags or {}, human_agent, MARGIN)


def at(**delta: float) -> datetime:
    return INBOUND_AT + timedelta(**delta)


@pytest.mark.parametrize(
    ("kind", "now", "expected"),
    [
        ("reply", at(minutes=1), SendPlan("RESPONSE")),
        ("auto_reply", at(hours=23, minutes=58), SendPlan("RESPONSE")),
        (AGENT_REPLY_KIND, at(hours=3), SendPlan("RESPONSE")),
        ("order_update", at(hours=3), SendPlan("UPDATE")),
        ("opt_in_prompt", at(hours=3), SendPlan("UPDATE")),
        (AGENT_REPLY_KIND, at(hours=24), SendPlan("MESSAGE_TAG", "HUMAN_AGENT")),
        (AGENT_REPLY_KIND, at(days=3), SendPlan("MESSAGE_TAG", "HUMAN_AGENT")),
        (
            AGENT_REPLY_KIND,
            at(days=6, hours=23, minutes=58),
            SendPlan("MESSAGE_TAG", "HUMAN_AGENT"),
        ),
        ("order_update", at(days=2), SendPlan("MESSAGE_TAG", "POST_PURCHASE_UPDATE")),
        ("order_cancelled", at(days=30), SendPlan("MESSAGE_TAG", "ACCOUNT_UPDATE")),
    ],
)
def test_messenger_plans(kind: str, now: datetime, expected: SendPlan) -> None:
    message = outbound(kind, purpose=Purpose.INFORMATIONAL)

    assert policy(TAGS).plan(message, now) == expected


def test_clock_ahead_of_inbound_time_is_inside() -> None:
    message = outbound("reply")

    assert policy().plan(message, at(seconds=-30)) == SendPlan("RESPONSE")


def test_margin_closes_window_early() -> None:
    message = outbound("reply")

    assert policy().reason_blocked(message, at(hours=23, minutes=58)) is None
    reason = policy().reason_blocked(message, at(hours=23, minutes=59, seconds=30))
    assert reason is not None
    assert "outside Messenger's 24-hour messaging window" in reason


def test_agent_reply_after_seven_days_blocked() -> None:
    reason = policy().reason_blocked(outbound(AGENT_REPLY_KIND), at(days=8))

    assert reason is not None
    assert "7-day HUMAN_AGENT window" in reason
    assert "8.0 days ago" in reason


def test_agent_reply_without_human_agent_blocked() -> None:
    reason = policy(human_agent=False).reason_blocked(
        outbound(AGENT_REPLY_KIND), at(days=2)
    )

    assert reason is not None
    assert "human_agent_tag is off in [messenger]" in reason


def test_untagged_kind_outside_window_blocked() -> None:
    reason = policy(TAGS).reason_blocked(outbound("auto_reply"), at(hours=30))

    assert reason is not None
    assert "30.0 h ago" in reason
    assert "no message tag configured for auto_reply" in reason
    assert "[messenger] message_tags.auto_reply" in reason


def test_promotional_message_never_tagged() -> None:
    message = outbound("order_update", purpose=Purpose.PROMOTIONAL)

    reason = policy(TAGS).reason_blocked(message, at(days=2))

    assert reason is not None
    assert "may not carry promotional content" in reason


def test_promotional_inside_window_allowed() -> None:
    message = outbound("order_update", purpose=Purpose.PROMOTIONAL)

    assert policy(TAGS).plan(message, at(hours=1)) == SendPlan("UPDATE")


def test_customer_never_wrote_blocked() -> None:
    message = outbound("order_update", last_inbound_at=None)

    with pytest.raises(SendBlocked) as blocked:
        policy(TAGS).plan(message, at(hours=1))

    assert "never written to this Page" in blocked.value.reason


def test_instagram_agent_reply_day_three_tagged() -> None:
    instagram = WindowPolicy(INSTAGRAM, {}, True, MARGIN)
    message = outbound(AGENT_REPLY_KIND, channel="instagram")

    assert instagram.plan(message, at(days=3)) == SendPlan("MESSAGE_TAG", "HUMAN_AGENT")


def test_instagram_order_update_outside_window_blocked() -> None:
    instagram = WindowPolicy(INSTAGRAM, {}, True, MARGIN)
    message = outbound("order_update", channel="instagram")

    reason = instagram.reason_blocked(message, at(days=2))

    assert reason is not None
    assert "Instagram allows only a person's reply" in reason
    assert "not order_update" in reason


def test_channel_window_rule_uses_given_time() -> None:
    channel = messenger_channel()
    message = outbound("reply")

    assert channel.window_rule(message, at(hours=1)) is None
    assert channel.window_rule(message, at(hours=25)) is not None


def test_channel_settings_reach_policy() -> None:
    channel = messenger_channel(human_agent_tag=False, window_margin_seconds=0)
    message = outbound(AGENT_REPLY_KIND)

    assert channel.window_rule(message, at(hours=23, minutes=59, seconds=59)) is None
    reason = channel.window_rule(message, at(days=2))
    assert reason is not None
    assert "human_agent_tag is off" in reason


def test_instagram_channel_blocks_order_update() -> None:
    channel = instagram_channel()
    message = outbound("order_update", channel="instagram")

    assert channel.window_rule(message, at(days=2)) is not None
    assert channel.service_window == timedelta(hours=24)
