"""The outbox worker: sends queued messages through their channels.

Each message is claimed for a lease before it is sent, so that one worker
sends it. A claimed batch is sent by up to ``[outbox] concurrency`` threads,
so one slow provider call does not hold up the rest. A transient failure puts it back with an exponential, jittered
delay that honours the provider's Retry-After; a permanent failure, or
running out of attempts, marks it failed with the reason. The send gate is
checked again right before sending.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from parley.backoff import retry_delay
from parley.channels import Channel
from parley.context import PluginContext
from parley.errors import DeliveryError
from parley.gate import SendGate, SendRequest
from parley.models import DeliveryStatus, OutboundMessage, Purpose
from parley.phones import mask_phone
from parley.store.records import ClaimedMessage

logger = logging.getLogger(__name__)


class OutboxWorker:
    """Claims due messages and hands them to channels."""

    def __init__(
        self, context: PluginContext, channels: Mapping[str, Channel], worker_id: str
    ) -> None:
        self.context = context
        self.store = context.store
        self.settings = context.settings.outbox
        self.channels = channels
        self.worker_id = worker_id
        self.gate = SendGate(self.store, context.settings)
        self._pool = ThreadPoolExecutor(
            max_workers=self.settings.concurrency, thread_name_prefix="outbox-send"
        )

    def run_once(self) -> int:
        """Send one batch of due messages; return how many were claimed."""
        claimed = self.store.claim_outbox(
            self.worker_id,
            self.settings.batch_size,
            self.context.clock(),
            self.settings.claim_timeout_seconds,
        )
        if len(claimed) > 1 and self.settings.concurrency > 1:
            list(self._pool.map(self._deliver, claimed))
        else:
            for message in claimed:
                self._deliver(message)
        return len(claimed)

    def close(self) -> None:
        """Wait for sends in progress and stop the send threads."""
        self._pool.shutdown(wait=True)

    def _deliver(self, message: ClaimedMessage) -> None:
        channel = self.channels.get(message.channel)
        if channel is None:
            self._retry(message, f"channel {message.channel!r} is not enabled", None)
            return

        request = SendRequest(
            address=message.to,
            purpose=Purpose(message.purpose),
            kind=message.kind,
            conversation_id=message.conversation_id,
            message_id=message.message_id,
        )
        now = self.context.clock()
        decision = self.gate.check(request, now)
        if decision.deferred:
            assert decision.defer_until is not None
            self.store.defer_message(
                message.message_id,
                decision.defer_until,
                f"deferred: {decision.reason}",
                now,
            )
            logger.info(
                "message %s deferred to %s: %s",
                message.message_id,
                decision.defer_until.isoformat(),
                decision.reason,
            )
            return
        if not decision.allowed:
            reason = decision.reason or "blocked"
            self.store.mark_unsent(
                message.message_id, DeliveryStatus.BLOCKED, reason, self.context.clock()
            )
            logger.info(
                "message %s blocked before sending: %s", message.message_id, reason
            )
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
        )
        try:
            result = channel.send(outbound)
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
        logger.info(
            "message %s sent on %s to %s as %s (attempt %d)",
            message.message_id,
            message.channel,
            mask_phone(message.to),
            result.provider_message_id,
            message.attempts,
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
        logger.warning(
            "message %s attempt %d on %s failed: %s; retrying in %.1f s",
            message.message_id,
            message.attempts,
            message.channel,
            error,
            delay,
        )
