"""The send gate: the one check every outbound message passes.

The gate runs when a message is queued and again right before the outbox
hands it to a channel, so that an opt-out that arrives while a message
waits still stops it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from parley.store import Store

# Message kinds that may go to an opted-out address: the single confirmation
# of the opt-out itself and the answer to HELP, which carriers require.
ALWAYS_ALLOWED_KINDS = frozenset({"opt_out_confirmation", "help"})


@dataclass(frozen=True)
class GateDecision:
    """Whether a message may be sent, and why not."""

    allowed: bool
    reason: str | None = None


ALLOW = GateDecision(allowed=True)


class SendGate:
    """Decides whether a message may go to an address now."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def check(
        self, address: str, kind: str, conn: Connection | None = None
    ) -> GateDecision:
        """Return the decision for one message.

        Args:
            address: the recipient's stored address.
            kind: the message kind (``order_update``, ``auto_reply`` and so on).
            conn: an open transaction to join.
        """
        if kind in ALWAYS_ALLOWED_KINDS:
            return ALLOW
        if self.store.is_opted_out(address, conn=conn):
            return GateDecision(allowed=False, reason="suppressed: opted out")
        # TODO: consent per purpose, quiet hours, channel windows and a frequency cap
        # belong here; until then only opt-outs block a send.
        return ALLOW
