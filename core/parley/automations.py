"""Automations: match triggers against ``[[automations]]`` and plan durable runs.

A trigger fires inside the transaction of the event that caused it: a
customer message, a conversation being closed, an order-status event, a
phone call, or a plugin's own trigger. For each enabled automation whose
trigger matches, one row is added to ``automation_runs`` with the time its
actions are due (the event's time plus the automation's delay). The
automation job (:mod:`parley.automation_actions`) carries the actions out
once a run is due, so a delayed action survives a restart.

A run's dedupe key is ``automation:<name>:<occurrence>``, where the
occurrence names the trigger's event (a stored message id, a closing, an
order event, a call id), so a redelivered or retried event never plans a
second run. An ``auto_reply`` automation on customer messages is instead
keyed to the conversation and the calendar period, like the standard auto
replies. It is left out when one of the standard ``[auto_replies]`` replies
applies to the message, so the customer never gets both.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from parley.auto_replies import AutoReplyPlanner
from parley.automation_config import (
    MESSAGE_TRIGGERS,
    AutomationSettings,
    AutomationType,
    CalendarState,
    TriggerKind,
    TriggerSettings,
)
from parley.calendar import BusinessCalendar, PeriodState
from parley.intent import IntentClassifier
from parley.keywords import KeywordSet, normalize_text
from parley.models import AddressKind, ChannelAddress, Contact, InboundMessage
from parley.phones import mask_phone
from parley.store.desk_records import ConversationState, StateChange

if TYPE_CHECKING:
    from parley.config import CoreSettings
    from parley.context import PluginContext
    from parley.models import OrderStatusEvent
    from parley.pipeline import EventProcessor
    from parley.store import Store
    from parley.store.records import ClaimedEvent

logger = logging.getLogger(__name__)

# Event kinds in the durable event queue that the event worker hands to
# :func:`process_call_event` and :func:`process_trigger_event`.
CALL_EVENT = "incoming_call"
PLUGIN_TRIGGER_EVENT = "automation_trigger"


@dataclass(frozen=True)
class IncomingCall:
    """A phone call a channel plugin reported.

    Attributes:
        channel: the channel id texts to the caller go out on, such as ``twilio``.
        caller: the caller's normalised address.
        call_id: the provider's id of the call.
        status: the provider's call status, such as ``no-answer``.
        missed: True when nobody at the business answered.
        occurred_at: when the call came in.
    """

    channel: str
    caller: ChannelAddress
    call_id: str
    status: str
    missed: bool
    occurred_at: datetime


@dataclass(frozen=True)
class TriggerEvent:
    """One occurrence of something automations can react to.

    Attributes:
        kind: ``message`` for a customer message, otherwise the trigger kind.
        occurrence: unique id of the occurrence, part of the run's dedupe key.
        occurred_at: when it happened; calendar conditions use this time.
        channel: the channel it happened on, if any.
        conversation_id: the conversation it concerns, if any.
        contact_id: the contact it concerns, if any.
        body: the customer's text, for keyword and intent conditions; it
            is never stored with the run.
        first_message: True for the customer's first message in a conversation.
        order_status: the order status of an order-status event.
        missed_call: True for a missed call.
        payload: details stored with the run for its actions.
    """

    kind: str
    occurrence: str
    occurred_at: datetime
    channel: str | None = None
    conversation_id: int | None = None
    contact_id: int | None = None
    body: str | None = None
    first_message: bool = False
    order_status: str | None = None
    missed_call: bool = False
    payload: Mapping[str, Any] = field(default_factory=dict)


class AutomationEngine:
    """Matches trigger events against the enabled automations and plans runs."""

    def __init__(self, settings: CoreSettings) -> None:
        self.settings = settings
        self.automations = [item for item in settings.automations if item.enabled]
        self.calendar = BusinessCalendar.from_settings(
            settings.calendar, settings.business.time_zone
        )
        self.classifier = IntentClassifier(settings.auto_replies.urgent_keywords)
        self.keywords = KeywordSet()
        self.auto_replies = AutoReplyPlanner(settings)

    # Entry points for the core's events

    def on_message(
        self,
        store: Store,
        message: InboundMessage,
        contact: Contact,
        conversation_id: int,
        message_id: int,
        now: datetime,
        conn: Connection,
    ) -> list[str]:
        """Plan the runs a stored customer message triggers; return their automations.

        Opt-out, opt-in, help and confirmation keywords trigger nothing,
        because the core replies to them itself.
        """
        if not self.automations or self._is_keyword(message):
            return []
        first = store.count_inbound(conversation_id, conn=conn) == 1
        event = TriggerEvent(
            kind="message",
            occurrence=f"message:{message_id}",
            occurred_at=message.received_at,
            channel=message.channel,
            conversation_id=conversation_id,
            contact_id=contact.id,
            body=message.body,
            first_message=first,
            payload={"message_id": message_id},
        )
        return self.plan(store, event, now, conn)

    def on_close(
        self,
        store: Store,
        conversation_id: int,
        contact_id: int,
        channel: str,
        closing_id: int,
        actor: str,
        now: datetime,
        conn: Connection,
    ) -> list[str]:
        """Plan the runs closing a conversation triggers."""
        event = TriggerEvent(
            kind=TriggerKind.CLOSE_CHAT,
            occurrence=f"closing:{closing_id}",
            occurred_at=now,
            channel=channel,
            conversation_id=conversation_id,
            contact_id=contact_id,
            payload={"closing_id": closing_id, "closed_by": actor},
        )
        return self.plan(store, event, now, conn)

    def on_order_status(
        self,
        store: Store,
        event: OrderStatusEvent,
        contact: Contact,
        now: datetime,
        conn: Connection,
    ) -> list[str]:
        """Plan the runs an order-status event triggers.

        The runs send on ``[order_updates] channel``; the event is stored
        with the run so templates can use the order's fields.
        """
        trigger = TriggerEvent(
            kind=TriggerKind.ORDER_STATUS,
            occurrence=f"order:{event.dedupe_key}",
            occurred_at=event.occurred_at,
            channel=self.settings.order_updates.channel,
            contact_id=contact.id,
            order_status=event.status.value,
            payload={"order_event": event.to_json()},
        )
        return self.plan(store, trigger, now, conn)

    # Matching and planning

    def plan(
        self, store: Store, event: TriggerEvent, now: datetime, conn: Connection
    ) -> list[str]:
        """Store a run for each enabled automation the event matches.

        Returns:
            The names of the automations with a new run; an automation
            whose run for this occurrence exists already is left out.
        """
        planned = []
        for automation in self.automations:
            if not self.matches(automation.trigger, event):
                continue
            key = self._dedupe_key(automation, event, conn)
            if key is None:
                continue
            payload = {"channel": event.channel, **event.payload}
            added = store.plan_automation_run(
                automation.name,
                automation.trigger.kind,
                key,
                event.conversation_id,
                event.contact_id,
                payload,
                due_at=max(event.occurred_at, now) + automation.delay_time,
                now=now,
                conn=conn,
            )
            if added:
                planned.append(automation.name)
                logger.info(
                    "automation %r planned for %s (conversation %s), due in %s",
                    automation.name,
                    event.occurrence,
                    event.conversation_id,
                    automation.delay,
                )
        return planned

    def matches(self, trigger: TriggerSettings, event: TriggerEvent) -> bool:
        """Return True when the event is of the trigger's kind and meets its conditions."""
        if not self._kind_matches(trigger.kind, event):
            return False
        if trigger.channels and event.channel not in trigger.channels:
            return False
        if trigger.order_statuses and event.order_status not in trigger.order_statuses:
            return False
        if trigger.calendar and not self._calendar_matches(trigger, event):
            return False
        if trigger.keywords and not self._keywords_match(trigger, event.body or ""):
            return False
        if trigger.intents:
            found = self.classifier.classify(event.body or "")
            if not found.intersection(trigger.intents):
                return False
        return True

    def calendar_states(self, moment: datetime) -> set[CalendarState]:
        """Return the calendar states at a moment; peak counts as open too."""
        period = self.calendar.period_at(moment)
        states = {CalendarState(period.state.value)}
        if period.state is PeriodState.PEAK:
            states.add(CalendarState.OPEN)
        local_day = moment.astimezone(self.calendar.zone).date()
        if self.calendar.is_holiday(local_day):
            states.add(CalendarState.HOLIDAY)
        return states

    def _kind_matches(self, kind: str, event: TriggerEvent) -> bool:
        if kind in MESSAGE_TRIGGERS:
            if event.kind != "message":
                return False
            return kind != TriggerKind.FIRST_MESSAGE or event.first_message
        if kind == TriggerKind.MISSED_CALL:
            return event.kind == TriggerKind.INCOMING_CALL and event.missed_call
        return kind == event.kind

    def _calendar_matches(self, trigger: TriggerSettings, event: TriggerEvent) -> bool:
        states = self.calendar_states(event.occurred_at)
        return bool(states.intersection(trigger.calendar))

    def _keywords_match(self, trigger: TriggerSettings, body: str) -> bool:
        words = normalize_text(body).split()
        for keyword in trigger.keywords:
            wanted = normalize_text(keyword).split()
            if trigger.match == "exact":
                if words == wanted:
                    return True
            elif _contains(words, wanted):
                return True
        return False

    def _dedupe_key(
        self, automation: AutomationSettings, event: TriggerEvent, conn: Connection
    ) -> str | None:
        """Return the run's dedupe key, or None when the run must not be planned."""
        is_auto_reply = (
            automation.type is AutomationType.AUTO_REPLY
            and event.kind == "message"
            and event.conversation_id is not None
        )
        if not is_auto_reply:
            return f"automation:{automation.name}:{event.occurrence}"

        assert event.conversation_id is not None
        standard = self.auto_replies.choose(
            event.body or "", event.conversation_id, event.occurred_at, conn
        )
        if standard is not None:
            logger.info(
                "automation %r skipped for %s: the standard %s auto reply applies",
                automation.name,
                event.occurrence,
                standard.reply.value,
            )
            return None
        period = self.calendar.period_at(event.occurred_at)
        return f"automation:{automation.name}:{event.conversation_id}:{period.id}"

    def _is_keyword(self, message: InboundMessage) -> bool:
        if (message.opt_out_type or "").strip():
            return True
        return self.keywords.classify(message.body).kind is not None


def _contains(words: list[str], phrase: list[str]) -> bool:
    size = len(phrase)
    return any(
        words[index : index + size] == phrase for index in range(len(words) - size + 1)
    )


# One engine per running instance; the desk and the processor share it.
_engines: weakref.WeakKeyDictionary[PluginContext, AutomationEngine] = (
    weakref.WeakKeyDictionary()
)


def engine_for(context: PluginContext) -> AutomationEngine:
    """Return the automation engine of a running instance, building it once."""
    engine = _engines.get(context)
    if engine is None:
        engine = AutomationEngine(context.settings)
        _engines[context] = engine
    return engine


def plan_close_chat(
    context: PluginContext, change: StateChange, conn: Connection
) -> list[str]:
    """Plan the ``close_chat`` runs when a state change closed a conversation.

    Called in the transaction that records the change; other changes plan
    nothing.
    """
    engine = engine_for(context)
    if not engine.automations or change.state is not ConversationState.CLOSED:
        return []
    store = context.store
    conversation = store.get_conversation(change.conversation_id, conn=conn)
    if conversation is None:
        return []
    return engine.on_close(
        store,
        change.conversation_id,
        conversation.contact_id,
        conversation.channel,
        change.id,
        change.actor,
        change.changed_at,
        conn,
    )


# Calls and plugin triggers arrive through the durable event queue


def record_call(context: PluginContext, call: IncomingCall) -> bool:
    """Store a reported call as an event; False when its call id was reported before."""
    payload = {
        "channel": call.channel,
        "caller": {"kind": call.caller.kind.value, "value": call.caller.value},
        "call_id": call.call_id,
        "status": call.status,
        "missed": call.missed,
        "occurred_at": call.occurred_at.isoformat(),
    }
    added = context.store.add_event(
        CALL_EVENT,
        call.channel,
        f"call:{call.channel}:{call.call_id}",
        payload,
        context.clock(),
    )
    logger.info(
        "%s call %s from %s on %s %s",
        "missed" if call.missed else "answered",
        call.call_id,
        mask_phone(call.caller.value),
        call.channel,
        "recorded" if added else "was reported before; not recorded again",
    )
    return added


def record_plugin_trigger(
    context: PluginContext,
    kind: str,
    occurrence_id: str,
    channel: str | None,
    address: ChannelAddress | None,
    occurred_at: datetime,
    details: Mapping[str, Any],
) -> bool:
    """Store a plugin's trigger as an event; False when the occurrence was reported before."""
    payload = {
        "kind": kind,
        "occurrence_id": occurrence_id,
        "channel": channel,
        "address": None
        if address is None
        else {"kind": address.kind.value, "value": address.value},
        "occurred_at": occurred_at.isoformat(),
        "details": dict(details),
    }
    source = kind.split(".", 1)[0]
    return context.store.add_event(
        PLUGIN_TRIGGER_EVENT,
        source,
        f"trigger:{kind}:{occurrence_id}",
        payload,
        context.clock(),
    )


def process_call_event(processor: EventProcessor, claimed: ClaimedEvent) -> None:
    """Plan the call automations of a stored call event and call ``call_received``."""
    payload = claimed.payload
    call = IncomingCall(
        channel=payload["channel"],
        caller=_address(payload["caller"]),
        call_id=payload["call_id"],
        status=payload["status"],
        missed=bool(payload["missed"]),
        occurred_at=datetime.fromisoformat(payload["occurred_at"]),
    )
    context = processor.context
    store = context.store
    now = context.clock()
    contact = processor.directory.resolve([call.caller], None, now)
    with store.transaction() as conn:
        conversation_id, _ = store.open_conversation(
            contact.id, call.channel, call.caller.value, now, conn=conn
        )
        event = TriggerEvent(
            kind=TriggerKind.INCOMING_CALL,
            occurrence=f"call:{call.channel}:{call.call_id}",
            occurred_at=call.occurred_at,
            channel=call.channel,
            conversation_id=conversation_id,
            contact_id=contact.id,
            missed_call=call.missed,
            payload={"call_id": call.call_id, "call_status": call.status},
        )
        planned = engine_for(context).plan(store, event, now, conn)
        store.complete_event(
            claimed.id, now, conn=conn, outcome=_planned_outcome(planned)
        )
    try:
        context.plugin_manager.hook.call_received(
            call=call, contact=contact, context=context
        )
    except Exception:  # noqa: BLE001 - the call is stored; one plugin must not undo it
        logger.exception(
            "a plugin failed in call_received for call %s; the call is stored and "
            "is not processed again",
            call.call_id,
        )


def process_trigger_event(processor: EventProcessor, claimed: ClaimedEvent) -> None:
    """Plan the runs of a plugin trigger kind from a stored trigger event."""
    payload = claimed.payload
    context = processor.context
    store = context.store
    now = context.clock()
    channel = payload.get("channel")
    raw_address = payload.get("address")
    address = _address(raw_address) if raw_address is not None else None
    contact = None
    if address is not None:
        contact = processor.directory.resolve([address], None, now)

    with store.transaction() as conn:
        conversation_id = None
        if contact is not None and address is not None and channel is not None:
            conversation_id, _ = store.open_conversation(
                contact.id, channel, address.value, now, conn=conn
            )

        event = TriggerEvent(
            kind=payload["kind"],
            occurrence=str(payload["occurrence_id"]),
            occurred_at=datetime.fromisoformat(payload["occurred_at"]),
            channel=channel,
            conversation_id=conversation_id,
            contact_id=contact.id if contact is not None else None,
            payload={"details": payload.get("details") or {}},
        )
        planned = engine_for(context).plan(store, event, now, conn)
        store.complete_event(
            claimed.id, now, conn=conn, outcome=_planned_outcome(planned)
        )


def _address(raw: Mapping[str, str]) -> ChannelAddress:
    return ChannelAddress(AddressKind(raw["kind"]), raw["value"])


def _planned_outcome(planned: list[str]) -> str:
    if not planned:
        return "no automation planned"
    return "automations planned: " + ", ".join(planned)
