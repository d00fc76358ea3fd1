"""How the event worker answers customer keywords.

Opt-out, opt-in, confirmation and help keywords are handled here, before
any automation or agent sees the message: each writes its consent records
and plans at most one reply. A message that is no keyword gets the
first-message auto reply when it opens the customer's side of a thread,
then the business-hours auto reply that applies (see
:mod:`parley.auto_replies`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from parley.auto_replies import AutoReplyPlanner
from parley.config import CoreSettings
from parley.consent import RESTORE, ConsentState
from parley.gate import SendGate
from parley.keywords import KeywordKind, KeywordMatch, KeywordSet
from parley.models import (
    Contact,
    InboundMessage,
    Purpose,
)
from parley.store import Store

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlannedMessage:
    """A message the processor decided to send or record as blocked."""

    kind: str
    purpose: Purpose
    template: str
    dedupe_key: str


@dataclass(frozen=True)
class KeywordMessage:
    """A customer message that is a keyword, with what its records need."""

    contact: Contact
    channel: str
    address: str
    source: str
    evidence: str
    message_id: int
    now: datetime
    conn: Connection


class KeywordResponder:
    """Answers keyword messages for :class:`~parley.pipeline.EventProcessor`.

    The processor mixes this in; it provides these attributes and ``_queue``.
    """

    settings: CoreSettings
    store: Store
    gate: SendGate
    keywords: KeywordSet
    auto_replies: AutoReplyPlanner

    def _answer_inbound(
        self,
        message: InboundMessage,
        contact: Contact,
        address: str,
        conversation_id: int,
        created: bool,
        message_id: int,
        now: datetime,
        conn: Connection,
    ) -> None:
        match, source = self._classify(message)
        evidence = (
            f"inbound message {message.provider_message_id} on {message.channel}, "
            f"keyword {match.keyword}: {message.body}"
        )
        handlers = {
            KeywordKind.OPT_OUT: self._on_opt_out,
            KeywordKind.OPT_IN: self._on_opt_in,
            KeywordKind.CONFIRM: self._on_confirm,
            KeywordKind.HELP: self._on_help,
        }
        handler = handlers.get(match.kind) if match.kind else None
        plan = None
        if handler is not None:
            keyword = KeywordMessage(
                contact,
                message.channel,
                address,
                source,
                evidence,
                message_id,
                now,
                conn,
            )
            plan = handler(keyword)
        # A YES with no sign-up waiting is an ordinary message.
        ordinary = match.kind is None or (
            match.kind is KeywordKind.CONFIRM and plan is None
        )
        plans = [plan] if plan is not None else []
        if ordinary:
            plans = self._ordinary_replies(
                message.body, conversation_id, created, now, conn
            )

        if match.possible_opt_out:
            logger.info(
                "message %s in conversation %s may ask to stop messages; flagged for review",
                message_id,
                conversation_id,
            )
        if (
            plans
            and not ordinary
            and message.channel in self.settings.compliance.provider_keyword_replies
        ):
            logger.info(
                "%s keyword on %s is answered by the provider; no reply of our own",
                match.kind.value,
                message.channel,
            )
            plans = []
        for planned in plans:
            if planned.template in self.settings.templates:
                self._queue(
                    planned,
                    contact,
                    None,
                    message.channel,
                    address,
                    conversation_id,
                    now,
                    conn,
                )

    def _ordinary_replies(
        self,
        body: str,
        conversation_id: int,
        created: bool,
        now: datetime,
        conn: Connection,
    ) -> list[PlannedMessage]:
        """Plan the replies to a message that is no keyword, in sending order.

        The first-message reply comes first, then the business-hours auto
        reply, so the customer learns how to opt out before anything else.
        """
        plans = []
        if self.settings.replies.first_message and self._is_first_inbound(
            conversation_id, created, conn
        ):
            plans.append(
                PlannedMessage(
                    "auto_reply",
                    Purpose.CONVERSATIONAL,
                    self.settings.replies.first_message,
                    f"first_message:{conversation_id}",
                )
            )

        choice = self.auto_replies.choose(body, conversation_id, now, conn)
        if choice is not None:
            logger.info(
                "conversation %s: the %s auto reply applies in calendar period %s",
                conversation_id,
                choice.reply.value,
                choice.period.id,
            )
            plans.append(
                PlannedMessage(
                    "auto_reply",
                    Purpose.CONVERSATIONAL,
                    choice.template,
                    choice.dedupe_key,
                )
            )
        return plans

    def _classify(self, message: InboundMessage) -> tuple[KeywordMatch, str]:
        """Classify a message, trusting the provider's own keyword report first."""
        reported = (message.opt_out_type or "").strip().upper()
        provider_kinds = {
            "STOP": KeywordKind.OPT_OUT,
            "START": KeywordKind.OPT_IN,
            "HELP": KeywordKind.HELP,
        }
        if reported in provider_kinds:
            keyword = reported.lower()
            return KeywordMatch(
                kind=provider_kinds[reported], keyword=keyword
            ), "provider_report"
        return self.keywords.classify(message.body), "keyword"

    def _on_opt_out(self, keyword: KeywordMessage) -> PlannedMessage:
        self._record_consent(keyword, "opt_out", list(Purpose))
        logger.info("contact %s opted out on %s", keyword.contact.id, keyword.channel)
        return self._reply(
            "opt_out_confirmation", self.settings.replies.opt_out_confirmation, keyword
        )

    def _on_opt_in(self, keyword: KeywordMessage) -> PlannedMessage:
        # START undoes what STOP withdrew and grants nothing new: each
        # opted-out purpose returns to the state it had before the opt-out.
        statuses = self.gate.consent_statuses(keyword.address, conn=keyword.conn)
        restored = [
            purpose
            for purpose, status in statuses.items()
            if status.state is ConsentState.OPTED_OUT
        ]
        self._record_consent(keyword, RESTORE, restored)
        logger.info(
            "contact %s opted back in on %s for %s",
            keyword.contact.id,
            keyword.channel,
            ", ".join(purpose.value for purpose in restored),
        )
        return self._reply(
            "opt_in_confirmation", self.settings.replies.opt_in_confirmation, keyword
        )

    def _on_confirm(self, keyword: KeywordMessage) -> PlannedMessage | None:
        statuses = self.gate.consent_statuses(keyword.address, conn=keyword.conn)
        pending = [
            purpose
            for purpose, status in statuses.items()
            if status.state is ConsentState.PENDING
        ]
        if not pending:
            return None
        self._record_consent(keyword, "confirmation", pending)
        logger.info(
            "contact %s confirmed a sign-up on %s", keyword.contact.id, keyword.channel
        )
        return self._reply(
            "double_opt_in_confirmed",
            self.settings.replies.double_opt_in_confirmed,
            keyword,
        )

    def _on_help(self, keyword: KeywordMessage) -> PlannedMessage:
        return self._reply("help", self.settings.replies.help, keyword)

    def _reply(
        self, kind: str, template: str, keyword: KeywordMessage
    ) -> PlannedMessage:
        """Plan the one reply a keyword message gets, keyed to that message."""
        return PlannedMessage(
            kind, Purpose.CONVERSATIONAL, template, f"{kind}:{keyword.message_id}"
        )

    def _is_first_inbound(
        self, conversation_id: int, created: bool, conn: Connection
    ) -> bool:
        """Return True for the customer's first message in a conversation.

        A conversation an order update opened still gets the first-message
        reply when the customer first writes in it.
        """
        return created or self.store.count_inbound(conversation_id, conn=conn) == 1

    def _record_consent(
        self, keyword: KeywordMessage, action: str, purposes: list[Purpose]
    ) -> None:
        for purpose in purposes:
            self.store.add_consent(
                channel=keyword.channel,
                address=keyword.address,
                purpose=purpose.value,
                action=action,
                source=keyword.source,
                actor=f"contact:{keyword.contact.id}",
                evidence=keyword.evidence,
                now=keyword.now,
                contact_id=keyword.contact.id,
                conn=keyword.conn,
            )
