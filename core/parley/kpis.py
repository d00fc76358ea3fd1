"""Support KPIs: response, resolution and wait times, volume and CSAT, from the store.

Every figure is derived from the stored history of each conversation: its
messages, its state changes (``conversation_states``) and its assignments
(``conversation_assignments``), plus the answered CSAT surveys.

Definitions:

- A *reply* is an outbound message of kind ``agent_reply`` with an author
  (the API token name of the person) that was not blocked and did not fail.
  Auto replies, first-message replies, keyword answers, order updates and
  surveys are *automated* messages, so they never count as a response.
- An *episode* starts with the first customer message after the
  conversation began or was last closed, and ends when it is closed. A
  customer message reopens a closed conversation at the same instant, so an
  episode starts when the conversation is opened or reopened by the customer.
  A customer message that leaves the conversation closed, such as the
  answer to a CSAT survey, counts as a customer message and nothing else.
  So does a service keyword (STOP, START, HELP and their variants), which
  the pipeline answers by itself.
- A *customer message run* starts with a customer message that arrives while
  no earlier message of the customer is waiting for a reply, and ends with the
  next reply, a closing, or the end of the report (still waiting).
- *First response time*: from the start of an episode to its first reply.
- *Response time*: from the start of each run to the reply that ends it.
- *Resolution time*: from the start of an episode to its closing.
- *Customer wait time*: the length of every run, whether it ended with a
  reply, a closing without a reply, or is still waiting at the end of the
  report. Its total is the time customers spent waiting for a person.
- *Volume*: episodes started, customer messages, replies and automated
  messages.
- *CSAT*: the mean of the answered 1-5 scores and the share of 4s and 5s.

Each figure belongs to one instant, which decides its day and whether it is
inside the report's window: response, first response and wait figures belong
to the start of their run, resolution to the closing, volume to the message
and CSAT to the answer. With business hours only, a duration counts only
the time the calendar is open (peak time included).

A figure is attributed to an agent and a team. A reply's response times go
to its author. Every other figure goes to the agent and team assigned to the
conversation at its end instant (the reply, the closing, the end of the
report, the message or the survey). Team figures use that assigned team.
"""

from __future__ import annotations

import bisect
import logging
import re
import statistics
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select, union

from parley.calendar import BusinessCalendar, PeriodState, to_instant
from parley.config import CoreSettings
from parley.errors import ParleyError
from parley.keywords import KeywordKind, KeywordSet
from parley.models import AGENT_REPLY_KIND, DeliveryStatus
from parley.store import Store, schema
from parley.store.desk_records import ConversationState
from parley.store.engine import as_utc

logger = logging.getLogger(__name__)

GROUPINGS = ("day", "agent", "channel")

# The group of figures whose conversation had no agent assigned.
UNASSIGNED = "(unassigned)"

# The group name of the figures over everything in the report.
TOTAL = "total"

# Outbound messages in these states never reached the customer, so they
# count neither as a reply nor as an automated message.
_NOT_DELIVERED = frozenset({DeliveryStatus.BLOCKED.value, DeliveryStatus.FAILED.value})

# Customer messages with these meanings get an automatic answer from the
# pipeline, so nobody needs to reply to them. YES is left out because it is
# an ordinary message unless a sign-up waits for confirmation. The pipeline
# uses the same default keyword set.
_KEYWORDS = KeywordSet()
_SERVICE_KEYWORDS = frozenset(
    {KeywordKind.OPT_OUT, KeywordKind.OPT_IN, KeywordKind.HELP}
)

# Conversations whose timelines are read in one round of queries, which
# bounds the memory a report over a large store needs.
BATCH_SIZE = 500

# Ordering of events that share one timestamp: a customer message reopens
# its conversation at its own instant, and a reply or closing in the same
# instant comes after the message it answers.
_RANK_REOPEN = 0
_RANK_INBOUND = 1
_RANK_OUTBOUND = 2
_RANK_STATE = 3


# The relative forms of a window's start: a number of days or hours.
_RELATIVE = re.compile(r"([0-9]{1,6})([dDhH])")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class KpiError(ParleyError):
    """A report was requested with options that cannot be computed.

    Attributes:
        option: the option at fault: ``since``, ``group_by`` or
            ``business_hours``.
    """

    def __init__(self, message: str, option: str) -> None:
        super().__init__(message)
        self.option = option


@dataclass(frozen=True)
class KpiOptions:
    """The window, grouping and scope of a report.

    Attributes:
        since: the start of the window, inclusive.
        until: the end of the window, exclusive; runs still waiting then
            are measured up to it.
        group_by: ``day``, ``agent``, ``channel`` or None for the total only.
        business_hours: count only the calendar's open time in durations.
        team: only figures attributed to this team, for a lead's view.
    """

    since: datetime
    until: datetime
    group_by: str | None = None
    business_hours: bool = False
    team: str | None = None


@dataclass(frozen=True)
class Durations:
    """Count, mean, median and total of durations, in seconds."""

    count: int
    mean: float | None
    median: float | None
    total: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Durations:
        """Summarise a list of durations in seconds."""
        if not values:
            return cls(0, None, None, 0.0)
        return cls(
            len(values),
            statistics.fmean(values),
            float(statistics.median(values)),
            float(sum(values)),
        )


@dataclass(frozen=True)
class KpiFigures:
    """The KPIs of one group (a day, an agent or a channel) or of the total.

    Attributes:
        group: the day (``YYYY-MM-DD`` in the business time zone), the agent,
            the channel id, or ``total``.
        conversations: episodes started.
        inbound: customer messages.
        replies: replies by a person.
        automated: automated outbound messages.
        first_response: first response times.
        response: response times.
        resolution: resolution times.
        wait: customer wait times, including runs still waiting.
        unanswered: runs closed without a reply or still waiting.
        waiting: runs still waiting at the end of the report.
        csat_answers: answered surveys.
        csat_mean: mean score, or None without answers.
        csat_satisfied_share: share of scores of 4 or 5, from 0 to 1.
    """

    group: str
    conversations: int
    inbound: int
    replies: int
    automated: int
    first_response: Durations
    response: Durations
    resolution: Durations
    wait: Durations
    unanswered: int
    waiting: int
    csat_answers: int
    csat_mean: float | None
    csat_satisfied_share: float | None


@dataclass(frozen=True)
class KpiReport:
    """A computed report: its options, the figures per group and the total."""

    since: datetime
    until: datetime
    group_by: str | None
    business_hours: bool
    time_zone: str
    team: str | None
    groups: list[KpiFigures]
    total: KpiFigures


@dataclass(frozen=True)
class _Fact:
    """One measured figure before grouping."""

    kind: str
    at: datetime
    channel: str
    agent: str | None
    team: str | None
    value: float = 0.0


@dataclass
class _Bucket:
    """The facts of one group while they are collected."""

    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    values: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def add(self, fact: _Fact) -> None:
        self.counts[fact.kind] += 1
        self.values[fact.kind].append(fact.value)

    def figures(self, group: str) -> KpiFigures:
        scores = self.values["csat"]
        satisfied = sum(1 for score in scores if score >= 4)
        return KpiFigures(
            group=group,
            conversations=self.counts["conversation"],
            inbound=self.counts["inbound"],
            replies=self.counts["reply"],
            automated=self.counts["automated"],
            first_response=Durations.of(self.values["first_response"]),
            response=Durations.of(self.values["response"]),
            resolution=Durations.of(self.values["resolution"]),
            wait=Durations.of(self.values["wait"]),
            unanswered=self.counts["unanswered"],
            waiting=self.counts["waiting"],
            csat_answers=len(scores),
            csat_mean=statistics.fmean(scores) if scores else None,
            csat_satisfied_share=satisfied / len(scores) if scores else None,
        )


def business_calendar(settings: CoreSettings) -> BusinessCalendar:
    """Return the business calendar that day grouping and business hours use."""
    return BusinessCalendar.from_settings(
        settings.calendar, settings.business.time_zone
    )


def compute_kpis(
    store: Store, calendar: BusinessCalendar, options: KpiOptions
) -> KpiReport:
    """Compute the KPIs of a window from the store.

    Raises:
        KpiError: the grouping is unknown, the window is empty, or business
            hours were asked for while the calendar has no opening hours.
    """
    _check_options(calendar, options)
    measure = _Measure(calendar, options.business_hours)
    buckets: dict[str, _Bucket] = defaultdict(_Bucket)
    total = _Bucket()
    count = 0
    for fact in _facts(store, options, measure):
        if not options.since <= fact.at < options.until:
            continue
        if options.team is not None and fact.team != options.team:
            continue
        total.add(fact)
        if options.group_by is not None:
            buckets[_group_key(fact, options.group_by, calendar.zone)].add(fact)
        count += 1
    if options.group_by == "day":
        _fill_quiet_days(buckets)
    logger.info(
        "KPIs computed from %s figure(s) between %s and %s",
        count,
        options.since.isoformat(),
        options.until.isoformat(),
    )
    return KpiReport(
        since=options.since,
        until=options.until,
        group_by=options.group_by,
        business_hours=options.business_hours,
        time_zone=calendar.zone.key,
        team=options.team,
        groups=[buckets[key].figures(key) for key in sorted(buckets)],
        total=total.figures(TOTAL),
    )


def _fill_quiet_days(buckets: dict[str, _Bucket]) -> None:
    """Add empty groups for days without figures between the first and last day.

    Charts over days would otherwise join the days around a quiet one.
    """
    if not buckets:
        return
    day = date.fromisoformat(min(buckets))
    last = date.fromisoformat(max(buckets))
    while day < last:
        day += timedelta(days=1)
        buckets.setdefault(day.isoformat(), _Bucket())


def _check_options(calendar: BusinessCalendar, options: KpiOptions) -> None:
    if options.group_by is not None and options.group_by not in GROUPINGS:
        raise KpiError(
            f"invalid grouping {options.group_by!r}; use one of {', '.join(GROUPINGS)}",
            "group_by",
        )
    if options.since.tzinfo is None or options.until.tzinfo is None:
        raise KpiError("the report window needs timezone-aware times", "since")
    if options.since >= options.until:
        raise KpiError(
            f"the report window is empty: since {options.since.isoformat()} is not "
            f"before {options.until.isoformat()}",
            "since",
        )
    if options.business_hours and not calendar.has_hours:
        raise KpiError(
            "business-hours figures need opening hours; set mon to sun in "
            "[calendar], or leave out the business-hours option",
            "business_hours",
        )


def _group_key(fact: _Fact, group_by: str, zone: ZoneInfo) -> str:
    if group_by == "day":
        return fact.at.astimezone(zone).date().isoformat()
    if group_by == "agent":
        return fact.agent or UNASSIGNED
    return fact.channel


class _Measure:
    """A duration measure in wall-clock time or in the calendar's open time."""

    def __init__(self, calendar: BusinessCalendar, business_hours: bool) -> None:
        self.calendar = calendar
        self.business_hours = business_hours

    def __call__(self, start: datetime, end: datetime) -> float:
        if end <= start:
            return 0.0
        if not self.business_hours:
            return (end - start).total_seconds()
        return open_seconds(self.calendar, start, end)


def open_seconds(calendar: BusinessCalendar, start: datetime, end: datetime) -> float:
    """Return the seconds between two instants during which the business is open."""
    total = 0.0
    moment = start
    while moment < end:
        period = calendar.period_at(moment)
        stop = end if period.end is None else min(period.end, end)
        if stop <= moment:
            # A period always ends after an instant inside it; this only
            # guards the loop against a calendar bug.
            break
        if period.state is not PeriodState.CLOSED:
            total += (stop - moment).total_seconds()
        elif period.end is None:
            break
        moment = stop
    return total


# Reading the store


@dataclass(frozen=True)
class _Event:
    at: datetime
    rank: int
    order: int
    kind: str
    author: str | None = None
    state: str | None = None


@dataclass
class _Timeline:
    """The history of one conversation, as read for the report."""

    conversation_id: int
    channel: str
    events: list[_Event] = field(default_factory=list)
    assignment_times: list[datetime] = field(default_factory=list)
    assignments: list[tuple[str | None, str | None]] = field(default_factory=list)

    def assignee_at(self, moment: datetime) -> tuple[str | None, str | None]:
        """Return the agent and team assigned at an instant."""
        index = bisect.bisect_right(self.assignment_times, moment)
        return self.assignments[index - 1] if index else (None, None)


def _facts(store: Store, options: KpiOptions, measure: _Measure) -> Iterator[_Fact]:
    for batch in _active_conversation_batches(store, options):
        for timeline in _timelines(store, batch, options.until):
            yield from _conversation_facts(timeline, options.until, measure)
    yield from _csat_facts(store, options)


def _active_conversation_batches(
    store: Store, options: KpiOptions
) -> Iterator[list[int]]:
    """Yield ids of conversations with a message or state change in the window."""
    messages = schema.messages
    states = schema.conversation_states
    with_messages = select(messages.c.conversation_id).where(
        messages.c.created_at >= options.since, messages.c.created_at < options.until
    )
    with_states = select(states.c.conversation_id).where(
        states.c.changed_at >= options.since, states.c.changed_at < options.until
    )
    # One query, read in partitions, scans the messages once; paging with
    # LIMIT would scan them again for every batch.
    active = union(with_messages, with_states).subquery()
    query = select(active.c.conversation_id).order_by(active.c.conversation_id)
    with store.read_engine.connect() as conn:
        result = conn.execution_options(yield_per=BATCH_SIZE).execute(query)
        for partition in result.partitions():
            yield [row[0] for row in partition]


def _timelines(
    store: Store, conversation_ids: list[int], until: datetime
) -> list[_Timeline]:
    conversations = schema.conversations
    messages = schema.messages
    states = schema.conversation_states
    assignments = schema.conversation_assignments
    with store.read_engine.connect() as conn:
        timelines = {
            row.id: _Timeline(row.id, row.channel)
            for row in conn.execute(
                select(conversations.c.id, conversations.c.channel).where(
                    conversations.c.id.in_(conversation_ids)
                )
            )
        }
        message_rows = conn.execute(
            _before(
                select(
                    messages.c.id,
                    messages.c.conversation_id,
                    messages.c.direction,
                    messages.c.kind,
                    messages.c.status,
                    messages.c.author,
                    messages.c.created_at,
                ).where(messages.c.conversation_id.in_(conversation_ids)),
                messages.c.created_at,
                until,
            )
        )
        keyword_ids = _keyword_message_ids(conn, conversation_ids, until)
        for row in message_rows:
            event = _message_event(row, keyword_ids)
            if event is not None:
                timelines[row.conversation_id].events.append(event)
        state_rows = conn.execute(
            _before(
                select(states).where(states.c.conversation_id.in_(conversation_ids)),
                states.c.changed_at,
                until,
            )
        )
        for row in state_rows:
            timelines[row.conversation_id].events.append(_state_event(row))
        assignment_rows = conn.execute(
            select(assignments)
            .where(assignments.c.conversation_id.in_(conversation_ids))
            .order_by(assignments.c.assigned_at, assignments.c.id)
        )
        for row in assignment_rows:
            timeline = timelines[row.conversation_id]
            timeline.assignment_times.append(as_utc(row.assigned_at))  # type: ignore[arg-type]
            timeline.assignments.append((row.agent, row.team))
    for timeline in timelines.values():
        timeline.events.sort(key=lambda event: (event.at, event.rank, event.order))
    return [timelines[key] for key in sorted(timelines)]


def _before(query: Select[Any], column: Any, until: datetime) -> Select[Any]:
    return query.where(column < until)


def _keyword_message_ids(
    conn: Any, conversation_ids: list[int], until: datetime
) -> set[int]:
    """Return the ids of customer messages that are service keywords, such as STOP."""
    messages = schema.messages
    rows = conn.execute(
        select(messages.c.id, messages.c.body).where(
            messages.c.conversation_id.in_(conversation_ids),
            messages.c.direction == "in",
            messages.c.created_at < until,
        )
    )
    return {
        row.id for row in rows if _KEYWORDS.classify(row.body).kind in _SERVICE_KEYWORDS
    }


def _message_event(row: Any, keyword_ids: set[int]) -> _Event | None:
    at = as_utc(row.created_at)
    assert at is not None
    if row.direction == "in":
        kind = "keyword" if row.id in keyword_ids else "inbound"
        return _Event(at, _RANK_INBOUND, row.id, kind)
    if row.status in _NOT_DELIVERED:
        return None
    if row.kind == AGENT_REPLY_KIND and row.author:
        return _Event(at, _RANK_OUTBOUND, row.id, "reply", author=row.author)
    return _Event(at, _RANK_OUTBOUND, row.id, "automated")


def _state_event(row: Any) -> _Event:
    at = as_utc(row.changed_at)
    assert at is not None
    rank = _RANK_REOPEN if row.state == ConversationState.OPEN.value else _RANK_STATE
    return _Event(at, rank, row.id, "state", state=row.state)


# Turning a timeline into figures


@dataclass
class _Walk:
    """The state of one conversation while its timeline is replayed."""

    closed: bool = False
    episode_start: datetime | None = None
    awaiting_first_reply: bool = False
    run_start: datetime | None = None
    run_is_first: bool = False


def _conversation_facts(
    timeline: _Timeline, until: datetime, measure: _Measure
) -> Iterator[_Fact]:
    walk = _Walk()
    for event in timeline.events:
        if event.kind == "inbound":
            yield from _on_inbound(timeline, walk, event.at)
        elif event.kind == "keyword":
            yield _fact(timeline, "inbound", event.at, event.at)
        elif event.kind == "reply":
            yield from _on_reply(timeline, walk, event, measure)
        elif event.kind == "automated":
            yield _fact(timeline, "automated", event.at, event.at)
        elif event.state == ConversationState.CLOSED.value:
            yield from _on_close(timeline, walk, event.at, measure)
            walk.closed = True
        else:
            walk.closed = False

    if walk.run_start is not None:
        waited = measure(walk.run_start, until)
        yield _fact(timeline, "wait", walk.run_start, until, waited)
        yield _fact(timeline, "unanswered", walk.run_start, until)
        yield _fact(timeline, "waiting", walk.run_start, until)


def _on_inbound(timeline: _Timeline, walk: _Walk, at: datetime) -> Iterator[_Fact]:
    yield _fact(timeline, "inbound", at, at)
    if walk.closed:
        # The message left the conversation closed, as a CSAT answer does,
        # so nobody is expected to reply.
        return
    if walk.episode_start is None:
        walk.episode_start = at
        walk.awaiting_first_reply = True
        yield _fact(timeline, "conversation", at, at)
    if walk.run_start is None:
        walk.run_start = at
        walk.run_is_first = walk.awaiting_first_reply


def _on_reply(
    timeline: _Timeline, walk: _Walk, event: _Event, measure: _Measure
) -> Iterator[_Fact]:
    at = event.at
    _agent, team = timeline.assignee_at(at)
    yield _Fact("reply", at, timeline.channel, event.author, team)
    if walk.run_start is None:
        return
    waited = measure(walk.run_start, at)
    for kind in ("response", "wait"):
        yield _Fact(kind, walk.run_start, timeline.channel, event.author, team, waited)
    if walk.run_is_first:
        yield _Fact(
            "first_response",
            walk.run_start,
            timeline.channel,
            event.author,
            team,
            waited,
        )
    walk.run_start = None
    walk.awaiting_first_reply = False


def _on_close(
    timeline: _Timeline, walk: _Walk, at: datetime, measure: _Measure
) -> Iterator[_Fact]:
    if walk.episode_start is not None:
        resolved = measure(walk.episode_start, at)
        yield _fact(timeline, "resolution", at, at, resolved)
    if walk.run_start is not None:
        waited = measure(walk.run_start, at)
        yield _fact(timeline, "wait", walk.run_start, at, waited)
        yield _fact(timeline, "unanswered", walk.run_start, at)
    walk.episode_start = None
    walk.awaiting_first_reply = False
    walk.run_start = None


def _fact(
    timeline: _Timeline,
    kind: str,
    at: datetime,
    attributed_at: datetime,
    value: float = 0.0,
) -> _Fact:
    """Return a fact at ``at``, attributed to the assignment at ``attributed_at``."""
    agent, team = timeline.assignee_at(attributed_at)
    return _Fact(kind, at, timeline.channel, agent, team, value)


# CSAT


def _csat_facts(store: Store, options: KpiOptions) -> Iterator[_Fact]:
    surveys = schema.csat_surveys
    query = (
        select(
            surveys.c.id,
            surveys.c.conversation_id,
            surveys.c.channel,
            surveys.c.agent,
            surveys.c.score,
            surveys.c.created_at,
            surveys.c.answered_at,
        )
        .where(
            surveys.c.state == "answered",
            surveys.c.score.is_not(None),
            surveys.c.answered_at >= options.since,
            surveys.c.answered_at < options.until,
        )
        .order_by(surveys.c.id)
    )
    last = 0
    while True:
        with store.read_engine.connect() as conn:
            rows = conn.execute(
                query.where(surveys.c.id > last).limit(BATCH_SIZE)
            ).all()
            if not rows:
                return
            teams = _assignments_for(conn, {row.conversation_id for row in rows})
        for row in rows:
            yield _survey_fact(row, teams.get(row.conversation_id, []))
        last = rows[-1].id


def _assignments_for(
    conn: Any, conversation_ids: Iterable[int]
) -> dict[int, list[tuple[datetime, str | None, str | None]]]:
    table = schema.conversation_assignments
    found: dict[int, list[tuple[datetime, str | None, str | None]]] = defaultdict(list)
    rows = conn.execute(
        select(table)
        .where(table.c.conversation_id.in_(list(conversation_ids)))
        .order_by(table.c.assigned_at, table.c.id)
    )
    for row in rows:
        found[row.conversation_id].append(
            (as_utc(row.assigned_at), row.agent, row.team)
        )
    return found


def _survey_fact(
    row: Any, assignments: list[tuple[datetime, str | None, str | None]]
) -> _Fact:
    """Return a survey's score, attributed as assigned when the survey was made."""
    created = as_utc(row.created_at)
    answered = as_utc(row.answered_at)
    assert created is not None and answered is not None
    agent, team = None, None
    for assigned_at, assigned_agent, assigned_team in assignments:
        if assigned_at > created:
            break
        agent, team = assigned_agent, assigned_team
    return _Fact(
        "csat", answered, row.channel, row.agent or agent, team, float(row.score)
    )


def parse_since(text: str, now: datetime, zone: ZoneInfo) -> datetime:
    """Parse the start of a window: ``30d``, ``12h``, a date or a time with an offset.

    A date such as ``2026-11-01`` means midnight of that day in ``zone``.

    Raises:
        KpiError: the text is none of the accepted forms, or is out of range.
    """
    value = text.strip()
    problem = (
        f"invalid since value {text!r}; use a number of days or hours such as 30d "
        "or 12h, a date such as 2026-11-01, or a time with an offset such as "
        "2026-11-01T09:00:00Z"
    )
    match = _RELATIVE.fullmatch(value)
    try:
        if match is not None:
            amount = int(match.group(1))
            unit = "days" if match.group(2).lower() == "d" else "hours"
            return now - timedelta(**{unit: amount})
        if _DATE.fullmatch(value):
            day = date.fromisoformat(value)
            return to_instant(datetime.combine(day, time()), zone)
        moment = datetime.fromisoformat(value)
    except (ValueError, OverflowError) as err:
        raise KpiError(problem, "since") from err
    if moment.tzinfo is None:
        raise KpiError(problem, "since")
    try:
        return moment.astimezone(UTC)
    except OverflowError as err:
        raise KpiError(problem, "since") from err
