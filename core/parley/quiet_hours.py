"""Quiet hours: when a non-conversational message may reach a recipient.

The recipient's local time comes from the contact's known time zone, else
from the zones the phone number's prefix belongs to (the ``phonenumbers``
package's time-zone data). A number whose prefix spans several zones may
receive a message only when the time is inside the window in each of them.
A number with no usable zone (toll-free, unknown) is judged in the
business's time zone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import geocoder
from phonenumbers import timezone as phone_timezone

# A prefix that maps to more zones than this (toll-free numbers map to
# about forty) gives no useful location for the recipient.
_MAX_PREFIX_ZONES = 4

_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")

US_STATES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "District of Columbia": "DC",
    "Florida": "FL", "Georgia": "GA", "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL",
    "Indiana": "IN", "Iowa": "IA", "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA",
    "Maine": "ME", "Maryland": "MD", "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN",
    "Mississippi": "MS", "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV",
    "New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY",
    "North Carolina": "NC", "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR",
    "Pennsylvania": "PA", "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD",
    "Tennessee": "TN", "Texas": "TX", "Utah": "UT", "Vermont": "VT", "Virginia": "VA",
    "Washington": "WA", "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY",
}  # fmt: skip


@dataclass(frozen=True)
class SendingWindow:
    """Local times between which messages may be sent; start inclusive, end exclusive.

    A window whose start equals its end, such as ``00:00-00:00``, is open all
    day: no quiet hours.
    """

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> SendingWindow:
        """Parse ``"08:00-21:00"``.

        Raises:
            ValueError: the text is not two 24-hour times joined by ``-``.
        """
        match = _WINDOW.match(text)
        if match is None:
            raise ValueError(
                f"invalid sending window {text!r}; use HH:MM-HH:MM such as 08:00-21:00"
            )
        start_hour, start_minute, end_hour, end_minute = (
            int(part) for part in match.groups()
        )
        try:
            return cls(time(start_hour, start_minute), time(end_hour, end_minute))
        except ValueError as err:
            raise ValueError(f"invalid sending window {text!r}: {err}") from None

    def contains(self, moment: time) -> bool:
        """Return True when a local time of day is inside the window."""
        if self.start == self.end:
            return True
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def narrowed(self, other: SendingWindow) -> SendingWindow:
        """Return the stricter of two same-day windows: the later start and earlier end."""
        if self.start == self.end:
            return other
        if other.start == other.end:
            return self
        return SendingWindow(max(self.start, other.start), min(self.end, other.end))

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def recipient_zones(
    phone: str | None, contact_zone: str | None, business_zone: str
) -> list[ZoneInfo]:
    """Return the time zones to judge a recipient's local time in."""
    known = _zone(contact_zone)
    if known is not None:
        return [known]

    zones = [_zone(name) for name in _prefix_zone_names(phone)]
    found = [zone for zone in zones if zone is not None]
    if found and len(found) <= _MAX_PREFIX_ZONES:
        return found

    fallback = _zone(business_zone)
    return [fallback] if fallback is not None else [ZoneInfo("UTC")]


def us_state(phone: str | None) -> str | None:
    """Return the US state code a phone number's area code belongs to, if known."""
    number = _parse(phone)
    if number is None or number.country_code != 1:
        return None
    description = geocoder.description_for_number(number, "en")
    if re.search(r", [A-Z]{2}$", description):
        return description[-2:]
    return US_STATES.get(description)


def window_for(
    phone: str | None,
    default: SendingWindow,
    state_windows: Mapping[str, SendingWindow],
) -> SendingWindow:
    """Return the sending window for a number: the default, narrowed by its state's."""
    state = us_state(phone)
    if state is not None and state in state_windows:
        return default.narrowed(state_windows[state])
    return default


def next_allowed(
    now: datetime, zones: Sequence[ZoneInfo], window: SendingWindow
) -> datetime | None:
    """Return when the window next opens in every zone, or None if it is open now.

    Args:
        now: the current time (timezone-aware).
        zones: the recipient's candidate zones.
        window: the local sending window.
    """
    candidate = now
    for _ in range(8):
        waits = [_opening(candidate, zone, window) for zone in zones]
        later = [moment for moment in waits if moment is not None]
        if not later:
            return None if candidate == now else candidate
        candidate = max(later)
    return candidate


def _opening(
    moment: datetime, zone: ZoneInfo, window: SendingWindow
) -> datetime | None:
    """Return when the window opens next in one zone, or None if open at ``moment``."""
    local = moment.astimezone(zone)
    if window.contains(local.time().replace(tzinfo=None)):
        return None
    day = local.date()
    if local.time().replace(tzinfo=None) >= window.start:
        day = day + timedelta(days=1)
    opening = datetime.combine(day, window.start, tzinfo=zone)
    return opening.astimezone(moment.tzinfo)


def _prefix_zone_names(phone: str | None) -> tuple[str, ...]:
    number = _parse(phone)
    if number is None:
        return ()
    names = phone_timezone.time_zones_for_number(number)
    return tuple(name for name in names if name != "Etc/Unknown")


def _parse(phone: str | None) -> phonenumbers.PhoneNumber | None:
    if not phone:
        return None
    try:
        return phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return None


def _zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
