"""The four business-hours auto replies, through the inbound path with a set clock."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from parley.auto_replies import AutoReplyPlanner, reference_problems
from parley.config import load_config
from parley.errors import ConfigError
from parley.models import AGENT_REPLY_KIND, AddressKind, ChannelAddress, InboundMessage
from parley.pipeline import inbound_to_json
from parley.runtime import Runtime
from parley.starter import render_starter

from .conftest import FakeClock, drain

PHONE = "+14155550123"
NEW_YORK = ZoneInfo("America/New_York")

DURING = "We're here and will answer within 10 minutes."
PEAK = "It's busy right now, so expect about an hour's wait."
AFTER = "We're closed and will answer when we open."
URGENT = "We're closed. For urgent help call 555-0100."
WELCOME = "Hi there, thanks for texting Harbor & Pine. Reply STOP to opt out."

TEMPLATES = f"""
auto_during = "{DURING}"
auto_peak = "{PEAK}"
auto_after = "{AFTER}"
auto_urgent = "{URGENT}"
"""

# Weekdays 09:00-17:00 in New York, Thanksgiving (2026-11-26) closed, busy
# at lunch; 2026-11-16 is a Monday.
CALENDAR = """
[calendar]
time_zone = "America/New_York"
mon = ["09:00-17:00"]
tue = ["09:00-17:00"]
wed = ["09:00-17:00"]
thu = ["09:00-17:00"]
fri = ["09:00-17:00"]
holidays = ["4th thu nov"]

[[calendar.peak]]
hours = ["12:00-14:00"]
"""

ALL_REPLIES = """
[auto_replies]
during_hours = "auto_during"
peak = "auto_peak"
after_hours = "auto_after"
overnight_urgent = "auto_urgent"
overnight = "22:00-07:00"
urgent_keywords = ["leaking"]
"""


def at(clock: FakeClock, wall: str, zone: ZoneInfo = NEW_YORK) -> None:
    """Set the clock to a local wall-clock time such as '2026-11-16 10:00'."""
    clock.now = datetime.fromisoformat(wall).replace(tzinfo=zone)


def inbound(runtime: Runtime, body: str, message_id: str, sender: str = PHONE) -> None:
    message = InboundMessage(
        channel="sandbox",
        sender=ChannelAddress(AddressKind.PHONE, sender),
        body=body,
        provider_message_id=message_id,
        received_at=runtime.context.clock(),
    )
    runtime.store.add_event(
        "message_received",
        "sandbox",
        f"inbound:sandbox:{message_id}",
        inbound_to_json(message),
        runtime.context.clock(),
    )
    drain(runtime)


def hours_replies(runtime: Runtime, sender: str = PHONE) -> list[str]:
    """Return the business-hours auto replies sent to a sender, oldest first."""
    return [
        m.body
        for m in runtime.store.messages()
        if m.direction == "out"
        and m.kind == "auto_reply"
        and m.address == sender
        and m.body != WELCOME
    ]


@pytest.fixture
def runtime(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime(TEMPLATES + CALENDAR + ALL_REPLIES)


def test_holiday_night_urgent_once(runtime: Runtime, clock: FakeClock) -> None:
    at(clock, "2026-11-26 23:30")
    inbound(runtime, "URGENT: the box arrived crushed", "in-1")
    clock.advance(600)
    inbound(runtime, "Hello? Anyone?", "in-2")
    clock.advance(60)
    inbound(runtime, "urgent!!", "in-3")
    assert hours_replies(runtime) == [URGENT]


def test_urgent_reply_follows_welcome(runtime: Runtime, clock: FakeClock) -> None:
    at(clock, "2026-11-26 23:30")
    inbound(runtime, "URGENT: the box arrived crushed", "in-1")
    sent = [
        (m.kind, m.status, m.body)
        for m in sorted(runtime.store.messages(), key=lambda m: m.id)
        if m.direction == "out"
    ]
    assert sent == [
        ("auto_reply", "sent", WELCOME),
        ("auto_reply", "sent", URGENT),
    ]


def test_during_hours_once_per_open_period(runtime: Runtime, clock: FakeClock) -> None:
    at(clock, "2026-11-16 10:00")
    inbound(runtime, "Do you have this in blue?", "in-1")
    at(clock, "2026-11-16 10:30")
    inbound(runtime, "Size M please", "in-2")
    at(clock, "2026-11-16 16:59")
    inbound(runtime, "Still there?", "in-3")
    assert hours_replies(runtime) == [DURING]

    at(clock, "2026-11-17 10:00")
    inbound(runtime, "Back again", "in-4")
    assert hours_replies(runtime) == [DURING, DURING]


def test_peak_reply_once_per_peak(runtime: Runtime, clock: FakeClock) -> None:
    at(clock, "2026-11-16 12:30")
    inbound(runtime, "Where is my order?", "in-1")
    at(clock, "2026-11-16 13:30")
    inbound(runtime, "Any update?", "in-2")
    assert hours_replies(runtime) == [PEAK]

    at(clock, "2026-11-17 12:15")
    inbound(runtime, "Me again", "in-3")
    assert hours_replies(runtime) == [PEAK, PEAK]


def test_during_hours_not_repeated_after_peak(
    runtime: Runtime, clock: FakeClock
) -> None:
    at(clock, "2026-11-16 10:00")
    inbound(runtime, "Question about sizes", "in-1")
    at(clock, "2026-11-16 12:30")
    inbound(runtime, "Hello?", "in-2")
    at(clock, "2026-11-16 15:00")
    inbound(runtime, "Still waiting", "in-3")
    assert hours_replies(runtime) == [DURING, PEAK]


def test_after_hours_once_per_closed_period(runtime: Runtime, clock: FakeClock) -> None:
    at(clock, "2026-11-16 18:00")
    inbound(runtime, "Where is my order?", "in-1")
    at(clock, "2026-11-16 20:00")
    inbound(runtime, "Hello?", "in-2")
    at(clock, "2026-11-17 08:30")
    inbound(runtime, "Good morning", "in-3")
    assert hours_replies(runtime) == [AFTER]

    at(clock, "2026-11-17 18:30")
    inbound(runtime, "Any news?", "in-4")
    assert hours_replies(runtime) == [AFTER, AFTER]


def test_weekend_is_one_closed_period(runtime: Runtime, clock: FakeClock) -> None:
    at(clock, "2026-11-20 17:30")
    inbound(runtime, "Friday evening question", "in-1")
    at(clock, "2026-11-21 11:00")
    inbound(runtime, "Saturday", "in-2")
    at(clock, "2026-11-22 15:00")
    inbound(runtime, "Sunday", "in-3")
    assert hours_replies(runtime) == [AFTER]


def test_urgent_after_after_hours_reply(runtime: Runtime, clock: FakeClock) -> None:
    at(clock, "2026-11-16 22:30")
    inbound(runtime, "Where is my order?", "in-1")
    clock.advance(600)
    inbound(runtime, "The heater is leaking", "in-2")
    assert hours_replies(runtime) == [AFTER, URGENT]


def test_urgent_before_overnight_gets_after_hours(
    runtime: Runtime, clock: FakeClock
) -> None:
    at(clock, "2026-11-16 19:00")
    inbound(runtime, "urgent: wrong size", "in-1")
    assert hours_replies(runtime) == [AFTER]


def test_negated_urgent_gets_after_hours(runtime: Runtime, clock: FakeClock) -> None:
    at(clock, "2026-11-17 03:00")
    inbound(runtime, "Not urgent, just wondering about returns", "in-1")
    assert hours_replies(runtime) == [AFTER]


def test_urgent_while_open_gets_during(runtime: Runtime, clock: FakeClock) -> None:
    at(clock, "2026-11-16 10:00")
    inbound(runtime, "URGENT", "in-1")
    assert hours_replies(runtime) == [DURING]


@pytest.mark.parametrize(
    ("body", "reply_kind"),
    [
        ("STOP", "opt_out_confirmation"),
        ("Stop please", "opt_out_confirmation"),
        ("HELP", "help"),
    ],
)
def test_keyword_gets_no_auto_reply(
    runtime: Runtime, clock: FakeClock, body: str, reply_kind: str
) -> None:
    at(clock, "2026-11-16 23:00")
    inbound(runtime, body, "in-1")
    kinds = [m.kind for m in runtime.store.messages() if m.direction == "out"]
    assert kinds == [reply_kind]


def test_start_gets_no_auto_reply(runtime: Runtime, clock: FakeClock) -> None:
    at(clock, "2026-11-16 10:00")
    inbound(runtime, "STOP", "in-1")
    clock.advance(60)
    inbound(runtime, "START", "in-2")
    assert hours_replies(runtime) == []


def test_yes_without_signup_is_ordinary(runtime: Runtime, clock: FakeClock) -> None:
    at(clock, "2026-11-16 18:00")
    inbound(runtime, "Yes", "in-1")
    assert hours_replies(runtime) == [AFTER]


def test_each_conversation_gets_own_reply(runtime: Runtime, clock: FakeClock) -> None:
    at(clock, "2026-11-16 18:00")
    inbound(runtime, "Question", "in-1")
    inbound(runtime, "Question", "in-2", sender="+14155550124")
    assert hours_replies(runtime) == [AFTER]
    assert hours_replies(runtime, "+14155550124") == [AFTER]


def test_redelivered_message_answered_once(runtime: Runtime, clock: FakeClock) -> None:
    at(clock, "2026-11-16 18:00")
    inbound(runtime, "Question", "in-1")
    inbound(runtime, "Question", "in-1")
    assert hours_replies(runtime) == [AFTER]


def test_auto_reply_is_not_agent_reply(runtime: Runtime, clock: FakeClock) -> None:
    at(clock, "2026-11-16 18:00")
    inbound(runtime, "Question", "in-1")
    outbound = [m for m in runtime.store.messages() if m.direction == "out"]
    assert outbound
    assert all(m.kind == "auto_reply" for m in outbound)
    assert all(m.kind != AGENT_REPLY_KIND for m in outbound)
    assert all(m.purpose == "conversational" for m in outbound)


@pytest.mark.parametrize(
    ("moment", "replied"),
    [
        ("2026-11-16 21:59", True),  # Monday, before its shift
        ("2026-11-16 22:00", False),
        ("2026-11-17 02:15", False),
        ("2026-11-17 05:59", False),
        ("2026-11-17 06:00", True),
        ("2026-11-21 02:00", False),  # Saturday, inside Friday's shift
        ("2026-11-16 02:00", True),  # Monday, no Sunday shift
    ],
)
def test_night_shift_after_hours(
    make_runtime: Callable[..., Runtime],
    clock: FakeClock,
    moment: str,
    replied: bool,
) -> None:
    shifts = "\n".join(
        f'{day} = ["22:00-06:00"]' for day in ("mon", "tue", "wed", "thu", "fri")
    )
    runtime = make_runtime(
        TEMPLATES
        + f'\n[calendar]\ntime_zone = "America/Chicago"\n{shifts}\n'
        + '\n[auto_replies]\nafter_hours = "auto_after"\n'
    )
    at(clock, moment, ZoneInfo("America/Chicago"))
    inbound(runtime, "Is anyone there?", "in-1")
    assert hours_replies(runtime) == ([AFTER] if replied else [])


def test_missing_templates_fall_back(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    fallback = (
        '\n[auto_replies]\nduring_hours = "auto_during"\nafter_hours = "auto_after"\n'
    )
    runtime = make_runtime(TEMPLATES + CALENDAR + fallback)
    at(clock, "2026-11-16 23:00")
    inbound(runtime, "URGENT", "in-1")
    at(clock, "2026-11-17 12:30")
    inbound(runtime, "Busy?", "in-2")
    assert hours_replies(runtime) == [AFTER, DURING]


def test_fallback_during_keyed_to_open_period(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    fallback = '\n[auto_replies]\nduring_hours = "auto_during"\n'
    runtime = make_runtime(TEMPLATES + CALENDAR + fallback)
    at(clock, "2026-11-16 10:00")
    inbound(runtime, "Morning", "in-1")
    at(clock, "2026-11-16 12:30")
    inbound(runtime, "Lunch time", "in-2")
    at(clock, "2026-11-16 14:30")
    inbound(runtime, "Afternoon", "in-3")
    assert hours_replies(runtime) == [DURING]


def test_only_after_hours_configured(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    runtime = make_runtime(
        TEMPLATES + CALENDAR + '\n[auto_replies]\nafter_hours = "auto_after"\n'
    )
    at(clock, "2026-11-16 10:00")
    inbound(runtime, "Open?", "in-1")
    assert hours_replies(runtime) == []
    kinds = [m.kind for m in runtime.store.messages() if m.direction == "out"]
    assert kinds == ["auto_reply"]  # the welcome only


def test_undefined_template_sends_nothing(
    make_runtime: Callable[..., Runtime],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="parley")
    runtime = make_runtime(
        TEMPLATES + CALENDAR + '\n[auto_replies]\nafter_hours = "auto_missing"\n'
    )
    at(clock, "2026-11-16 18:00")
    inbound(runtime, "Hello", "in-1")
    at(clock, "2026-11-17 18:00")
    inbound(runtime, "Hello", "in-2")
    assert hours_replies(runtime) == []
    warnings = [r for r in caplog.records if "auto_missing" in r.getMessage()]
    assert len(warnings) == 1
    assert reference_problems(runtime.context.settings) == [
        "auto_replies.after_hours: template 'auto_missing' is not defined in "
        "[templates], so this reply is never sent; define it or remove the setting"
    ]


def test_config_check_reports_missing_template(
    make_runtime: Callable[..., Runtime],
) -> None:
    from parley.checks import check_config

    runtime = make_runtime(
        TEMPLATES + CALENDAR + '\n[auto_replies]\nafter_hours = "auto_missing"\n'
    )
    _issues, problems = check_config(runtime.loaded)

    errors = [p.message for p in problems if p.severity == "error"]
    assert any("auto_replies.after_hours: template 'auto_missing'" in m for m in errors)


def test_reference_problems_empty_when_defined(runtime: Runtime) -> None:
    assert reference_problems(runtime.context.settings) == []


def test_planner_lists_templates(runtime: Runtime) -> None:
    planner = AutoReplyPlanner(runtime.context.settings)
    assert planner.template_names() == [
        "auto_during",
        "auto_peak",
        "auto_after",
        "auto_urgent",
    ]


def test_auto_replies_need_opening_hours(write_config: Callable[..., str]) -> None:
    path = write_config(TEMPLATES + '\n[auto_replies]\nafter_hours = "auto_after"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert "auto_replies: after_hours set, but [calendar] has no opening hours" in str(
        caught.value
    )


def test_peak_reply_needs_peak_window(write_config: Callable[..., str]) -> None:
    path = write_config(
        TEMPLATES
        + '\n[calendar]\nmon = ["09:00-17:00"]\n\n[auto_replies]\npeak = "auto_peak"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert "auto_replies: peak is set, but [calendar] has no peak window" in str(
        caught.value
    )


def test_starter_example_loads(tmp_path: Path) -> None:
    setting = re.compile(r"^# (\[|[a-z_]+ = )")
    lines = []
    in_example = False
    for line in render_starter().splitlines():
        in_example = (in_example or line == "# [calendar]") and line != "[templates]"
        lines.append(line[2:] if in_example and setting.match(line) else line)
        if line == "[templates]":
            lines.extend(
                f'{name}_reply = "Thanks for your message."'
                for name in ("during_hours", "peak", "after_hours", "overnight_urgent")
            )
    path = tmp_path / "parley.toml"
    path.write_text("\n".join(lines), encoding="utf-8")

    settings = load_config(path, environ={}).settings
    assert settings.calendar.mon == ["09:00-12:00", "13:00-17:30"]
    assert len(settings.calendar.peak) == 1
    assert settings.auto_replies.configured() == [
        "during_hours",
        "peak",
        "after_hours",
        "overnight_urgent",
    ]
    assert settings.auto_replies.urgent_keywords == ["leaking", "wrong address"]
    assert reference_problems(settings) == []
