"""The send gate: consent per purpose, opt-outs, double opt-in, quiet hours, caps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from parley.cli import cli
from parley.gate import SendGate, SendRequest
from parley.models import (
    AddressKind,
    ChannelAddress,
    ConsentAction,
    ConsentSource,
    ContactRecord,
    OrderStatus,
    OrderStatusEvent,
    Purpose,
)
from parley.runtime import Runtime

from .conftest import FakeClock, drain

SF = "+14155550123"
MIAMI = "+13055550123"

GATE_TOML = """
[compliance]
require_informational_consent = true
sending_window = "08:00-21:00"
opt_out_notice = ""
"""

# 2026-11-17 is a Tuesday; 19:00 UTC is 11:00 in San Francisco.
MIDDAY = datetime(2026, 11, 17, 19, 0, tzinfo=UTC)


@pytest.fixture
def runtime(make_runtime: Callable[..., Runtime], clock: FakeClock) -> Runtime:
    clock.now = MIDDAY
    return make_runtime(compliance=GATE_TOML)


def consent(
    runtime: Runtime,
    action: ConsentAction,
    purpose: Purpose = Purpose.INFORMATIONAL,
    source: ConsentSource = ConsentSource.CHECKOUT,
    at: datetime = MIDDAY - timedelta(days=1),
    address: str = SF,
) -> None:
    runtime.store.add_consent(
        "*", address, purpose.value, action.value, source.value, "test", "evidence", at
    )


def decide(
    runtime: Runtime,
    purpose: Purpose = Purpose.INFORMATIONAL,
    kind: str = "order_update",
    address: str = SF,
    now: datetime = MIDDAY,
    conversation_id: int | None = None,
):
    gate = SendGate(runtime.store, runtime.context.settings)
    return gate.check(SendRequest(address, purpose, kind, conversation_id), now)


def test_informational_needs_consent(runtime: Runtime) -> None:
    decision = decide(runtime)
    assert not decision.allowed
    assert not decision.deferred
    assert decision.reason is not None
    assert "no informational consent" in decision.reason


def test_checkout_opt_in_allows(runtime: Runtime) -> None:
    consent(runtime, ConsentAction.OPT_IN)
    assert decide(runtime).allowed


def test_opt_out_after_opt_in_blocks(runtime: Runtime) -> None:
    consent(runtime, ConsentAction.OPT_IN)
    consent(
        runtime,
        ConsentAction.OPT_OUT,
        source=ConsentSource.KEYWORD,
        at=MIDDAY - timedelta(hours=1),
    )
    decision = decide(runtime)
    assert not decision.allowed
    assert decision.reason is not None
    assert decision.reason.startswith("suppressed: opted out")


def test_old_consent_imported_late_loses(runtime: Runtime) -> None:
    consent(
        runtime,
        ConsentAction.OPT_OUT,
        source=ConsentSource.KEYWORD,
        at=MIDDAY - timedelta(hours=1),
    )
    consent(
        runtime,
        ConsentAction.OPT_IN,
        source=ConsentSource.CHECKOUT,
        at=MIDDAY - timedelta(days=30),
    )
    assert not decide(runtime).allowed


def test_opt_in_after_opt_out_allows(runtime: Runtime) -> None:
    consent(
        runtime,
        ConsentAction.OPT_OUT,
        source=ConsentSource.KEYWORD,
        at=MIDDAY - timedelta(hours=2),
    )
    consent(
        runtime,
        ConsentAction.OPT_IN,
        source=ConsentSource.KEYWORD,
        at=MIDDAY - timedelta(hours=1),
    )
    assert decide(runtime).allowed


def test_web_form_opt_in_pending_until_confirmed(runtime: Runtime) -> None:
    consent(
        runtime,
        ConsentAction.OPT_IN,
        Purpose.PROMOTIONAL,
        ConsentSource.WEB_FORM,
        MIDDAY - timedelta(hours=2),
    )
    pending = decide(runtime, Purpose.PROMOTIONAL, kind="campaign")
    prompt = decide(runtime, Purpose.PROMOTIONAL, kind="opt_in_prompt")
    consent(
        runtime,
        ConsentAction.CONFIRMATION,
        Purpose.PROMOTIONAL,
        ConsentSource.KEYWORD,
        MIDDAY - timedelta(hours=1),
    )
    confirmed = decide(runtime, Purpose.PROMOTIONAL, kind="campaign")
    assert not pending.allowed
    assert pending.reason is not None
    assert "confirm the sign-up" in pending.reason
    assert prompt.results[2].passed
    assert confirmed.allowed


def test_support_question_not_marketing_consent(runtime: Runtime) -> None:
    consent(runtime, ConsentAction.OPT_IN, Purpose.INFORMATIONAL)
    decision = decide(runtime, Purpose.PROMOTIONAL, kind="campaign")
    assert not decision.allowed
    assert decision.reason is not None
    assert "no promotional consent" in decision.reason


def test_suspended_address_blocked(runtime: Runtime) -> None:
    consent(runtime, ConsentAction.OPT_IN)
    runtime.store.add_consent(
        "*",
        SF,
        "informational",
        "suspend",
        "import",
        "purge",
        "inactive",
        MIDDAY - timedelta(hours=1),
    )
    decision = decide(runtime)
    assert not decision.allowed
    assert decision.reason is not None
    assert "suspended" in decision.reason


def test_conversational_needs_customer_message(runtime: Runtime) -> None:
    contact = runtime.store.save_contact(
        ContactRecord(source="t", phone=SF),
        [ChannelAddress(AddressKind.PHONE, SF)],
        MIDDAY,
    )
    conversation_id, _ = runtime.store.open_conversation(
        contact.id, "sandbox", SF, MIDDAY
    )
    before = decide(
        runtime, Purpose.CONVERSATIONAL, "reply", conversation_id=conversation_id
    )
    runtime.store.add_inbound_message(conversation_id, "sandbox", "Hi", "in-1", MIDDAY)
    after = decide(
        runtime, Purpose.CONVERSATIONAL, "reply", conversation_id=conversation_id
    )
    assert not before.allowed
    assert after.allowed


def test_late_evening_deferred_to_morning(runtime: Runtime) -> None:
    consent(runtime, ConsentAction.OPT_IN)
    # 06:30 UTC on 18 Nov is 22:30 on 17 Nov in San Francisco (UTC-8).
    decision = decide(runtime, now=datetime(2026, 11, 18, 6, 30, tzinfo=UTC))
    assert decision.deferred
    assert decision.defer_until == datetime(2026, 11, 18, 16, 0, tzinfo=UTC)
    assert decision.reason is not None
    assert "quiet_hours" in decision.reason


def test_deferral_across_dst_change(runtime: Runtime) -> None:
    consent(runtime, ConsentAction.OPT_IN, at=datetime(2026, 10, 1, tzinfo=UTC))
    # 22:30 PDT on 31 Oct; clocks fall back at 02:00 on 1 Nov, so 08:00 is PST.
    decision = decide(runtime, now=datetime(2026, 11, 1, 5, 30, tzinfo=UTC))
    assert decision.defer_until == datetime(2026, 11, 1, 16, 0, tzinfo=UTC)


def test_contact_zone_beats_number_zone(runtime: Runtime) -> None:
    consent(runtime, ConsentAction.OPT_IN)
    runtime.store.save_contact(
        ContactRecord(source="t", phone=SF, time_zone="America/New_York"),
        [ChannelAddress(AddressKind.PHONE, SF)],
        MIDDAY,
    )
    # 02:30 UTC is 21:30 in New York but 18:30 in San Francisco.
    decision = decide(runtime, now=datetime(2026, 11, 18, 2, 30, tzinfo=UTC))
    assert decision.deferred
    assert decision.defer_until == datetime(2026, 11, 18, 13, 0, tzinfo=UTC)


def test_state_window_is_stricter(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    clock.now = MIDDAY
    runtime = make_runtime(
        compliance=GATE_TOML + '\n[compliance.state_windows]\nFL = "08:00-20:00"\n'
    )
    consent(runtime, ConsentAction.OPT_IN, address=MIAMI)
    # 01:30 UTC is 20:30 in Miami (UTC-5): inside 08:00-21:00, outside Florida's 08:00-20:00.
    miami = decide(
        runtime, address=MIAMI, now=datetime(2026, 11, 18, 1, 30, tzinfo=UTC)
    )
    consent(runtime, ConsentAction.OPT_IN, address="+12125550123")
    new_york = decide(
        runtime, address="+12125550123", now=datetime(2026, 11, 18, 1, 30, tzinfo=UTC)
    )
    assert miami.deferred
    assert miami.defer_until == datetime(2026, 11, 18, 13, 0, tzinfo=UTC)
    assert new_york.allowed


def test_invalid_window_rejected(write_config: Callable[..., Path]) -> None:
    from parley.config import load_config
    from parley.errors import ConfigError

    path = write_config(compliance='\n[compliance.state_windows]\nZZ = "8-20"\n')
    with pytest.raises(ConfigError, match="compliance.state_windows"):
        load_config(path, environ={})


def test_frequency_cap_defers(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    clock.now = MIDDAY
    runtime = make_runtime(compliance=GATE_TOML + "frequency_cap = 2\n")
    consent(runtime, ConsentAction.OPT_IN)
    contact = runtime.store.save_contact(
        ContactRecord(source="t", phone=SF),
        [ChannelAddress(AddressKind.PHONE, SF)],
        MIDDAY,
    )
    conversation_id, _ = runtime.store.open_conversation(
        contact.id, "sandbox", SF, MIDDAY
    )
    for index in range(2):
        runtime.store.queue_message(
            conversation_id,
            "sandbox",
            "update",
            "order_update",
            "informational",
            f"k{index}",
            MIDDAY - timedelta(hours=3 - index),
        )
    decision = decide(runtime)
    assert decision.deferred
    assert decision.defer_until == MIDDAY - timedelta(hours=3) + timedelta(hours=24)


def shipped(order_id: str = "1042") -> OrderStatusEvent:
    return OrderStatusEvent(
        source="teststore",
        store="harbor",
        order_id=order_id,
        order_name=f"#{order_id}",
        status=OrderStatus.SHIPPED,
        occurred_at=datetime(2026, 11, 18, 6, 30, tzinfo=UTC),
        dedupe_key=f"teststore:harbor:{order_id}:shipped",
        customer=ContactRecord(source="teststore", first_name="Avery", phone=SF),
    )


def test_night_update_sent_once_next_morning(
    runtime: Runtime, clock: FakeClock
) -> None:
    consent(runtime, ConsentAction.OPT_IN)
    clock.now = datetime(2026, 11, 18, 6, 30, tzinfo=UTC)
    runtime.context.accept_order_events("teststore", "d-1", "t", [shipped()])
    drain(runtime)
    waiting = runtime.store.messages()
    clock.now = datetime(2026, 11, 18, 15, 59, tzinfo=UTC)
    drain(runtime)
    still_waiting = [m.status for m in runtime.store.messages()]
    clock.now = datetime(2026, 11, 18, 16, 0, tzinfo=UTC)
    drain(runtime)
    drain(runtime)
    final = runtime.store.messages()

    assert [m.status for m in waiting] == ["queued"]
    assert (waiting[0].status_reason or "").startswith("deferred: quiet_hours")
    assert still_waiting == ["queued"]
    assert [m.status for m in final] == ["sent"]
    lines = (
        (runtime.context.settings.data_dir / "sandbox-outbox.jsonl")
        .read_text()
        .splitlines()
    )
    assert len(lines) == 1


def test_opt_out_while_deferred_blocks(runtime: Runtime, clock: FakeClock) -> None:
    consent(runtime, ConsentAction.OPT_IN)
    clock.now = datetime(2026, 11, 18, 6, 30, tzinfo=UTC)
    runtime.context.accept_order_events("teststore", "d-1", "t", [shipped()])
    drain(runtime)
    consent(
        runtime,
        ConsentAction.OPT_OUT,
        source=ConsentSource.KEYWORD,
        at=datetime(2026, 11, 18, 7, 0, tzinfo=UTC),
    )
    clock.now = datetime(2026, 11, 18, 16, 0, tzinfo=UTC)
    drain(runtime)
    [message] = runtime.store.messages()
    assert message.status == "blocked"
    assert (message.status_reason or "").startswith("suppressed: opted out")


def test_explain_names_blocking_rule(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = runtime.loaded.path
    assert config is not None
    consent(
        runtime,
        ConsentAction.OPT_OUT,
        source=ConsentSource.KEYWORD,
        at=datetime(2026, 11, 1, tzinfo=UTC),
    )
    monkeypatch.delenv("PARLEY_PLUGINS", raising=False)
    result = CliRunner().invoke(
        cli,
        [
            "explain",
            "--to",
            "(415) 555-0123",
            "--purpose",
            "informational",
            "-c",
            str(config),
        ],
    )
    assert result.exit_code == 3
    assert "opt_out" in result.output
    assert "decision: block (suppressed: opted out" in result.output


def test_explain_rejects_bad_number(runtime: Runtime) -> None:
    config = runtime.loaded.path
    result = CliRunner().invoke(cli, ["explain", "--to", "hello", "-c", str(config)])
    assert result.exit_code == 1
    assert "'hello' is not a valid phone number" in result.output
