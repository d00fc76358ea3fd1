"""The consent ledger's current state, derived from its append-only records.

Every change of consent is a new row in ``consent_records``; nothing is
updated or deleted. The state of an address for a purpose is decided by its
latest record: an opt-out or a suspension withdraws consent, an opt-in
grants it, and an opt-in collected away from the phone (a web form, a point
of sale, an import) stays pending until the customer confirms it by reply.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from parley.models import ConsentAction, ConsentSource, Purpose

# Action recorded when a stale number is suspended.
SUSPEND = ConsentAction.SUSPEND.value

# Action recorded for START or UNSTOP: it undoes the opt-outs since the last
# other record, so the purpose returns to the state it had before them. It
# grants no consent the customer did not give before.
RESTORE = ConsentAction.RESTORE.value

# Action recorded when a sign-up awaiting confirmation expires: it ends the
# pending state and grants nothing. It has no effect on any other state.
EXPIRE = ConsentAction.EXPIRE.value

DOUBLE_OPT_IN_SOURCES = frozenset(
    {ConsentSource.WEB_FORM, ConsentSource.POINT_OF_SALE, ConsentSource.IMPORT}
)


class ConsentState(enum.StrEnum):
    """The consent state of one address for one purpose."""

    NONE = "none"
    OPTED_IN = "opted_in"
    PENDING = "pending_confirmation"
    OPTED_OUT = "opted_out"
    SUSPENDED = "suspended"


@dataclass(frozen=True)
class LedgerEntry:
    """One stored consent record, as the gate reads it."""

    id: int
    address: str
    purpose: str
    action: str
    source: str
    actor: str
    evidence: str | None
    recorded_at: datetime


@dataclass(frozen=True)
class ConsentStatus:
    """The derived state and the record it rests on."""

    purpose: Purpose
    state: ConsentState
    entry: LedgerEntry | None

    def describe(self) -> str:
        """Return the state with its evidence, for logs and ``parley explain``."""
        if self.entry is None:
            return f"{self.purpose.value}: no consent recorded"
        entry = self.entry
        return (
            f"{self.purpose.value}: {self.state.value} ({entry.action} from {entry.source} "
            f"at {entry.recorded_at:%Y-%m-%d %H:%M} UTC, record {entry.id})"
        )


def derive_state(
    entries: list[LedgerEntry],
    purpose: Purpose,
    double_opt_in_sources: Collection[str] = DOUBLE_OPT_IN_SOURCES,
) -> ConsentStatus:
    """Derive the consent state for one purpose from an address's records.

    Args:
        entries: the address's records for this purpose, oldest first.
        purpose: the purpose they are for.
        double_opt_in_sources: sources whose opt-ins need a confirming reply.
    """
    state = ConsentState.NONE
    pending = False
    before_opt_out = (state, pending)
    last: LedgerEntry | None = None
    for entry in entries:
        last = entry
        if entry.action == ConsentAction.OPT_OUT:
            if state is not ConsentState.OPTED_OUT:
                before_opt_out = (state, pending)
            state, pending = ConsentState.OPTED_OUT, False
        elif entry.action == RESTORE:
            if state is ConsentState.OPTED_OUT:
                state, pending = before_opt_out
        elif entry.action == SUSPEND:
            state, pending = ConsentState.SUSPENDED, False
        elif entry.action == EXPIRE and pending:
            state, pending = ConsentState.NONE, False
        elif entry.action == ConsentAction.OPT_IN:
            pending = entry.source in double_opt_in_sources
            state = ConsentState.PENDING if pending else ConsentState.OPTED_IN
        elif entry.action == ConsentAction.CONFIRMATION and pending:
            state, pending = ConsentState.OPTED_IN, False
    return ConsentStatus(purpose=purpose, state=state, entry=last)
