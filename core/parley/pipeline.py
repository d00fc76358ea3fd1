"""The event worker's logic: from a stored event to queued messages.

Each event is processed in two steps. First the contact is looked up,
which may call plugins and their providers. Then one transaction stores
the contact, the conversation and every resulting message and marks the
event done, so a crash in between repeats the event without sending
anything twice: queued messages carry dedupe keys derived from the event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import Connection

from parley.auto_replies import AutoReplyPlanner
from parley.automations import (
    CALL_EVENT,
    PLUGIN_TRIGGER_EVENT,
    engine_for,
    process_call_event,
    process_trigger_event,
)
from parley.channels import Channel
from parley.contacts import ContactDirectory, normalize_address
from parley.context import PluginContext
from parley.csat import handle_reply
from parley.gate import ALWAYS_ALLOWED_KINDS, SendGate, SendRequest
from parley.inbound import KeywordResponder, PlannedMessage
from parley.keywords import KeywordSet
from parley.models import (
    AddressKind,
    ChannelAddress,
    ConsentAction,
    ConsentRecord,
    ConsentSource,
    Contact,
    InboundMessage,
    OrderStatusEvent,
    Purpose,
)
from parley.outbox import outbound_from_json
from parley.phones import mask_phone
from parley.store.records import ClaimedEvent
from parley.templates import normalize_field_name, parse_template

logger = logging.getLogger(__name__)

CORE_STATE = "core"


class EventProcessor(KeywordResponder):
    """Turns stored events into stored messages and hook calls."""

    def __init__(self, context: PluginContext, channels: Mapping[str, Channel]) -> None:
        self.context = context
        self.settings = context.settings
        self.store = context.store
        self.channels = channels
        self.directory = ContactDirectory(context)
        self.gate = SendGate(self.store, self.settings, channels)
        self.keywords = KeywordSet()
        self.auto_replies = AutoReplyPlanner(self.settings)
        self._fields: dict[str, str | None] = {}

    def process(self, event: ClaimedEvent) -> None:
        """Process one claimed event and mark it done.

        Raises:
            KeyError: the event kind is unknown.
            Exception: whatever a plugin raised; the worker retries later.
        """
        handlers = {
            "order_status": self._process_order_status,
            "message_received": self._process_inbound,
            "message_sent": self._process_sent,
            "consent_changed": self._process_consent_changed,
            CALL_EVENT: lambda claimed: process_call_event(self, claimed),
            PLUGIN_TRIGGER_EVENT: lambda claimed: process_trigger_event(self, claimed),
        }
        handlers[event.kind](event)

    # Write-back hooks

    def _process_sent(self, claimed: ClaimedEvent) -> None:
        payload = claimed.payload
        message = outbound_from_json(payload["message"])
        contact = self.store.get_contact(int(payload["contact_id"]))
        self.context.plugin_manager.hook.message_sent(
            message=message,
            provider_message_id=payload["provider_message_id"],
            contact=contact,
            context=self.context,
        )
        self.store.complete_event(claimed.id, self.context.clock())

    def _process_consent_changed(self, claimed: ClaimedEvent) -> None:
        payload = claimed.payload
        record = ConsentRecord(
            address=self._ledger_address(payload["address"]),
            purpose=Purpose(payload["purpose"]),
            action=ConsentAction(payload["action"]),
            source=ConsentSource(payload["source"]),
            occurred_at=datetime.fromisoformat(payload["occurred_at"]),
            evidence=payload["evidence"],
            actor=payload["actor"],
        )
        contact = self.store.find_contact(record.address)
        self.context.plugin_manager.hook.consent_changed(
            record=record, contact=contact, context=self.context
        )
        self.store.complete_event(claimed.id, self.context.clock())

    def _ledger_address(self, value: str) -> ChannelAddress:
        """Return the channel address of a ledger record's address value."""
        if value.startswith("+"):
            return ChannelAddress(AddressKind.PHONE, value)
        if "@" in value:
            return ChannelAddress(AddressKind.EMAIL, value)
        return ChannelAddress(AddressKind.PAGE_SCOPED_ID, value)

    # Order updates

    def _process_order_status(self, claimed: ClaimedEvent) -> None:
        event = OrderStatusEvent.from_json(claimed.payload)
        now = self.context.clock()
        contact = self.directory.resolve([], event.customer, now)
        self.context.plugin_manager.hook.order_status_changed(
            event=event, contact=contact, context=self.context
        )
        template = self.settings.order_updates.templates.get(event.status)
        self._prefetch_fields(
            [template] if template else [],
            contact,
            event,
            self._channel_fields(self.settings.order_updates.channel, "order_update"),
        )

        with self.store.transaction() as conn:
            self._record_event_consents(event, contact, now, conn)
            if self._is_stale(event, now, conn):
                outcome = "skipped: older than the order's latest processed status"
            else:
                outcome = self._queue_order_update(event, contact, now, conn)
                engine_for(self.context).on_order_status(
                    self.store, event, contact, now, conn
                )
            self.store.complete_event(claimed.id, now, conn=conn, outcome=outcome)

    def _record_event_consents(
        self, event: OrderStatusEvent, contact: Contact, now: datetime, conn: Connection
    ) -> None:
        region = self.settings.contacts.default_region
        for consent in event.consents:
            address = normalize_address(consent.address, region)
            if address is None:
                logger.warning(
                    "order %s: consent for an invalid %s address not recorded",
                    event.order_id,
                    consent.address.kind.value,
                )
                continue
            known = self.store.consent_entries(
                address.value, consent.purpose.value, conn=conn
            )
            if any(
                entry.action == consent.action.value
                and entry.source == consent.source.value
                and entry.recorded_at == consent.occurred_at
                and entry.evidence == consent.evidence
                for entry in known
            ):
                continue
            self.store.add_consent(
                channel="*",
                address=address.value,
                purpose=consent.purpose.value,
                action=consent.action.value,
                source=consent.source.value,
                actor=consent.actor,
                evidence=consent.evidence,
                now=consent.occurred_at,
                contact_id=contact.id,
                conn=conn,
            )

    def _is_stale(
        self, event: OrderStatusEvent, now: datetime, conn: Connection
    ) -> bool:
        """Return True for an event older than one already processed for its order.

        Such an event would move the order's status backwards, so it is
        dropped. The order's latest status and time are kept in the core's
        state, within the caller's transaction.
        """
        key = f"order:{event.source}:{event.store}:{event.order_id}"
        raw = self.store.get_plugin_state(CORE_STATE, key, conn=conn)
        if raw is not None:
            latest = json.loads(raw)
            older = event.occurred_at < datetime.fromisoformat(latest["occurred_at"])
            if older and event.status.rank < latest["rank"]:
                logger.info(
                    "order %s: %s event from %s is older than the %s already processed; skipped",
                    event.order_id,
                    event.status.value,
                    event.occurred_at.isoformat(),
                    latest["status"],
                )
                return True
            if older:
                return False

        progress = {
            "status": event.status.value,
            "rank": event.status.rank,
            "occurred_at": event.occurred_at.isoformat(),
        }
        self.store.set_plugin_state(
            CORE_STATE, key, json.dumps(progress), now=now, conn=conn
        )
        return False

    def _queue_order_update(
        self, event: OrderStatusEvent, contact: Contact, now: datetime, conn: Connection
    ) -> str:
        """Queue or block the update for an order event; return what happened."""
        updates = self.settings.order_updates
        template_name = updates.templates.get(event.status)
        if (
            not updates.enabled
            or not template_name
            or template_name not in self.settings.templates
        ):
            logger.info(
                "order %s: no template for status %s; nothing sent",
                event.order_id,
                event.status.value,
            )
            return f"not sent: no template for status {event.status.value}"

        plan = PlannedMessage(
            kind="order_update",
            purpose=Purpose.INFORMATIONAL,
            template=template_name,
            dedupe_key=f"order_update:{event.dedupe_key}",
        )
        channel_id = updates.channel
        address = self._address_for(contact, channel_id)
        if address is None:
            logger.warning(
                "order %s: contact %s has no address for channel %s; nothing sent",
                event.order_id,
                contact.id,
                channel_id,
            )
            return f"not sent: the order has no usable address for channel {channel_id}"
        conversation_id, _ = self.store.open_conversation(
            contact.id, channel_id, address, now, conn=conn
        )
        self._queue(
            plan, contact, event, channel_id, address, conversation_id, now, conn
        )
        return f"order update for conversation {conversation_id}"

    def _address_for(self, contact: Contact, channel_id: str) -> str | None:
        channel = self.channels.get(channel_id)
        kind = channel.address_kind if channel else AddressKind.PHONE
        if kind in (AddressKind.PHONE, AddressKind.WHATSAPP):
            return contact.phone
        for address in contact.addresses:
            if address.kind is kind:
                return address.value
        return None

    # Inbound messages

    def _process_inbound(self, claimed: ClaimedEvent) -> None:
        message = inbound_from_json(claimed.payload)
        now = self.context.clock()
        region = self.settings.contacts.default_region
        sender = normalize_address(message.sender, region)
        if sender is None:
            logger.warning(
                "inbound message %s on %s has an invalid sender address; dropped",
                message.provider_message_id,
                message.channel,
            )
            self.store.complete_event(claimed.id, now)
            return

        contact = self.directory.resolve([sender], None, now)
        replies = self.settings.replies
        self._prefetch_fields(
            [
                name
                for name in (
                    replies.first_message,
                    replies.opt_out_confirmation,
                    replies.opt_in_confirmation,
                    replies.double_opt_in_confirmed,
                    replies.help,
                    *self.auto_replies.template_names(),
                    *self.settings.csat.reply_template_names(),
                )
                if name
            ],
            contact,
            None,
        )
        with self.store.transaction() as conn:
            conversation_id, created = self.store.open_conversation(
                contact.id, message.channel, sender.value, now, conn=conn
            )
            stored = self.store.add_inbound_message(
                conversation_id,
                message.channel,
                message.body,
                message.provider_message_id,
                message.received_at,
                conn=conn,
            )
            if stored is not None and not handle_reply(
                self.context,
                self.gate,
                message,
                conversation_id,
                lambda name: self._resolve(name, contact, None),
                conn,
            ):
                self._answer_inbound(
                    message,
                    contact,
                    sender.value,
                    conversation_id,
                    created,
                    stored,
                    now,
                    conn,
                )
                engine_for(self.context).on_message(
                    self.store, message, contact, conversation_id, stored, now, conn
                )
            self.store.complete_event(claimed.id, now, conn=conn)

        if stored is not None:
            self._notify_message_received(message, contact, conversation_id)

    def _notify_message_received(
        self, message: InboundMessage, contact: Contact, conversation_id: int
    ) -> None:
        """Call message_received after the message is stored and answered.

        The event is already done, so a plugin failure here is logged and
        not retried: retrying would store and answer nothing new.
        """
        try:
            self.context.plugin_manager.hook.message_received(
                message=message,
                contact=contact,
                conversation_id=conversation_id,
                context=self.context,
            )
        except Exception:  # noqa: BLE001 - one plugin's failure must not hide the message
            logger.exception(
                "a plugin failed in message_received for message %s in conversation %s; "
                "the message is stored and is not processed again",
                message.provider_message_id,
                conversation_id,
            )

    # Rendering, gating and queueing

    def queue_planned(
        self,
        plan: PlannedMessage,
        contact: Contact,
        event: OrderStatusEvent | None,
        channel_id: str,
        address: str,
        conversation_id: int,
        now: datetime,
        text: str | None = None,
    ) -> None:
        """Render, gate and queue one message in its own transaction.

        This is the path every message of the pipeline takes, for callers
        outside it such as automations. ``text`` replaces the template's
        text from ``[templates]``; ``plan.template`` then only names it in
        logs and block reasons.
        """
        template_text = (
            text if text is not None else self.settings.templates[plan.template]
        )
        fields = parse_template(plan.template, template_text).fields
        self._prefetch_fields(
            [], contact, event, [*fields, *self._channel_fields(channel_id, plan.kind)]
        )
        with self.store.transaction() as conn:
            self._queue(
                plan,
                contact,
                event,
                channel_id,
                address,
                conversation_id,
                now,
                conn,
                text=text,
            )

    def _queue(
        self,
        plan: PlannedMessage,
        contact: Contact,
        event: OrderStatusEvent | None,
        channel_id: str,
        address: str,
        conversation_id: int,
        now: datetime,
        conn: Connection,
        text: str | None = None,
    ) -> None:
        template_text = (
            text if text is not None else self.settings.templates[plan.template]
        )
        template = parse_template(plan.template, template_text)
        rendered = template.render(lambda name: self._resolve(name, contact, event))

        if rendered.text is None:
            reason = _render_failure(
                plan.template, rendered.missing, len(rendered.errors)
            )
            # A template problem blocks every message of its kind, so it is
            # logged as a warning for the operator to fix.
            self._block(
                plan,
                channel_id,
                conversation_id,
                plan.template,
                reason,
                now,
                conn,
                level=logging.WARNING,
            )
            return

        fields = {
            name: self._resolve(name, contact, event) or ""
            for name in self._channel_fields(channel_id, plan.kind)
        }
        request = SendRequest(
            address,
            plan.purpose,
            plan.kind,
            conversation_id,
            channel=channel_id,
            body=rendered.text,
            fields=fields,
        )
        decision = self.gate.check(request, now, conn=conn)
        if not decision.allowed and not decision.deferred:
            self._block(
                plan,
                channel_id,
                conversation_id,
                rendered.text,
                decision.reason or "blocked",
                now,
                conn,
            )
            return

        body = self._with_opt_out_notice(rendered.text, plan, conversation_id, conn)
        message_id = self.store.queue_message(
            conversation_id,
            channel_id,
            body,
            plan.kind,
            plan.purpose.value,
            plan.dedupe_key,
            now,
            conn=conn,
            not_before=decision.defer_until,
            reason=f"deferred: {decision.reason}" if decision.deferred else None,
            fields=fields,
        )
        if message_id is None:
            logger.info(
                "%s for conversation %s was queued before; not queued again",
                plan.kind,
                conversation_id,
            )
        else:
            logger.info(
                "message %s (%s) queued for %s on %s",
                message_id,
                plan.kind,
                mask_phone(address),
                channel_id,
            )

    def _with_opt_out_notice(
        self, text: str, plan: PlannedMessage, conversation_id: int, conn: Connection
    ) -> str:
        """Append the opt-out notice to the first message of a conversation.

        The notice is left off when the text already tells the customer to
        reply STOP, and for the kinds that answer a keyword.
        """
        notice = self.settings.compliance.opt_out_notice.strip()
        if not notice or plan.kind in ALWAYS_ALLOWED_KINDS:
            return text
        if "stop" in text.casefold() or self.store.count_outbound(
            conversation_id, conn=conn
        ):
            return text
        return f"{text} {notice}"

    def _block(
        self,
        plan: PlannedMessage,
        channel_id: str,
        conversation_id: int,
        body: str,
        reason: str,
        now: datetime,
        conn: Connection,
        level: int = logging.INFO,
    ) -> None:
        message_id = self.store.record_blocked(
            conversation_id,
            channel_id,
            body,
            plan.kind,
            plan.purpose.value,
            plan.dedupe_key,
            reason,
            now,
            conn=conn,
        )
        if message_id is not None:
            logger.log(
                level,
                "message %s (%s) in conversation %s blocked: %s",
                message_id,
                plan.kind,
                conversation_id,
                reason,
            )

    def _channel_fields(self, channel_id: str, kind: str) -> list[str]:
        """Return the fields a channel needs to send a kind as a provider template."""
        channel = self.channels.get(channel_id)
        return list(channel.fields_for(kind)) if channel else []

    def _prefetch_fields(
        self,
        template_names: list[str],
        contact: Contact,
        event: OrderStatusEvent | None,
        extra_fields: Sequence[str] = (),
    ) -> None:
        """Resolve the fields of templates that may be sent, before any transaction.

        Plugins may call their provider or the store from resolve_field. Inside
        the event's write transaction that would hold SQLite's only writer
        lock for the length of a network call. The event worker is
        single-threaded, so the values are kept on the processor.
        """
        self._fields = {}
        wanted = [normalize_field_name(name) for name in extra_fields]
        for name in template_names:
            text = self.settings.templates.get(name)
            if text is not None:
                wanted.extend(parse_template(name, text).fields)
        for field_name in wanted:
            if field_name not in self._fields:
                self._fields[field_name] = (
                    self.context.plugin_manager.hook.resolve_field(
                        name=field_name,
                        contact=contact,
                        event=event,
                        context=self.context,
                    )
                )

    def _resolve(
        self, name: str, contact: Contact, event: OrderStatusEvent | None
    ) -> str | None:
        normalized = normalize_field_name(name)
        if normalized in self._fields:
            return self._fields[normalized]
        return self.context.plugin_manager.hook.resolve_field(
            name=normalized, contact=contact, event=event, context=self.context
        )


def _render_failure(template: str, missing: tuple[str, ...], error_count: int) -> str:
    if error_count:
        return f"template {template!r} has {error_count} syntax error(s); run 'parley config check'"
    names = ", ".join(f"{{{{{name}}}}}" for name in missing)
    return f"missing value for {names} in template {template!r}"


def inbound_to_json(message: InboundMessage) -> dict[str, object]:
    """Return an inbound message as JSON-compatible data for the event queue."""
    return {
        "channel": message.channel,
        "sender": {"kind": message.sender.kind.value, "value": message.sender.value},
        "body": message.body,
        "provider_message_id": message.provider_message_id,
        "received_at": message.received_at.isoformat(),
        "recipient": message.recipient,
        "media_urls": list(message.media_urls),
        "profile_name": message.profile_name,
        "opt_out_type": message.opt_out_type,
    }


def inbound_from_json(data: Mapping[str, object]) -> InboundMessage:
    """Rebuild an inbound message from :func:`inbound_to_json` output."""
    sender = data["sender"]
    assert isinstance(sender, dict)
    return InboundMessage(
        channel=str(data["channel"]),
        sender=ChannelAddress(AddressKind(sender["kind"]), sender["value"]),
        body=str(data["body"]),
        provider_message_id=str(data["provider_message_id"]),
        received_at=datetime.fromisoformat(str(data["received_at"])),
        recipient=data.get("recipient"),  # type: ignore[arg-type]
        media_urls=tuple(data.get("media_urls") or ()),  # type: ignore[arg-type]
        profile_name=data.get("profile_name"),  # type: ignore[arg-type]
        opt_out_type=data.get("opt_out_type"),  # type: ignore[arg-type]
    )
