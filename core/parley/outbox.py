"""The outbox worker: sends queued messages through their channels.

Each message is claimed for a lease before it is sent, so that one worker
sends it. A claimed batch is sent by up to ``[outbox] concurrency`` threads,
so one slow provider call does not hold up the rest. A transient failure
puts it back with an exponential, jittered delay that honours the
provider's Retry-After; a permanent failure, or running out of attempts,
marks it failed with the reason. The send gate is checked again right
before sending.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from parley.backoff import retry_delay
from parley.channels import Channel
from parley.context import PluginContext
from parley.errors import DeliveryError, SendBlocked
from parley.gate import SendGate, SendRequest
from parley.log_context import log_context
from parley.metrics import CountingGate, Metrics
from parley.models import AddressKind, DeliveryStatus, OutboundMessage, Purpose
from parley.pacing import pacer_for
from parley.phones import mask_phone
from parley.sms import count_segments
from parley.store.records import ClaimedMessage

# Maximum seconds a send thread waits for a sender's next slot. A later
# slot defers the message instead.
MAX_PACING_WAIT_SECONDS = 2.0

logger = logging.getLogger(__name__)


class OutboxWorker:
    """Claims due messages and hands them to channels."""

    def __init__(
        self,
        context: PluginContext,
        channels: Mapping[str, Channel],
        worker_id: str,
        metrics: Metrics | None = None,
    ) -> None:
        self.context = context
        self.store = context.store
        self.settings = context.settings.outbox
        self.channels = channels
        self.worker_id = worker_id
        self.metrics = metrics or Metrics(clock=context.clock)
        self.gate = CountingGate(
            SendGate(self.store, context.settings, channels), self.metrics
        )
        # Shared through the store on PostgreSQL, so that several daemons
        # together keep each sender's rate.
        self.pacer = pacer_for(self.store)
        self._pool = ThreadPoolExecutor(
            max_workers=self.settings.concurrency, thread_name_prefix="outbox-send"
        )
        self._in_flight = {
            channel_id: threading.BoundedSemaphore(channel.max_concurrent_requests)
            for channel_id, channel in channels.items()
            if channel.max_concurrent_requests
        }
        hooks = context.plugin_manager.hook
        self._notify_sent = bool(hooks.message_sent.get_hookimpls())

    def run_once(self) -> int:
        """Send one batch of due messages; return how many were claimed."""
        now = self.context.clock()
        timeout = self.settings.claim_timeout_seconds
        claimed = self.store.claim_outbox(
            self.worker_id, self.settings.batch_size, now, timeout
        )
        # Another worker may claim a message once its claim expires, so a
        # send starts only while at least half of the claim remains, which
        # leaves the other half for the provider call and recording it.
        start_by = now + timedelta(seconds=timeout / 2)
        deliver = functools.partial(self._deliver, start_by=start_by)
        if len(claimed) > 1 and self.settings.concurrency > 1:
            list(self._pool.map(deliver, claimed))
        else:
            for message in claimed:
                deliver(message)
        return len(claimed)

    def close(self) -> None:
        """Wait for sends in progress and stop the send threads."""
        self._pool.shutdown(wait=True)

    def _deliver(self, message: ClaimedMessage, start_by: datetime) -> None:
        with log_context(
            message_id=message.message_id,
            conversation_id=message.conversation_id,
            channel=message.channel,
        ):
            self._deliver_in_context(message, start_by)
        self.metrics.outbox_progress()

    def _deliver_in_context(self, message: ClaimedMessage, start_by: datetime) -> None:
        channel = self.channels.get(message.channel)
        if channel is None:
            self._retry(message, f"channel {message.channel!r} is not enabled", None)
            return

        now = self.context.clock()
        last_inbound_at = self.store.last_inbound_at(message.conversation_id)
        request = SendRequest(
            address=message.to,
            purpose=Purpose(message.purpose),
            kind=message.kind,
            conversation_id=message.conversation_id,
            message_id=message.message_id,
            channel=message.channel,
            body=message.body,
            fields=message.fields,
        )
        decision = self.gate.check(request, now)
        if decision.deferred:
            assert decision.defer_until is not None
            self._defer(message, decision.defer_until, decision.reason or "", now)
            return
        if not decision.allowed:
            self._block(message, decision.reason or "blocked")
            return

        outbound = OutboundMessage(
            id=message.message_id,
            idempotency_key=f"parley-message-{message.message_id}",
            channel=message.channel,
            to=message.to,
            body=message.body,
            conversation_id=message.conversation_id,
            kind=message.kind,
            purpose=Purpose(message.purpose),
            last_inbound_at=last_inbound_at,
            fields=message.fields,
        )
        throughput = channel.throughput(outbound)
        if throughput is not None:
            started = self.metrics.monotonic()
            wait = self.pacer.acquire(
                throughput.key, throughput.per_second, MAX_PACING_WAIT_SECONDS
            )
            if wait is None:
                self.metrics.rate_limiter_waited(
                    message.channel, self.metrics.monotonic() - started
                )
            else:
                self.metrics.rate_limiter_deferral(message.channel)
                until = now + timedelta(seconds=wait)
                self._defer(
                    message, until, f"sender rate {throughput.per_second:g}/s", now
                )
                return

        if self.context.clock() > start_by:
            # The row is left alone: once the claim expires, the next claim,
            # by this worker or another, sends the message.
            logger.warning(
                "message %s: too little of its claim is left to send it; "
                "left for the next claim. Raise [outbox] claim_timeout_seconds "
                "or lower batch_size if this repeats",
                message.message_id,
            )
            return

        try:
            with (
                self._slot(message.channel),
                self.metrics.time_provider_request(message.channel),
            ):
                result = channel.send(outbound)
        except SendBlocked as err:
            self.metrics.message_outcome(message.channel, "blocked", "channel_rule")
            self._block(message, f"{message.channel}: {err.reason}")
            return
        except DeliveryError as err:
            self._handle_delivery_error(message, err)
            return
        except Exception as err:  # noqa: BLE001 - a channel bug must not stop the worker
            logger.exception(
                "message %s: channel %s raised unexpectedly",
                message.message_id,
                message.channel,
            )
            self._retry(message, f"{type(err).__name__}: {err}", None)
            return

        self.store.mark_sent(
            message.message_id,
            result.provider_message_id,
            result.status,
            self.context.clock(),
        )
        self.metrics.message_outcome(message.channel, "sent", "none")
        logger.info(
            "message %s sent on %s to %s as %s (attempt %d%s)",
            message.message_id,
            message.channel,
            mask_phone(message.to),
            result.provider_message_id,
            message.attempts,
            _sms_summary(channel, message.body),
        )
        if self._notify_sent:
            self._queue_sent_event(
                outbound, message.contact_id, result.provider_message_id
            )

    @contextlib.contextmanager
    def _slot(self, channel_id: str) -> Iterator[None]:
        """Hold one of the channel's concurrent-request slots during a send."""
        semaphore = self._in_flight.get(channel_id)
        if semaphore is None:
            yield
            return
        with semaphore:
            yield

    def _defer(
        self, message: ClaimedMessage, until: datetime, reason: str, now: datetime
    ) -> None:
        self.store.defer_message(message.message_id, until, f"deferred: {reason}", now)
        logger.info(
            "message %s deferred to %s: %s",
            message.message_id,
            until.isoformat(),
            reason,
        )

    def _block(self, message: ClaimedMessage, reason: str) -> None:
        self.store.mark_unsent(
            message.message_id, DeliveryStatus.BLOCKED, reason, self.context.clock()
        )
        logger.info("message %s blocked before sending: %s", message.message_id, reason)

    def _queue_sent_event(
        self, outbound: OutboundMessage, contact_id: int, provider_message_id: str
    ) -> None:
        """Queue the message_sent hook call for the event worker, durably."""
        payload = {
            "message": outbound_to_json(outbound),
            "provider_message_id": provider_message_id,
            "contact_id": contact_id,
        }
        self.store.add_event(
            "message_sent",
            outbound.channel,
            f"sent:{outbound.id}",
            payload,
            self.context.clock(),
        )

    def _handle_delivery_error(
        self, message: ClaimedMessage, err: DeliveryError
    ) -> None:
        if err.recipient_opted_out:
            self._record_provider_opt_out(message, err)
        if err.permanent:
            self.store.mark_unsent(
                message.message_id,
                DeliveryStatus.FAILED,
                str(err),
                self.context.clock(),
                error_code=err.code,
            )
            self.metrics.message_outcome(message.channel, "failed", "permanent_error")
            logger.warning(
                "message %s failed permanently on %s (code %s): %s",
                message.message_id,
                message.channel,
                err.code,
                err,
            )
            return
        self._retry(message, str(err), err.retry_after)

    def _record_provider_opt_out(
        self, message: ClaimedMessage, err: DeliveryError
    ) -> None:
        now = self.context.clock()
        for purpose in Purpose:
            self.store.add_consent(
                channel=message.channel,
                address=message.to,
                purpose=purpose.value,
                action="opt_out",
                source="provider_report",
                actor=f"channel:{message.channel}",
                evidence=f"provider error {err.code} for message {message.message_id}: {err}",
                now=now,
            )
        logger.warning(
            "message %s: the provider reports the recipient unsubscribed (code %s); "
            "opt-out recorded",
            message.message_id,
            err.code,
        )

    def _retry(
        self, message: ClaimedMessage, error: str, retry_after: float | None
    ) -> None:
        now = self.context.clock()
        if message.attempts >= self.settings.max_attempts:
            self.store.mark_unsent(
                message.message_id,
                DeliveryStatus.FAILED,
                f"gave up after {message.attempts} attempts: {error}",
                now,
            )
            self.metrics.message_outcome(
                message.channel, "failed", "attempts_exhausted"
            )
            logger.warning(
                "message %s failed after %d attempts: %s",
                message.message_id,
                message.attempts,
                error,
            )
            return

        delay = retry_delay(
            message.attempts,
            self.settings.backoff_initial_seconds,
            self.settings.backoff_max_seconds,
            retry_after,
        )
        self.store.schedule_retry(
            message.message_id, error, now + timedelta(seconds=delay), now
        )
        self.metrics.provider_retry(message.channel)
        logger.warning(
            "message %s attempt %d on %s failed: %s; retrying in %.1f s",
            message.message_id,
            message.attempts,
            message.channel,
            error,
            delay,
        )


def _sms_summary(channel: Channel, body: str) -> str:
    """Describe an SMS body's encoding and segments for the send log line."""
    if channel.address_kind is not AddressKind.PHONE:
        return ""
    info = count_segments(body)
    return f", {info.encoding} {info.segments} segment(s)"


def outbound_to_json(message: OutboundMessage) -> dict[str, object]:
    """Return an outbound message as JSON-compatible data for the event queue."""
    return {
        "id": message.id,
        "idempotency_key": message.idempotency_key,
        "channel": message.channel,
        "to": message.to,
        "body": message.body,
        "conversation_id": message.conversation_id,
        "kind": message.kind,
        "purpose": message.purpose.value,
        "last_inbound_at": (
            message.last_inbound_at.isoformat() if message.last_inbound_at else None
        ),
        "fields": dict(message.fields),
    }


def outbound_from_json(data: Mapping[str, object]) -> OutboundMessage:
    """Rebuild an outbound message from :func:`outbound_to_json` output."""
    last = data.get("last_inbound_at")
    return OutboundMessage(
        id=int(data["id"]),  # type: ignore[call-overload]
        idempotency_key=str(data["idempotency_key"]),
        channel=str(data["channel"]),
        to=str(data["to"]),
        body=str(data["body"]),
        conversation_id=int(data["conversation_id"]),  # type: ignore[call-overload]
        kind=str(data["kind"]),
        purpose=Purpose(str(data["purpose"])),
        last_inbound_at=datetime.fromisoformat(str(last)) if last else None,
        fields=dict(data.get("fields") or {}),  # type: ignore[call-overload]
    )
