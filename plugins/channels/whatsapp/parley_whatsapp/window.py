"""The 24-hour customer service window: free-form text or an approved template.

Each message from a customer opens or restarts a 24-hour window in which
the business may send anything. Outside it WhatsApp accepts only approved
templates and fails free-form text with error 131047. The choice is made
from the customer's last inbound message and the current time. It is made
when the gate checks a message and again when the message is sent,
because a message queued inside the window may reach the outbox after the
window closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from parley import OutboundMessage, SendBlocked
from parley_whatsapp.const import MAX_TEXT_LENGTH, PLUGIN_ID, SERVICE_WINDOW
from parley_whatsapp.settings import TemplateSettings, WhatsAppSettings


@dataclass(frozen=True)
class TextPlan:
    """Send the rendered body as free-form text, inside the window."""

    body: str


@dataclass(frozen=True)
class TemplatePlan:
    """Send an approved template with its parameter values.

    Attributes:
        kind: the message kind the template is configured for.
        template: the configured template.
        parameters: the body parameter values, in order.
        url_button_value: the value for the template's URL button, if it has one.
    """

    kind: str
    template: TemplateSettings
    parameters: tuple[str, ...]
    url_button_value: str | None = None


SendPlan = TextPlan | TemplatePlan


def window_open(
    last_inbound_at: datetime | None, now: datetime, margin: timedelta
) -> bool:
    """Return True when free-form messages are allowed at ``now``.

    Args:
        last_inbound_at: when the customer last wrote, or None if never; a
            business-initiated message is outside the window.
        now: the current time (timezone-aware).
        margin: how long before the window's end to stop sending free-form
            text, so that a message in flight cannot arrive after it.
    """
    if last_inbound_at is None:
        return False
    return now - last_inbound_at < SERVICE_WINDOW - margin


def plan_message(
    message: OutboundMessage, now: datetime, settings: WhatsAppSettings
) -> SendPlan:
    """Decide how a message may go out now: free-form text or which template.

    Args:
        message: the message, with ``last_inbound_at`` and the template
            ``fields`` the core resolved for its kind.
        now: the current time (timezone-aware).
        settings: the plugin's settings, with the templates per kind.

    Raises:
        SendBlocked: the window is closed and no template is configured for
            the kind, a template parameter has no value, or the text breaks
            a WhatsApp limit.
    """
    margin = timedelta(seconds=settings.window_margin_seconds)
    if window_open(message.last_inbound_at, now, margin):
        return _text_plan(message)

    template = settings.template_for(message.kind)
    if template is None:
        raise SendBlocked(_no_template_reason(message, now))
    return _template_plan(message, template)


def window_reason(
    message: OutboundMessage, now: datetime, settings: WhatsAppSettings
) -> str | None:
    """Return why a message cannot be sent now, or None when it can."""
    try:
        plan_message(message, now, settings)
    except SendBlocked as blocked:
        return blocked.reason
    return None


def _text_plan(message: OutboundMessage) -> TextPlan:
    if not message.body.strip():
        raise SendBlocked(f"[{PLUGIN_ID}] the message text is empty")
    if len(message.body) > MAX_TEXT_LENGTH:
        raise SendBlocked(
            f"[{PLUGIN_ID}] the message text is {len(message.body)} characters; "
            f"WhatsApp text messages take at most {MAX_TEXT_LENGTH}, so shorten "
            "the template"
        )
    return TextPlan(message.body)


def _template_plan(
    message: OutboundMessage, template: TemplateSettings
) -> TemplatePlan:
    values = [
        _parameter_value(message, template, position, name)
        for position, name in enumerate(template.parameters, start=1)
    ]

    button_value = None
    if template.url_button is not None:
        button_value = _parameter_value(message, template, None, template.url_button)
    return TemplatePlan(message.kind, template, tuple(values), button_value)


def _parameter_value(
    message: OutboundMessage,
    template: TemplateSettings,
    position: int | None,
    name: str,
) -> str:
    value = _find_field(message.fields, name)

    # WhatsApp rejects template parameters with new lines, tabs or long runs
    # of spaces, so every run of whitespace becomes one space.
    cleaned = " ".join((value or "").split())
    if cleaned:
        return cleaned

    where = f"parameter {{{{{position}}}}}" if position else "the URL button"
    raise SendBlocked(
        f"[{PLUGIN_ID}] template {template.name} for {message.kind} needs "
        f"{where} {name!r}, which is empty for this message; give the contact "
        f"or order a value for {name!r}, or change "
        f"[{PLUGIN_ID}.templates.{message.kind}]"
    )


def _find_field(fields: Mapping[str, str], name: str) -> str | None:
    """Look a field up by name, ignoring case and repeated spaces as templates do."""
    if name in fields:
        return fields[name]

    expected_key = _field_key(name)
    for key, value in fields.items():
        if _field_key(key) == expected_key:
            return value
    return None


def _field_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def _no_template_reason(message: OutboundMessage, now: datetime) -> str:
    if message.last_inbound_at is None:
        since = "the customer has never written on WhatsApp"
    else:
        hours = (now - message.last_inbound_at).total_seconds() / 3600
        since = f"the customer last wrote {hours:.1f} h ago"
    return (
        f"[{PLUGIN_ID}] outside the 24-hour customer service window ({since}) "
        f"and no template configured for {message.kind}; add "
        f"[{PLUGIN_ID}.templates.{message.kind}] with an approved template"
    )
