"""One logging setup for the daemon and the CLI.

Text for a terminal, or JSON lines for log collectors (``[logging]
format = "json"``). Loggers are named after modules; plugin loggers are
``parley.plugin.<id>``, and ``[logging] plugin_levels`` sets the level of
that logger and of the loggers under the plugin's module.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from parley.config import LoggingSettings
from parley.plugins import installed_plugins

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}


class JsonFormatter(logging.Formatter):
    """Formats each record as one JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a JSON line."""
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RESERVED:
                data[key] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


def configure_logging(settings: LoggingSettings | None = None) -> None:
    """Send parley's logs to stderr in the configured format and levels."""
    settings = settings or LoggingSettings()
    handler = logging.StreamHandler(sys.stderr)
    if settings.format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        )

    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
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
