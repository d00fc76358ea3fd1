"""``parley explain``: what the send gate would decide now, rule by rule."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from parley.config import LoadedConfig
from parley.context import PluginContext, utc_now
from parley.errors import ParleyError
from parley.gate import SendGate, SendRequest
from parley.models import Purpose
from parley.phones import normalize_phone
from parley.runtime import collect_channels
from parley.store import open_store


def explain_send(
    loaded: LoadedConfig,
    to: str,
    purpose: Purpose,
    kind: str,
    console: Console,
    channel: str | None = None,
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
        context = PluginContext(settings, loaded.plugin_manager, store)
        channels = collect_channels(context)
        if channel is not None and channel not in channels:
            enabled = ", ".join(sorted(channels)) or "(none)"
            raise ParleyError(
                f"--channel {channel!r} is not an enabled channel; enabled: {enabled}"
            )
        # Without --channel, the order-update channel is explained when enabled.
        channel_id = channel or settings.order_updates.channel
        gate = SendGate(store, settings, channels)
        conversation_id = store.latest_conversation(address)
        now = utc_now()
        request = SendRequest(
            address, purpose, kind, conversation_id, channel=channel_id
        )
        decision = gate.check(request, now)
        statuses = gate.consent_statuses(address)
    finally:
        store.close()

    table = Table(
        title=f"send gate: {purpose.value} {kind} to {address} on {channel_id} "
        f"at {now:%Y-%m-%d %H:%M} UTC"
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
