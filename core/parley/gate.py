"""The send gate: the one check every outbound message passes.

The gate runs when a message is queued and again right before the outbox
hands it to a channel, so an opt-out that arrives while a message waits
still stops it. Each rule reports whether it passes and why; the first
rule that blocks decides, and a message that only has to wait (quiet
hours, the frequency cap) is deferred to the time the rule names.

Rules, in order:

1. ``opt_out``: the address opted out of the purpose.
2. ``suspended``: the address was suspended after a long silence.
3. ``double_opt_in``: a sign-up made away from the phone waits for its
   confirming reply; only the confirmation prompt may go out.
4. ``consent``: conversational messages need a customer message in the
   conversation; informational ones an informational opt-in (unless
   ``require_informational_consent`` is off); promotional ones a
   promotional opt-in.
5. ``quiet_hours``: anything not conversational waits for the recipient's
   local sending window.
6. ``frequency_cap``: anything not conversational waits while the address
   has had the maximum number of messages in the cap period.
7. ``channel_window``: the channel's own rules for when and how it may
   send, such as WhatsApp's 24-hour customer service window, outside which
   only an approved template may go (:meth:`parley.Channel.window_rule`).

Messages of the kinds in ``ALWAYS_ALLOWED_KINDS`` skip the rules: the one
confirmation of an opt-out, and the answer to HELP, which carriers require
even for opted-out numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection

from parley.channels import Channel
from parley.config import CoreSettings
from parley.consent import ConsentState, ConsentStatus, derive_state
from parley.models import AddressKind, ChannelAddress, OutboundMessage, Purpose
from parley.quiet_hours import next_allowed, recipient_zones, window_for
from parley.store import Store

ALWAYS_ALLOWED_KINDS = frozenset({"opt_out_confirmation", "help"})
CONFIRMATION_PROMPT_KIND = "opt_in_prompt"


@dataclass(frozen=True)
class RuleResult:
    """The outcome of one rule for one message."""

    rule: str
    passed: bool
    detail: str
    defer_until: datetime | None = None


@dataclass(frozen=True)
class GateDecision:
    """Whether a message may be sent now, must wait, or must not be sent.

    Attributes:
        allowed: True when the message may be sent now.
        reason: why it is blocked or deferred, naming the rule.
        defer_until: set when the message may be sent later, at this time.
        results: every rule's outcome, for ``parley explain``.
    """

    allowed: bool
    reason: str | None = None
    defer_until: datetime | None = None
    results: tuple[RuleResult, ...] = ()

    @property
    def deferred(self) -> bool:
        """True when the message waits instead of being blocked."""
        return self.defer_until is not None


@dataclass(frozen=True)
class SendRequest:
    """The facts about one message that the gate checks."""

    address: str
    purpose: Purpose
    kind: str
    conversation_id: int | None = None
    message_id: int | None = None
    channel: str | None = None
    body: str = ""
    fields: Mapping[str, str] = field(default_factory=dict)


class SendGate:
    """Decides whether a message may go to an address now."""

    def __init__(
        self,
        store: Store,
        settings: CoreSettings,
        channels: Mapping[str, Channel] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.channels = channels or {}
        self.compliance = settings.compliance
        self.window = self.compliance.window()
        self.state_windows = self.compliance.windows_by_state()

    def check(
        self, request: SendRequest, now: datetime, conn: Connection | None = None
    ) -> GateDecision:
        """Evaluate every rule for one message and return the decision."""
        if request.kind in ALWAYS_ALLOWED_KINDS:
            result = RuleResult(
                "always_allowed", True, f"{request.kind} messages skip the rules"
            )
            return GateDecision(allowed=True, results=(result,))

        statuses = {
            purpose: self._consent(request.address, purpose, conn)
            for purpose in Purpose
        }
        results = (
            self._opt_out(request, statuses[request.purpose]),
            self._suspended(statuses[request.purpose]),
            self._double_opt_in(request, statuses[request.purpose]),
            self._consent_rule(request, statuses[request.purpose], conn),
            self._quiet_hours(request, now, conn),
            self._frequency_cap(request, now, conn),
            self._channel_window(request, now, conn),
        )
        return _decide(results)

    def consent_statuses(
        self, address: str, conn: Connection | None = None
    ) -> dict[Purpose, ConsentStatus]:
        """Return the derived consent state of an address for every purpose."""
        return {purpose: self._consent(address, purpose, conn) for purpose in Purpose}

    def _consent(
        self, address: str, purpose: Purpose, conn: Connection | None
    ) -> ConsentStatus:
        entries = self.store.consent_entries(address, purpose.value, conn=conn)
        sources = {source.value for source in self.compliance.double_opt_in_sources}
        return derive_state(entries, purpose, sources)

    def _opt_out(self, request: SendRequest, status: ConsentStatus) -> RuleResult:
        if status.state is ConsentState.OPTED_OUT:
            return RuleResult(
                "opt_out", False, f"suppressed: opted out ({status.describe()})"
            )
        return RuleResult("opt_out", True, "no opt-out on record")

    def _suspended(self, status: ConsentStatus) -> RuleResult:
        if status.state is ConsentState.SUSPENDED:
            return RuleResult(
                "suspended",
                False,
                f"address suspended, needs fresh consent: {status.describe()}",
            )
        return RuleResult("suspended", True, "not suspended")

    def _double_opt_in(self, request: SendRequest, status: ConsentStatus) -> RuleResult:
        if status.state is not ConsentState.PENDING:
            return RuleResult("double_opt_in", True, "no confirmation pending")
        if request.kind == CONFIRMATION_PROMPT_KIND:
            return RuleResult("double_opt_in", True, "this is the confirmation prompt")
        return RuleResult(
            "double_opt_in",
            False,
            f"waiting for the customer to confirm the sign-up: {status.describe()}",
        )

    def _consent_rule(
        self, request: SendRequest, status: ConsentStatus, conn: Connection | None
    ) -> RuleResult:
        if request.purpose is Purpose.CONVERSATIONAL:
            if request.conversation_id is not None and self.store.has_inbound(
                request.conversation_id, conn=conn
            ):
                return RuleResult(
                    "consent", True, "the customer wrote in this conversation"
                )
            return RuleResult(
                "consent",
                False,
                "conversational message but the customer has not written",
            )

        if (
            request.purpose is Purpose.INFORMATIONAL
            and not self.compliance.require_informational_consent
        ):
            return RuleResult(
                "consent", True, "informational consent not required by config"
            )
        if status.state is ConsentState.OPTED_IN:
            return RuleResult("consent", True, status.describe())
        if (
            status.state is ConsentState.PENDING
            and request.kind == CONFIRMATION_PROMPT_KIND
        ):
            return RuleResult(
                "consent", True, f"prompt for a pending sign-up: {status.describe()}"
            )
        return RuleResult(
            "consent", False, f"no {request.purpose.value} consent: {status.describe()}"
        )

    def _quiet_hours(
        self, request: SendRequest, now: datetime, conn: Connection | None
    ) -> RuleResult:
        if request.purpose is Purpose.CONVERSATIONAL:
            return RuleResult(
                "quiet_hours", True, "conversational messages have no quiet hours"
            )

        contact = self.store.find_contact(
            ChannelAddress(AddressKind.PHONE, request.address), conn=conn
        )
        zones = recipient_zones(
            request.address,
            contact.time_zone if contact else None,
            self.settings.business.time_zone,
        )
        window = window_for(request.address, self.window, self.state_windows)
        opening = next_allowed(now, zones, window)
        zone_names = ", ".join(zone.key for zone in zones)
        if opening is None:
            return RuleResult("quiet_hours", True, f"inside {window} in {zone_names}")
        local = opening.astimezone(zones[0])
        return RuleResult(
            "quiet_hours",
            False,
            f"outside {window} in {zone_names}; deferred to {local:%Y-%m-%d %H:%M %Z}",
            defer_until=opening,
        )

    def _frequency_cap(
        self, request: SendRequest, now: datetime, conn: Connection | None
    ) -> RuleResult:
        cap = self.compliance.frequency_cap
        if request.purpose is Purpose.CONVERSATIONAL or cap == 0:
            return RuleResult("frequency_cap", True, "no cap applies")

        period = timedelta(hours=self.compliance.frequency_cap_hours)
        recent = self.store.recent_outbound_times(
            request.address,
            now - period,
            Purpose.CONVERSATIONAL.value,
            exclude_message_id=request.message_id,
            conn=conn,
        )
        if len(recent) < cap:
            return RuleResult(
                "frequency_cap", True, f"{len(recent)} of {cap} in the cap period"
            )
        opening = recent[len(recent) - cap] + period
        return RuleResult(
            "frequency_cap",
            False,
            f"{len(recent)} messages in the last {self.compliance.frequency_cap_hours:g} h "
            f"(cap {cap}); deferred to {opening:%Y-%m-%d %H:%M} UTC",
            defer_until=opening,
        )

    def _channel_window(
        self, request: SendRequest, now: datetime, conn: Connection | None
    ) -> RuleResult:
        channel = self.channels.get(request.channel or "")
        if channel is None:
            return RuleResult("channel_window", True, "no channel rules to check")

        last_inbound_at = (
            self.store.last_inbound_at(request.conversation_id, conn=conn)
            if request.conversation_id is not None
            else None
        )
        message = OutboundMessage(
            id=request.message_id or 0,
            idempotency_key="",
            channel=channel.id,
            to=request.address,
            body=request.body,
            conversation_id=request.conversation_id or 0,
            kind=request.kind,
            purpose=request.purpose,
            last_inbound_at=last_inbound_at,
            fields=request.fields,
        )
        reason = channel.window_rule(message, now)
        if reason is not None:
            return RuleResult("channel_window", False, f"{channel.id}: {reason}")
        return RuleResult(
            "channel_window", True, _window_detail(channel, last_inbound_at)
        )


def _window_detail(channel: Channel, last_inbound_at: datetime | None) -> str:
    if channel.service_window is None:
        return f"{channel.id} has no customer service window"
    if last_inbound_at is None:
        return f"{channel.id} allows this message; the customer has not written"
    return (
        f"{channel.id} allows this message; the customer last wrote at "
        f"{last_inbound_at:%Y-%m-%d %H:%M} UTC"
    )


def _decide(results: tuple[RuleResult, ...]) -> GateDecision:
    failed = [result for result in results if not result.passed]
    blocking = [result for result in failed if result.defer_until is None]
    if blocking:
        first = blocking[0]
        return GateDecision(allowed=False, reason=first.detail, results=results)
    if failed:
        latest = max(failed, key=lambda result: result.defer_until)  # type: ignore[arg-type, return-value]
        reasons = "; ".join(f"{result.rule}: {result.detail}" for result in failed)
        return GateDecision(
            allowed=False,
            reason=reasons,
            defer_until=latest.defer_until,
            results=results,
        )
    return GateDecision(allowed=True, results=results)
