"""The business calendar: opening hours, holidays and peak windows in one time zone.

Opening hours are ranges of local wall-clock time per weekday, start
inclusive and end exclusive. A range whose end is not after its start
crosses midnight: ``fri = ["22:00-02:00"]`` is open from Friday 22:00 to
Saturday 02:00 and belongs to Friday, the day it starts on. ``24:00`` ends a
range at midnight, so ``00:00-24:00`` is a whole day. A holiday closes the
ranges that start on its date, but a range that started the evening before
still runs to its end.

Every wall-clock time becomes an instant in the calendar's zone, so a range
on a day when clocks change lasts its real length: ``00:00-03:00`` on the
November fall-back day in New York is four hours long. A wall-clock time
that does not exist, because clocks skip it, means the first instant after
the skip. A wall-clock time that happens twice means the first of the two.

A period is a stretch of time in one state. Each open range is one open
period, even when another range starts as it ends. A peak period is the
part of one open period inside peak windows, and a closed period runs from
one closing to the next opening. Period ids are stable for the whole
period, so "once per period" can be enforced with them.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from parley.config import CalendarSettings

MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY

# How far next_open and the start of a closed period are searched for: a
# little over a year, so that every yearly holiday rule is passed once.
SEARCH_DAYS = 400

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_NAMES = {
    **{name: index for index, name in enumerate(WEEKDAYS)},
    "monday": 0,
    "tues": 1,
    "tuesday": 1,
    "wednesday": 2,
    "thur": 3,
    "thurs": 3,
    "thursday": 3,
    "friday": 4,
    "saturday": 5,
    "sunday": 6,
}
_MONTHS = (
    "jan",
    "feb",
    "mar",
    "apr",
    "may",
    "jun",
    "jul",
    "aug",
    "sep",
    "oct",
    "nov",
    "dec",
)
_MONTH_NAMES = {
    **{name: index + 1 for index, name in enumerate(_MONTHS)},
    "january": 1,
    "february": 2,
    "march": 3,
    "april": 4,
    "june": 6,
    "july": 7,
    "august": 8,
    "sept": 9,
    "september": 9,
    "october": 10,
    "november": 11,
    "december": 12,
}
_ORDINALS = {
    "1st": 1,
    "first": 1,
    "2nd": 2,
    "second": 2,
    "3rd": 3,
    "third": 3,
    "4th": 4,
    "fourth": 4,
    "5th": 5,
    "fifth": 5,
    "last": -1,
}

_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")
_NTH_WEEKDAY = re.compile(r"^(\w+)\s+(\w+)\s+(?:of\s+)?(\w+)$")

_RANGE_HELP = "use HH:MM-HH:MM such as 09:00-17:30, or 22:00-02:00 to cross midnight"
_HOLIDAY_HELP = (
    "use a date (2026-12-25), a yearly date (12-25) or a weekday rule "
    "such as '4th thu nov' or 'last mon may'"
)
_DATES_HELP = (
    "use a date or yearly date (2026-11-27, 11-27) or a range of either "
    "joined by '..' such as 11-27..12-24"
)


class PeriodState(enum.StrEnum):
    """Whether the business is open, open but busy, or closed."""

    OPEN = "open"
    PEAK = "peak"
    CLOSED = "closed"


@dataclass(frozen=True)
class Period:
    """A stretch of time in one state, as :meth:`BusinessCalendar.period_at` finds it.

    Attributes:
        state: open, peak or closed.
        id: the period's identifier, the same for every instant of the period.
        start: when the period began, in UTC, or None for a closed period
            whose start lies beyond the search range.
        end: when the period ends, in UTC, or None for a closed period with
            no opening in the search range.
        open_id: the id of the enclosing open period for open and peak
            periods, or None when closed.
    """

    state: PeriodState
    id: str
    start: datetime | None
    end: datetime | None
    open_id: str | None = None


@dataclass(frozen=True)
class DailyRange:
    """A range of local wall-clock time that may run past midnight.

    Attributes:
        start: minutes after midnight, 0 to 1439.
        end: minutes after midnight of the start day, after ``start`` and at
            most one day later. Above 1440 the range crosses midnight.
        text: the range as written in the config.
    """

    start: int
    end: int
    text: str

    def contains_minute(self, minute: int) -> bool:
        """Return True when a local time of day, in minutes, is inside the range."""
        return (
            self.start <= minute < self.end
            or self.start <= minute + MINUTES_PER_DAY < self.end
        )

    def interval_on(self, day: date, zone: ZoneInfo) -> Interval:
        """Return the instants the range covers when it starts on a local date."""
        midnight = datetime.combine(day, time())
        start = to_instant(midnight + timedelta(minutes=self.start), zone)
        end = to_instant(midnight + timedelta(minutes=self.end), zone)
        return Interval(start, max(start, end))

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, order=True)
class Interval:
    """A span of time in UTC, start inclusive and end exclusive."""

    start: datetime
    end: datetime

    def contains(self, moment: datetime) -> bool:
        """Return True when an instant is inside the span."""
        return self.start <= moment < self.end


@dataclass(frozen=True)
class FixedHoliday:
    """A holiday on one date."""

    day: date

    def matches(self, day: date) -> bool:
        """Return True when the date is this holiday."""
        return day == self.day


@dataclass(frozen=True)
class YearlyHoliday:
    """A holiday on the same month and day each year, so 02-29 only in leap years."""

    month: int
    day: int

    def matches(self, day: date) -> bool:
        """Return True when the date is this holiday."""
        return (day.month, day.day) == (self.month, self.day)


@dataclass(frozen=True)
class NthWeekdayHoliday:
    """A holiday on the nth (or last, ``nth == -1``) weekday of a month each year.

    A fifth weekday that a month does not have gives no holiday that year.
    """

    nth: int
    weekday: int
    month: int

    def matches(self, day: date) -> bool:
        """Return True when the date is this holiday."""
        if day.month != self.month or day.weekday() != self.weekday:
            return False
        if self.nth == -1:
            return (day + timedelta(days=7)).month != self.month
        return (day.day - 1) // 7 + 1 == self.nth


Holiday = FixedHoliday | YearlyHoliday | NthWeekdayHoliday


@dataclass(frozen=True)
class DateSpan:
    """Dates from ``first`` to ``last``, both included.

    A span of full dates covers those dates once. A yearly span is written
    as month-day pairs, repeats each year and may wrap past the new year,
    as in ``12-20..01-05``.
    """

    first: date | tuple[int, int]
    last: date | tuple[int, int]

    def contains(self, day: date) -> bool:
        """Return True when the date is inside the span."""
        if isinstance(self.first, date) and isinstance(self.last, date):
            return self.first <= day <= self.last
        key = (day.month, day.day)
        if self.first <= self.last:
            return self.first <= key <= self.last
        return key >= self.first or key <= self.last


@dataclass(frozen=True)
class PeakWindow:
    """When the team is busy: dates, weekdays and daily hours, all optional.

    Every part that is given must match. A window with hours and no dates or
    days applies every day. A window with dates or days and no hours covers
    those whole days. Hours belong to the day they start on.
    """

    dates: tuple[DateSpan, ...] = ()
    days: frozenset[int] = frozenset()
    hours: tuple[DailyRange, ...] = ()

    def applies_on(self, day: date) -> bool:
        """Return True when the window's dates and weekdays include a local date."""
        if self.dates and not any(span.contains(day) for span in self.dates):
            return False
        return not self.days or day.weekday() in self.days

    def intervals_on(self, day: date, zone: ZoneInfo) -> list[Interval]:
        """Return the busy spans that start on a local date."""
        if not self.applies_on(day):
            return []
        if not self.hours:
            return [_whole_day(day, zone)]
        return [hours.interval_on(day, zone) for hours in self.hours]


@dataclass(frozen=True)
class BusinessCalendar:
    """Opening hours, holidays and peak windows of one business.

    Attributes:
        zone: the time zone every wall-clock time is read in.
        week: the open ranges of each weekday, Monday first.
        holidays: the holiday rules.
        peaks: the peak windows.
    """

    zone: ZoneInfo
    week: tuple[tuple[DailyRange, ...], ...] = field(default=((),) * 7)
    holidays: tuple[Holiday, ...] = ()
    peaks: tuple[PeakWindow, ...] = ()

    @classmethod
    def from_settings(
        cls, settings: CalendarSettings, default_zone: str
    ) -> BusinessCalendar:
        """Build the calendar from validated ``[calendar]`` settings.

        Args:
            settings: the ``[calendar]`` section.
            default_zone: the zone used when the section sets none, normally
                ``[business] time_zone``.
        """
        week = tuple(
            tuple(parse_time_range(text) for text in getattr(settings, name))
            for name in WEEKDAYS
        )
        peaks = tuple(
            PeakWindow(
                dates=tuple(parse_date_span(text) for text in peak.dates),
                days=frozenset(parse_weekday(text) for text in peak.days),
                hours=tuple(parse_time_range(text) for text in peak.hours),
            )
            for peak in settings.peak
        )
        return cls(
            zone=ZoneInfo(settings.time_zone or default_zone),
            week=week,
            holidays=tuple(parse_holiday(text) for text in settings.holidays),
            peaks=peaks,
        )

    @property
    def has_hours(self) -> bool:
        """True when at least one weekday has an open range."""
        return any(self.week)

    def is_holiday(self, day: date) -> bool:
        """Return True when a local date is a holiday."""
        return any(holiday.matches(day) for holiday in self.holidays)

    def is_open(self, at: datetime) -> bool:
        """Return True when the business is open at an instant."""
        return self._opening_at(_utc(at)) is not None

    def is_peak(self, at: datetime) -> bool:
        """Return True when an instant is inside a peak window, open or not."""
        moment = _utc(at)
        day = self._local_date(moment)
        return any(
            interval.contains(moment)
            for earlier in (day - timedelta(days=1), day)
            for interval in self._peak_intervals(earlier)
        )

    def next_open(self, at: datetime) -> datetime | None:
        """Return when the business next opens, in UTC.

        Returns:
            ``at`` itself (in UTC) when the business is open then, or None
            when no opening exists in the next ``SEARCH_DAYS`` days.
        """
        moment = _utc(at)
        if self._opening_at(moment) is not None:
            return moment
        return self._next_opening(moment)

    def period_at(self, at: datetime) -> Period:
        """Return the open, peak or closed period an instant falls in."""
        moment = _utc(at)
        opening = self._opening_at(moment)
        if opening is None:
            return self._closed_period(moment)

        open_id = f"open:{_stamp(opening.start)}"
        busy = self._peak_segment(moment, opening)
        if busy is not None:
            return Period(
                PeriodState.PEAK,
                f"peak:{_stamp(busy.start)}",
                busy.start,
                busy.end,
                open_id,
            )
        return Period(PeriodState.OPEN, open_id, opening.start, opening.end, open_id)

    def local_minute(self, at: datetime) -> int:
        """Return the local time of day of an instant, in minutes after midnight."""
        local = _utc(at).astimezone(self.zone)
        return local.hour * 60 + local.minute

    def _closed_period(self, moment: datetime) -> Period:
        start = self._previous_closing(moment)
        end = self._next_opening(moment)
        if start is not None:
            period_id = f"closed:{_stamp(start)}"
        elif end is not None:
            period_id = f"closed:until:{_stamp(end)}"
        else:
            period_id = "closed:always"
        return Period(PeriodState.CLOSED, period_id, start, end)

    def _local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def _open_intervals(self, day: date) -> list[Interval]:
        """Return the open spans that start on a local date, earliest first."""
        if self.is_holiday(day):
            return []
        spans = (
            hours.interval_on(day, self.zone) for hours in self.week[day.weekday()]
        )
        return sorted(span for span in spans if span.start < span.end)

    def _opening_at(self, moment: datetime) -> Interval | None:
        # A range lasts at most a day (25 hours when clocks go back), so only
        # ranges that start today or yesterday can contain the instant.
        day = self._local_date(moment)
        for earlier in (day - timedelta(days=1), day):
            for interval in self._open_intervals(earlier):
                if interval.contains(moment):
                    return interval
        return None

    def _next_opening(self, moment: datetime) -> datetime | None:
        day = self._local_date(moment)
        for offset in range(SEARCH_DAYS):
            for interval in self._open_intervals(day + timedelta(days=offset)):
                if interval.start > moment:
                    return interval.start
        return None

    def _previous_closing(self, moment: datetime) -> datetime | None:
        day = self._local_date(moment)
        for offset in range(SEARCH_DAYS):
            ends = [
                interval.end
                for interval in self._open_intervals(day - timedelta(days=offset))
                if interval.end <= moment
            ]
            if ends:
                # A range from the day before can still end later than the
                # first range of this day when that range is short.
                earlier = self._open_intervals(day - timedelta(days=offset + 1))
                ends.extend(i.end for i in earlier if i.end <= moment)
                return max(ends)
        return None

    def _peak_intervals(self, day: date) -> list[Interval]:
        return [
            interval
            for peak in self.peaks
            for interval in peak.intervals_on(day, self.zone)
            if interval.start < interval.end
        ]

    def _peak_segment(self, moment: datetime, opening: Interval) -> Interval | None:
        """Return the busy part of an open span around an instant, or None.

        Peak spans that overlap or touch count as one, so a run of whole busy
        days is one peak period within each open span.
        """
        first = self._local_date(opening.start) - timedelta(days=1)
        last = self._local_date(moment)
        spans: list[Interval] = []
        day = first
        while day <= last:
            spans.extend(self._peak_intervals(day))
            day += timedelta(days=1)

        for span in _merge(sorted(spans)):
            if span.contains(moment):
                return Interval(
                    max(span.start, opening.start), min(span.end, opening.end)
                )
        return None


def to_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """Return the UTC instant of a naive local wall-clock time in a zone.

    A time that happens twice (clocks go back) gives the first of the two.
    A time that does not exist (clocks skip it) gives the first instant
    after the skip, so that ranges keep their order.
    """
    instant = wall.replace(tzinfo=zone).astimezone(UTC)
    if _wall(instant, zone) == wall:
        return instant

    # zoneinfo reads a skipped time with the offset from before the skip
    # (fold=0, later) or after it (fold=1, earlier), and the skip lies between.
    low = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = instant
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if _wall(middle, zone) >= wall:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


def parse_time_range(text: str) -> DailyRange:
    """Parse ``"09:00-17:30"``, ``"22:00-02:00"`` or ``"00:00-24:00"``.

    Raises:
        ValueError: the text is not a valid range. The message names the problem.
    """
    match = _RANGE.match(text)
    if match is None:
        raise ValueError(f"invalid time range {text!r}; {_RANGE_HELP}")
    start_hour, start_minute, end_hour, end_minute = (int(p) for p in match.groups())
    if start_hour > 23 or start_minute > 59 or end_minute > 59:
        raise ValueError(f"invalid time in range {text!r}; {_RANGE_HELP}")
    if end_hour > 24 or (end_hour == 24 and end_minute):
        raise ValueError(f"invalid end time in range {text!r}; 24:00 is the latest end")

    start = start_hour * 60 + start_minute
    end = end_hour * 60 + end_minute
    if end == start:
        raise ValueError(
            f"time range {text!r} starts where it ends; use 00:00-24:00 for a whole day"
        )
    if end < start:
        end += MINUTES_PER_DAY
    return DailyRange(start, end, text.strip())


def parse_holiday(text: str) -> Holiday:
    """Parse ``"2026-12-25"``, ``"12-25"``, ``"4th thu nov"`` or ``"last mon may"``.

    Raises:
        ValueError: the text is no holiday rule. The message lists the forms.
    """
    cleaned = " ".join(text.casefold().split())
    if _FULL_DATE.match(cleaned):
        return FixedHoliday(_full_date(text, cleaned, _HOLIDAY_HELP))
    if _MONTH_DAY.match(cleaned):
        month, day = _month_day(text, cleaned, _HOLIDAY_HELP)
        return YearlyHoliday(month, day)

    match = _NTH_WEEKDAY.match(cleaned)
    if match is None:
        raise ValueError(f"invalid holiday {text!r}; {_HOLIDAY_HELP}")
    ordinal, weekday, month = match.groups()
    if ordinal not in _ORDINALS:
        raise ValueError(
            f"invalid holiday {text!r}: unknown position {ordinal!r}; "
            "use 1st to 5th or last"
        )
    if weekday not in _WEEKDAY_NAMES:
        raise ValueError(
            f"invalid holiday {text!r}: unknown weekday {weekday!r}; use mon to sun"
        )
    if month not in _MONTH_NAMES:
        raise ValueError(
            f"invalid holiday {text!r}: unknown month {month!r}; use jan to dec"
        )
    return NthWeekdayHoliday(
        _ORDINALS[ordinal], _WEEKDAY_NAMES[weekday], _MONTH_NAMES[month]
    )


def parse_date_span(text: str) -> DateSpan:
    """Parse ``"2026-11-27..2026-12-24"``, ``"12-20..01-05"`` or one date.

    Raises:
        ValueError: the text is no date or range, mixes full and yearly
            dates, or a full-date range ends before it starts.
    """
    cleaned = text.strip()
    first_text, separator, last_text = cleaned.partition("..")
    if not separator:
        last_text = first_text
    first = _span_end(text, first_text.strip())
    last = _span_end(text, last_text.strip())
    if isinstance(first, date) != isinstance(last, date):
        raise ValueError(
            f"invalid date range {text!r}: both ends must be full dates "
            "(2026-11-27) or both yearly dates (11-27)"
        )
    if isinstance(first, date) and isinstance(last, date) and last < first:
        raise ValueError(f"invalid date range {text!r}: it ends before it starts")
    return DateSpan(first, last)


def parse_weekday(text: str) -> int:
    """Return the weekday number (Monday is 0) of ``"mon"`` or ``"monday"``.

    Raises:
        ValueError: the text names no weekday.
    """
    name = text.strip().casefold()
    if name not in _WEEKDAY_NAMES:
        raise ValueError(
            f"unknown weekday {text!r}; use {', '.join(WEEKDAYS)} or full names"
        )
    return _WEEKDAY_NAMES[name]


def find_overlaps(week: Mapping[str, Sequence[str]]) -> list[str]:
    """Describe every pair of weekly open ranges that overlap.

    Args:
        week: range texts by weekday key (``mon`` to ``sun``). Each text
            must already be valid.

    Returns:
        One description per overlapping pair, such as
        ``"fri 22:00-02:00 overlaps sat 01:00-09:00"``, or none when no pair overlaps.
    """
    placed = [
        (name, parse_time_range(text), WEEKDAYS.index(name) * MINUTES_PER_DAY)
        for name in WEEKDAYS
        for text in week.get(name, ())
    ]
    found = []
    for index, (name, hours, offset) in enumerate(placed):
        for other_name, other, other_offset in placed[index + 1 :]:
            if _overlap(hours, offset, other, other_offset):
                found.append(f"{name} {hours} overlaps {other_name} {other}")
    return found


def _overlap(
    first: DailyRange, first_offset: int, second: DailyRange, second_offset: int
) -> bool:
    """Return True when two ranges overlap in the week, Sunday wrapping to Monday."""
    start = first_offset + first.start
    end = first_offset + first.end
    for shift in (-MINUTES_PER_WEEK, 0, MINUTES_PER_WEEK):
        other_start = second_offset + second.start + shift
        other_end = second_offset + second.end + shift
        if start < other_end and other_start < end:
            return True
    return False


def _span_end(text: str, part: str) -> date | tuple[int, int]:
    if _FULL_DATE.match(part):
        return _full_date(text, part, _DATES_HELP)
    if _MONTH_DAY.match(part):
        return _month_day(text, part, _DATES_HELP)
    raise ValueError(f"invalid date or date range {text!r}; {_DATES_HELP}")


def _full_date(text: str, part: str, help_text: str) -> date:
    try:
        return date.fromisoformat(part)
    except ValueError:
        raise ValueError(f"invalid date in {text!r}; {help_text}") from None


def _month_day(text: str, part: str, help_text: str) -> tuple[int, int]:
    month, day = (int(number) for number in part.split("-"))
    try:
        # 2000 is a leap year, so 02-29 is accepted.
        date(2000, month, day)
    except ValueError:
        raise ValueError(f"invalid month and day in {text!r}; {help_text}") from None
    return month, day


def _whole_day(day: date, zone: ZoneInfo) -> Interval:
    start = to_instant(datetime.combine(day, time()), zone)
    end = to_instant(datetime.combine(day + timedelta(days=1), time()), zone)
    return Interval(start, end)


def _merge(spans: Iterable[Interval]) -> list[Interval]:
    """Join sorted spans that overlap or touch."""
    merged: list[Interval] = []
    for span in spans:
        if merged and span.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Interval(last.start, max(last.end, span.end))
        else:
            merged.append(span)
    return merged


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            f"naive datetime {moment.isoformat()} given; pass a timezone-aware one"
        )
    return moment.astimezone(UTC)


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
