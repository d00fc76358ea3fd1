"""WhatsApp user ids: phone numbers (wa_id) and business-scoped user ids.

A WhatsApp user is normally known by their phone number, which webhooks
carry as digits without ``+`` (``wa_id``). A user who adopts a username
may withhold the number. Webhooks then carry only a business-scoped user
id (BSUID), and messages to that user name it in ``recipient`` instead of
a number in ``to``.
"""

from __future__ import annotations

from parley import AddressKind, ChannelAddress, DeliveryError, normalize_phone
from parley_whatsapp.const import BSUID_PATTERN, PLUGIN_ID


def is_bsuid(value: str) -> bool:
    """Return True when ``value`` has the form of a BSUID (``US.1349...``)."""
    return BSUID_PATTERN.fullmatch(value) is not None


def phone_address(wa_id: str) -> ChannelAddress | None:
    """Return the E.164 phone address of a ``wa_id``, or None when it is not one.

    A ``wa_id`` always starts with the country code, so it is read as an
    international number; ``14155550123`` becomes ``+14155550123``.
    """
    digits = wa_id.strip().removeprefix("+")
    if not digits.isdigit():
        return None

    number = normalize_phone("+" + digits)
    if number is None:
        return None
    return ChannelAddress(AddressKind.PHONE, number)


def bsuid_address(user_id: str) -> ChannelAddress | None:
    """Return the address of a business-scoped user id, or None when malformed."""
    value = user_id.strip()
    if not is_bsuid(value):
        return None
    return ChannelAddress(AddressKind.WHATSAPP_USER_ID, value)


def recipient_fields(to: str) -> dict[str, str]:
    """Return the request fields that address a message to ``to``.

    Args:
        to: an E.164 phone number, or a BSUID for a user whose number is
            withheld.

    Raises:
        DeliveryError: ``to`` is neither; the error is permanent.
    """
    value = to.strip()
    if is_bsuid(value):
        return {"recipient": value}

    number = normalize_phone(value if value.startswith("+") else "+" + value)
    if number is None:
        raise DeliveryError(
            f"[{PLUGIN_ID}] the recipient is neither an E.164 phone number nor a "
            "WhatsApp business-scoped user id (such as US.13491208655302741918)",
            permanent=True,
        )
    return {"to": number}
