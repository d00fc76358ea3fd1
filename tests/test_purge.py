"""Suspension of stale numbers: parley purge and the daemon's daily job."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from click.testing import CliRunner

from parley.cli import cli
from parley.gate import SendGate, SendRequest
from parley.models import AddressKind, ChannelAddress, ContactRecord, Purpose
from parley.purge import purge_poller, suspend_inactive
from parley.runtime import Runtime

from .conftest import FakeClock

OLD = "+14155550161"
RECENT = "+14155550162"


def message_at(runtime: Runtime, address: str, days_ago: float) -> None:
    now = runtime.context.clock() - timedelta(days=days_ago)
    contact = runtime.store.save_contact(
        ContactRecord(source="t", phone=address),
        [ChannelAddress(AddressKind.PHONE, address)],
        now,
    )
    conversation_id, _ = runtime.store.open_conversation(
        contact.id, "sandbox", address, now
    )
    runtime.store.add_inbound_message(
        conversation_id, "sandbox", "hi", f"in-{address}-{days_ago}", now
    )


@pytest.fixture
def runtime(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime()


def test_only_stale_addresses_suspended(runtime: Runtime) -> None:
    message_at(runtime, OLD, 400)
    message_at(runtime, RECENT, 10)
    suspended = suspend_inactive(runtime.store, 365, runtime.context.clock())
    assert suspended == [OLD]
    assert {(e.purpose, e.action, e.source) for e in runtime.store.ledger(OLD)} == {
        ("conversational", "suspend", "inactivity"),
        ("informational", "suspend", "inactivity"),
        ("promotional", "suspend", "inactivity"),
    }
    assert runtime.store.ledger(RECENT) == []


def test_suspension_is_not_repeated(runtime: Runtime) -> None:
    message_at(runtime, OLD, 400)
    suspend_inactive(runtime.store, 365, runtime.context.clock())
    again = suspend_inactive(runtime.store, 365, runtime.context.clock())
    assert again == []


def test_recent_consent_counts_as_activity(runtime: Runtime) -> None:
    message_at(runtime, OLD, 400)
    runtime.store.add_consent(
        "*",
        OLD,
        "informational",
        "opt_in",
        "checkout",
        "t",
        "order 1",
        runtime.context.clock() - timedelta(days=3),
    )
    assert suspend_inactive(runtime.store, 365, runtime.context.clock()) == []


def test_suspended_address_needs_fresh_consent(
    runtime: Runtime, clock: FakeClock
) -> None:
    runtime.store.add_consent(
        "*",
        OLD,
        "informational",
        "opt_in",
        "checkout",
        "t",
        "order 1",
        clock() - timedelta(days=400),
    )
    suspend_inactive(runtime.store, 365, clock())
    gate = SendGate(runtime.store, runtime.context.settings)
    blocked = gate.check(
        SendRequest(OLD, Purpose.INFORMATIONAL, "order_update"), clock()
    )
    clock.advance(60)
    runtime.store.add_consent(
        "*", OLD, "informational", "opt_in", "checkout", "t", "order 2", clock()
    )
    allowed = gate.check(
        SendRequest(OLD, Purpose.INFORMATIONAL, "order_update"), clock()
    )
    assert not blocked.allowed
    assert "suspended" in (blocked.reason or "")
    assert allowed.allowed


def test_dry_run_writes_nothing(runtime: Runtime) -> None:
    message_at(runtime, OLD, 400)
    assert suspend_inactive(
        runtime.store, 365, runtime.context.clock(), dry_run=True
    ) == [OLD]
    assert runtime.store.ledger(OLD) == []


def test_daily_job_only_when_configured(make_runtime: Callable[..., Runtime]) -> None:
    off = make_runtime()
    on = make_runtime(compliance_extra="suspend_after_inactive_days = 365\n")
    assert purge_poller(off.context) is None
    assert [(p.plugin_id, p.name) for p in on.pollers] == [("core", "suspend-inactive")]


def test_purge_cli_lists_numbers(runtime: Runtime) -> None:
    message_at(runtime, OLD, 400)
    config = str(runtime.loaded.path)
    result = CliRunner().invoke(
        cli, ["purge", "--inactive-days", "365", "--dry-run", "-c", config]
    )
    assert result.exit_code == 0
    assert "1 address(es) to suspend" in result.output
    assert f"would suspend {OLD}" in result.output
