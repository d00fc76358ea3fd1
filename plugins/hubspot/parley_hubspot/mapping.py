"""HubSpot contacts as parley contact records, with values rendered for people.

HubSpot returns every property value as a string: an enumeration gives its
option's internal value, a number may carry trailing zeros, and dates are
ISO strings or epoch milliseconds. Templates get what a person reads: the
option's label, ``12.5`` rather than ``12.50``, and a date in the
business's format.
"""

from __future__ import annotations

import functools
import logging
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from parley import (
    AddressKind,
    ChannelAddress,
    ContactRecord,
    normalize_email,
    normalize_phone,
)
from parley_hubspot.const import (
    FIELD_CONTACT_ID,
    PLUGIN_ID,
    PROPERTY_CREATED,
    PROPERTY_EMAIL,
    PROPERTY_FIRST_NAME,
    PROPERTY_LAST_MODIFIED,
    PROPERTY_LAST_NAME,
    PROPERTY_MOBILE_PHONE,
    PROPERTY_PHONE,
    PROPERTY_TIME_ZONE,
)
from parley_hubspot.properties import PropertyDefinition
from parley_hubspot.settings import HubSpotSettings, format_date

logger = logging.getLogger(__name__)

# Enumeration properties with several options selected separate them so.
_MULTI_VALUE_SEPARATOR = ";"

# HubSpot's hs_timezone values spell "/" as "_slash_", as in
# america_slash_los_angeles.
_ZONE_SLASH = "_slash_"


@dataclass(frozen=True)
class Rendering:
    """The formats and time zone that rendering a value needs besides its definition.

    Attributes:
        date_format: strftime format for date properties.
        datetime_format: strftime format for date-time properties.
        time_zone: the zone date-times are shown in.
    """

    date_format: str
    datetime_format: str
    time_zone: zoneinfo.ZoneInfo

    @classmethod
    def from_settings(cls, settings: HubSpotSettings, time_zone: str) -> Rendering:
        """Build it from the plugin's settings and the business's time zone."""
        return cls(
            settings.date_format, settings.datetime_format, zoneinfo.ZoneInfo(time_zone)
        )


def render_value(
    raw: str | None, definition: PropertyDefinition | None, rendering: Rendering
) -> str:
    """Return a property value as a person reads it; ``""`` when it has none.

    Args:
        raw: the value as HubSpot returns it.
        definition: the property's definition, or None when it is unknown;
            the value is then returned stripped.
        rendering: the formats for dates and date-times.
    """
    if raw is None or not raw.strip():
        return ""
    value = raw.strip()
    if definition is None:
        return value

    kind = definition.type
    if kind == "enumeration":
        return _option_labels(value, definition)
    if kind == "bool":
        return _boolean_label(value, definition)
    if kind == "number":
        return _plain_number(value)
    if kind == "date":
        return _date_text(value, definition, rendering)
    if kind == "datetime":
        return _datetime_text(value, definition, rendering)
    return value


def _option_labels(value: str, definition: PropertyDefinition) -> str:
    parts = [part.strip() for part in value.split(_MULTI_VALUE_SEPARATOR)]
    labels = []
    for part in parts:
        if not part:
            continue
        label = definition.options.get(part)
        if label is None:
            logger.debug(
                "property %s has no option with the value of this contact; "
                "using the value itself",
                definition.name,
            )
            label = part
        labels.append(label)
    return ", ".join(labels)


def _boolean_label(value: str, definition: PropertyDefinition) -> str:
    label = definition.options.get(value)
    if label is not None:
        return label
    lowered = value.lower()
    if lowered == "true":
        return "Yes"
    if lowered == "false":
        return "No"
    return value


def _plain_number(value: str) -> str:
    """Return a number without trailing zeros or exponent: ``12.50`` gives ``12.5``."""
    try:
        number = Decimal(value)
    except InvalidOperation:
        return value
    if not number.is_finite():
        return value

    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _date_text(value: str, definition: PropertyDefinition, rendering: Rendering) -> str:
    day = _parse_date(value)
    if day is None:
        logger.debug(
            "property %s contains an invalid date; using the value as is",
            definition.name,
        )
        return value
    return format_date(datetime(day.year, day.month, day.day), rendering.date_format)


def _datetime_text(
    value: str, definition: PropertyDefinition, rendering: Rendering
) -> str:
    moment = parse_timestamp(value)
    if moment is None:
        logger.debug(
            "property %s contains an invalid date-time; using the value as is",
            definition.name,
        )
        return value
    return format_date(
        moment.astimezone(rendering.time_zone), rendering.datetime_format
    )


def _parse_date(value: str) -> date | None:
    """Read ``2026-11-05``, an ISO date-time, or epoch milliseconds at UTC midnight."""
    if value.isdigit():
        moment = parse_timestamp(value)
        return moment.date() if moment else None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def parse_timestamp(value: str | None) -> datetime | None:
    """Read an ISO date-time or epoch milliseconds as an aware UTC datetime."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        try:
            return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
        except (OverflowError, ValueError):
            return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def timestamp_ms(value: str | None) -> int | None:
    """Return an ISO date-time or epoch milliseconds as epoch milliseconds."""
    moment = parse_timestamp(value)
    return int(moment.timestamp() * 1000) if moment else None


def iana_zone(value: str | None) -> str | None:
    """Return the IANA zone of an ``hs_timezone`` value, or None when unknown.

    ``america_slash_los_angeles`` gives ``America/Los_Angeles``. The name is
    matched against the installed zone database without regard to case.
    """
    if not value or not value.strip():
        return None
    candidate = value.strip().replace(_ZONE_SLASH, "/").lower()
    return _zones_by_lower_name().get(candidate)


@functools.cache
def _zones_by_lower_name() -> dict[str, str]:
    return {name.lower(): name for name in zoneinfo.available_timezones()}


def contact_record(
    contact: Mapping[str, Any],
    fields: Mapping[str, str],
    definitions: Mapping[str, PropertyDefinition],
    rendering: Rendering,
    region: str,
) -> ContactRecord:
    """Build the plugin's record of one HubSpot contact.

    Args:
        contact: one result of a search or batch read.
        fields: template field name to property internal name, for the
            properties that exist.
        definitions: property definitions by internal name.
        rendering: the formats for dates and date-times.
        region: the country for phone numbers without a country code.
    """
    contact_id = str(contact.get("id") or "")
    properties = _properties(contact)

    phones = contact_phones(contact, region)
    email = contact_email(contact)

    values = {FIELD_CONTACT_ID: contact_id} if contact_id else {}
    for name, prop in fields.items():
        value = render_value(properties.get(prop), definitions.get(prop), rendering)
        # An empty value is left out, so that another plugin's value or the
        # template's fallback applies.
        if value:
            values[name] = value

    addresses = [ChannelAddress(AddressKind.PHONE, phone) for phone in phones]
    if email:
        addresses.append(ChannelAddress(AddressKind.EMAIL, email))

    return ContactRecord(
        source=PLUGIN_ID,
        external_id=contact_id or None,
        first_name=_name(properties.get(PROPERTY_FIRST_NAME)),
        last_name=_name(properties.get(PROPERTY_LAST_NAME)),
        email=email,
        phone=phones[0] if phones else None,
        time_zone=iana_zone(properties.get(PROPERTY_TIME_ZONE)),
        fields=values,
        addresses=tuple(addresses),
    )


def contact_phones(contact: Mapping[str, Any], region: str) -> list[str]:
    """Return the contact's phone numbers in E.164, mobile first."""
    properties = _properties(contact)
    phones = [
        normalize_phone(properties.get(name), region)
        for name in (PROPERTY_MOBILE_PHONE, PROPERTY_PHONE)
    ]
    return list(dict.fromkeys(phone for phone in phones if phone))


def contact_email(contact: Mapping[str, Any]) -> str | None:
    """Return the contact's email address in lower case, or None."""
    return normalize_email(_properties(contact).get(PROPERTY_EMAIL))


def last_modified_ms(contact: Mapping[str, Any]) -> int | None:
    """Return when the contact last changed, in epoch milliseconds."""
    properties = _properties(contact)
    return timestamp_ms(properties.get(PROPERTY_LAST_MODIFIED)) or timestamp_ms(
        _text(contact.get("updatedAt"))
    )


def created_ms(contact: Mapping[str, Any]) -> int | None:
    """Return when the contact was created, in epoch milliseconds."""
    properties = _properties(contact)
    return timestamp_ms(properties.get(PROPERTY_CREATED)) or timestamp_ms(
        _text(contact.get("createdAt"))
    )


def _properties(contact: Mapping[str, Any]) -> dict[str, str | None]:
    raw = contact.get("properties")
    if not isinstance(raw, Mapping):
        return {}
    return {str(key): _text(value) for key, value in raw.items()}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _name(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    return " ".join(value.split())
