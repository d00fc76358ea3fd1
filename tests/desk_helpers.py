"""Shared steps of the support-desk tests: customer messages and tokens."""

from __future__ import annotations

from parley.models import AddressKind, ChannelAddress, InboundMessage
from parley.pipeline import inbound_to_json
from parley.runtime import Runtime
from parley.tokens import Role, create_token

from .conftest import drain

AVERY = "+14155550123"
BLAKE = "+14155550188"


def inbound(runtime: Runtime, body: str, message_id: str, sender: str = AVERY) -> int:
    """Store a customer message through the event worker; return its conversation."""
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
    conversation_id = runtime.store.latest_conversation(sender)
    assert conversation_id is not None
    return conversation_id


def issue(runtime: Runtime, name: str, role: Role, team: str | None = None) -> str:
    """Create a token and return its secret."""
    issued = create_token(
        runtime.store, name, role, team, "cli:test", runtime.context.clock()
    )
    return issued.secret


def bearer(secret: str) -> dict[str, str]:
    """Return the Authorization header for a token."""
    return {"Authorization": f"Bearer {secret}"}
