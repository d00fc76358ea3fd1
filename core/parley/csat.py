"""Customer satisfaction (CSAT) surveys: requested on closing, sent later, answered by text.

The flow:

1. Closing a conversation (``SupportDesk.set_state`` with ``[csat]
   enabled``) or an automation calls :func:`request_survey`, which stores a
   ``pending`` survey for that closing. A closing gets at most one survey,
   because ``csat_surveys.closing_id`` is unique.
2. The CSAT job (:func:`csat_poller`) sends a pending survey once the
   customer has written nothing for ``quiet_minutes`` since the closing, and
   only inside the recipient's sending window (``[compliance]
   sending_window``). A customer message in the meantime reopens the
   conversation, and the job then cancels the survey instead. The survey
   passes the send gate like every message, with the kind ``csat_survey``.
   When the gate blocks it, the message is stored as blocked and the
   survey's state is ``blocked``.
3. The event worker calls :func:`handle_reply` for each customer message
   before any auto reply. A reply that is clearly a score (see
   :func:`parse_score`) is recorded, keeps the conversation closed and
   gets the optional thank-you; no other auto reply answers it. A word or
   an out-of-range number gets the clarification once. Anything else stays
   in the thread for the agent and reopens the conversation as usual.
   Once an agent has replied or changed the conversation's state after the
   closing, the survey takes no more answers.
4. A survey takes answers for ``expiry_hours`` after it was queued; the job
   then marks it ``expired``. Messages within ``comment_minutes`` after the
   score are added to its comment and still reach the agent.
"""

from __future__ import annotations

import enum
import logging
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from parley.channels import Channel
from parley.config import CoreSettings
from parley.context import PluginContext, Poller
from parley.gate import SendGate, SendRequest
from parley.keywords import KeywordSet
from parley.models import Contact, InboundMessage, Purpose
from parley.quiet_hours import next_allowed, recipient_zones, window_for
from parley.store import Store
from parley.store.csat import (
    ANSWERED,
    BLOCKED,
    CANCELLED,
    EXPIRED,
    PENDING,
    SENT,
    SurveyRecord,
)
from parley.store.desk_records import ConversationRecord, ConversationState, StateChange
from parley.templates import FieldResolver, normalize_field_name, parse_template

logger = logging.getLogger(__name__)

SURVEY_KIND = "csat_survey"
CLARIFICATION_KIND = "csat_clarification"
THANK_YOU_KIND = "csat_thank_you"
JOB_INTERVAL_SECONDS = 60
# Pending surveys the job looks at per run; the rest wait for the next run.
JOB_BATCH_SIZE = 200

_KEYWORDS = KeywordSet()


# Parsing answers


class ReplyKind(enum.StrEnum):
    """Meaning of a customer message read as an answer to a survey."""

    SCORE = "score"
    # A single word, an emoji, or a number that is not a whole 1 to 5:
    # worth one clarification.
    UNCLEAR = "unclear"
    # A sentence or anything else: a message for the agent.
    OTHER = "other"


@dataclass(frozen=True)
class ParsedReply:
    """The meaning of one reply; ``score`` and ``comment`` are set for a score."""

    kind: ReplyKind
    score: int | None = None
    comment: str | None = None


# A leading number, optionally "of 5", "/5" or "out of 5", then the rest.
_LEADING_NUMBER = re.compile(
    r"(?P<number>[0-9]+(?:[.,][0-9]+)?)"
    r"(?:\s*(?:/|out\s+of|of)\s*(?P<scale>[0-9]+))?"
    r"(?P<rest>.*)",
    re.DOTALL | re.IGNORECASE,
)
# Words after the number that belong to the score itself: "5 stars".
_SCALE_WORDS = re.compile(r"^\s*(?:stars?|points?)\b", re.IGNORECASE)
# Words after a number that make it a quantity, not a score: "2 items
# missing", "3 of my orders", "5 days late".
# NOTE: a heuristic. A quantity word not listed here ("2 shirts missing")
# is read as a score with a comment.
_QUANTITY_WORDS = frozenset(
    """
    of more less items item pieces piece boxes box packages package parcels
    orders order days day weeks week hours hour minutes mins min months
    times am pm x pcs pairs pair units dollars bucks
    """.split()
)
_SEPARATORS = " \t\r\n!.,;:-\u2013\u2014)"


def parse_score(text: str) -> ParsedReply:
    """Classify a reply to a survey that requests a score from 1 to 5.

    A score is a whole number from 1 to 5 at the start of the message,
    optionally written as ``4/5`` or ``4 out of 5`` and followed by
    punctuation, "stars" or a comment: ``"5"``, ``"5!"``, ``" 4 "``, ``"5
    great service"``. A keycap emoji such as 5️⃣ and full-width digits count
    as digits. A number followed by a word such as "items" or "days" is a
    quantity ("2 items missing") and no score.

    Returns:
        ``SCORE`` with the score and any comment; ``UNCLEAR`` for a single
        word, emoji or a number that is not a whole 1 to 5 on its own
        (``"10"``, ``"4.5"``, ``"five"``); ``OTHER`` for everything else.
    """
    normalized = _normalize(text)
    if not normalized:
        return ParsedReply(ReplyKind.OTHER)

    match = _LEADING_NUMBER.fullmatch(normalized)
    if match is not None and not match["rest"][:1].isalnum():
        return _classify_number(match["number"], match["scale"], match["rest"])
    if len(normalized.split()) == 1:
        return ParsedReply(ReplyKind.UNCLEAR)
    return ParsedReply(ReplyKind.OTHER)


def _normalize(text: str) -> str:
    """Fold full-width digits and drop the parts of keycap emoji, such as 5️⃣."""
    folded = unicodedata.normalize("NFKC", text)
    return folded.replace("\ufe0f", "").replace("\u20e3", "").strip()


def _classify_number(number: str, scale: str | None, rest: str) -> ParsedReply:
    rest = _SCALE_WORDS.sub("", rest)
    comment = rest.lstrip(_SEPARATORS).strip()
    first_word = comment.split(maxsplit=1)[0].casefold() if comment else ""
    if first_word.strip(_SEPARATORS) in _QUANTITY_WORDS:
        return ParsedReply(ReplyKind.OTHER)

    whole = number.isdigit()
    if whole and 1 <= int(number) <= 5 and scale in (None, "5"):
        return ParsedReply(ReplyKind.SCORE, int(number), comment or None)
    if any(character.isalpha() for character in comment):
        return ParsedReply(ReplyKind.OTHER)
    return ParsedReply(ReplyKind.UNCLEAR)


# Requesting a survey


def request_survey(
    context: PluginContext,
    conversation_id: int,
    closing_id: int | None = None,
    *,
    conn: Connection | None = None,
) -> int | None:
    """Store a pending survey for one closing of a conversation.

    The CSAT job sends it later (see the module docstring). Automations
    call this for their "send a survey" action; it works whether or not
    ``[csat] enabled`` is set.

    Args:
        context: the running instance's plugin context.
        conversation_id: the conversation to survey.
        closing_id: the ``conversation_states`` id of the closing; None
            takes the conversation's latest state change, which must be a
            closing.
        conn: a transaction to join, such as the closing's own.

    Returns:
        The survey id, or None when no survey is stored. That happens when
        the survey template is not defined, the conversation is not closed
        by that change, or the customer never wrote in it. It also happens
        when the conversation had a survey sent within ``expiry_hours`` or
        this closing already has a survey.
    """
    store = context.store
    settings = context.settings
    now = context.clock()
    if settings.csat.survey not in settings.templates:
        _warn_missing_template("csat.survey", settings.csat.survey)
        return None

    if conn is not None:
        survey_id = _add_survey(context, conversation_id, closing_id, now, conn)
    else:
        with store.transaction() as tx:
            survey_id = _add_survey(context, conversation_id, closing_id, now, tx)
    return survey_id


def _add_survey(
    context: PluginContext,
    conversation_id: int,
    closing_id: int | None,
    now: datetime,
    conn: Connection,
) -> int | None:
    store = context.store
    status = store.lock_conversation_status(conversation_id, conn)
    if status is None or status.state != ConversationState.CLOSED.value:
        logger.info(
            "conversation %s is not closed; no CSAT survey requested", conversation_id
        )
        return None
    closing = closing_id if closing_id is not None else status.latest_change_id
    if closing is None or closing != status.latest_change_id:
        logger.info(
            "state change %s is not the latest closing of conversation %s; "
            "no CSAT survey requested",
            closing,
            conversation_id,
        )
        return None
    expiry_hours = context.settings.csat.expiry_hours
    skip = _skip_reason(store, conversation_id, now, expiry_hours, conn)
    if skip is not None:
        logger.info("no CSAT survey for conversation %s: %s", conversation_id, skip)
        return None

    survey_id = store.add_csat_survey(conversation_id, closing, now, conn=conn)
    if survey_id is not None:
        logger.info(
            "CSAT survey %s requested for conversation %s (closing %s)",
            survey_id,
            conversation_id,
            closing,
        )
    return survey_id


def survey_on_close(
    context: PluginContext, change: StateChange, conn: Connection
) -> int | None:
    """Request a survey for a state change when it closed the conversation and ``[csat]`` is on."""
    if (
        not context.settings.csat.enabled
        or change.state is not ConversationState.CLOSED
    ):
        return None
    return request_survey(context, change.conversation_id, change.id, conn=conn)


def _skip_reason(
    store: Store,
    conversation_id: int,
    now: datetime,
    expiry_hours: float,
    conn: Connection,
) -> str | None:
    if not store.has_inbound(conversation_id, conn=conn):
        return "the customer never wrote in it"
    last_sent = store.last_csat_sent_at(conversation_id, conn=conn)
    if last_sent is not None and now < last_sent + timedelta(hours=expiry_hours):
        return (
            f"a survey was sent at {last_sent:%Y-%m-%d %H:%M} UTC, within expiry_hours"
        )
    return None


# Sending


@dataclass(frozen=True)
class _Target:
    conversation_id: int
    channel: str
    address: str


@dataclass(frozen=True)
class _Queued:
    message_id: int | None
    blocked: bool
    defer_until: datetime | None


@dataclass(frozen=True)
class _Sender:
    """Renders the survey flow's messages and queues them through the send gate."""

    store: Store
    gate: SendGate
    settings: CoreSettings

    def queue(
        self,
        target: _Target,
        kind: str,
        template_name: str,
        resolve: FieldResolver,
        dedupe_key: str,
        now: datetime,
        conn: Connection,
        channel_fields: Mapping[str, str] | None = None,
    ) -> _Queued:
        """Queue a conversational message, or store it as blocked with the reason.

        Returns:
            The outcome; ``message_id`` is None when a message with
            ``dedupe_key`` exists already.
        """
        text = self.settings.templates[template_name]
        rendered = parse_template(template_name, text).render(resolve)
        if rendered.text is None:
            names = ", ".join(f"{{{{{name}}}}}" for name in rendered.missing)
            reason = (
                f"missing value for {names} in template {template_name!r}"
                if names
                else f"template {template_name!r} has syntax errors; "
                "run 'parley config check'"
            )
            # A template problem blocks every message of its kind, so the
            # operator sees it as a warning.
            logger.warning(
                "%s in conversation %s blocked: %s",
                kind,
                target.conversation_id,
                reason,
            )
            return self.block(
                target, kind, template_name, dedupe_key, reason, now, conn
            )

        request = SendRequest(
            target.address,
            Purpose.CONVERSATIONAL,
            kind,
            target.conversation_id,
            channel=target.channel,
            body=rendered.text,
            fields=channel_fields or {},
        )
        decision = self.gate.check(request, now, conn=conn)
        if not decision.allowed and not decision.deferred:
            reason = decision.reason or "blocked"
            logger.info(
                "%s in conversation %s blocked: %s",
                kind,
                target.conversation_id,
                reason,
            )
            return self.block(
                target, kind, rendered.text, dedupe_key, reason, now, conn
            )

        message_id = self.store.queue_message(
            target.conversation_id,
            target.channel,
            self._with_opt_out_notice(rendered.text, target.conversation_id, conn),
            kind,
            Purpose.CONVERSATIONAL.value,
            dedupe_key,
            now,
            conn=conn,
            not_before=decision.defer_until,
            reason=f"deferred: {decision.reason}" if decision.deferred else None,
            fields=channel_fields,
        )
        logger.info(
            "message %s (%s) queued in conversation %s",
            message_id,
            kind,
            target.conversation_id,
        )
        return _Queued(message_id, False, decision.defer_until)

    def block(
        self,
        target: _Target,
        kind: str,
        body: str,
        dedupe_key: str,
        reason: str,
        now: datetime,
        conn: Connection,
    ) -> _Queued:
        """Store a message that is not sent, with the reason."""
        message_id = self.store.record_blocked(
            target.conversation_id,
            target.channel,
            body,
            kind,
            Purpose.CONVERSATIONAL.value,
            dedupe_key,
            reason,
            now,
            conn=conn,
        )
        return _Queued(message_id, True, None)

    def _with_opt_out_notice(
        self, text: str, conversation_id: int, conn: Connection
    ) -> str:
        """Append the opt-out notice to the conversation's first outbound message.

        The event pipeline and the support desk do the same, and leave the
        notice off when the text already mentions STOP.
        """
        notice = self.settings.compliance.opt_out_notice.strip()
        if not notice or "stop" in text.casefold():
            return text
        if self.store.count_outbound(conversation_id, conn=conn):
            return text
        return f"{text} {notice}"


class SurveyJob:
    """Sends due surveys, cancels those whose conversation reopened, expires old ones."""

    def __init__(self, context: PluginContext, channels: Mapping[str, Channel]) -> None:
        self.context = context
        self.store = context.store
        self.settings = context.settings
        self.channels = channels
        self.sender = _Sender(
            self.store, SendGate(self.store, self.settings, channels), self.settings
        )

    def run(self) -> dict[str, int]:
        """Run once; return how many surveys ended in each state."""
        now = self.context.clock()
        counts = {SENT: 0, BLOCKED: 0, CANCELLED: 0, EXPIRED: 0}
        counts[EXPIRED] += self.store.expire_csat_surveys(now)

        quiet = timedelta(minutes=self.settings.csat.quiet_minutes)
        for survey in self.store.pending_csat_surveys(now - quiet, JOB_BATCH_SIZE):
            try:
                outcome = self._send(survey, now)
            except Exception:  # noqa: BLE001 - a plugin's field lookup may raise anything
                logger.exception(
                    "CSAT survey %s failed; trying again next run", survey.id
                )
                continue
            if outcome in counts:
                counts[outcome] += 1

        if any(counts.values()):
            logger.info(
                "CSAT job: %d sent, %d blocked, %d cancelled, %d expired",
                counts[SENT],
                counts[BLOCKED],
                counts[CANCELLED],
                counts[EXPIRED],
            )
        return counts

    def _send(self, survey: SurveyRecord, now: datetime) -> str:
        """Send, cancel, expire or keep one pending survey; return its new state."""
        csat = self.settings.csat
        conversation = self.store.get_conversation(survey.conversation_id)
        contact = self.store.get_contact(survey.contact_id)
        if conversation is None or contact is None:
            return PENDING
        if csat.survey not in self.settings.templates:
            _warn_missing_template("csat.survey", csat.survey)
            return PENDING

        # Plugins may call their provider to resolve fields, so this runs
        # before the transaction takes the store's write lock.
        values = self._resolve_fields(csat.survey, contact)
        channel_fields = self._channel_fields(conversation, contact)
        with self.store.transaction() as conn:
            state = self._decide(survey, conversation, contact, now, conn)
            if state != SENT:
                return state
            return self._queue_survey(
                survey, conversation, values, channel_fields, now, conn
            )

    def _decide(
        self,
        survey: SurveyRecord,
        conversation: ConversationRecord,
        contact: Contact,
        now: datetime,
        conn: Connection,
    ) -> str:
        """Return ``sent`` when the survey may go now, else the state it moved to or kept."""
        csat = self.settings.csat
        status = self.store.lock_conversation_status(survey.conversation_id, conn)
        if (
            status is None
            or status.state != ConversationState.CLOSED.value
            or status.latest_change_id != survey.closing_id
        ):
            self.store.close_csat_survey(survey.id, PENDING, CANCELLED, conn)
            logger.info(
                "CSAT survey %s cancelled: conversation %s changed state after the closing",
                survey.id,
                survey.conversation_id,
            )
            return CANCELLED

        if now >= survey.created_at + timedelta(hours=csat.expiry_hours):
            self.store.close_csat_survey(survey.id, PENDING, EXPIRED, conn)
            logger.info("CSAT survey %s expired before it could be sent", survey.id)
            return EXPIRED

        quiet_since = max(
            moment
            for moment in (survey.created_at, status.closed_at, status.last_inbound_at)
            if moment is not None
        )
        if now < quiet_since + timedelta(minutes=csat.quiet_minutes):
            return PENDING
        opening = self._window_opening(conversation.address, contact, now)
        if opening is not None:
            logger.debug(
                "CSAT survey %s waits for the sending window at %s", survey.id, opening
            )
            return PENDING
        return SENT

    def _queue_survey(
        self,
        survey: SurveyRecord,
        conversation: ConversationRecord,
        values: Mapping[str, str | None],
        channel_fields: Mapping[str, str],
        now: datetime,
        conn: Connection,
    ) -> str:
        target = _Target(conversation.id, conversation.channel, conversation.address)
        dedupe_key = f"{SURVEY_KIND}:{survey.closing_id}"
        if conversation.channel not in self.channels:
            reason = (
                f"channel {conversation.channel!r} is not enabled; enable its "
                "plugin in [plugins] enabled"
            )
            queued = self.sender.block(
                target,
                SURVEY_KIND,
                self.settings.csat.survey,
                dedupe_key,
                reason,
                now,
                conn,
            )
        else:
            queued = self.sender.queue(
                target,
                SURVEY_KIND,
                self.settings.csat.survey,
                lambda name: values.get(normalize_field_name(name)),
                dedupe_key,
                now,
                conn,
                channel_fields,
            )

        message_id = queued.message_id
        if message_id is None:
            # The survey row and its message are written in one transaction,
            # so an existing message means the row was changed by hand.
            earlier = self.store.message_by_dedupe_key(dedupe_key, conn=conn)
            assert earlier is not None
            logger.warning(
                "CSAT survey %s already has message %s; not queued again",
                survey.id,
                earlier.id,
            )
            message_id = earlier.id
        state = BLOCKED if queued.blocked else SENT
        expiry = timedelta(hours=self.settings.csat.expiry_hours)
        expires_at = None if queued.blocked else (queued.defer_until or now) + expiry
        sent_at = None if queued.blocked else now
        self.store.mark_csat_sent(
            survey.id, state, message_id, sent_at, expires_at, conn
        )
        if state == SENT:
            self.store.expire_earlier_csat_surveys(conversation.id, survey.id, conn)
        return state

    def _window_opening(
        self, address: str, contact: Contact, now: datetime
    ) -> datetime | None:
        """Return when the recipient's sending window opens, or None when it is open."""
        compliance = self.settings.compliance
        zones = recipient_zones(
            address, contact.time_zone, self.settings.business.time_zone
        )
        window = window_for(address, compliance.window(), compliance.windows_by_state())
        return next_allowed(now, zones, window)

    def _resolve_fields(
        self, template_name: str, contact: Contact
    ) -> dict[str, str | None]:
        template = parse_template(template_name, self.settings.templates[template_name])
        hook = self.context.plugin_manager.hook
        return {
            name: hook.resolve_field(
                name=name, contact=contact, event=None, context=self.context
            )
            for name in template.fields
        }

    def _channel_fields(
        self, conversation: ConversationRecord, contact: Contact
    ) -> dict[str, str]:
        """Resolve the fields a channel needs to send a survey as a provider template."""
        channel = self.channels.get(conversation.channel)
        if channel is None:
            return {}
        hook = self.context.plugin_manager.hook
        return {
            name: hook.resolve_field(
                name=normalize_field_name(name),
                contact=contact,
                event=None,
                context=self.context,
            )
            or ""
            for name in channel.fields_for(SURVEY_KIND)
        }


def csat_poller(
    context: PluginContext, channels: Mapping[str, Channel]
) -> Poller | None:
    """Return the CSAT job, or None when the survey template is not defined."""
    settings = context.settings
    if settings.csat.survey not in settings.templates:
        if settings.csat.enabled:
            _warn_missing_template("csat.survey", settings.csat.survey)
        return None
    job = SurveyJob(context, channels)

    def run() -> None:
        job.run()

    return Poller("core", "csat", JOB_INTERVAL_SECONDS, run)


# Answers


def handle_reply(
    context: PluginContext,
    gate: SendGate,
    message: InboundMessage,
    conversation_id: int,
    resolve: FieldResolver,
    conn: Connection,
) -> bool:
    """Treat a just-stored customer message as a survey answer if it is one.

    Call it in the message's transaction, after the message is stored and
    before keywords and auto replies are handled.

    Args:
        context: the running instance's plugin context.
        gate: the send gate for the thank-you and clarification.
        message: the customer message.
        conversation_id: its conversation.
        resolve: returns a template field's value by name.
        conn: the message's transaction.

    Returns:
        True when the message was a score or got the clarification, so the
        caller sends no other reply to it. False when it takes the normal
        path.
    """
    store = context.store
    survey = store.answerable_csat_survey(conversation_id, conn=conn)
    if survey is None or _is_keyword(message):
        return False

    now = context.clock()
    if survey.state == ANSWERED:
        _keep_comment(context, survey, message, now, conn)
        return False
    if survey.expires_at is not None and now >= survey.expires_at:
        store.close_csat_survey(survey.id, SENT, EXPIRED, conn)
        logger.info("CSAT survey %s expired before its answer arrived", survey.id)
        return False
    # Once an agent has replied or changed the conversation, a bare "5"
    # more likely answers the agent than the survey.
    assert survey.sent_at is not None
    if store.team_acted_since(
        conversation_id, survey.closing_id, survey.sent_at, conn=conn
    ):
        return False

    conversation = store.get_conversation(conversation_id, conn=conn)
    assert conversation is not None
    answer = _Answer(
        context,
        _Sender(store, gate, context.settings),
        survey,
        _Target(conversation_id, conversation.channel, conversation.address),
        message,
        resolve,
        now,
        conn,
    )
    parsed = parse_score(message.body)
    if parsed.kind is ReplyKind.SCORE:
        answer.record_score(parsed)
        return True
    if parsed.kind is ReplyKind.UNCLEAR:
        return answer.clarify()
    return False


def _is_keyword(message: InboundMessage) -> bool:
    """Return True for STOP, START, HELP, YES and the like, which have their own flow."""
    if (message.opt_out_type or "").strip():
        return True
    return _KEYWORDS.classify(message.body).kind is not None


@dataclass(frozen=True)
class _Answer:
    """A customer message that answers a sent survey, inside its transaction."""

    context: PluginContext
    sender: _Sender
    survey: SurveyRecord
    target: _Target
    message: InboundMessage
    resolve: FieldResolver
    now: datetime
    conn: Connection

    def record_score(self, parsed: ParsedReply) -> None:
        """Store the score, keep the conversation closed and thank the customer."""
        store = self.context.store
        assert parsed.score is not None
        recorded = store.record_csat_score(
            self.survey.id, parsed.score, parsed.comment, self.now, self.conn
        )
        if not recorded:
            return
        self._keep_closed()
        logger.info(
            "CSAT survey %s answered with %d in conversation %s",
            self.survey.id,
            parsed.score,
            self.target.conversation_id,
        )
        thank_you = self.context.settings.csat.thank_you
        if thank_you and _template_defined(self.context, "csat.thank_you", thank_you):
            self._send(THANK_YOU_KIND, thank_you)

    def clarify(self) -> bool:
        """Send the clarification once; False when it was sent before or has no template."""
        clarification = self.context.settings.csat.clarification
        if not clarification or not _template_defined(
            self.context, "csat.clarification", clarification
        ):
            return False
        if not self.context.store.mark_csat_clarified(self.survey.id, self.conn):
            return False
        self._keep_closed()
        logger.info(
            "CSAT survey %s: unclear answer in conversation %s; clarification sent",
            self.survey.id,
            self.target.conversation_id,
        )
        self._send(CLARIFICATION_KIND, clarification)
        return True

    def _keep_closed(self) -> None:
        self.context.store.undo_customer_reopen(
            self.target.conversation_id, self.message.received_at, self.conn
        )

    def _send(self, kind: str, template_name: str) -> None:
        self.sender.queue(
            self.target,
            kind,
            template_name,
            self.resolve,
            f"{kind}:{self.survey.id}",
            self.now,
            self.conn,
        )


def _keep_comment(
    context: PluginContext,
    survey: SurveyRecord,
    message: InboundMessage,
    now: datetime,
    conn: Connection,
) -> None:
    """Add a message that follows the score closely to the survey's comment."""
    window = timedelta(minutes=context.settings.csat.comment_minutes)
    text = message.body.strip()
    if not window or survey.answered_at is None or not text:
        return
    if now < survey.answered_at + window:
        context.store.add_csat_comment(survey.id, text, conn)
        logger.info("CSAT survey %s: comment added", survey.id)


_reported_missing: set[str] = set()


def _template_defined(context: PluginContext, setting: str, name: str) -> bool:
    if name in context.settings.templates:
        return True
    _warn_missing_template(setting, name)
    return False


def _warn_missing_template(setting: str, name: str) -> None:
    """Log a missing template once per process, since every survey would repeat it."""
    if name in _reported_missing:
        return
    _reported_missing.add(name)
    logger.warning(
        "%s names template %r, which is not defined in [templates]; "
        "define it or change the setting",
        setting,
        name,
    )
