"""How an API operation is declared, authenticated, validated and served.

Each :class:`Operation` names its method, path, the roles allowed to call
it, and the pydantic models of its query, body and responses. One table of
operations builds both the Starlette routes and the OpenAPI document.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from parley.api.schemas import MAX_ID, ErrorOut, FieldError
from parley.conversations import Conflict, InvalidValue, NotFound
from parley.store import Store
from parley.store.desk_records import TokenRecord
from parley.tokens import Role, authenticate

logger = logging.getLogger(__name__)

ALL_ROLES = frozenset(Role)
WRITERS = frozenset({Role.AGENT, Role.LEAD})
LEADS = frozenset({Role.LEAD})
OVERSEERS = frozenset({Role.LEAD, Role.MANAGER})

# The header that makes a reply safe to retry: a repeated key returns the
# first message instead of sending another.
IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_PATTERN = r"^[A-Za-z0-9._:-]{1,100}$"

# Every route accepts these, so that a method an operation does not declare
# gets a JSON 405 from the API instead of Starlette's plain-text one.
HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class ApiError(Exception):
    """A request that gets an error response instead of reaching its handler."""

    def __init__(
        self,
        status: int,
        message: str,
        fields: list[FieldError] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        """Return the JSON error response."""
        body = ErrorOut(error=self.message, fields=self.fields)
        return JSONResponse(
            body.model_dump(mode="json", exclude_none=True),
            status_code=self.status,
            headers=self.headers,
        )


@dataclass(frozen=True)
class Call:
    """One authenticated, validated request, as a handler receives it."""

    token: TokenRecord
    path: Mapping[str, int]
    query: Any
    body: Any
    headers: Mapping[str, str]


@dataclass(frozen=True)
class Answer:
    """A handler's response: status, body model and extra headers."""

    status: int
    body: BaseModel | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    """One API operation.

    Attributes:
        method: HTTP method.
        path: Starlette path with ``{name}`` integer path parameters.
        operation_id: unique name in the OpenAPI document.
        summary: one line for the OpenAPI document.
        roles: the token roles that may call it; others get 403.
        handler: runs in a worker thread and returns an :class:`Answer`.
        responses: status codes of success and handled outcomes, with
            their body models (None for no body) and descriptions.
        errors: further error statuses it can return, such as 404 or 409.
        query: the model of its query parameters, if any.
        body: the model of its JSON body, if any.
        headers: optional request headers it reads, with descriptions.
    """

    method: str
    path: str
    operation_id: str
    summary: str
    roles: frozenset[Role]
    handler: Callable[[Call], Answer]
    responses: Mapping[int, tuple[type[BaseModel] | None, str]]
    errors: Mapping[int, str] = field(default_factory=dict)
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def path_parameters(self) -> list[str]:
        """Names of the path parameters, in order."""
        parts = self.path.split("/")
        return [part[1:-1] for part in parts if part.startswith("{")]


def build_routes(
    operations: list[Operation], store: Store, max_body_bytes: int
) -> list[Route]:
    """Return one Starlette route per path; a method not declared gets a JSON 405."""
    by_path: dict[str, dict[str, Operation]] = {}
    for operation in operations:
        by_path.setdefault(operation.path, {})[operation.method] = operation
    return [
        Route(path, _endpoint(methods, store, max_body_bytes), methods=HTTP_METHODS)
        for path, methods in by_path.items()
    ]


def _endpoint(
    methods: dict[str, Operation], store: Store, max_body_bytes: int
) -> Callable[[Request], Any]:
    allowed = ", ".join(sorted(methods))

    async def endpoint(request: Request) -> Response:
        operation = methods.get(request.method)
        if operation is None:
            return ApiError(
                405,
                f"{request.method} is not allowed on {request.url.path}; use {allowed}",
                headers={"Allow": allowed},
            ).response()
        try:
            body = await _read_body(request, max_body_bytes) if operation.body else b""
            answer = await run_in_threadpool(_serve, operation, store, request, body)
        except ApiError as err:
            return err.response()
        except ClientDisconnect:
            return Response(status_code=400)
        except Exception:  # noqa: BLE001 - the API's outer handler logs every failure
            logger.exception("API %s %s failed", operation.method, request.url.path)
            return ApiError(
                500, "internal error; the daemon's log has the details"
            ).response()
        return _to_response(answer)

    return endpoint


def _serve(operation: Operation, store: Store, request: Request, body: bytes) -> Answer:
    token = _authenticate(store, request)
    if token.role not in {role.value for role in operation.roles}:
        logger.info(
            "API %s %s rejected for token %s: role %s may not call it",
            operation.method,
            request.url.path,
            token.name,
            token.role,
        )
        roles = ", ".join(sorted(role.value for role in operation.roles))
        raise ApiError(
            403,
            f"a {token.role} token may not call {operation.method} {operation.path}; "
            f"it needs the role {roles}",
        )

    call = Call(
        token=token,
        path=_path_parameters(operation, request.path_params),
        query=_query(operation, request),
        body=_json_body(operation, body),
        headers=request.headers,
    )
    try:
        return operation.handler(call)
    except NotFound as err:
        raise ApiError(404, str(err)) from err
    except Conflict as err:
        raise ApiError(409, str(err)) from err
    except InvalidValue as err:
        raise ApiError(
            422, str(err), [FieldError(field=err.field, message=err.detail)]
        ) from err


def _authenticate(store: Store, request: Request) -> TokenRecord:
    header = request.headers.get("authorization")
    if header is None:
        raise ApiError(
            401,
            "missing bearer token; send 'Authorization: Bearer pk_...' with a token "
            "from 'parley tokens create'",
            headers={"WWW-Authenticate": 'Bearer realm="parley"'},
        )
    scheme, _, secret = header.partition(" ")
    token = None
    if scheme.lower() == "bearer":
        token = authenticate(store, secret.strip())
    if token is None:
        logger.info(
            "API %s %s rejected: invalid, unknown or revoked token",
            request.method,
            request.url.path,
        )
        raise ApiError(
            401,
            "invalid, unknown or revoked bearer token",
            headers={
                "WWW-Authenticate": 'Bearer realm="parley", error="invalid_token"'
            },
        )
    return token


def _path_parameters(operation: Operation, raw: Mapping[str, str]) -> dict[str, int]:
    values: dict[str, int] = {}
    problems = []
    for name in operation.path_parameters:
        text = raw.get(name, "")
        if text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_ID:
            values[name] = int(text)
        else:
            problems.append(
                FieldError(
                    field=f"path.{name}",
                    message=f"must be a whole number from 1 to {MAX_ID}",
                )
            )
    if problems:
        raise ApiError(422, "invalid path parameter", problems)
    return values


def _query(operation: Operation, request: Request) -> Any:
    if operation.query is None:
        return None
    data: dict[str, str] = {}
    for key in request.query_params:
        values = request.query_params.getlist(key)
        if len(values) > 1:
            raise ApiError(
                422,
                f"query parameter {key!r} is given {len(values)} times; give it once",
                [FieldError(field=f"query.{key}", message="given more than once")],
            )
        data[key] = values[0]
    try:
        return operation.query.model_validate(data)
    except ValidationError as err:
        raise _invalid("query", err) from err


def _json_body(operation: Operation, body: bytes) -> Any:
    if operation.body is None:
        return None
    if not body.strip():
        raise ApiError(400, "the request body is empty; send a JSON object")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise ApiError(400, f"the request body is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object")
    try:
        return operation.body.model_validate(data)
    except ValidationError as err:
        raise _invalid("body", err) from err


def _invalid(where: str, err: ValidationError) -> ApiError:
    problems = [
        FieldError(
            field=".".join([where, *(str(part) for part in problem["loc"])]),
            message=problem["msg"],
        )
        for problem in err.errors(include_url=False, include_input=False)
    ]
    names = ", ".join(problem.field for problem in problems)
    return ApiError(422, f"invalid {where}: {names}", problems)


async def _read_body(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    too_large = ApiError(413, f"the request body is larger than {max_bytes} bytes")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _to_response(answer: Answer) -> Response:
    if answer.body is None:
        return Response(status_code=answer.status, headers=dict(answer.headers))
    return JSONResponse(
        answer.body.model_dump(mode="json"),
        status_code=answer.status,
        headers=dict(answer.headers),
    )
