"""The HTTP API for agents, leads and managers, served by the daemon under ``/api/``.

Requests carry a bearer token from ``parley tokens create``, and the
token's role decides what it may do. Agents read, reply, write internal
notes and close conversations. Leads may also assign conversations and
create contact lists. Managers may read but not write.
``GET /api/openapi.json`` describes every operation.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from parley.api.framework import HTTP_METHODS, ApiError, build_routes
from parley.api.openapi import openapi_document
from parley.api.report_routes import ReportApi
from parley.api.routes import AgentApi
from parley.channels import Channel
from parley.context import PluginContext
from parley.conversations import SupportDesk


def api_routes(
    context: PluginContext, channels: dict[str, Channel], max_body_bytes: int
) -> list[BaseRoute]:
    """Return the API's routes, its OpenAPI document and a JSON 404 for unknown paths."""
    api = AgentApi(SupportDesk(context, channels))
    operations = api.operations() + ReportApi(context).operations()
    document = openapi_document(operations)

    async def openapi(_request: Request) -> Response:
        return JSONResponse(document)

    async def unknown(request: Request) -> Response:
        return ApiError(
            404,
            f"no API operation at {request.url.path}; GET /api/openapi.json lists them",
        ).response()

    routes: list[BaseRoute] = [Route("/api/openapi.json", openapi, methods=["GET"])]
    routes += build_routes(operations, context.store, max_body_bytes)
    routes.append(Route("/api/{rest:path}", unknown, methods=HTTP_METHODS))
    return routes


__all__ = ["api_routes"]
