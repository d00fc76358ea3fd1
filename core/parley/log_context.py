"""Ids of the work in progress, attached to every log record made during it.

The daemon binds a request id per HTTP request, the event worker the event
id per claimed event, and the outbox worker the message and conversation
ids per message. :class:`ContextFilter` copies the bound ids onto each
record, so a JSON line carries them as separate fields and a text line ends
with them. The ids live in a :mod:`contextvars` variable: each thread and
each asyncio task sees its own, and Starlette copies them into the thread
that runs a webhook handler.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from types import MappingProxyType
from typing import ParamSpec, TypeVar

# The order in which text lines list the ids.
LOG_ID_FIELDS = (
    "request_id",
    "event_id",
    "conversation_id",
    "message_id",
    "plugin",
    "channel",
)

# The default is an immutable empty mapping, shared by every context.
_NO_IDS: Mapping[str, str | int] = MappingProxyType({})
_ids: ContextVar[Mapping[str, str | int]] = ContextVar(
    "parley_log_ids", default=_NO_IDS
)

P = ParamSpec("P")
R = TypeVar("R")


@contextlib.contextmanager
def log_context(**ids: str | int | None) -> Iterator[None]:
    """Bind ids to the log records made inside the block; None values are skipped.

    Ids bound by an outer block stay bound unless this block gives the same
    name a new value.

    Raises:
        ValueError: a name is not one of :data:`LOG_ID_FIELDS`.
    """
    unknown = sorted(set(ids) - set(LOG_ID_FIELDS))
    if unknown:
        raise ValueError(
            f"unknown log id {', '.join(unknown)}; use one of {', '.join(LOG_ID_FIELDS)}"
        )
    bound = {**_ids.get(), **{name: v for name, v in ids.items() if v is not None}}
    token = _ids.set(bound)
    try:
        yield
    finally:
        _ids.reset(token)


def with_log_context(
    function: Callable[P, R], **ids: str | int | None
) -> Callable[P, R]:
    """Wrap a function so that each call runs inside ``log_context(**ids)``."""

    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        with log_context(**ids):
            return function(*args, **kwargs)

    return call


def current_log_ids() -> Mapping[str, str | int]:
    """Return the ids bound in the current thread or task."""
    return _ids.get()


class ContextFilter(logging.Filter):
    """Copies the bound ids onto each record as attributes.

    An attribute the caller set with ``extra=`` is kept.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Add the bound ids to the record; never drops it."""
        for name, value in _ids.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


def record_ids(record: logging.LogRecord) -> dict[str, object]:
    """Return the record's ids in :data:`LOG_ID_FIELDS` order, for formatters."""
    found: dict[str, object] = {}
    for name in LOG_ID_FIELDS:
        value = getattr(record, name, None)
        if value is not None:
            found[name] = value
    return found
