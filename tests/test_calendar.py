"""The business calendar: open ranges, holidays, peak windows, periods and DST."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from parley.calendar import (
    BusinessCalendar,
    PeriodState,
    parse_date_span,
    parse_holiday,
    parse_time_range,
    to_instant,
)
from parley.config import CalendarSettings, load_config
from parley.errors import ConfigError

NEW_YORK = "America/New_York"
WEEKDAY_HOURS = {day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}


def build(zone: str = NEW_YORK, **settings: Any) -> BusinessCalendar:
    return BusinessCalendar.from_settings(
        CalendarSettings(time_zone=zone, **settings), "UTC"
    )


def local(text: str, zone: str = NEW_YORK) -> datetime:
    """Return the instant of a local wall-clock time such as '2026-11-16 09:00'."""
    return to_instant(datetime.fromisoformat(text), ZoneInfo(zone))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# Open ranges


def test_two_ranges_on_one_day() -> None:
    calendar = build(mon=["09:00-12:00", "13:00-17:30"])
    expected = {
        "2026-11-16 08:59": False,
        "2026-11-16 09:00": True,
        "2026-11-16 11:59": True,
        "2026-11-16 12:00": False,
        "2026-11-16 12:30": False,
        "2026-11-16 13:00": True,
        "2026-11-16 17:29": True,
        "2026-11-16 17:30": False,
        "2026-11-17 10:00": False,
    }
    for moment, is_open in expected.items():
        assert calendar.is_open(local(moment)) is is_open, moment


def test_each_range_is_own_period() -> None:
    calendar = build(mon=["09:00-12:00", "13:00-17:30"])
    morning = calendar.period_at(local("2026-11-16 10:00"))
    lunch = calendar.period_at(local("2026-11-16 12:30"))
    afternoon = calendar.period_at(local("2026-11-16 14:00"))
    evening = calendar.period_at(local("2026-11-16 18:00"))
    assert morning.state is PeriodState.OPEN
    assert afternoon.state is PeriodState.OPEN
    assert lunch.state is PeriodState.CLOSED
    assert len({morning.id, lunch.id, afternoon.id, evening.id}) == 4
    assert morning.start == local("2026-11-16 09:00")
    assert morning.end == local("2026-11-16 12:00")
    assert lunch.start == local("2026-11-16 12:00")
    assert lunch.end == local("2026-11-16 13:00")


def test_touching_ranges_stay_separate_periods() -> None:
    calendar = build(mon=["09:00-12:00", "12:00-17:00"])
    before = calendar.period_at(local("2026-11-16 11:59"))
    after = calendar.period_at(local("2026-11-16 12:00"))
    assert before.state is after.state is PeriodState.OPEN
    assert before.id != after.id


def test_whole_day_range() -> None:
    calendar = build(sat=["00:00-24:00"])
    assert calendar.is_open(local("2026-11-21 00:00"))
    assert calendar.is_open(local("2026-11-21 23:59"))
    assert not calendar.is_open(local("2026-11-22 00:00"))


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        ("2026-11-16 21:59", False),  # Monday, before its shift
        ("2026-11-16 22:00", True),
        ("2026-11-17 02:15", True),
        ("2026-11-17 05:59", True),
        ("2026-11-17 06:00", False),
        ("2026-11-21 02:00", True),  # Saturday, inside Friday's shift
        ("2026-11-21 22:00", False),  # no Saturday shift
        ("2026-11-16 02:00", False),  # Monday, no Sunday shift
    ],
)
def test_night_shift_crosses_midnight(moment: str, is_open: bool) -> None:
    shifts = {day: ["22:00-06:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
    calendar = build("America/Chicago", **shifts)
    assert calendar.is_open(local(moment, "America/Chicago")) is is_open


def test_night_shift_is_one_period() -> None:
    calendar = build(fri=["22:00-02:00"])
    friday = calendar.period_at(local("2026-11-20 23:00"))
    saturday = calendar.period_at(local("2026-11-21 01:30"))
    assert friday.state is PeriodState.OPEN
    assert friday.id == saturday.id
    assert friday.end == local("2026-11-21 02:00")


def test_naive_datetime_rejected() -> None:
    calendar = build(**WEEKDAY_HOURS)
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.is_open(datetime(2026, 11, 16, 10, 0))


def test_other_zone_same_instant() -> None:
    calendar = build(**WEEKDAY_HOURS)
    # 09:30 in New York is 06:30 in Los Angeles.
    moment = datetime(2026, 11, 16, 6, 30, tzinfo=ZoneInfo("America/Los_Angeles"))
    assert calendar.is_open(moment)


def test_business_zone_is_default() -> None:
    settings = CalendarSettings(mon=["09:00-17:00"])
    calendar = BusinessCalendar.from_settings(settings, "Europe/Berlin")
    assert calendar.zone == ZoneInfo("Europe/Berlin")
    assert calendar.is_open(local("2026-11-16 09:00", "Europe/Berlin"))


# Closed periods


def test_weekend_is_one_closed_period() -> None:
    calendar = build(**WEEKDAY_HOURS)
    friday = calendar.period_at(local("2026-11-20 18:00"))
    sunday = calendar.period_at(local("2026-11-22 12:00"))
    monday = calendar.period_at(local("2026-11-23 08:59"))
    assert friday.state is PeriodState.CLOSED
    assert friday.id == sunday.id == monday.id
    assert friday.start == local("2026-11-20 17:00")
    assert friday.end == local("2026-11-23 09:00")
    assert friday.open_id is None


def test_each_night_own_closed_period() -> None:
    calendar = build(**WEEKDAY_HOURS)
    monday_night = calendar.period_at(local("2026-11-16 23:00"))
    tuesday_night = calendar.period_at(local("2026-11-17 23:00"))
    assert monday_night.id != tuesday_night.id


def test_empty_calendar_always_closed() -> None:
    calendar = build()
    period = calendar.period_at(local("2026-11-16 10:00"))
    assert not calendar.has_hours
    assert period.state is PeriodState.CLOSED
    assert period.id == "closed:always"
    assert calendar.next_open(local("2026-11-16 10:00")) is None


# Holidays


def test_fixed_holiday_closes_day() -> None:
    calendar = build(holidays=["2026-12-25"], **WEEKDAY_HOURS)
    assert not calendar.is_open(local("2026-12-25 10:00"))
    assert calendar.is_open(local("2026-12-24 10:00"))
    assert calendar.is_open(local("2027-12-24 10:00"))


def test_yearly_holiday_every_year() -> None:
    calendar = build(holidays=["01-01"], **WEEKDAY_HOURS)
    assert not calendar.is_open(local("2026-01-01 10:00"))  # Thursday
    assert not calendar.is_open(local("2027-01-01 10:00"))  # Friday
    assert calendar.is_open(local("2027-01-04 10:00"))


@pytest.mark.parametrize(
    ("rule", "dates"),
    [
        ("4th thu nov", [date(2026, 11, 26), date(2027, 11, 25)]),
        ("last mon may", [date(2026, 5, 25), date(2027, 5, 31)]),
        ("1st mon sep", [date(2026, 9, 7), date(2027, 9, 6)]),
        ("Third Monday of January", [date(2026, 1, 19), date(2027, 1, 18)]),
        ("last fri dec", [date(2026, 12, 25), date(2027, 12, 31)]),
    ],
)
def test_nth_weekday_holiday(rule: str, dates: list[date]) -> None:
    holiday = parse_holiday(rule)
    for year in (2026, 2027):
        matched = [
            date(year, 1, 1) + timedelta(days=offset)
            for offset in range(366)
            if holiday.matches(date(year, 1, 1) + timedelta(days=offset))
            and (date(year, 1, 1) + timedelta(days=offset)).year == year
        ]
        assert matched == [d for d in dates if d.year == year]


def test_fifth_weekday_missing_some_years() -> None:
    holiday = parse_holiday("5th thu nov")
    assert holiday.matches(date(2029, 11, 29))
    assert not any(holiday.matches(date(2026, 11, day)) for day in range(1, 31))


def test_holiday_rule_closes_day() -> None:
    calendar = build(holidays=["4th thu nov"], **WEEKDAY_HOURS)
    assert not calendar.is_open(local("2026-11-26 10:00"))
    assert calendar.is_open(local("2026-11-19 10:00"))
    assert calendar.is_open(local("2026-11-27 10:00"))


def test_holiday_keeps_previous_night_shift() -> None:
    calendar = build(fri=["22:00-02:00"], sat=["22:00-02:00"], holidays=["12-26"])
    # Friday's shift runs into the holiday Saturday; Saturday's own shift is off.
    assert calendar.is_open(local("2026-12-26 01:00"))
    assert not calendar.is_open(local("2026-12-26 23:00"))


def test_holiday_joins_closed_period() -> None:
    calendar = build(holidays=["2026-11-26", "2026-11-27"], **WEEKDAY_HOURS)
    wednesday_night = calendar.period_at(local("2026-11-25 20:00"))
    friday = calendar.period_at(local("2026-11-27 12:00"))
    assert wednesday_night.id == friday.id
    assert friday.end == local("2026-11-30 09:00")


# Peak windows


def test_peak_dates_whole_days() -> None:
    calendar = build(peak=[{"dates": ["2026-11-27..2026-11-30"]}], **WEEKDAY_HOURS)
    assert calendar.is_peak(local("2026-11-27 00:00"))
    assert calendar.is_peak(local("2026-11-30 23:59"))
    assert not calendar.is_peak(local("2026-11-26 23:59"))
    assert not calendar.is_peak(local("2026-12-01 00:00"))


def test_peak_yearly_range_wraps_new_year() -> None:
    calendar = build(peak=[{"dates": ["12-20..01-05"]}], **WEEKDAY_HOURS)
    assert calendar.is_peak(local("2026-12-20 10:00"))
    assert calendar.is_peak(local("2027-01-05 10:00"))
    assert calendar.is_peak(local("2028-01-03 10:00"))
    assert not calendar.is_peak(local("2027-01-06 10:00"))
    assert not calendar.is_peak(local("2026-12-19 10:00"))


def test_peak_daily_hours() -> None:
    calendar = build(peak=[{"hours": ["12:00-14:00"]}], **WEEKDAY_HOURS)
    assert calendar.is_peak(local("2026-11-16 12:00"))
    assert calendar.is_peak(local("2026-11-22 13:00"))  # a Sunday, closed
    assert not calendar.is_peak(local("2026-11-16 14:00"))


def test_peak_days_and_hours_both_match() -> None:
    window = {"days": ["mon"], "hours": ["09:00-11:00"], "dates": ["11-01..11-30"]}
    calendar = build(peak=[window], **WEEKDAY_HOURS)
    assert calendar.is_peak(local("2026-11-16 10:00"))
    assert not calendar.is_peak(local("2026-11-17 10:00"))  # Tuesday
    assert not calendar.is_peak(local("2026-12-07 10:00"))  # Monday, December
    assert not calendar.is_peak(local("2026-11-16 11:00"))


def test_peak_period_inside_open_period() -> None:
    calendar = build(peak=[{"hours": ["12:00-14:00"]}], **WEEKDAY_HOURS)
    before = calendar.period_at(local("2026-11-16 11:00"))
    busy = calendar.period_at(local("2026-11-16 12:30"))
    later_busy = calendar.period_at(local("2026-11-16 13:59"))
    after = calendar.period_at(local("2026-11-16 15:00"))
    assert before.state is after.state is PeriodState.OPEN
    assert busy.state is PeriodState.PEAK
    assert busy.id == later_busy.id
    assert busy.open_id == before.id == after.id
    assert busy.start == local("2026-11-16 12:00")
    assert busy.end == local("2026-11-16 14:00")


def test_peak_days_clipped_to_open_period() -> None:
    calendar = build(peak=[{"dates": ["11-27..11-30"]}], **WEEKDAY_HOURS)
    friday = calendar.period_at(local("2026-11-27 10:00"))
    monday = calendar.period_at(local("2026-11-30 10:00"))
    assert friday.state is monday.state is PeriodState.PEAK
    assert friday.start == local("2026-11-27 09:00")
    assert friday.end == local("2026-11-27 17:00")
    assert friday.id != monday.id


def test_peak_outside_hours_is_closed() -> None:
    calendar = build(peak=[{"hours": ["18:00-20:00"]}], **WEEKDAY_HOURS)
    moment = local("2026-11-16 19:00")
    assert calendar.is_peak(moment)
    assert calendar.period_at(moment).state is PeriodState.CLOSED


# next_open


def test_next_open_when_open_is_now() -> None:
    calendar = build(**WEEKDAY_HOURS)
    moment = local("2026-11-16 10:00")
    assert calendar.next_open(moment) == moment


def test_next_open_after_weekend() -> None:
    calendar = build(**WEEKDAY_HOURS)
    assert calendar.next_open(local("2026-11-20 17:00")) == local("2026-11-23 09:00")


def test_next_open_skips_holidays() -> None:
    calendar = build(holidays=["12-25", "2026-12-28"], **WEEKDAY_HOURS)
    assert calendar.next_open(local("2026-12-24 18:00")) == local("2026-12-29 09:00")


def test_next_open_same_day_later_range() -> None:
    calendar = build(mon=["09:00-12:00", "13:00-17:30"])
    assert calendar.next_open(local("2026-11-16 12:15")) == local("2026-11-16 13:00")


def test_next_open_returns_utc() -> None:
    calendar = build(**WEEKDAY_HOURS)
    found = calendar.next_open(local("2026-11-16 07:00"))
    assert found == utc("2026-11-16 14:00")
    assert found is not None
    assert found.utcoffset() == timedelta(0)


# Clock changes in America/New_York: 2026-03-08 02:00 skips to 03:00, and
# 2026-11-01 02:00 goes back to 01:00.


def test_spring_forward_range_is_shorter() -> None:
    calendar = build(sun=["01:00-05:00"])
    period = calendar.period_at(utc("2026-03-08 08:30"))
    assert period.state is PeriodState.OPEN
    assert period.start == utc("2026-03-08 06:00")  # 01:00 EST
    assert period.end == utc("2026-03-08 09:00")  # 05:00 EDT
    assert not calendar.is_open(utc("2026-03-08 09:00"))


def test_fall_back_range_is_longer() -> None:
    calendar = build(sun=["00:00-03:00"])
    period = calendar.period_at(utc("2026-11-01 06:30"))  # the second 01:30
    assert period.state is PeriodState.OPEN
    assert period.start == utc("2026-11-01 04:00")  # 00:00 EDT
    assert period.end == utc("2026-11-01 08:00")  # 03:00 EST
    assert period.end - period.start == timedelta(hours=4)


def test_skipped_start_opens_after_skip() -> None:
    calendar = build(sun=["02:30-04:00"])
    period = calendar.period_at(utc("2026-03-08 07:15"))
    assert period.start == utc("2026-03-08 07:00")  # 03:00 EDT
    assert not calendar.is_open(utc("2026-03-08 06:59"))


def test_skipped_times_keep_ranges_ordered() -> None:
    calendar = build(sun=["01:00-02:30", "03:00-05:00"])
    first = calendar.period_at(utc("2026-03-08 06:30"))
    second = calendar.period_at(utc("2026-03-08 07:30"))
    assert first.end == utc("2026-03-08 07:00")
    assert second.start == utc("2026-03-08 07:00")
    assert first.id != second.id


def test_weekday_hours_follow_offset_change() -> None:
    calendar = build(**WEEKDAY_HOURS)
    assert calendar.next_open(utc("2026-03-02 05:00")) == utc("2026-03-02 14:00")
    assert calendar.next_open(utc("2026-03-09 05:00")) == utc("2026-03-09 13:00")
    assert calendar.next_open(utc("2026-11-02 05:00")) == utc("2026-11-02 14:00")


def test_next_open_across_spring_forward() -> None:
    calendar = build(**WEEKDAY_HOURS)
    friday_close = local("2026-03-06 17:00")
    assert calendar.next_open(friday_close) == utc("2026-03-09 13:00")
    weekend = calendar.period_at(utc("2026-03-08 12:00"))
    assert weekend.start == utc("2026-03-06 22:00")
    assert weekend.end == utc("2026-03-09 13:00")


def test_night_shift_over_fall_back() -> None:
    calendar = build(sat=["22:00-02:00"])
    period = calendar.period_at(utc("2026-11-01 06:30"))  # 01:30 EST
    assert period.state is PeriodState.OPEN
    assert period.start == utc("2026-11-01 02:00")  # Saturday 22:00 EDT
    assert period.end == utc("2026-11-01 07:00")  # Sunday 02:00 EST


def test_repeated_time_means_first() -> None:
    zone = ZoneInfo(NEW_YORK)
    assert to_instant(datetime(2026, 11, 1, 1, 30), zone) == utc("2026-11-01 05:30")


def test_peak_hours_on_spring_forward() -> None:
    calendar = build(sun=["00:00-24:00"], peak=[{"hours": ["01:00-04:00"]}])
    busy = calendar.period_at(utc("2026-03-08 07:30"))
    assert busy.state is PeriodState.PEAK
    assert busy.end - busy.start == timedelta(hours=2)


# Parsing and validation


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("09:00-17:30", 540, 1050),
        ("22:00-02:00", 1320, 1560),
        ("00:00-24:00", 0, 1440),
        ("9:05-9:10", 545, 550),
        (" 22:00 - 00:00 ", 1320, 1440),
    ],
)
def test_time_range_parsed(text: str, start: int, end: int) -> None:
    hours = parse_time_range(text)
    assert (hours.start, hours.end) == (start, end)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("9-5", "use HH:MM-HH:MM"),
        ("09:00-09:00", "use 00:00-24:00 for a whole day"),
        ("24:00-02:00", "invalid time"),
        ("09:60-10:00", "invalid time"),
        ("22:00-24:30", "24:00 is the latest end"),
        ("22:00-25:00", "24:00 is the latest end"),
        ("", "use HH:MM-HH:MM"),
    ],
)
def test_time_range_rejected(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_time_range(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-02-30", "invalid date"),
        ("02-30", "invalid month and day"),
        ("6th mon may", "unknown position '6th'"),
        ("4th thx nov", "unknown weekday 'thx'"),
        ("4th thu novem", "unknown month 'novem'"),
        ("christmas", "use a date"),
    ],
)
def test_holiday_rejected(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_holiday(text)


def test_leap_day_holiday_yearly() -> None:
    holiday = parse_holiday("02-29")
    assert holiday.matches(date(2028, 2, 29))
    assert not holiday.matches(date(2027, 3, 1))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-12-24..2026-11-27", "ends before it starts"),
        ("2026-11-27..12-24", "both ends must be"),
        ("black friday", "invalid date or date range"),
    ],
)
def test_date_span_rejected(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_date_span(text)


def test_overlapping_ranges_rejected() -> None:
    with pytest.raises(ValidationError) as caught:
        CalendarSettings(fri=["22:00-02:00"], sat=["01:00-09:00"])
    assert "fri 22:00-02:00 overlaps sat 01:00-09:00" in str(caught.value)


def test_sunday_overlap_wraps_to_monday() -> None:
    with pytest.raises(ValidationError) as caught:
        CalendarSettings(sun=["23:00-03:00"], mon=["02:00-05:00"])
    assert "mon 02:00-05:00 overlaps sun 23:00-03:00" in str(caught.value)


def test_empty_peak_window_rejected() -> None:
    with pytest.raises(ValidationError) as caught:
        CalendarSettings(mon=["09:00-17:00"], peak=[{}])
    assert "a peak window needs dates, days or hours" in str(caught.value)


def test_config_errors_name_key_paths(write_config: Callable[..., Path]) -> None:
    path = write_config(
        """
        [calendar]
        time_zone = "Mars/Olympus"
        mon = ["09:00-17:00", "9-5"]
        holidays = ["12-25", "6th mon may"]

        [[calendar.peak]]
        days = ["funday"]
        """
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    text = str(caught.value)
    assert "calendar.time_zone: unknown time zone 'Mars/Olympus'" in text
    assert "calendar.mon.1: invalid time range '9-5'" in text
    assert "calendar.holidays.1: invalid holiday '6th mon may'" in text
    assert "calendar.peak.0.days.0: unknown weekday 'funday'" in text
