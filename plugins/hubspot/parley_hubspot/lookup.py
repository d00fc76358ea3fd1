"""Finding one HubSpot contact by phone number or email address.

HubSpot stores ``phone`` and ``mobilephone`` as typed, so an exact search for
``+14155550123`` misses a contact saved as ``(415) 555-0123``. The search
requests the common written forms of the number in one request, and every
candidate is confirmed by normalising its stored numbers to E.164. When
several contacts share the address, ``duplicate_rule`` picks one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

import phonenumbers

from parley_hubspot.const import (
    PROPERTY_EMAIL,
    PROPERTY_LAST_MODIFIED,
    PROPERTY_MOBILE_PHONE,
    PROPERTY_PHONE,
    SEARCHABLE_PHONE_PROPERTIES,
)
from parley_hubspot.errors import mask_phone
from parley_hubspot.mapping import (
    contact_email,
    contact_phones,
    created_ms,
    last_modified_ms,
)
from parley_hubspot.settings import DuplicateRule

logger = logging.getLogger(__name__)

# Candidates read per lookup. Two contacts sharing a number is common; ten
# is a sign of test data or imports, and the newest ten are enough to pick.
LOOKUP_LIMIT = 10

_SEPARATORS = (" ", "-", ".", "")

_DIGITS = re.compile(r"\d+")


def phone_forms(e164: str) -> list[str]:
    """Return the ways a person may have typed a number into HubSpot.

    ``+14155550123`` gives ``+14155550123``, ``(415) 555-0123``,
    ``415-555-0123``, ``415.555.0123``, ``4155550123``, ``14155550123``,
    ``+1 415-555-0123``, ``+1 415 555 0123`` and similar forms, built from
    the number's national and international formats.
    """
    number = phonenumbers.parse(e164, None)
    national = phonenumbers.format_number(
        number, phonenumbers.PhoneNumberFormat.NATIONAL
    )
    international = phonenumbers.format_number(
        number, phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    significant = phonenumbers.national_significant_number(number)
    country = str(number.country_code)

    forms = [e164, national, international, significant, country + significant]
    forms.append(f"+{country} {significant}")
    if not national.startswith("0"):
        # Without a trunk prefix the national form may follow the country
        # code as is, as in "+1 (415) 555-0123".
        forms.append(f"+{country} {national}")
    national_groups = _DIGITS.findall(national)
    international_groups = _DIGITS.findall(international)
    for separator in _SEPARATORS:
        forms.append(separator.join(national_groups))
        forms.append("+" + separator.join(international_groups))
        forms.append(separator.join(international_groups))
    return list(dict.fromkeys(form for form in forms if form))


def phone_search(e164: str, properties: Sequence[str]) -> dict[str, Any]:
    """Build the search request for the contacts that may have this number."""
    forms = phone_forms(e164)
    significant = phonenumbers.national_significant_number(
        phonenumbers.parse(e164, None)
    )
    groups = [
        {"filters": [{"propertyName": name, "operator": "IN", "values": forms}]}
        for name in (PROPERTY_MOBILE_PHONE, PROPERTY_PHONE)
    ]
    groups.extend(
        {"filters": [{"propertyName": name, "operator": "EQ", "value": significant}]}
        for name in SEARCHABLE_PHONE_PROPERTIES
    )
    return _search_body(groups, properties)


def email_search(email: str, properties: Sequence[str]) -> dict[str, Any]:
    """Build the search request for the contacts with this email address."""
    groups = [
        {
            "filters": [
                {"propertyName": PROPERTY_EMAIL, "operator": "EQ", "value": email}
            ]
        }
    ]
    return _search_body(groups, properties)


def _search_body(
    groups: list[dict[str, Any]], properties: Sequence[str]
) -> dict[str, Any]:
    return {
        "filterGroups": groups,
        "properties": list(properties),
        "sorts": [{"propertyName": PROPERTY_LAST_MODIFIED, "direction": "DESCENDING"}],
        "limit": LOOKUP_LIMIT,
    }


def confirm_phone(
    results: Sequence[Mapping[str, Any]], e164: str, region: str
) -> list[Mapping[str, Any]]:
    """Keep the results whose phone or mobile phone is the number."""
    return [result for result in results if e164 in contact_phones(result, region)]


def confirm_email(
    results: Sequence[Mapping[str, Any]], email: str
) -> list[Mapping[str, Any]]:
    """Keep the results whose email address is the address."""
    return [result for result in results if contact_email(result) == email]


def choose_contact(
    candidates: Sequence[Mapping[str, Any]],
    rule: DuplicateRule,
    shown_address: str,
) -> Mapping[str, Any] | None:
    """Pick the contact an address belongs to when one or more share it.

    Args:
        candidates: confirmed contacts with the address.
        rule: ``last_modified`` takes the most recently modified contact,
            ``first_created`` the oldest, and ``none`` takes no contact when
            there are several.
        shown_address: the address as logs may show it (masked).

    Returns:
        The chosen contact, or None when there is no candidate or the rule
        refuses to choose.
    """
    if not candidates:
        return None
    if len(candidates) == 1:
        return candidates[0]

    ids = ", ".join(str(candidate.get("id")) for candidate in candidates)
    if rule == "none":
        logger.warning(
            "%d HubSpot contacts (%s) share %s; duplicate_rule is none, so none "
            "of them is used",
            len(candidates),
            ids,
            shown_address,
        )
        return None

    if rule == "first_created":
        chosen = min(candidates, key=_created_key)
        reason = "the first created"
    else:
        chosen = max(candidates, key=_modified_key)
        reason = "the most recently modified"
    logger.warning(
        "%d HubSpot contacts (%s) share %s; using %s, %s (duplicate_rule %s)",
        len(candidates),
        ids,
        shown_address,
        chosen.get("id"),
        reason,
        rule,
    )
    return chosen


def shown_phone(e164: str) -> str:
    """Return a phone number as logs show it: its last two digits."""
    return f"phone {mask_phone(e164)}"


def _modified_key(contact: Mapping[str, Any]) -> tuple[int, str]:
    return (last_modified_ms(contact) or 0, str(contact.get("id")))


def _created_key(contact: Mapping[str, Any]) -> tuple[int, str]:
    created = created_ms(contact)
    return (created if created is not None else 2**63, str(contact.get("id")))
