"""From stored events to queued, blocked and sent messages."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy

from parley.models import (
    AddressKind,
    ChannelAddress,
    ContactRecord,
    InboundMessage,
    OrderStatus,
    OrderStatusEvent,
)
from parley.pipeline import inbound_to_json
from parley.runtime import Runtime
from parley.store import schema

from .conftest import drain

AVERY = ContactRecord(
    source="teststore",
    external_id="c-1",
    first_name="Avery",
    last_name="Quinlan",
    phone="(415) 555-0123",
    email="Avery.Quinlan@example.com",
)
STARTED = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)


def order_event(
    status: OrderStatus,
    customer: ContactRecord = AVERY,
    order_id: str = "1042",
    minutes: int = 0,
    fields: dict[str, str] | None = None,
    suffix: str = "",
) -> OrderStatusEvent:
    return OrderStatusEvent(
        source="teststore",
        store="harbor",
        order_id=order_id,
        order_name=f"#{order_id}",
        status=status,
        occurred_at=STARTED + timedelta(minutes=minutes),
        dedupe_key=f"teststore:harbor:{order_id}:{status.value}{suffix}",
        customer=customer,
        fields=fields or {},
    )


def deliver(runtime: Runtime, delivery_id: str, *events: OrderStatusEvent) -> None:
    runtime.context.accept_order_events(
        "teststore", delivery_id, "orders/test", list(events)
    )
    drain(runtime)


def inbound(
    runtime: Runtime, body: str, message_id: str, sender: str = "+14155550123"
) -> None:
    message = InboundMessage(
        channel="sandbox",
        sender=ChannelAddress(AddressKind.PHONE, sender),
        body=body,
        provider_message_id=message_id,
        received_at=runtime.context.clock(),
    )
    runtime.store.add_event(
        "message_received",
        "sandbox",
        f"inbound:sandbox:{message_id}",
        inbound_to_json(message),
        runtime.context.clock(),
    )
    drain(runtime)


def outbound(runtime: Runtime) -> list[tuple[str, str, str]]:
    return [
        (m.kind, m.status, m.body)
        for m in runtime.store.messages()
        if m.direction == "out"
    ]


@pytest.fixture
def runtime(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime()


def test_order_confirmed_sends_rendered_text(runtime: Runtime) -> None:
    deliver(runtime, "d-1", order_event(OrderStatus.CONFIRMED))
    assert outbound(runtime) == [
        ("order_update", "sent", "Hi Avery, thanks for your order #1042.")
    ]


def test_order_update_goes_to_e164_address(runtime: Runtime) -> None:
    deliver(runtime, "d-1", order_event(OrderStatus.CONFIRMED))
    assert {m.address for m in runtime.store.messages()} == {"+14155550123"}


def test_tracking_url_from_event_fields(runtime: Runtime) -> None:
    event = order_event(
        OrderStatus.SHIPPED, fields={"Tracking URL": "https://t.example.com/1Z9"}
    )
    deliver(runtime, "d-1", event)
    assert (
        outbound(runtime)[0][2]
        == "Hi Avery, your order #1042 has shipped: https://t.example.com/1Z9"
    )


def test_missing_tracking_url_uses_fallback(runtime: Runtime) -> None:
    deliver(runtime, "d-1", order_event(OrderStatus.SHIPPED))
    assert (
        outbound(runtime)[0][2]
        == "Hi Avery, your order #1042 has shipped: no tracking yet"
    )


@pytest.mark.parametrize(
    "first_name", ["", None, "   "], ids=["empty", "absent", "blank"]
)
def test_missing_name_without_fallback_blocks(
    runtime: Runtime, first_name: str | None
) -> None:
    customer = ContactRecord(
        source="teststore", first_name=first_name, phone="+14155550160"
    )
    deliver(
        runtime,
        "d-1",
        order_event(OrderStatus.CANCELLED, customer=customer, order_id="1043"),
    )
    [(kind, status, _body)] = outbound(runtime)
    assert kind == "order_update"
    assert status == "blocked"
    reason = runtime.store.messages()[0].status_reason or ""
    assert "{{First Name}}" in reason
    assert "order_cancelled" in reason


def test_same_event_twice_sends_once(runtime: Runtime) -> None:
    deliver(runtime, "d-1", order_event(OrderStatus.CONFIRMED))
    deliver(runtime, "d-2", order_event(OrderStatus.CONFIRMED))
    deliver(runtime, "d-1", order_event(OrderStatus.CONFIRMED))
    assert len(outbound(runtime)) == 1


def test_each_shipment_is_own_update(runtime: Runtime) -> None:
    deliver(
        runtime,
        "d-1",
        order_event(OrderStatus.SHIPPED, suffix=":f1"),
        order_event(OrderStatus.SHIPPED, suffix=":f2", minutes=5),
    )
    assert [kind for kind, _s, _b in outbound(runtime)] == [
        "order_update",
        "order_update",
    ]


def test_older_event_does_not_move_back(runtime: Runtime) -> None:
    deliver(runtime, "d-1", order_event(OrderStatus.SHIPPED, minutes=30))
    deliver(runtime, "d-2", order_event(OrderStatus.CONFIRMED, minutes=0))
    assert [body for _k, _s, body in outbound(runtime)] == [
        "Hi Avery, your order #1042 has shipped: no tracking yet"
    ]


def test_unconfigured_status_sends_nothing(runtime: Runtime) -> None:
    deliver(runtime, "d-1", order_event(OrderStatus.DELIVERED))
    assert outbound(runtime) == []
    assert runtime.store.counts()["pending_events"] == 0


def test_order_and_reply_share_contact(runtime: Runtime) -> None:
    deliver(runtime, "d-1", order_event(OrderStatus.CONFIRMED))
    inbound(runtime, "Where is it?", "in-1", sender="+1 (415) 555-0123")
    conversations = {m.conversation_id for m in runtime.store.messages()}
    assert len(conversations) == 1


def test_first_message_gets_one_auto_reply(runtime: Runtime) -> None:
    inbound(runtime, "Hello", "in-1")
    inbound(runtime, "Anyone there?", "in-2")
    replies = [m for m in outbound(runtime) if m[0] == "auto_reply"]
    assert replies == [
        (
            "auto_reply",
            "sent",
            "Hi there, thanks for texting Harbor & Pine. Reply STOP to opt out.",
        )
    ]


@pytest.mark.parametrize(
    "body",
    [
        "Stop. Thank you",
        "  stop!! ",
        "Stop please",
        "STOP 🛑",
        "ｓｔｏｐ",
        "REVOKE",
        "Opt-Out.",
    ],
)
def test_opt_out_keyword_suppresses_order_updates(
    runtime: Runtime, body: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="parley")
    inbound(runtime, body, "in-1")
    deliver(runtime, "d-1", order_event(OrderStatus.SHIPPED))
    kinds = [(kind, status) for kind, status, _b in outbound(runtime)]
    assert kinds.count(("opt_out_confirmation", "sent")) == 1
    assert ("order_update", "blocked") in kinds
    assert ("order_update", "sent") not in kinds
    blocked = [m for m in runtime.store.messages() if m.kind == "order_update"][0]
    assert (blocked.status_reason or "").startswith("suppressed: opted out")
    assert "blocked: suppressed: opted out" in caplog.text


def test_mention_of_stop_does_not_opt_out(runtime: Runtime) -> None:
    inbound(runtime, "When will the delay stop?", "in-1")
    deliver(runtime, "d-1", order_event(OrderStatus.SHIPPED))
    kinds = [(kind, status) for kind, status, _b in outbound(runtime)]
    assert ("order_update", "sent") in kinds
    assert not any(kind == "opt_out_confirmation" for kind, _s in kinds)


def test_start_after_stop_resubscribes(runtime: Runtime) -> None:
    inbound(runtime, "STOP", "in-1")
    inbound(runtime, "START", "in-2")
    deliver(runtime, "d-1", order_event(OrderStatus.CONFIRMED))
    assert ("order_update", "sent") in [(k, s) for k, s, _b in outbound(runtime)]


def test_help_answered_while_opted_out(runtime: Runtime) -> None:
    inbound(runtime, "STOP", "in-1")
    inbound(runtime, "HELP", "in-2")
    assert ("help", "sent") in [(k, s) for k, s, _b in outbound(runtime)]


def test_stop_redelivered_confirms_once(runtime: Runtime) -> None:
    inbound(runtime, "STOP", "in-1")
    inbound(runtime, "STOP", "in-1")
    confirmations = [
        k for k, _s, _b in outbound(runtime) if k == "opt_out_confirmation"
    ]
    assert confirmations == ["opt_out_confirmation"]


def test_reply_after_order_update_gets_auto_reply(runtime: Runtime) -> None:
    deliver(runtime, "d-1", order_event(OrderStatus.CONFIRMED))
    inbound(runtime, "Thanks! When does it ship?", "in-1")
    inbound(runtime, "Hello?", "in-2")
    kinds = [kind for kind, _s, _b in outbound(runtime)]
    assert kinds == ["order_update", "auto_reply"]


def test_order_without_phone_records_why(runtime: Runtime) -> None:
    customer = ContactRecord(
        source="teststore", first_name="Sam", email="sam@example.com"
    )
    deliver(runtime, "d-1", order_event(OrderStatus.CONFIRMED, customer=customer))
    assert outbound(runtime) == []
    [(_key, status, outcome)] = runtime.store.event_outcomes()
    assert status == "done"
    assert outcome == "not sent: the order has no usable address for channel sandbox"


def test_event_consent_recorded_in_ledger(runtime: Runtime) -> None:
    from parley.models import ConsentAction, ConsentRecord, ConsentSource, Purpose

    consent = ConsentRecord(
        address=ChannelAddress(AddressKind.PHONE, "(415) 555-0123"),
        purpose=Purpose.INFORMATIONAL,
        action=ConsentAction.OPT_IN,
        source=ConsentSource.CHECKOUT,
        occurred_at=STARTED,
        evidence="order 1042, checkout phone field",
        actor="teststore:harbor",
    )
    event = dataclasses.replace(order_event(OrderStatus.CONFIRMED), consents=(consent,))
    deliver(runtime, "d-1", event)
    # Read through the schema's table, which decrypts address and evidence.
    table = schema.consent_records
    with runtime.store.engine.connect() as conn:
        rows = conn.execute(
            sqlalchemy.select(
                table.c.address,
                table.c.purpose,
                table.c.action,
                table.c.source,
                table.c.evidence,
            )
        ).all()
    assert [tuple(row) for row in rows] == [
        (
            "+14155550123",
            "informational",
            "opt_in",
            "checkout",
            "order 1042, checkout phone field",
        )
    ]


def test_same_consent_on_two_events_recorded_once(runtime: Runtime) -> None:
    from parley.models import ConsentAction, ConsentRecord, ConsentSource, Purpose

    consent = ConsentRecord(
        address=ChannelAddress(AddressKind.PHONE, "+14155550123"),
        purpose=Purpose.INFORMATIONAL,
        action=ConsentAction.OPT_IN,
        source=ConsentSource.CHECKOUT,
        occurred_at=STARTED,
        evidence="order 1042, checkout phone field",
        actor="teststore:harbor",
    )
    confirmed = dataclasses.replace(
        order_event(OrderStatus.CONFIRMED), consents=(consent,)
    )
    shipped = dataclasses.replace(
        order_event(OrderStatus.SHIPPED, minutes=5), consents=(consent,)
    )
    deliver(runtime, "d-1", confirmed, shipped)
    assert len(runtime.store.ledger("+14155550123")) == 1
