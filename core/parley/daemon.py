"""The daemon: serves webhooks and runs the workers.

``parley run`` builds a :class:`~parley.runtime.Runtime`, serves its webhooks
and the agent API (:mod:`parley.api`) with uvicorn, and starts the event
worker, the outbox worker and every poller in background threads. On
SIGTERM or SIGINT uvicorn stops accepting connections and waits for
in-flight requests; then the workers finish their current step and the
process exits 0.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO

import uvicorn
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from parley.api import api_routes
from parley.errors import StoreError, WebhookRejected
from parley.log_context import with_log_context
from parley.metrics import CONTENT_TYPE_LATEST, OutboxHealth, OutboxWatch
from parley.phones import redact
from parley.pipeline import inbound_to_json
from parley.request_ids import RequestIdMiddleware
from parley.runtime import Runtime
from parley.webhooks import Headers, WebhookHandler, WebhookRequest, WebhookResponse
from parley.workers import LoopThread, poller_step, worker_thread

logger = logging.getLogger(__name__)


class BodyTooLarge(Exception):
    """The request body is larger than ``[server] max_body_bytes``."""


class Daemon:
    """The HTTP application and the background workers of one process.

    Args:
        runtime: the assembled instance to serve.
        outbox_stuck_after_seconds: ``/readyz`` fails when the earliest due
            message has waited this long and the outbox worker finished no
            message for as long; None takes ``[outbox] stuck_after_seconds``,
            which by default derives it from ``claim_timeout_seconds``.
    """

    def __init__(
        self, runtime: Runtime, outbox_stuck_after_seconds: float | None = None
    ) -> None:
        self.runtime = runtime
        self.settings = runtime.context.settings
        self.threads: list[LoopThread] = []
        self.outbox_watch = OutboxWatch(
            runtime.store,
            runtime.metrics,
            runtime.context.clock,
            outbox_stuck_after_seconds or self.settings.outbox.stuck_after_seconds,
            self.settings.outbox.claim_timeout_seconds,
        )
        self.app = Starlette(routes=self._routes(), lifespan=self._lifespan)
        self.app.add_middleware(RequestIdMiddleware)

    # Routes

    def _routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = [
            Route("/healthz", self._healthz, methods=["GET"]),
            Route("/readyz", self._readyz, methods=["GET"]),
            Route("/metrics", self._metrics, methods=["GET"]),
        ]
        routes += api_routes(
            self.runtime.context,
            self.runtime.channels,
            self.settings.server.max_body_bytes,
        )
        for route in self.runtime.routes:
            endpoint = self._endpoint(route.plugin_id, route.handler, route.full_path)
            routes.append(Route(route.full_path, endpoint, methods=list(route.methods)))
        for channel in self.runtime.channels.values():
            endpoint = self._endpoint(
                channel.id, self._channel_handler(channel.id), f"/webhooks/{channel.id}"
            )
            methods = ["GET", "POST"]
            routes.append(Route(f"/webhooks/{channel.id}", endpoint, methods=methods))
            routes.append(
                Route(
                    f"/webhooks/{channel.id}/{{rest:path}}", endpoint, methods=methods
                )
            )
        routes.append(
            Route("/webhooks/{rest:path}", self._no_route, methods=["GET", "POST"])
        )
        return routes

    async def _no_route(self, request: Request) -> Response:
        for route in self.runtime.routes:
            if route.full_path == request.url.path:
                allowed = ", ".join(route.methods)
                return JSONResponse(
                    {"error": f"{request.method} is not allowed here; use {allowed}"},
                    status_code=405,
                    headers={"Allow": allowed},
                )
        served = sorted(
            {route.full_path for route in self.runtime.routes}
            | {f"/webhooks/{channel_id}" for channel_id in self.runtime.channels}
        )
        logger.warning(
            "webhook %s %s: no enabled plugin serves this path",
            request.method,
            request.url.path,
        )
        return JSONResponse(
            {
                "error": f"no enabled plugin serves {request.url.path}; enable the plugin "
                f"in [plugins] enabled. Served webhook paths: {', '.join(served) or '(none)'}"
            },
            status_code=404,
        )

    async def _healthz(self, _request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def _metrics(self, _request: Request) -> Response:
        # The outbox gauges query the store, so rendering runs off the event loop.
        content = await run_in_threadpool(self.runtime.metrics.render)
        return Response(content, media_type=CONTENT_TYPE_LATEST)

    async def _readyz(self, _request: Request) -> Response:
        store_ok = await run_in_threadpool(self.runtime.store.ping)
        workers_ok = bool(self.threads) and all(thread.alive for thread in self.threads)
        outbox = await run_in_threadpool(self._outbox_health) if store_ok else None
        causes = []
        if not store_ok or outbox is None:
            causes.append(
                "the store is unreachable; check [store] url and the database"
            )
        if not workers_ok:
            causes.append("a background worker stopped; see the log and restart")
        if outbox is not None and outbox.cause:
            causes.append(outbox.cause)
        body = {
            "store": "ok" if outbox is not None else "unreachable",
            "workers": "ok" if workers_ok else "stopped",
            "outbox": outbox.state if outbox else "unknown",
            **(outbox.details if outbox else {}),
            "causes": causes,
            "plugins": sorted(
                name
                for name, _plugin in self.runtime.loaded.plugin_manager.list_name_plugin()
            ),
            "channels": sorted(self.runtime.channels),
        }
        ready = not causes
        return JSONResponse(
            {"status": "ready" if ready else "not ready", **body},
            status_code=200 if ready else 503,
        )

    def _outbox_health(self) -> OutboxHealth | None:
        """Check the outbox; None when the store fails during the check."""
        try:
            return self.outbox_watch.check()
        except SQLAlchemyError as err:
            logger.warning("readyz: reading the outbox failed: %s", type(err).__name__)
            return None

    def _endpoint(self, plugin_id: str, handler: WebhookHandler, mount: str):  # noqa: ANN202
        max_bytes = self.settings.server.max_body_bytes
        metrics = self.runtime.metrics

        async def endpoint(request: Request) -> Response:
            try:
                body = await _read_body(request, max_bytes)
            except BodyTooLarge:
                metrics.webhook_received(plugin_id, "too_large")
                logger.warning(
                    "webhook %s %s rejected: body over %d bytes",
                    request.method,
                    mount,
                    max_bytes,
                )
                return JSONResponse(
                    {"error": f"body larger than {max_bytes} bytes"}, status_code=413
                )
            except ClientDisconnect:
                metrics.webhook_received(plugin_id, "disconnected")
                return Response(status_code=400)

            webhook_request = WebhookRequest(
                method=request.method,
                url=str(request.url),
                path=request.url.path[len(mount) :] or "",
                headers=Headers(dict(request.headers)),
                body=body,
                query=dict(request.query_params),
                client_host=request.client.host if request.client else None,
            )
            try:
                response = await run_in_threadpool(
                    with_log_context(handler, plugin=plugin_id), webhook_request
                )
            except WebhookRejected as err:
                metrics.webhook_received(plugin_id, "rejected")
                logger.warning(
                    "webhook %s %s for plugin %s rejected with %d: %s",
                    request.method,
                    mount,
                    plugin_id,
                    err.status,
                    redact(err.reason),
                )
                return JSONResponse({"error": err.reason}, status_code=err.status)
            except Exception:  # noqa: BLE001 - the daemon's outer handler logs every failure
                metrics.webhook_received(plugin_id, "error")
                logger.exception(
                    "webhook %s %s for plugin %s failed",
                    request.method,
                    mount,
                    plugin_id,
                )
                return JSONResponse(
                    {"error": "internal error; the sender should retry"},
                    status_code=500,
                )
            metrics.webhook_received(plugin_id, webhook_outcome(response.status))
            return _to_response(response)

        return endpoint

    def _channel_handler(self, channel_id: str) -> WebhookHandler:
        channel = self.runtime.channels[channel_id]
        store = self.runtime.store
        clock = self.runtime.context.clock

        def handle(request: WebhookRequest) -> WebhookResponse:
            batch = channel.handle_webhook(request)
            now = clock()
            with store.transaction() as conn:
                for message in batch.messages:
                    stored = store.add_event(
                        "message_received",
                        channel_id,
                        f"inbound:{channel_id}:{message.provider_message_id}",
                        inbound_to_json(message),
                        now,
                        conn=conn,
                    )
                    if not stored:
                        logger.info(
                            "inbound message %s on %s was received before; ignored",
                            message.provider_message_id,
                            channel_id,
                        )
            for status in batch.statuses:
                moved = store.apply_status(
                    channel_id,
                    status.provider_message_id,
                    status.status,
                    now,
                    status.error_code,
                    status.error_message,
                )
                logger.info(
                    "status %s for provider message %s on %s %s",
                    status.status.value,
                    status.provider_message_id,
                    channel_id,
                    "applied" if moved else "ignored (not newer)",
                )
            return batch.response

        return handle

    # Lifecycle

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        self._start_workers()
        self.runtime.loaded.plugin_manager.hook.daemon_started(
            context=self.runtime.context
        )
        served = [route.full_path for route in self.runtime.routes]
        served += [f"/webhooks/{channel_id}" for channel_id in self.runtime.channels]
        logger.info(
            "daemon started: worker %s, channels %s, webhook paths %s",
            self.runtime.worker_id,
            ", ".join(sorted(self.runtime.channels)) or "(none)",
            ", ".join(sorted(served)) or "(none)",
        )

        try:
            yield
        finally:
            self._stop_workers()
            self.runtime.loaded.plugin_manager.hook.daemon_stopping(
                context=self.runtime.context
            )
            logger.info("daemon stopped")

    def _start_workers(self) -> None:
        self.outbox_watch.start()
        outbox = self.settings.outbox
        self.threads = [
            worker_thread(
                "event worker",
                self.runtime.event_worker.run_once,
                outbox.poll_interval_seconds,
            ),
            worker_thread(
                "outbox worker",
                self.runtime.outbox_worker.run_once,
                outbox.poll_interval_seconds,
            ),
        ]
        for poller in self.runtime.pollers:
            name = f"poller {poller.plugin_id}/{poller.name}"
            self.threads.append(
                LoopThread(name, poller_step(poller), poller.interval_seconds)
            )
        for thread in self.threads:
            thread.start()

    def _stop_workers(self) -> None:
        for thread in self.threads:
            thread.stop()
        timeout = self.settings.server.shutdown_timeout_seconds
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            if not thread.join(max(deadline - time.monotonic(), 0.0)):
                logger.error("%s did not stop within %.0f s", thread.name, timeout)
        self.runtime.outbox_worker.close()


async def _read_body(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def webhook_outcome(status: int) -> str:
    """Return the metrics outcome of a handler's response status."""
    if status < 400:
        return "accepted"
    if status < 500:
        return "rejected"
    return "error"


def _to_response(response: WebhookResponse) -> Response:
    if isinstance(response.body, (dict, list)):
        return JSONResponse(response.body, status_code=response.status)
    return Response(
        response.body, status_code=response.status, media_type=response.content_type
    )


@contextlib.contextmanager
def sqlite_lock(store_url: str) -> Iterator[IO[str] | None]:
    """Hold an exclusive lock on a SQLite store so that one daemon uses it.

    A SQLite store is for one daemon; several daemons share PostgreSQL.
    Holding the lock also makes it safe to release claims left by a daemon
    that was killed, so its messages are sent at once after a restart.

    Raises:
        StoreError: another daemon holds the lock.
    """
    url = make_url(store_url)
    if (
        url.get_backend_name() != "sqlite"
        or not url.database
        or url.database == ":memory:"
    ):
        yield None
        return
    lock_path = Path(url.database + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle = lock_path.open("w")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreError(
                f"another parley daemon is using the SQLite store {url.database}; "
                "stop it first, or use PostgreSQL to run several daemons"
            ) from None
        yield handle
    finally:
        handle.close()


def serve(runtime: Runtime, host: str, port: int) -> None:
    """Run the daemon until SIGTERM or SIGINT."""
    with sqlite_lock(runtime.context.settings.store_url) as lock:
        if lock is not None:
            runtime.store.release_claims()
        daemon = Daemon(runtime)
        config = uvicorn.Config(
            daemon.app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=runtime.context.settings.server.shutdown_timeout_seconds,
        )
        server = uvicorn.Server(config)
        with _exit_zero_after_signal():
            server.run()
        runtime.close()


@contextlib.contextmanager
def _exit_zero_after_signal() -> Iterator[None]:
    """Make a graceful stop on SIGTERM or SIGINT end with exit code 0.

    uvicorn (0.29 and later) re-raises the signal it caught once it has shut
    down, which would end the process with -15. It re-raises through the
    handlers that were installed before it started, so these no-op handlers
    absorb it; uvicorn replaces them with its own while it runs.
    """
    stopped = {
        sig: signal.signal(sig, lambda *_: None)
        for sig in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        yield
    finally:
        for sig, handler in stopped.items():
            signal.signal(sig, handler)
