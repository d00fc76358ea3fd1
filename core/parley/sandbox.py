"""The ``sandbox`` channel: a channel that needs no provider or credentials.

Sent messages are appended to a file, one JSON object per line, so a
developer can watch what customers would receive. Customer messages are
posted as JSON ``{"from": "+14155550123", "body": "..."}`` to
``POST /webhooks/sandbox``; an optional ``"id"`` makes a redelivery
recognisable. When ``[sandbox] secret`` is set, inbound requests must carry
``X-Sandbox-Signature: sha256=<hex HMAC-SHA256 of the body>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from parley.channels import Channel, InboundBatch, Throughput
from parley.context import PluginContext
from parley.errors import SignatureError, WebhookRejected
from parley.hookspecs import hookimpl
from parley.models import (
    AddressKind,
    ChannelAddress,
    DeliveryStatus,
    InboundMessage,
    OutboundMessage,
    SendResult,
)
from parley.phones import normalize_phone
from parley.webhooks import WebhookRequest, WebhookResponse

logger = logging.getLogger(__name__)

PLUGIN_ID = "sandbox"
SIGNATURE_HEADER = "X-Sandbox-Signature"


class SandboxSettings(BaseModel):
    """``[sandbox]`` settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    outbox_file: Path = Field(
        Path("sandbox-outbox.jsonl"),
        description="File that receives sent messages; relative to data_dir.",
    )
    latency_ms: int = Field(
        0, ge=0, le=60_000, description="Simulated provider latency per send, in ms."
    )
    secret: SecretStr | None = Field(
        None, description="When set, inbound requests must be signed with it."
    )
    per_second: float | None = Field(
        None,
        gt=0,
        description="Simulated provider limit: the most sends per second the "
        "outbox makes, shared by every daemon on one store. Unset means no limit.",
    )


class SandboxChannel(Channel):
    """Writes sent messages to a JSON-lines file and accepts JSON inbound messages."""

    id = PLUGIN_ID
    address_kind = AddressKind.PHONE

    def __init__(
        self,
        path: Path,
        latency_ms: int = 0,
        secret: str | None = None,
        default_region: str = "US",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        per_second: float | None = None,
    ) -> None:
        self.path = path
        self.per_second = per_second
        self.latency_ms = latency_ms
        self.secret = secret
        self.default_region = default_region
        self.clock = clock
        self._lock = threading.Lock()
        self._sent = self._read_sent_keys()

    def _read_sent_keys(self) -> dict[str, str]:
        sent: dict[str, str] = {}
        if not self.path.exists():
            return sent
        with self.path.open(encoding="utf-8") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                key = record.get("idempotency_key")
                if key:
                    sent[key] = record["id"]
        return sent

    def throughput(self, message: OutboundMessage) -> Throughput | None:
        """Return the simulated sender limit, ``[sandbox] per_second``, if set."""
        if self.per_second is None:
            return None
        return Throughput(key=PLUGIN_ID, per_second=self.per_second)

    def send(self, message: OutboundMessage) -> SendResult:
        """Append the message to the file, once per idempotency key."""
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)

        with self._lock:
            existing = self._sent.get(message.idempotency_key)
            if existing is not None:
                return SendResult(
                    provider_message_id=existing, status=DeliveryStatus.SENT
                )

            provider_id = f"SB{uuid.uuid4().hex}"
            record = {
                "id": provider_id,
                "idempotency_key": message.idempotency_key,
                "message_id": message.id,
                "to": message.to,
                "channel": message.channel,
                "body": message.body,
                "conversation_id": message.conversation_id,
                "kind": message.kind,
                "purpose": message.purpose.value,
                "sent_at": self.clock().isoformat(),
            }
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                handle.flush()
            self._sent[message.idempotency_key] = provider_id
        return SendResult(provider_message_id=provider_id, status=DeliveryStatus.SENT)

    def handle_webhook(self, request: WebhookRequest) -> InboundBatch:
        """Verify (when a secret is set) and parse one inbound JSON message."""
        if request.path not in ("", "/"):
            raise WebhookRejected(404, "the sandbox serves POST /webhooks/sandbox only")
        if request.method != "POST":
            raise WebhookRejected(405, "the sandbox accepts POST only")
        self._verify(request)
        data = _parse_json_object(request.body)

        sender = data.get("from")
        body = data.get("body")
        if sender is None:
            raise WebhookRejected(
                400,
                "'from' is missing; send the customer's number, such as +14155550123",
            )
        if (
            not isinstance(sender, str)
            or normalize_phone(sender, self.default_region) is None
        ):
            raise WebhookRejected(
                400,
                f"'from' must be a phone number such as +14155550123, got {sender!r}",
            )
        if not isinstance(body, str) or not body.strip():
            raise WebhookRejected(400, "'body' must be a non-empty string")
        message_id = data.get("id")
        if message_id is not None and not isinstance(message_id, str):
            raise WebhookRejected(400, f"'id' must be a string, got {message_id!r}")

        message = InboundMessage(
            channel=self.id,
            sender=ChannelAddress(AddressKind.PHONE, sender),
            body=body,
            provider_message_id=message_id or f"SBIN{uuid.uuid4().hex}",
            received_at=self.clock(),
        )
        return InboundBatch(
            messages=(message,),
            response=WebhookResponse(
                200, {"status": "accepted", "id": message.provider_message_id}
            ),
        )

    def _verify(self, request: WebhookRequest) -> None:
        if not self.secret:
            return
        given = request.headers.get(SIGNATURE_HEADER)
        if not given:
            raise SignatureError(f"missing {SIGNATURE_HEADER} header")
        digest = hmac.new(
            self.secret.encode(), request.body, hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(given, f"sha256={digest}"):
            raise SignatureError(f"invalid {SIGNATURE_HEADER}")


def _parse_json_object(body: bytes) -> dict[str, object]:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise WebhookRejected(
            400, f"body is not valid JSON: {err.msg if hasattr(err, 'msg') else err}"
        ) from None
    if not isinstance(data, dict):
        raise WebhookRejected(400, "body must be a JSON object")
    return data


@hookimpl
def register_settings(register: Callable[[str, type[BaseModel]], None]) -> None:
    """Declare the ``[sandbox]`` section."""
    register(PLUGIN_ID, SandboxSettings)


@hookimpl
def register_channels(
    register: Callable[[Channel], None], context: PluginContext
) -> None:
    """Register the sandbox channel."""
    settings = context.settings_for(PLUGIN_ID)
    assert isinstance(settings, SandboxSettings)
    path = settings.outbox_file
    if not path.is_absolute():
        path = context.settings.data_dir / path
    secret = settings.secret.get_secret_value() if settings.secret else None
    register(
        SandboxChannel(
            path,
            latency_ms=settings.latency_ms,
            secret=secret,
            default_region=context.settings.contacts.default_region,
            clock=context.clock,
            per_second=settings.per_second,
        )
    )
