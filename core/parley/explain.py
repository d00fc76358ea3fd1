"""``parley explain``: what the send gate would decide now, rule by rule."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from parley.config import LoadedConfig
from parley.context import utc_now
from parley.errors import ParleyError
from parley.gate import SendGate, SendRequest
from parley.models import Purpose
from parley.phones import normalize_phone
from parley.store import open_store


def explain_send(
    loaded: LoadedConfig, to: str, purpose: Purpose, kind: str, console: Console
) -> int:
    """Print the gate's rules and decision for one message; return the exit code.

    The exit code is 0 when the message could be sent now, 2 when it would
    be deferred and 3 when it would be blocked.

    Raises:
        ParleyError: the phone number is invalid.
    """
    settings = loaded.settings
    address = normalize_phone(to, settings.contacts.default_region)
    if address is None:
        raise ParleyError(
            f"--to {to!r} is not a valid phone number; use E.164 such as +14155550123"
        )

    store = open_store(settings.store_url)
    try:
        gate = SendGate(store, settings)
        conversation_id = store.latest_conversation(address)
        now = utc_now()
        decision = gate.check(SendRequest(address, purpose, kind, conversation_id), now)
        statuses = gate.consent_statuses(address)
    finally:
        store.close()

    table = Table(
        title=f"send gate: {purpose.value} {kind} to {address} at {now:%Y-%m-%d %H:%M} UTC"
    )
    table.add_column("rule")
    table.add_column("outcome")
    table.add_column("why")
    for result in decision.results:
        if result.passed:
            outcome = "pass"
        elif result.defer_until is not None:
            outcome = "defer"
        else:
            outcome = "block"
        table.add_row(result.rule, outcome, result.detail)
    console.print(table)

    for status in statuses.values():
        console.print(f"consent {status.describe()}")

    if decision.allowed:
        console.print("decision: send now")
        return 0
    if decision.deferred:
        assert decision.defer_until is not None
        console.print(
            f"decision: defer to {decision.defer_until:%Y-%m-%d %H:%M} UTC ({decision.reason})"
        )
        return 2
    console.print(f"decision: block ({decision.reason})")
    return 3
