"""Double opt-in: confirmation prompts, reminders and expiry of sign-ups.

A sign-up made away from the phone (a web form, a point of sale, an import)
is pending until the customer confirms it by replying YES; until then the
send gate lets only the confirmation prompt through. The daemon's
double opt-in job sends the prompt to pending sign-ups that have none yet
(such as one a plugin recorded), up to ``[compliance]
double_opt_in_reminders`` reminders ``double_opt_in_reminder_hours`` apart,
and records an ``expire`` ledger record once ``double_opt_in_expiry_hours``
have passed since the first prompt, so that a late YES confirms nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from parley.config import CoreSettings
from parley.consent import EXPIRE, ConsentState, LedgerEntry, derive_state
from parley.context import PluginContext, Poller
from parley.models import AddressKind, ChannelAddress, ContactRecord, Purpose
from parley.phones import mask_phone
from parley.store import Store
from parley.templates import parse_template

logger = logging.getLogger(__name__)

PROMPT_KIND = "opt_in_prompt"
JOB_INTERVAL_SECONDS = 15 * 60


@dataclass
class SignupReport:
    """The outcome of one run of the job."""

    prompts: int = 0
    reminders: int = 0
    expired: int = 0


def queue_prompt(
    store: Store,
    settings: CoreSettings,
    address: str,
    purpose: Purpose,
    dedupe_key: str,
    now: datetime,
    conn: Connection,
) -> bool:
    """Queue the confirmation prompt to a phone number; False if nothing was queued.

    Nothing is queued when the prompt template is not configured, does not
    render, or a message with ``dedupe_key`` exists already.
    """
    template_name = settings.replies.opt_in_prompt
    text = settings.templates.get(template_name)
    if text is None:
        return False

    phone = ChannelAddress(AddressKind.PHONE, address)
    contact = store.find_contact(phone, conn=conn)
    if contact is None:
        contact = store.save_contact(
            ContactRecord(source="import", phone=address), [phone], now, conn=conn
        )
    channel = settings.order_updates.channel
    conversation_id, _ = store.open_conversation(
        contact.id, channel, address, now, conn=conn
    )

    fields = {"business name": settings.business.name}
    body = parse_template(template_name, text).render(fields.get).text
    if body is None:
        logger.warning(
            "template %r needs fields other than {{Business Name}}; "
            "no confirmation prompt sent to %s",
            template_name,
            mask_phone(address),
        )
        return False
    message_id = store.queue_message(
        conversation_id,
        channel,
        body,
        PROMPT_KIND,
        purpose.value,
        dedupe_key,
        now,
        conn=conn,
    )
    return message_id is not None


def follow_up_signups(
    store: Store, settings: CoreSettings, now: datetime
) -> SignupReport:
    """Prompt, remind or expire every sign-up that awaits confirmation."""
    compliance = settings.compliance
    sources = {source.value for source in compliance.double_opt_in_sources}
    report = SignupReport()

    for (address, purpose_value), entries in store.signup_ledgers(sources).items():
        purpose = Purpose(purpose_value)
        status = derive_state(entries, purpose, sources)
        if status.state is not ConsentState.PENDING or not address.startswith("+"):
            continue
        assert status.entry is not None
        _follow_up(store, settings, address, purpose, status.entry, now, report)

    if report.prompts or report.reminders or report.expired:
        logger.info(
            "double opt-in: %d prompt(s), %d reminder(s), %d expired sign-up(s)",
            report.prompts,
            report.reminders,
            report.expired,
        )
    return report


def _follow_up(
    store: Store,
    settings: CoreSettings,
    address: str,
    purpose: Purpose,
    signup: LedgerEntry,
    now: datetime,
    report: SignupReport,
) -> None:
    compliance = settings.compliance
    prompts = store.outbound_times(address, PROMPT_KIND, purpose.value)

    with store.transaction() as conn:
        if not prompts:
            key = f"{PROMPT_KIND}:{address}:{purpose.value}:{signup.recorded_at.isoformat()}"
            if queue_prompt(store, settings, address, purpose, key, now, conn):
                report.prompts += 1
            return

        expiry = timedelta(hours=compliance.double_opt_in_expiry_hours)
        if expiry and now >= prompts[0] + expiry:
            store.add_consent(
                channel="*",
                address=address,
                purpose=purpose.value,
                action=EXPIRE,
                source=signup.source,
                actor="parley:double-opt-in",
                evidence=(
                    f"no confirming reply within {compliance.double_opt_in_expiry_hours:g} h "
                    f"of the first prompt at {prompts[0]:%Y-%m-%d %H:%M} UTC "
                    f"(sign-up record {signup.id})"
                ),
                now=now,
                conn=conn,
            )
            report.expired += 1
            logger.info(
                "sign-up record %s for %s expired unconfirmed",
                signup.id,
                mask_phone(address),
            )
            return

        reminders_sent = len(prompts) - 1
        interval = timedelta(hours=compliance.double_opt_in_reminder_hours)
        if (
            reminders_sent < compliance.double_opt_in_reminders
            and now >= prompts[-1] + interval
        ):
            key = f"opt_in_reminder:{address}:{purpose.value}:{signup.id}:{reminders_sent + 1}"
            if queue_prompt(store, settings, address, purpose, key, now, conn):
                report.reminders += 1


def signup_poller(context: PluginContext) -> Poller | None:
    """Return the job that follows up sign-ups, or None without a prompt template."""
    settings = context.settings
    if settings.replies.opt_in_prompt not in settings.templates:
        return None

    def run() -> None:
        follow_up_signups(context.store, settings, context.clock())

    return Poller("core", "double-opt-in", JOB_INTERVAL_SECONDS, run)
