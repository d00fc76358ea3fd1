"""Framework-neutral webhook requests, responses and routes.

Plugins handle webhooks through these types so that they never import the
HTTP server the daemon happens to use. The daemon reads the whole body
(within ``[server] max_body_bytes``) before a handler runs, so signature
checks always see the exact bytes the sender signed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


class Headers(Mapping[str, str]):
    """Case-insensitive, read-only HTTP headers."""

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        self._items = {key.lower(): value for key, value in (items or {}).items()}

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()]

    def __iter__(self):  # noqa: D105 - Mapping protocol
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._items


@dataclass(frozen=True)
class WebhookRequest:
    """An inbound HTTP request, as the daemon received it.

    Attributes:
        method: the HTTP method in upper case.
        url: the full URL as the daemon saw it. Behind a proxy this is not the
            URL the sender signed; plugins rebuild that from a configured
            public URL.
        path: the path below ``/webhooks/<plugin id>``, starting with ``/``,
            or ``""`` for the plugin's root.
        headers: request headers.
        body: the raw body bytes, before any parsing.
        query: query-string parameters.
        client_host: the peer address, when known.
    """

    method: str
    url: str
    path: str
    headers: Headers
    body: bytes
    query: Mapping[str, str] = field(default_factory=dict)
    client_host: str | None = None

    def json(self) -> Any:
        """Parse the body as JSON; call this only after verifying the signature."""
        return json.loads(self.body)


@dataclass(frozen=True)
class WebhookResponse:
    """The answer a handler returns.

    Attributes:
        status: HTTP status code.
        body: the response body; a dict or list is sent as JSON.
        content_type: the media type for ``str`` and ``bytes`` bodies.
    """

    status: int = 200
    body: str | bytes | dict[str, Any] | list[Any] = ""
    content_type: str = "text/plain; charset=utf-8"


WebhookHandler = Callable[[WebhookRequest], WebhookResponse]


@dataclass(frozen=True)
class WebhookRoute:
    """A webhook endpoint contributed by a plugin.

    The daemon serves it at ``/webhooks/<plugin_id><path>``; a ``path`` of
    ``""`` serves the plugin's root, ``/webhooks/<plugin_id>``.

    Attributes:
        plugin_id: the plugin that owns the route.
        path: the path below the plugin's root: ``""`` or starting with ``/``.
        handler: called in a worker thread with the request.
        methods: the HTTP methods accepted.
    """

    plugin_id: str
    path: str
    handler: WebhookHandler
    methods: tuple[str, ...] = ("POST",)

    @property
    def full_path(self) -> str:
        """The path the daemon serves this route at."""
        return f"/webhooks/{self.plugin_id}{self.path}"
