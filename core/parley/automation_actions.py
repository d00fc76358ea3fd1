"""The automation job: carries out the actions of due automation runs.

The job claims due runs from ``automation_runs`` and runs each one's
actions in order. Messages go through the event pipeline's own path
(:meth:`parley.pipeline.EventProcessor.queue_planned`), so the send gate
checks them when they are queued and again when the outbox sends them.
Desk actions (lists, assignment, closing, notes) go through
:class:`parley.conversations.SupportDesk` with the actor
``automation:<name>``, so they are audited like a person's.

After each action the run records how many actions finished. A run whose
action raised is retried with backoff and resumes at that action, up to
``MAX_ATTEMPTS`` claims; a permanent failure, such as a webhook receiver
answering 404, fails the run at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from parley.automation_config import (
    MESSAGE_TRIGGERS,
    ActionKind,
    ActionSettings,
    AutomationSettings,
    AutomationType,
    TriggerKind,
    is_plugin_kind,
)
from parley.automation_kinds import AutomationKinds, collect_automation_kinds
from parley.automation_webhooks import WebhookFailed, WebhookSender, resolve_secret
from parley.backoff import retry_delay
from parley.channels import Channel
from parley.context import PluginContext, Poller
from parley.conversations import NotFound, SupportDesk
from parley.errors import ConfigError, ParleyError
from parley.inbound import PlannedMessage
from parley.models import AddressKind, Contact, OrderStatusEvent, Purpose
from parley.pipeline import EventProcessor
from parley.store.automations import DONE, FAILED, AutomationRun
from parley.store.desk_records import ConversationRecord, ConversationState

logger = logging.getLogger(__name__)

MESSAGE_KIND = "automation"
CONVERSATIONAL_TRIGGERS = MESSAGE_TRIGGERS | {TriggerKind.CLOSE_CHAT}
JOB_INTERVAL_SECONDS = 2.0
BATCH_SIZE = 50
MAX_ATTEMPTS = 5
# A claimed run not finished in this time is claimed again by the next run.
LEASE_SECONDS = 300.0
RETRY_INITIAL_SECONDS = 30.0
RETRY_MAX_SECONDS = 3600.0
# The audit log's actor column is limited to 64 characters.
_ACTOR_LENGTH = 64


class ActionFailed(ParleyError):
    """An action cannot be carried out; ``permanent`` means retrying cannot help."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass
class RunScope:
    """The contact and conversation of one run, looked up once per run."""

    automation: AutomationSettings
    run: AutomationRun
    actor: str
    now: datetime
    contact: Contact | None = None
    conversation: ConversationRecord | None = None


BuiltinAction = Callable[["ActionRunner", ActionSettings, RunScope, int], str]


class ActionRunner:
    """Runs the actions of claimed runs."""

    def __init__(
        self,
        context: PluginContext,
        channels: Mapping[str, Channel],
        kinds: AutomationKinds,
        webhooks: WebhookSender | None = None,
    ) -> None:
        self.context = context
        self.store = context.store
        self.channels = channels
        self.kinds = kinds
        self.desk = SupportDesk(context, channels)
        self.processor = EventProcessor(context, channels)
        self.webhooks = webhooks or WebhookSender()
        self.automations = {
            automation.name: automation
            for automation in context.settings.automations
            if automation.enabled
        }

    def run_due(self, worker_id: str = "automations") -> int:
        """Claim due runs and carry them out; return how many were claimed."""
        now = self.context.clock()
        runs = self.store.claim_automation_runs(
            worker_id, BATCH_SIZE, now, LEASE_SECONDS
        )
        for run in runs:
            self.execute(run)
        return len(runs)

    def execute(self, run: AutomationRun) -> None:
        """Carry out one claimed run and record its outcome."""
        now = self.context.clock()
        automation = self.automations.get(run.automation)
        if automation is None:
            self._finish(
                run,
                FAILED,
                f"automation {run.automation!r} is no longer configured or is disabled",
            )
            return

        if self._customer_wrote_since(automation, run):
            self._finish(run, DONE, "skipped: the customer wrote after it was planned")
            return

        scope = RunScope(automation, run, _actor(automation.name), now)
        outcomes: list[str] = []
        for position in range(run.actions_done, len(automation.actions)):
            action = automation.actions[position]
            try:
                outcomes.append(self._run_action(action, scope, position))
            except Exception as err:  # noqa: BLE001 - any failure is recorded and retried
                self._fail(run, position, action, err)
                return
            self.store.record_automation_progress(run.id, position + 1)
        self._finish(run, DONE, "; ".join(outcomes) or "no actions left")

    def _customer_wrote_since(
        self, automation: AutomationSettings, run: AutomationRun
    ) -> bool:
        """Return True for a follow-up whose customer wrote after it was planned.

        A follow-up chases a customer who went quiet, so a reply in its
        conversation during the delay makes it pointless.
        """
        if automation.type is not AutomationType.FOLLOW_UP:
            return False
        if run.actions_done or run.conversation_id is None:
            return False
        planned_at = run.due_at - automation.delay_time
        last_inbound = self.store.last_inbound_at(run.conversation_id)
        return last_inbound is not None and last_inbound > planned_at

    def _run_action(
        self, action: ActionSettings, scope: RunScope, position: int
    ) -> str:
        if is_plugin_kind(action.kind):
            handler = self.kinds.actions[action.kind]
            return handler(action, scope.run, self.context) or action.kind
        builtin = BUILTIN_ACTIONS[ActionKind(action.kind)]
        return builtin(self, action, scope, position)

    def _fail(
        self, run: AutomationRun, position: int, action: ActionSettings, err: Exception
    ) -> None:
        error = f"action {position} ({action.kind}) failed: {type(err).__name__}: {err}"
        permanent = isinstance(err, (ActionFailed, WebhookFailed)) and err.permanent
        if permanent or run.attempts >= MAX_ATTEMPTS:
            logger.error(
                "automation %r run %s failed for good: %s",
                run.automation,
                run.id,
                error,
            )
            self._finish(run, FAILED, error)
            return
        delay = retry_delay(run.attempts, RETRY_INITIAL_SECONDS, RETRY_MAX_SECONDS)
        retry_at = self.context.clock() + timedelta(seconds=delay)
        logger.warning(
            "automation %r run %s: %s; retry %d of %d at %s",
            run.automation,
            run.id,
            error,
            run.attempts,
            MAX_ATTEMPTS - 1,
            retry_at.isoformat(),
        )
        self.store.retry_automation_run(run.id, error, retry_at)

    def _finish(self, run: AutomationRun, status: str, outcome: str) -> None:
        self.store.finish_automation_run(run.id, status, outcome, self.context.clock())
        logger.info(
            "automation %r run %s %s: %s", run.automation, run.id, status, outcome
        )

    # Lookups shared by the actions

    def contact(self, scope: RunScope) -> Contact:
        """Return the run's contact."""
        if scope.contact is None:
            contact_id = scope.run.contact_id
            found = self.store.get_contact(contact_id) if contact_id else None
            if found is None:
                raise ActionFailed(
                    f"the trigger of run {scope.run.id} names no stored contact",
                    permanent=True,
                )
            scope.contact = found
        return scope.contact

    def conversation(self, scope: RunScope) -> ConversationRecord:
        """Return the run's conversation, opening one for an order-status trigger."""
        if scope.conversation is not None:
            return scope.conversation
        conversation_id = scope.run.conversation_id
        if conversation_id is None:
            conversation_id = self._open_conversation(scope)
        found = self.store.get_conversation(conversation_id)
        if found is None:
            raise ActionFailed(
                f"conversation {conversation_id} not found", permanent=True
            )
        scope.conversation = found
        return found

    def _open_conversation(self, scope: RunScope) -> int:
        contact = self.contact(scope)
        channel_id = scope.run.payload.get("channel")
        if not channel_id:
            raise ActionFailed(
                f"the {scope.run.trigger_kind} trigger names no channel to send on",
                permanent=True,
            )
        address = _address_for(contact, self.channels.get(channel_id))
        if address is None:
            raise ActionFailed(
                f"contact {contact.id} has no address for channel {channel_id}",
                permanent=True,
            )
        conversation_id, _ = self.store.open_conversation(
            contact.id, channel_id, address, scope.now
        )
        return conversation_id


# Built-in actions


def _send(
    runner: ActionRunner, action: ActionSettings, scope: RunScope, position: int
) -> str:
    conversation = runner.conversation(scope)
    contact = runner.contact(scope)
    purpose = action.purpose or _default_purpose(scope.run)
    label = action.template or f"automation {scope.automation.name!r} action {position}"
    plan = PlannedMessage(
        kind=MESSAGE_KIND,
        purpose=purpose,
        template=label,
        dedupe_key=f"automation:{scope.run.id}:{position}",
    )
    runner.processor.queue_planned(
        plan,
        contact,
        _order_event(scope.run),
        conversation.channel,
        conversation.address,
        conversation.id,
        scope.now,
        text=action.text,
    )
    message = runner.store.message_by_dedupe_key(plan.dedupe_key)
    if message is None:
        return f"message to conversation {conversation.id} not stored"
    reason = f" ({message.status_reason})" if message.status_reason else ""
    return f"message {message.id} {message.status}{reason}"


def _send_survey(
    runner: ActionRunner, action: ActionSettings, scope: RunScope, position: int
) -> str:
    from parley.csat import request_survey

    conversation = runner.conversation(scope)
    closing_id = scope.run.payload.get("closing_id")
    survey_id = request_survey(runner.context, conversation.id, closing_id)
    if survey_id is None:
        return f"no survey for conversation {conversation.id} (see the log for why)"
    return f"survey {survey_id} requested"


def _change_list(
    runner: ActionRunner, action: ActionSettings, scope: RunScope, position: int
) -> str:
    assert action.list is not None
    contact = runner.contact(scope)
    found = [item for item in runner.desk.contact_lists() if item.name == action.list]
    adding = action.kind == ActionKind.ADD_TO_LIST
    if not found and not adding:
        return f"no list named {action.list!r}; nothing removed"
    contact_list = (
        found[0] if found else runner.desk.create_list(scope.actor, action.list)
    )
    if adding:
        added = runner.desk.add_member(scope.actor, contact_list.id, contact.id)
        state = "added to" if added else "already in"
        return f"contact {contact.id} {state} list {action.list!r}"
    try:
        runner.desk.remove_member(scope.actor, contact_list.id, contact.id)
    except NotFound:
        return f"contact {contact.id} was not in list {action.list!r}"
    return f"contact {contact.id} removed from list {action.list!r}"


def _assign(
    runner: ActionRunner, action: ActionSettings, scope: RunScope, position: int
) -> str:
    conversation = runner.conversation(scope)
    changes = {
        key: value
        for key, value in (("agent", action.agent), ("team", action.team))
        if value is not None
    }
    try:
        runner.desk.assign(scope.actor, conversation.id, changes)
    except ParleyError as err:
        raise ActionFailed(str(err), permanent=True) from err
    described = ", ".join(f"{key} {value}" for key, value in changes.items())
    return f"conversation {conversation.id} assigned to {described}"


def _close(
    runner: ActionRunner, action: ActionSettings, scope: RunScope, position: int
) -> str:
    conversation = runner.conversation(scope)
    _, changed = runner.desk.set_state(
        scope.actor, conversation.id, ConversationState.CLOSED
    )
    state = "closed" if changed else "was already closed"
    return f"conversation {conversation.id} {state}"


def _add_note(
    runner: ActionRunner, action: ActionSettings, scope: RunScope, position: int
) -> str:
    assert action.text is not None
    conversation = runner.conversation(scope)
    note = runner.desk.add_note(scope.actor, conversation.id, action.text)
    return f"note {note.id} added to conversation {conversation.id}"


def _webhook(
    runner: ActionRunner, action: ActionSettings, scope: RunScope, position: int
) -> str:
    assert action.url is not None
    secret = resolve_secret(
        action.secret.get_secret_value() if action.secret else None, action.secret_env
    )
    run = scope.run
    payload = {
        "automation": scope.automation.name,
        "type": scope.automation.type.value,
        "trigger": run.trigger_kind,
        "run_id": run.id,
        "conversation_id": run.conversation_id,
        "contact_id": run.contact_id,
        "channel": run.payload.get("channel"),
        "due_at": run.due_at.isoformat(),
        "sent_at": scope.now.isoformat(),
        "details": {
            key: value
            for key, value in run.payload.items()
            if key not in ("channel", "order_event")
        },
    }
    status = runner.webhooks.post(
        action.url,
        payload,
        secret,
        delivery_id=f"{run.id}:{position}",
        timeout_seconds=action.timeout_seconds or 10.0,
    )
    return f"webhook answered HTTP {status}"


BUILTIN_ACTIONS: dict[ActionKind, BuiltinAction] = {
    ActionKind.SEND_MESSAGE: _send,
    ActionKind.SEND_TEMPLATE: _send,
    ActionKind.SEND_SURVEY: _send_survey,
    ActionKind.ADD_TO_LIST: _change_list,
    ActionKind.REMOVE_FROM_LIST: _change_list,
    ActionKind.ASSIGN: _assign,
    ActionKind.CLOSE: _close,
    ActionKind.ADD_NOTE: _add_note,
    ActionKind.WEBHOOK: _webhook,
}


# Start-up checks and the job


def startup_problems(
    automations: list[AutomationSettings],
    kinds: AutomationKinds,
    templates: Mapping[str, str],
    survey_template: str,
) -> list[str]:
    """Describe what stops the enabled automations from working, if anything."""
    problems = kinds.problems(automations)
    for automation in automations:
        if not automation.enabled:
            continue
        for position, action in enumerate(automation.actions):
            if (
                action.kind == ActionKind.SEND_SURVEY
                and survey_template not in templates
            ):
                problems.append(
                    f"automation {automation.name!r}: actions.{position}: send_survey "
                    f"needs the survey template of the [csat] section; define "
                    f"{survey_template!r} in [templates] or set [csat] survey"
                )
    return problems


def automation_poller(
    context: PluginContext, channels: Mapping[str, Channel]
) -> Poller | None:
    """Return the automation job, or None when no automation is enabled.

    Raises:
        ConfigError: an automation uses a plugin kind nobody registered, or
            a survey action without the survey template.
        PluginError: a plugin fails to register its kinds.
    """
    settings = context.settings
    kinds = collect_automation_kinds(context)
    enabled = [automation for automation in settings.automations if automation.enabled]
    if not enabled:
        return None
    problems = startup_problems(
        enabled, kinds, settings.templates, settings.csat.survey
    )
    if problems:
        raise ConfigError(problems)
    runner = ActionRunner(context, channels, kinds)

    def run() -> None:
        runner.run_due()

    return Poller("core", "automations", JOB_INTERVAL_SECONDS, run)


def _actor(name: str) -> str:
    return f"automation:{name}"[:_ACTOR_LENGTH]


def _default_purpose(run: AutomationRun) -> Purpose:
    """Return conversational after a customer message or closing, else informational.

    The gate lets a conversational message through only when the customer
    wrote in the conversation, which a call or an order event is not.
    """
    if run.trigger_kind in CONVERSATIONAL_TRIGGERS:
        return Purpose.CONVERSATIONAL
    return Purpose.INFORMATIONAL


def _order_event(run: AutomationRun) -> OrderStatusEvent | None:
    raw = run.payload.get("order_event")
    return OrderStatusEvent.from_json(raw) if raw else None


def _address_for(contact: Contact, channel: Channel | None) -> str | None:
    kind = channel.address_kind if channel else AddressKind.PHONE
    if kind in (AddressKind.PHONE, AddressKind.WHATSAPP):
        return contact.phone
    for address in contact.addresses:
        if address.kind is kind:
            return address.value
    return None
