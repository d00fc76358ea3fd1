"""How a message may go out: the 24-hour window, HUMAN_AGENT and message tags.

Meta lets a Page (or an Instagram account) message a person only after the
person wrote. For 24 hours after the person's last message any message may
go, as ``RESPONSE`` or ``UPDATE``. After that:

* a reply written by a person (kind ``agent_reply``) may go with the
  ``HUMAN_AGENT`` tag until 7 days after the person's last message;
* on Messenger, a kind with a configured tag (``POST_PURCHASE_UPDATE`` for
  order updates) may go with that tag, unless it is promotional;
* anything else is blocked.

The decision is made from ``message.last_inbound_at`` and the time given,
which the channel reads from its clock at send time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from parley import AGENT_REPLY_KIND, OutboundMessage, Purpose, SendBlocked
from parley_messenger.const import (
    HUMAN_AGENT,
    HUMAN_AGENT_WINDOW,
    MESSAGE_TAG,
    PROACTIVE_KINDS,
    RESPONSE,
    STANDARD_WINDOW,
    UPDATE,
    Platform,
)


@dataclass(frozen=True)
class SendPlan:
    """The Send API fields that decide how Meta treats a message.

    Attributes:
        messaging_type: ``RESPONSE``, ``UPDATE`` or ``MESSAGE_TAG``.
        tag: the message tag when ``messaging_type`` is ``MESSAGE_TAG``.
    """

    messaging_type: str
    tag: str | None = None


class WindowPolicy:
    """Decides a message's messaging type, or why it may not go out."""

    def __init__(
        self,
        platform: Platform,
        kind_tags: Mapping[str, str],
        human_agent: bool,
        margin: timedelta,
    ) -> None:
        """Create a policy.

        Args:
            platform: the platform, for its name and section in reasons.
            kind_tags: the tag to use outside the window, by message kind.
            human_agent: whether agent replies may use ``HUMAN_AGENT``.
            margin: time taken off the end of each window.
        """
        self._platform = platform
        self._kind_tags = dict(kind_tags)
        self._human_agent = human_agent
        self._margin = margin

    def plan(self, message: OutboundMessage, now: datetime) -> SendPlan:
        """Return how the message goes out at ``now``.

        Raises:
            SendBlocked: the platform's rules forbid the message at ``now``;
                the reason names the rule and the values.
        """
        last_inbound_at = message.last_inbound_at
        if last_inbound_at is None:
            raise SendBlocked(self._never_wrote_reason())

        elapsed = now - last_inbound_at
        if elapsed < STANDARD_WINDOW - self._margin:
            proactive = message.kind in PROACTIVE_KINDS
            return SendPlan(UPDATE if proactive else RESPONSE)

        if message.kind == AGENT_REPLY_KIND:
            return self._agent_plan(elapsed)
        return self._tagged_plan(message, elapsed)

    def reason_blocked(self, message: OutboundMessage, now: datetime) -> str | None:
        """Return why the message may not go out at ``now``, or None."""
        try:
            self.plan(message, now)
        except SendBlocked as blocked:
            return blocked.reason
        return None

    def _agent_plan(self, elapsed: timedelta) -> SendPlan:
        label = self._platform.label
        if not self._human_agent:
            raise SendBlocked(
                f"outside {label}'s 24-hour messaging window (the customer last "
                f"wrote {_age(elapsed)} ago) and human_agent_tag is off in "
                f"[{self._platform.channel_id}]; turn it on once the app has "
                "Meta's approval for the Human Agent feature"
            )
        if elapsed >= HUMAN_AGENT_WINDOW - self._margin:
            raise SendBlocked(
                f"outside {label}'s 7-day HUMAN_AGENT window for a person's reply "
                f"(the customer last wrote {_age(elapsed)} ago); the customer has "
                "to write again first"
            )
        return SendPlan(MESSAGE_TAG, HUMAN_AGENT)

    def _tagged_plan(self, message: OutboundMessage, elapsed: timedelta) -> SendPlan:
        label = self._platform.label
        section = self._platform.channel_id
        outside = (
            f"outside {label}'s 24-hour messaging window (the customer last wrote "
            f"{_age(elapsed)} ago)"
        )
        if not self._platform.kind_tags:
            raise SendBlocked(
                f"{outside}; {label} allows only a person's reply (agent_reply, "
                f"with the HUMAN_AGENT tag) after the window, not {message.kind}"
            )

        tag = self._kind_tags.get(message.kind)
        if tag is None:
            raise SendBlocked(
                f"{outside} and no message tag configured for {message.kind}; set "
                f"[{section}] message_tags.{message.kind} to a tag such as "
                "POST_PURCHASE_UPDATE if the message fits it"
            )
        if message.purpose is Purpose.PROMOTIONAL:
            raise SendBlocked(
                f"{outside}; message tag {tag} may not carry promotional content, "
                f"and this {message.kind} is promotional"
            )
        return SendPlan(MESSAGE_TAG, tag)

    def _never_wrote_reason(self) -> str:
        return (
            f"the customer has never written to this {self._platform.account_noun}, "
            f"and {self._platform.label} lets a business message only people who "
            "wrote first"
        )


def _age(elapsed: timedelta) -> str:
    """Describe a time span in hours below two days, else in days."""
    hours = elapsed.total_seconds() / 3600
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} days"
