"""The OpenAPI 3.1 document of the agent API, built from its operation table."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from parley import __version__
from parley.api.framework import IDEMPOTENCY_PATTERN, Operation
from parley.api.schemas import MAX_ID, ErrorOut

REF_TEMPLATE = "#/components/schemas/{model}"

# Errors every authenticated operation can return.
COMMON_ERRORS = {
    401: "Missing, invalid or revoked bearer token.",
    403: "The token's role may not call this operation.",
}


def openapi_document(operations: list[Operation]) -> dict[str, Any]:
    """Return the OpenAPI 3.1 document describing every operation."""
    schemas = _component_schemas(operations)
    paths: dict[str, dict[str, Any]] = {}
    for operation in operations:
        item = paths.setdefault(operation.path, {})
        item[operation.method.lower()] = _operation(operation, schemas)
    paths["/api/openapi.json"] = {
        "get": {
            "operationId": "openapi",
            "summary": "This OpenAPI document",
            "tags": ["meta"],
            "security": [],
            "responses": {
                "200": {
                    "description": "The OpenAPI 3.1 document.",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "parley agent API",
            "version": __version__,
            "description": "Read and answer customer conversations, leave internal "
            "notes, assign and close threads, and keep contact lists. Every "
            "request needs a bearer token from 'parley tokens create'; its role "
            "(agent, lead or manager) decides what it may do.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from 'parley tokens create': pk_ and "
                    "43 URL-safe base64 characters.",
                }
            },
        },
        "security": [{"bearer": []}],
    }


def _component_schemas(operations: list[Operation]) -> dict[str, Any]:
    models: set[type[BaseModel]] = {ErrorOut}
    for operation in operations:
        for model in (operation.body, operation.query):
            if model is not None:
                models.add(model)
        for model, _description in operation.responses.values():
            if model is not None:
                models.add(model)
    ordered = sorted(models, key=lambda model: model.__name__)
    mode = "validation"
    keyed, top = models_json_schema(
        [(model, mode) for model in ordered], ref_template=REF_TEMPLATE
    )
    del keyed
    return dict(top.get("$defs", {}))


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF_TEMPLATE.format(model=model.__name__)}


def _operation(operation: Operation, schemas: dict[str, Any]) -> dict[str, Any]:
    roles = ", ".join(sorted(role.value for role in operation.roles))
    document: dict[str, Any] = {
        "operationId": operation.operation_id,
        "summary": operation.summary,
        "description": f"Roles allowed: {roles}.",
        "tags": [operation.path.split("/")[2]],
        "security": [{"bearer": []}],
        "parameters": _parameters(operation),
        "responses": _responses(operation),
    }
    if operation.body is not None:
        document["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(operation.body)}},
        }
    return document


def _parameters(operation: Operation) -> list[dict[str, Any]]:
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        }
        for name in operation.path_parameters
    ]
    if operation.query is not None:
        schema = operation.query.model_json_schema(ref_template=REF_TEMPLATE)
        required = set(schema.get("required", []))
        for name, prop in schema["properties"].items():
            description = prop.pop("description", None)
            parameter: dict[str, Any] = {
                "name": name,
                "in": "query",
                "required": name in required,
                "schema": _without_null(prop),
            }
            if description:
                parameter["description"] = description
            parameters.append(parameter)
    for name, description in operation.headers.items():
        parameters.append(
            {
                "name": name,
                "in": "header",
                "required": False,
                "description": description,
                "schema": {"type": "string", "pattern": IDEMPOTENCY_PATTERN},
            }
        )
    return parameters


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop the null alternative of an optional value: a query parameter is left out instead."""
    schema = {key: value for key, value in schema.items() if key != "title"}
    if schema.get("default", "") is None:
        del schema["default"]
    options = schema.pop("anyOf", None)
    if options is None:
        return schema
    kept = [option for option in options if option.get("type") != "null"]
    if len(kept) == 1:
        return {**schema, **kept[0]}
    return {**schema, "anyOf": kept}


def _responses(operation: Operation) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, (model, description) in sorted(operation.responses.items()):
        response: dict[str, Any] = {"description": description}
        if model is not None:
            response["content"] = {"application/json": {"schema": _ref(model)}}
        responses[str(status)] = response

    errors = dict(COMMON_ERRORS)
    errors.update(operation.errors)
    if operation.path_parameters or operation.query or operation.body:
        errors[422] = "An invalid parameter or body field; fields names each one."
    if operation.body is not None:
        errors[400] = "The body is missing or is not a JSON object."
        errors[413] = "The body is larger than [server] max_body_bytes."
    for status, description in sorted(errors.items()):
        if str(status) in responses:
            continue
        response = {
            "description": description,
            "content": {"application/json": {"schema": _ref(ErrorOut)}},
        }
        if status == 401:
            response["headers"] = {
                "WWW-Authenticate": {
                    "description": "Bearer challenge.",
                    "schema": {"type": "string"},
                }
            }
        responses[str(status)] = response
    return responses
