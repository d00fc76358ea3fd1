"""The core's own template fields: contact names and order-event values.

Registered as the plugin ``core`` on every plugin manager. Store and CRM
plugins declare further fields; values they put on a contact record
(``ContactRecord.fields``) or an order event (``OrderStatusEvent.fields``)
are resolved here by name, so such plugins only need to declare them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from parley.hookspecs import hookimpl
from parley.templates import normalize_field_name

if TYPE_CHECKING:
    from parley.context import PluginContext
    from parley.models import Contact, OrderStatusEvent

CONTACT_FIELDS = ("First Name", "Last Name", "Full Name", "Email", "Phone")
# Order fields every store plugin fills in through OrderStatusEvent.fields,
# so templates work with any store. A field the event lacks renders as
# missing, and the template's fallback applies.
EVENT_FIELDS = (
    "Order Number",
    "Order Status",
    "Order Status URL",
    "Order Total",
    "Tracking URL",
    "Tracking Number",
    "Carrier",
    "Cancel Reason",
    "Refund Amount",
)
BUSINESS_FIELDS = ("Business Name",)
_EVENT_FIELD_NAMES = frozenset(normalize_field_name(name) for name in EVENT_FIELDS)


@hookimpl
def register_fields(register: Callable[[str, Sequence[str]], None]) -> None:
    """Declare the fields every installation has."""
    register("core", CONTACT_FIELDS + EVENT_FIELDS + BUSINESS_FIELDS)


@hookimpl(trylast=True)
def resolve_field(
    name: str,
    contact: Contact,
    event: OrderStatusEvent | None,
    context: PluginContext,
) -> str | None:
    """Resolve contact, order and business fields; None for any other name."""
    value = _contact_field(name, contact)
    if value is not None:
        return value

    if event is not None:
        value = _event_field(name, event)
        if value is not None:
            return value

    if name == "business name":
        return context.settings.business.name

    return None


def _contact_field(name: str, contact: Contact) -> str | None:
    builtin = {
        "first name": contact.first_name,
        "last name": contact.last_name,
        "email": contact.email,
        "phone": contact.phone,
    }
    if name in builtin:
        return builtin[name] or ""

    if name == "full name":
        parts = [part for part in (contact.first_name, contact.last_name) if part]
        return " ".join(parts)

    for key, value in contact.fields.items():
        if normalize_field_name(key) == name:
            return value
    return None


def _event_field(name: str, event: OrderStatusEvent) -> str | None:
    if name == "order number":
        return event.order_name
    if name == "order status":
        return event.status.label

    for key, value in event.fields.items():
        if normalize_field_name(key) == name:
            return value
    if name in _EVENT_FIELD_NAMES:
        return ""
    return None
