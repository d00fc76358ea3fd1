"""Double opt-in follow-up: prompts, reminders and expiry of unconfirmed sign-ups."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from starlette.testclient import TestClient

from parley import (
    AddressKind,
    ChannelAddress,
    ConsentAction,
    ConsentRecord,
    ConsentSource,
    Purpose,
)
from parley.config import ComplianceSettings
from parley.consent_io import import_ledger
from parley.daemon import Daemon
from parley.double_opt_in import follow_up_signups
from parley.gate import SendGate, SendRequest
from parley.runtime import Runtime

from .conftest import FakeClock, drain

PHONE = "+14155550124"
HEADER = "address,purpose,action,source,recorded_at,evidence\n"
WEB_FORM = f"{PHONE},promotional,opt_in,web_form,2026-11-16T11:00:00Z,footer form: Get texts about sales\n"
PROMPT = '\nopt_in_prompt = "{{Business Name}}: reply YES to confirm texts."\n'
HOUR = 3600


def signed_up(
    make_runtime: Callable[..., Runtime], compliance_extra: str = ""
) -> Runtime:
    runtime = make_runtime(PROMPT, compliance_extra=compliance_extra)
    import_ledger(
        HEADER + WEB_FORM,
        runtime.store,
        runtime.context.settings,
        runtime.context.clock(),
    )
    drain(runtime)
    return runtime


def prompts(runtime: Runtime) -> list[str]:
    return [m.status for m in runtime.store.messages() if m.kind == "opt_in_prompt"]


def follow_up(runtime: Runtime) -> None:
    follow_up_signups(runtime.store, runtime.context.settings, runtime.context.clock())
    drain(runtime)


def promotional_decision(runtime: Runtime, kind: str = "campaign"):
    gate = SendGate(runtime.store, runtime.context.settings)
    request = SendRequest(PHONE, Purpose.PROMOTIONAL, kind)
    return gate.check(request, runtime.context.clock())


def test_reminder_after_interval(make_runtime, clock: FakeClock) -> None:
    runtime = signed_up(make_runtime)
    follow_up(runtime)
    assert prompts(runtime) == ["sent"]

    clock.advance(24 * HOUR)
    follow_up(runtime)
    assert prompts(runtime) == ["sent", "sent"]


def test_reminders_capped(make_runtime, clock: FakeClock) -> None:
    runtime = signed_up(make_runtime)
    for _ in range(2):
        clock.advance(24 * HOUR)
        follow_up(runtime)

    assert len(prompts(runtime)) == 2


def test_unconfirmed_signup_expires(make_runtime, clock: FakeClock) -> None:
    runtime = signed_up(make_runtime)
    clock.advance(72 * HOUR)
    follow_up(runtime)

    actions = [entry.action for entry in runtime.store.ledger(PHONE)]
    assert actions == ["opt_in", "expire"]
    decision = promotional_decision(runtime, kind="opt_in_prompt")
    assert not decision.allowed
    assert "no promotional consent" in (decision.reason or "")
    assert "expire" in (decision.reason or "")


def test_expired_signup_not_prompted_again(make_runtime, clock: FakeClock) -> None:
    runtime = signed_up(make_runtime)
    clock.advance(72 * HOUR)
    follow_up(runtime)
    clock.advance(24 * HOUR)
    follow_up(runtime)

    assert len(prompts(runtime)) == 1
    assert [e.action for e in runtime.store.ledger(PHONE)] == ["opt_in", "expire"]


def test_late_yes_confirms_nothing(make_runtime, clock: FakeClock) -> None:
    runtime = signed_up(make_runtime)
    clock.advance(72 * HOUR)
    follow_up(runtime)
    client = TestClient(Daemon(runtime).app)
    client.post("/webhooks/sandbox", json={"from": PHONE, "body": "YES", "id": "m-1"})
    drain(runtime)

    assert not promotional_decision(runtime).allowed


def test_yes_in_time_stops_follow_up(make_runtime, clock: FakeClock) -> None:
    runtime = signed_up(make_runtime)
    client = TestClient(Daemon(runtime).app)
    client.post("/webhooks/sandbox", json={"from": PHONE, "body": "YES", "id": "m-1"})
    drain(runtime)
    clock.advance(72 * HOUR)
    follow_up(runtime)

    assert promotional_decision(runtime).allowed
    assert "expire" not in [e.action for e in runtime.store.ledger(PHONE)]
    assert len(prompts(runtime)) == 1


def test_zero_expiry_never_expires(make_runtime, clock: FakeClock) -> None:
    runtime = signed_up(make_runtime, "double_opt_in_expiry_hours = 0\n")
    clock.advance(30 * 24 * HOUR)
    follow_up(runtime)

    assert "expire" not in [e.action for e in runtime.store.ledger(PHONE)]


def test_plugin_signup_gets_prompt(make_runtime, clock: FakeClock) -> None:
    runtime = make_runtime(PROMPT)
    runtime.context.record_consent(
        ConsentRecord(
            address=ChannelAddress(AddressKind.PHONE, PHONE),
            purpose=Purpose.PROMOTIONAL,
            action=ConsentAction.OPT_IN,
            source=ConsentSource.POINT_OF_SALE,
            occurred_at=datetime(2026, 11, 17, 14, 0, tzinfo=UTC),
            evidence="till 3, signed the text-club card",
            actor="pos:harbor",
        )
    )
    follow_up(runtime)
    follow_up(runtime)

    assert prompts(runtime) == ["sent"]


def test_reminders_must_end_before_expiry() -> None:
    with pytest.raises(ValueError, match="at or after the expiry of 48 h"):
        ComplianceSettings(
            double_opt_in_expiry_hours=48,
            double_opt_in_reminders=2,
            double_opt_in_reminder_hours=24,
        )


def test_daemon_runs_follow_up_job(make_runtime) -> None:
    with_prompt = make_runtime(PROMPT)
    names = [(p.plugin_id, p.name) for p in with_prompt.pollers]

    assert ("core", "double-opt-in") in names
