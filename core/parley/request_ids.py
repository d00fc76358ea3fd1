"""Request ids: one per HTTP request, in the logs and in the response header.

A caller or proxy may send its own ``X-Request-ID``; the daemon keeps it
when it is 1 to 128 letters, digits, or ``-``, ``_``, ``.``, ``:``,
and otherwise assigns a new one. Either way the response carries the id
in ``X-Request-ID``, and every log record made while serving the request
has it as ``request_id``.
"""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parley.log_context import log_context

REQUEST_ID_HEADER = "X-Request-ID"

_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_from(value: str | None) -> str:
    """Return the incoming id when it is valid, otherwise a new random one."""
    if value is not None and _VALID_REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """ASGI middleware that binds a request id and returns it in the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request with its id bound to the logs."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        incoming = None
        for name, value in scope.get("headers", ()):
            if name.lower() == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = request_id_from(incoming)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
            await send(message)

        with log_context(request_id=request_id):
            await self.app(scope, receive, send_with_id)
