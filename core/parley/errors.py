"""Exceptions raised by parley and its plugins.

Plugins translate vendor and HTTP errors into these classes at their boundary
and keep the original exception as the cause (``raise ... from err``).
"""

from __future__ import annotations


class ParleyError(Exception):
    """Base class of every error parley raises on purpose."""


class ConfigError(ParleyError):
    """The configuration is invalid; the message lists every problem found."""

    def __init__(self, problems: list[str], source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"invalid configuration{where}:\n{lines}")


class PluginError(ParleyError):
    """A plugin could not be found, imported or validated."""


class StoreError(ParleyError):
    """The store could not be opened or migrated."""


class SyncError(ParleyError):
    """Fetching or processing data from a provider failed."""


class RetriableSyncError(SyncError):
    """A transient failure (HTTP 429, 5xx, a timeout); the same call may succeed later."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FatalSyncError(SyncError):
    """A permanent failure; repeating the call will fail the same way."""


class SkippableSyncError(SyncError):
    """One record could not be processed; the rest of the batch goes on."""


class DeliveryError(ParleyError):
    """A channel failed to hand a message to its provider.

    Attributes:
        permanent: True when retrying cannot succeed (an invalid or
            unsubscribed number), False for transient failures.
        retry_after: seconds the provider asked us to wait, when it said so.
        code: the provider's error code, when it gave one.
        recipient_opted_out: True when the provider refused because the
            recipient unsubscribed with it (Twilio's 21610); the core then
            records an opt-out in the consent ledger.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        retry_after: float | None = None,
        code: str | None = None,
        recipient_opted_out: bool = False,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent or recipient_opted_out
        self.retry_after = retry_after
        self.code = code
        self.recipient_opted_out = recipient_opted_out


class SendBlocked(ParleyError):
    """A channel's own rules forbid a send, found before any request was made.

    A channel raises it from :meth:`parley.Channel.send`; the outbox marks
    the message blocked with ``reason`` and does not retry it.

    Attributes:
        reason: why the send is forbidden, naming the rule and the value.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class WebhookRejected(ParleyError):
    """An inbound webhook request is malformed or not acceptable.

    Attributes:
        status: the HTTP status to answer with (4xx).
        reason: a short explanation returned to the sender; it never
            contains personal data.
    """

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class SignatureError(WebhookRejected):
    """An inbound webhook request has a missing or invalid signature."""

    def __init__(self, reason: str, status: int = 401) -> None:
        super().__init__(status, reason)
