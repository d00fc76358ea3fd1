"""One logging setup for the daemon and the CLI.

Text for a terminal, or JSON lines for log collectors (``[logging]
format = "json"``). Loggers are named after modules; plugin loggers are
``parley.plugin.<id>``, and ``[logging] plugin_levels`` sets the level of
that logger and of the loggers under the plugin's module.

The handler's filters run in this order on every record, including those
of plugins and libraries:

1. :class:`~parley.log_context.ContextFilter` adds the ids of the work in
   progress (request, event, conversation, message, plugin, channel);
2. :class:`~parley.log_repeats.RepeatFilter` drops repeats of a warning or
   error within ``[logging] repeat_window_seconds`` and counts them;
3. :class:`~parley.log_redaction.RedactFilter` masks phone numbers and
   email addresses.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO

from parley.config import LoggingSettings
from parley.log_context import LOG_ID_FIELDS, ContextFilter, record_ids
from parley.log_redaction import RedactFilter
from parley.log_repeats import RepeatFilter
from parley.plugins import installed_plugins

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    *LOG_ID_FIELDS,
}


class JsonFormatter(logging.Formatter):
    """Formats each record as one JSON object per line.

    The ids from :mod:`parley.log_context` come right after the message,
    each as its own field, followed by anything passed with ``extra=``.
    """

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a JSON line."""
        data: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **record_ids(record),
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("parley_"):
                data[key] = value

        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            data["exception"] = record.exc_text
        if record.stack_info:
            data["stack"] = record.stack_info
        return json.dumps(data, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Formats a record as one line, ending with its ids in square brackets."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        """Return the line without the exception, with the ids appended."""
        line = super().formatMessage(record)
        ids = record_ids(record)
        if not ids:
            return line
        suffix = " ".join(f"{name}={value}" for name, value in ids.items())
        return f"{line} [{suffix}]"


class ParleyHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler with parley's filters; closing it logs pending repeat counts."""

    def __init__(
        self,
        stream: IO[str] | None = None,
        repeat_window_seconds: float = 60.0,
        background: bool = True,
    ) -> None:
        super().__init__(stream if stream is not None else sys.stderr)
        self.repeats = RepeatFilter(
            self.handle, window_seconds=repeat_window_seconds, background=background
        )
        self.addFilter(ContextFilter())
        self.addFilter(self.repeats)
        self.addFilter(RedactFilter())

    def close(self) -> None:
        """Log the repeat counts still open, then close the handler."""
        self.repeats.close()
        super().close()


def build_handler(
    settings: LoggingSettings, stream: IO[str] | None = None
) -> ParleyHandler:
    """Return a handler with parley's filters and the configured format."""
    handler = ParleyHandler(
        stream, repeat_window_seconds=settings.repeat_window_seconds
    )
    if settings.format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter())
    return handler


def configure_logging(settings: LoggingSettings | None = None) -> None:
    """Send parley's logs to stderr in the configured format and levels."""
    settings = settings or LoggingSettings()
    handler = build_handler(settings)

    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
        if isinstance(existing, ParleyHandler):
            existing.close()
    root.addHandler(handler)
    root.setLevel(settings.level.upper())

    installed = installed_plugins()
    for plugin_id, level in settings.plugin_levels.items():
        logging.getLogger(f"parley.plugin.{plugin_id}").setLevel(level.upper())
        plugin = installed.get(plugin_id)
        if plugin is not None:
            # A plugin's modules log under their own names, such as parley_shopify.webhook.
            logging.getLogger(plugin.module).setLevel(level.upper())
    for noisy in ("uvicorn.access", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
