"""The four standard auto replies: during hours, peak, after hours and overnight urgent.

Each ordinary customer message (not STOP, START, HELP or a confirming YES)
gets at most one of them, picked from the business calendar at the time the
message is processed:

1. closed, inside the ``overnight`` hours, and the message is urgent:
   ``overnight_urgent``, or ``after_hours`` when it has no template;
2. closed: ``after_hours``;
3. open inside a peak window: ``peak``, or ``during_hours`` when it has
   no template;
4. open: ``during_hours``.

A conversation gets each reply at most once per calendar period, because
the store keeps dedupe keys unique and a second message with the key
``auto_reply:<conversation>:<reply>:<period id>`` is not queued.
``during_hours`` is keyed to the whole open period, so a customer who wrote
before a peak window is not sent it again after the window ends. After
``overnight_urgent`` the same closed period gets no ``after_hours`` reply,
because the urgent reply already told the customer the business is closed.
The opposite order is allowed: an urgent message after an after-hours reply
still gets the urgent one.

The first message of a conversation gets the first-message reply
(``[replies] first_message``) and then the auto reply that applies: the
welcome tells the customer how to opt out, and the auto reply tells them
when to expect an answer.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from parley.calendar import BusinessCalendar, Period, PeriodState, parse_time_range
from parley.config import CoreSettings
from parley.intent import IntentClassifier
from parley.store import schema

logger = logging.getLogger(__name__)


class AutoReply(enum.StrEnum):
    """The name of a standard auto reply, as ``[auto_replies]`` spells it."""

    DURING_HOURS = "during_hours"
    PEAK = "peak"
    AFTER_HOURS = "after_hours"
    OVERNIGHT_URGENT = "overnight_urgent"


@dataclass(frozen=True)
class AutoReplyChoice:
    """The auto reply one customer message gets.

    Attributes:
        reply: which of the four replies.
        template: the template name to render.
        period: the calendar period the message arrived in.
        dedupe_key: unique per conversation, reply and period.
    """

    reply: AutoReply
    template: str
    period: Period
    dedupe_key: str


def dedupe_key(conversation_id: int, reply: AutoReply, period_id: str) -> str:
    """Return the key that allows one auto reply per conversation and period."""
    return f"auto_reply:{conversation_id}:{reply.value}:{period_id}"


def reference_problems(settings: CoreSettings) -> list[str]:
    """Describe each auto reply whose template is not defined in ``[templates]``.

    Returns:
        One message per missing template, naming the setting, or none when all exist.
    """
    auto_replies = settings.auto_replies
    return [
        f"auto_replies.{name}: template {getattr(auto_replies, name)!r} is not "
        "defined in [templates], so this reply is never sent; define it or "
        "remove the setting"
        for name in auto_replies.configured()
        if getattr(auto_replies, name) not in settings.templates
    ]


class AutoReplyPlanner:
    """Picks the auto reply for a customer message from the calendar and its text."""

    def __init__(self, settings: CoreSettings) -> None:
        """Build the calendar and classifier from validated settings."""
        self.auto_replies = settings.auto_replies
        self.templates = settings.templates
        self.calendar = BusinessCalendar.from_settings(
            settings.calendar, settings.business.time_zone
        )
        self.classifier = IntentClassifier(self.auto_replies.urgent_keywords)
        self.overnight = parse_time_range(self.auto_replies.overnight)
        self._reported_missing: set[str] = set()

    def template_names(self) -> list[str]:
        """Return the templates an auto reply may render."""
        return [
            getattr(self.auto_replies, name) for name in self.auto_replies.configured()
        ]

    def choose(
        self, body: str, conversation_id: int, now: datetime, conn: Connection
    ) -> AutoReplyChoice | None:
        """Return the auto reply a message gets, or None.

        None means no reply applies, the reply has no defined template, or
        the overnight urgent reply was already sent in this closed period. A
        reply already sent in this period is still returned: queueing it
        again does nothing because of its dedupe key.

        Args:
            body: the customer's message text.
            conversation_id: the conversation it arrived in.
            now: when it is processed, which decides the calendar period.
            conn: the event's transaction, to look up earlier replies.
        """
        if not self.auto_replies.configured():
            return None

        period = self.calendar.period_at(now)
        picked = self._pick(period, body, now)
        if picked is None:
            return None
        reply, period_id = picked

        if reply is AutoReply.AFTER_HOURS:
            urgent_key = dedupe_key(
                conversation_id, AutoReply.OVERNIGHT_URGENT, period_id
            )
            # NOTE: two workers that handle messages of one conversation at the
            # same moment can both miss the other's urgent reply, so both go.
            if _message_exists(urgent_key, conn):
                logger.info(
                    "conversation %s had the overnight urgent reply in closed period "
                    "%s; no after-hours reply",
                    conversation_id,
                    period_id,
                )
                return None

        template = getattr(self.auto_replies, reply.value)
        if template not in self.templates:
            self._report_missing(reply, template)
            return None
        return AutoReplyChoice(
            reply, template, period, dedupe_key(conversation_id, reply, period_id)
        )

    def _pick(
        self, period: Period, body: str, now: datetime
    ) -> tuple[AutoReply, str] | None:
        """Return the reply that applies and the id of the period it is keyed to."""
        settings = self.auto_replies
        if period.state is PeriodState.CLOSED:
            if (
                settings.overnight_urgent
                and self.overnight.contains_minute(self.calendar.local_minute(now))
                and self.classifier.is_urgent(body)
            ):
                return AutoReply.OVERNIGHT_URGENT, period.id
            if settings.after_hours:
                return AutoReply.AFTER_HOURS, period.id
            return None

        if period.state is PeriodState.PEAK and settings.peak:
            return AutoReply.PEAK, period.id
        if settings.during_hours and period.open_id is not None:
            return AutoReply.DURING_HOURS, period.open_id
        return None

    def _report_missing(self, reply: AutoReply, template: str) -> None:
        """Log a missing template once, since every message would repeat the warning."""
        if template in self._reported_missing:
            return
        self._reported_missing.add(template)
        logger.warning(
            "auto_replies.%s names template %r, which is not defined in [templates]; "
            "no %s reply is sent",
            reply.value,
            template,
            reply.value.replace("_", " "),
        )


def _message_exists(key: str, conn: Connection) -> bool:
    messages = schema.messages
    found = conn.execute(
        select(messages.c.id).where(messages.c.dedupe_key == key)
    ).first()
    return found is not None
