"""KPIs from a scripted day of conversations, with figures computed by hand."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert

from parley.conversations import SupportDesk
from parley.kpis import (
    UNASSIGNED,
    KpiError,
    KpiFigures,
    KpiOptions,
    KpiReport,
    business_calendar,
    compute_kpis,
    open_seconds,
    parse_since,
)
from parley.runtime import Runtime
from parley.store import schema
from parley.store.desk_records import ConversationState
from parley.tokens import Role

from .conftest import FakeClock, drain
from .desk_helpers import AVERY, BLAKE, inbound, issue

CAROL = "+14155550177"
DANA = "+14155550166"
NEW_YORK = ZoneInfo("America/New_York")

# Opening hours 09:00-17:00 New York (14:00-22:00 UTC in November) on
# weekdays, and an after-hours auto reply that must never count as a reply.
# The first line continues the [templates] table the base config ends with.
EXTRA = """
after_hours_reply = "We are closed and answer from 09:00 New York time."

[calendar]
time_zone = "America/New_York"
mon = ["09:00-17:00"]
tue = ["09:00-17:00"]
wed = ["09:00-17:00"]
thu = ["09:00-17:00"]
fri = ["09:00-17:00"]

[auto_replies]
after_hours = "after_hours_reply"
"""


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


# The window of the scripted day: from Monday 16 November, midnight in New
# York, to Wednesday 18 November 04:00 UTC (Tuesday 23:00 in New York).
SINCE = datetime(2026, 11, 16, tzinfo=NEW_YORK)
UNTIL = utc(18, 4)


@dataclass
class Day:
    runtime: Runtime
    clock: FakeClock
    conversations: dict[str, int]


def at(clock: FakeClock, moment: datetime) -> None:
    clock.now = moment


@pytest.fixture
def day(make_runtime: Callable[..., Runtime], clock: FakeClock) -> Day:
    """Replay the scripted day; every step's time is in the comments in UTC."""
    clock.now = utc(16, 19)
    runtime = make_runtime(EXTRA)
    for name, role, team in (
        ("ana", Role.AGENT, "billing"),
        ("bo", Role.AGENT, "billing"),
        ("ben", Role.LEAD, "billing"),
    ):
        issue(runtime, name, role, team)
    desk = SupportDesk(runtime.context, runtime.channels)
    ids: dict[str, int] = {}

    # Monday 15:00 New York: Dana writes, open hours, ana answers in 10 min.
    at(clock, utc(16, 20))
    ids["dana"] = inbound(runtime, "Do you ship to Canada?", "d-1", DANA)
    at(clock, utc(16, 20, 10))
    desk.reply("ana", ids["dana"], "Yes, in 5 days.")

    # Tuesday 08:00 New York, before opening: Avery writes and gets the
    # welcome and the after-hours auto reply.
    at(clock, utc(17, 13))
    ids["avery"] = inbound(runtime, "Where is my order?", "a-1", AVERY)
    at(clock, utc(17, 13, 10))
    desk.assign("ben", ids["avery"], {"agent": "ana", "team": "billing"})
    at(clock, utc(17, 14))
    ids["blake"] = inbound(runtime, "I was charged twice", "b-1", BLAKE)
    at(clock, utc(17, 14, 5))
    desk.assign("ben", ids["blake"], {"agent": "bo", "team": "billing"})
    at(clock, utc(17, 14, 20))
    desk.reply("bo", ids["blake"], "Refunded the second charge.")
    at(clock, utc(17, 14, 30))
    desk.reply("ana", ids["avery"], "It ships today.")
    at(clock, utc(17, 14, 40))
    inbound(runtime, "Can I change the address?", "a-2", AVERY)
    at(clock, utc(17, 14, 45))
    inbound(runtime, "It is 5 Main St", "a-3", AVERY)
    at(clock, utc(17, 14, 50))
    desk.set_state("bo", ids["blake"], ConversationState.CLOSED)
    at(clock, utc(17, 15))
    desk.reply("ana", ids["avery"], "Changed.")
    at(clock, utc(17, 15, 10))
    desk.set_state("ana", ids["avery"], ConversationState.CLOSED)

    # Blake writes again: a new episode in the same conversation.
    at(clock, utc(17, 16))
    inbound(runtime, "The refund is not there yet", "b-2", BLAKE)
    at(clock, utc(17, 16, 30))
    desk.reply("bo", ids["blake"], "It takes 3 days.")

    # Tuesday 21:00 New York, after closing: Carol writes and is assigned to
    # the shipping team, but nobody answers before the report.
    at(clock, utc(18, 2))
    ids["carol"] = inbound(runtime, "My parcel is damaged", "c-1", CAROL)
    at(clock, utc(18, 2, 30))
    desk.assign("ben", ids["carol"], {"team": "shipping"})

    _answer_surveys(runtime, ids)
    at(clock, UNTIL)
    return Day(runtime, clock, ids)


def _answer_surveys(runtime: Runtime, ids: dict[str, int]) -> None:
    """Store two answered surveys (5 and 3) and one still unanswered."""
    rows = []
    for name, agent, score, answered in (
        ("avery", "ana", 5, utc(17, 15, 30)),
        ("blake", "bo", 3, utc(17, 15)),
        ("blake", "bo", None, None),
    ):
        conversation = runtime.store.get_conversation(ids[name])
        assert conversation is not None
        closings = [
            change.id
            for change in runtime.store.state_history(ids[name])
            if change.state is ConversationState.CLOSED
        ]
        rows.append(
            {
                "conversation_id": ids[name],
                "contact_id": conversation.contact_id,
                "channel": "sandbox",
                "closing_id": closings[0] if score is not None else closings[0] + 1000,
                "state": "answered" if score is not None else "sent",
                "agent": agent,
                "score": score,
                "clarified": 0,
                "created_at": utc(17, 14, 50),
                "answered_at": answered,
            }
        )
    with runtime.store.transaction() as conn:
        conn.execute(insert(schema.csat_surveys), rows)


def report(day: Day, **options: object) -> KpiReport:
    calendar = business_calendar(day.runtime.context.settings)
    values: dict[str, object] = {"since": SINCE, "until": UNTIL, **options}
    return compute_kpis(day.runtime.store, calendar, KpiOptions(**values))  # type: ignore[arg-type]


def groups(result: KpiReport) -> dict[str, KpiFigures]:
    return {figures.group: figures for figures in result.groups}


# The scripted day, by hand. Durations in seconds:
# first responses: Dana 600, Avery 5400 (13:00 to 14:30), Blake 1200 and,
# after the reopening, 1800. Responses add Avery's second run: 1200 (14:40
# to 15:00, two messages in one run). Resolutions: Blake 3000 (14:00 to
# 14:50), Avery 7800 (13:00 to 15:10). Waits are the responses plus Carol's
# 7200 still waiting at 04:00.


def test_scripted_day_totals(day: Day) -> None:
    total = report(day).total

    assert total.conversations == 5
    assert total.inbound == 7
    assert total.replies == 5
    # Four welcome messages and two after-hours auto replies (Avery, Carol).
    assert total.automated == 6

    assert total.first_response.count == 4
    assert total.first_response.mean == pytest.approx((600 + 5400 + 1200 + 1800) / 4)
    assert total.first_response.median == pytest.approx((1200 + 1800) / 2)

    assert total.response.count == 5
    assert total.response.mean == pytest.approx((600 + 5400 + 1200 + 1200 + 1800) / 5)
    assert total.response.median == pytest.approx(1200)

    assert total.resolution.count == 2
    assert total.resolution.mean == pytest.approx((3000 + 7800) / 2)
    assert total.resolution.median == pytest.approx(5400)

    assert total.wait.count == 6
    assert total.wait.total == pytest.approx(600 + 5400 + 1200 + 1200 + 1800 + 7200)
    assert total.wait.mean == pytest.approx(17400 / 6)
    assert total.wait.median == pytest.approx(1500)
    assert total.waiting == 1
    assert total.unanswered == 1

    assert total.csat_answers == 2
    assert total.csat_mean == pytest.approx(4.0)
    assert total.csat_satisfied_share == pytest.approx(0.5)


def test_by_agent_and_channel(day: Day) -> None:
    by_agent = groups(report(day, group_by="agent"))
    by_channel = groups(report(day, group_by="channel"))

    assert set(by_agent) == {"ana", "bo", UNASSIGNED}
    ana, bo, nobody = by_agent["ana"], by_agent["bo"], by_agent[UNASSIGNED]
    assert ana.response.count == 3
    assert ana.response.mean == pytest.approx((600 + 5400 + 1200) / 3)
    assert ana.resolution.mean == pytest.approx(7800)
    assert ana.inbound == 2
    assert ana.csat_mean == pytest.approx(5.0)
    assert bo.first_response.mean == pytest.approx((1200 + 1800) / 2)
    assert bo.resolution.mean == pytest.approx(3000)
    assert bo.conversations == 1
    assert bo.csat_mean == pytest.approx(3.0)
    # Messages before any assignment, and Carol's wait (team only).
    assert nobody.inbound == 4
    assert nobody.automated == 6
    assert nobody.wait.total == pytest.approx(7200)
    # Avery got the welcome and the after-hours reply at 13:00, yet the
    # first response is ana's reply at 14:30.
    assert ana.first_response.mean == pytest.approx((600 + 5400) / 2)
    assert ana.replies == 3
    assert list(by_channel) == ["sandbox"]
    assert by_channel["sandbox"].inbound == 7


def test_by_day_in_business_zone(day: Day) -> None:
    by_day = groups(report(day, group_by="day"))

    # Carol wrote at 02:00 UTC on the 18th, which is the 17th in New York.
    assert set(by_day) == {"2026-11-16", "2026-11-17"}
    monday, tuesday = by_day["2026-11-16"], by_day["2026-11-17"]
    assert monday.inbound == 1
    assert monday.first_response.mean == pytest.approx(600)
    assert tuesday.inbound == 6
    assert tuesday.first_response.mean == pytest.approx((5400 + 1200 + 1800) / 3)
    assert tuesday.waiting == 1


def test_window_leaves_out_earlier_day(day: Day) -> None:
    total = report(day, since=datetime(2026, 11, 17, tzinfo=NEW_YORK)).total

    assert total.inbound == 6
    assert total.first_response.count == 3
    assert total.automated == 5


def test_team_scope(day: Day) -> None:
    billing = report(day, team="billing").total
    shipping = report(day, team="shipping").total

    assert billing.replies == 4
    assert billing.response.count == 4
    assert billing.waiting == 0
    assert shipping.replies == 0
    assert shipping.waiting == 1
    assert shipping.wait.total == pytest.approx(7200)


def test_business_hours_only(day: Day) -> None:
    total = report(day, business_hours=True).total

    # Avery's 13:00 message waited from the 14:00 opening; Carol wrote after
    # closing and the business did not open again before the report's end.
    assert total.first_response.mean == pytest.approx((600 + 1800 + 1200 + 1800) / 4)
    assert total.resolution.mean == pytest.approx((3000 + 4200) / 2)
    assert total.wait.total == pytest.approx(600 + 1800 + 1200 + 1200 + 1800 + 0)


def test_business_hours_need_calendar(make_runtime: Callable[..., Runtime]) -> None:
    runtime = make_runtime()
    calendar = business_calendar(runtime.context.settings)

    with pytest.raises(KpiError, match="opening hours"):
        compute_kpis(
            runtime.store,
            calendar,
            KpiOptions(since=SINCE, until=UNTIL, business_hours=True),
        )


def test_unknown_grouping_rejected(make_runtime: Callable[..., Runtime]) -> None:
    runtime = make_runtime()
    calendar = business_calendar(runtime.context.settings)
    options = KpiOptions(since=SINCE, until=UNTIL, group_by="week")

    with pytest.raises(KpiError, match="'week'") as raised:
        compute_kpis(runtime.store, calendar, options)
    assert raised.value.option == "group_by"


def test_open_seconds_across_night(make_runtime: Callable[..., Runtime]) -> None:
    calendar = business_calendar(make_runtime(EXTRA).context.settings)

    # Tuesday 16:00 to Wednesday 10:00 New York: one hour, then one more.
    start = datetime(2026, 11, 17, 16, tzinfo=NEW_YORK)
    end = datetime(2026, 11, 18, 10, tzinfo=NEW_YORK)
    assert open_seconds(calendar, start, end) == pytest.approx(7200)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", UNTIL - timedelta(days=30)),
        ("12h", utc(17, 16)),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=NEW_YORK)),
        ("2026-11-01T09:00:00Z", utc(1, 9)),
    ],
)
def test_parse_since_forms(text: str, expected: datetime) -> None:
    assert parse_since(text, UNTIL, NEW_YORK) == expected


@pytest.mark.parametrize("text", ["30", "week", "2026-13-01", "2026-11-01T09:00", ""])
def test_parse_since_rejects(text: str) -> None:
    with pytest.raises(KpiError, match="30d or 12h") as raised:
        parse_since(text, UNTIL, NEW_YORK)
    assert repr(text) in str(raised.value)


# A survey answer leaves the conversation closed, so it is no new request.
CSAT_CONFIG = """
csat_survey = "How did we do? Reply 1 to 5."
csat_thanks = "Thank you!"

[csat]
enabled = true
thank_you = "csat_thanks"
quiet_minutes = 10
"""


def test_survey_answer_not_waiting(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    from parley.csat import SurveyJob

    runtime = make_runtime(CSAT_CONFIG)
    issue(runtime, "ana", Role.AGENT, "billing")
    desk = SupportDesk(runtime.context, runtime.channels)
    since = clock.now
    conversation_id = inbound(runtime, "Where is my order?", "a-1", AVERY)
    clock.advance(120)
    desk.reply("ana", conversation_id, "It ships today.")
    clock.advance(60)
    desk.set_state("ana", conversation_id, ConversationState.CLOSED)
    clock.advance(10 * 60)
    assert SurveyJob(runtime.context, runtime.channels).run()["sent"] == 1
    clock.advance(60)
    inbound(runtime, "5", "a-2", AVERY)
    clock.advance(3600)

    calendar = business_calendar(runtime.context.settings)
    total = compute_kpis(
        runtime.store, calendar, KpiOptions(since=since, until=clock.now)
    ).total

    assert total.inbound == 2
    assert total.conversations == 1
    assert total.waiting == 0
    assert total.unanswered == 0
    assert total.resolution.mean == pytest.approx(180)
    assert total.csat_answers == 1
    assert total.csat_mean == pytest.approx(5.0)
    # The welcome, the survey and the thank-you.
    assert total.automated == 3


def test_keywords_need_no_reply(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    runtime = make_runtime()
    issue(runtime, "ana", Role.AGENT, "billing")
    desk = SupportDesk(runtime.context, runtime.channels)
    since = clock.now
    conversation_id = inbound(runtime, "Is the store open?", "a-1", AVERY)
    clock.advance(300)
    desk.reply("ana", conversation_id, "Yes, until 6.")
    # Sent before the opt-out: the outbox checks the gate again at sending.
    drain(runtime)
    clock.advance(60)
    inbound(runtime, "STOP", "a-2", AVERY)
    clock.advance(60)
    inbound(runtime, "help", "b-1", BLAKE)
    clock.advance(3600)

    calendar = business_calendar(runtime.context.settings)
    total = compute_kpis(
        runtime.store, calendar, KpiOptions(since=since, until=clock.now)
    ).total

    assert total.inbound == 3
    assert total.conversations == 1
    assert total.response.count == 1
    assert total.waiting == 0
    assert total.wait.count == 1


def test_quiet_days_listed(day: Day) -> None:
    # A message on Thursday 19 leaves Wednesday 18 without figures, and the
    # 18th is still listed, empty.
    day.clock.now = utc(19, 15)
    inbound(day.runtime, "Any news?", "d-2", DANA)
    until = utc(19, 16)

    by_day = groups(report(day, group_by="day", until=until))

    assert list(by_day) == ["2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19"]
    assert by_day["2026-11-18"].inbound == 0
    assert by_day["2026-11-19"].inbound == 1
