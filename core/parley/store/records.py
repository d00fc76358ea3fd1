"""Rows the store hands to workers and reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ClaimedEvent:
    """An event a worker has claimed for processing."""

    id: int
    source: str
    kind: str
    dedupe_key: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class ClaimedMessage:
    """An outbound message a worker has claimed for sending."""

    message_id: int
    conversation_id: int
    channel: str
    to: str
    body: str
    kind: str
    purpose: str
    attempts: int
    contact_id: int
    fields: dict[str, str]


@dataclass(frozen=True)
class MessageRecord:
    """One stored message, inbound or outbound."""

    id: int
    conversation_id: int
    direction: str
    channel: str
    address: str
    kind: str
    purpose: str
    body: str
    status: str
    status_reason: str | None
    provider_message_id: str | None
    created_at: datetime
    sent_at: datetime | None
