"""Kanta's OpenAPI 3.1 document, built from the endpoints Kanta declares (``kanta.endpoints``).

``build_document()`` reads every declared ``Endpoint`` (``kanta.endpoints.registered()``):

- paths: the route under the ``/api`` prefix (``servers``), ``{name}`` and ``{name:int}``
  parameters typed as the handler annotates them, one operation per endpoint, its
  ``operationId`` the function name, its description the handler's docstring;
- schemas: every pydantic model an endpoint names (query, body, responses), in one
  ``pydantic.json_schema.models_json_schema`` call (requests in validation mode, responses
  in serialization mode) whose ``$defs`` become ``components.schemas``; a query model's
  fields become query parameters;
- errors: one response per status with the shared ``Error`` schema ``{code, message,
  details?}``, its ``code`` an enum of the codes the endpoint lists, plus those every such
  endpoint may answer (``implicit_errors``); each code's status and meaning come from
  ``kanta.errors.CATALOGUE``;
- security: from the endpoint's auth (function key, master key, none, or the guest link's
  bearer token).

Two endpoints on one path and method raise ``ValueError`` naming the second.
"""

from __future__ import annotations

import hashlib
import http
import json
import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from kanta.endpoints import IMAGE_BODY, TEMPLATE_PARAMETER, Endpoint, registered, route_parameters
from kanta.errors import CODES

__all__ = ["IMAGE_BODY", "build_document", "implicit_errors", "openapi_path", "route_parameters"]


# --- error codes ------------------------------------------------------------------------------


#: Response headers that come with a status (``kanta.http.headers_of``).
ERROR_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "`Bearer`: the guest link's token (RFC 6750).", "required": True,
                               "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "Seconds until it may be done again.", "required": True,
                          "schema": {"type": "integer", "minimum": 1}}},
}

#: Codes every JSON body may be refused with (``kanta.http.parse_json``).
JSON_BODY_ERRORS = ("malformed_json", "payload_too_large", "unsupported_media_type", "validation_error")


def implicit_errors(op: Endpoint, has_path_parameters: bool) -> tuple[str, ...]:
    """The codes endpoint ``op`` may answer with whatever it lists: its JSON body's and query's
    (``kanta.http.parse_json``, ``parse_query``), ``internal_error`` (``kanta.http.api``), and
    ``database_unavailable`` when it uses the database. A route with parameters also answers
    ``route_not_found`` for a value that is empty or holds a '/' (sent as %2F): the path then
    matches no route."""
    codes = ["internal_error"]
    if isinstance(op.body, type):
        codes += JSON_BODY_ERRORS
    if op.query is not None:
        codes.append("validation_error")
    if op.database:
        codes.append("database_unavailable")
    if has_path_parameters:
        codes.append("route_not_found")
    return tuple(codes)


#: The shared error body (``kanta.http.error_response``).
ERROR_SCHEMAS: dict[str, Any] = {
    "Error": {
        "title": "Error",
        "description": "Every error: a stable `code` for programs and a `message` for people, in Kanta's words; "
                       "`validation_error` adds `details`.",
        "type": "object",
        "properties": {
            "code": {"type": "string", "description": "Stable; see each response for the codes it may have."},
            "message": {"type": "string"},
            "details": {"type": "array", "items": {"$ref": "#/components/schemas/ValidationProblem"}},
        },
        "required": ["code", "message"],
        "additionalProperties": False,
    },
    "ValidationProblem": {
        "title": "ValidationProblem",
        "description": "One problem of a request: the field or parameter (`null`: the whole body), what is wrong, "
                       "and a stable `type` (`missing`, `unknown`, `not_an_integer`, `too_large`, `not_a_time`, ...).",
        "type": "object",
        "properties": {
            "field": {"type": ["string", "null"]},
            "message": {"type": "string"},
            "type": {"type": "string"},
        },
        "required": ["field", "message", "type"],
        "additionalProperties": False,
    },
}


# --- security ---------------------------------------------------------------------------------

SECURITY_SCHEMES: dict[str, Any] = {
    "functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key",
                    "description": "A function key of the Function App (or a host key). Not checked when Kanta "
                                   "runs locally."},
    "functionKeyQuery": {"type": "apiKey", "in": "query", "name": "code",
                         "description": "The same key as the query parameter `code`."},
    "masterKey": {"type": "apiKey", "in": "header", "name": "x-functions-key",
                  "description": "The Function App's master key (admin routes; also accepted as `?code=`)."},
    "guestToken": {"type": "http", "scheme": "bearer",
                   "description": "The token of the event's guest link: `Authorization: Bearer <token>`."},
}
#: The security schemes that satisfy each ``Auth`` (any one of them); a guest route needs
#: the guest token as well as what the host checks at its level (nothing).
_SCHEMES: dict[str, tuple[str, ...]] = {
    "anonymous": (),
    "function": ("functionKey", "functionKeyQuery"),
    "admin": ("masterKey",),
    "guest": (),
}


def _security(op: Endpoint) -> list[dict[str, list[str]]]:
    """The endpoint's security requirements: the host's keys for its auth level, each with the
    guest token for ``auth="guest"``; ``[]`` for none."""
    host = [{scheme: []} for scheme in _SCHEMES[op.auth]]
    if op.auth == "guest":
        return [{**requirement, "guestToken": []} for requirement in host] or [{"guestToken": []}]
    return host


# --- routes -----------------------------------------------------------------------------------

#: The host's route prefix (host.json ``extensions.http.routePrefix``).
ROUTE_PREFIX = "/api"
#: Schemas of the route constraints a parameter may have (ASP.NET Core's); a parameter with
#: none, or another, is a string.
_CONSTRAINTS: dict[str, dict[str, Any]] = {
    "int": {"type": "integer", "format": "int32"},
    "long": {"type": "integer", "format": "int64"},
    "bool": {"type": "boolean"},
    "guid": {"type": "string", "format": "uuid"},
}


def openapi_path(route: str) -> str:
    """The OpenAPI path of an Azure route template, relative to ``ROUTE_PREFIX``:
    ``events/{code}`` → ``/events/{code}``, ``faces/{id:int}`` → ``/faces/{id}``."""
    return "/" + TEMPLATE_PARAMETER.sub(lambda m: "{" + m.group(1) + "}", route)


# --- schemas ----------------------------------------------------------------------------------

REF = "#/components/schemas/{model}"


def _allows_null(schema: dict[str, Any]) -> bool:
    kinds = schema.get("type")
    return (kinds == "null" or (isinstance(kinds, list) and "null" in kinds)
            or any(_allows_null(branch) for branch in [*schema.get("anyOf", ()), *schema.get("oneOf", ())]))


class _SchemaGenerator(GenerateJsonSchema):
    """pydantic's JSON schemas, except that a field's default of ``None`` is left out when the
    field itself can never be null (a PATCH body's "absent: unchanged"): it is no value of
    the field, and a validator of the document refuses it as its default."""

    def default_schema(self, schema: Any) -> dict[str, Any]:
        json_schema = super().default_schema(schema)
        if json_schema.get("default", ...) is None and "type" in json_schema and not _allows_null(json_schema):
            del json_schema["default"]
        return json_schema


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _media_schema(media_type: str) -> dict[str, Any]:
    if media_type == "application/json":
        return {"type": "object"}
    if media_type.startswith("text/"):
        return {"type": "string"}
    return {"type": "string", "contentMediaType": media_type}


#: Media types of a photo in a request body: any, read from the bytes (``IMAGE_BODY``).
IMAGE_MEDIA_TYPES = ("application/octet-stream", "image/jpeg", "image/png", "image/webp")


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter's schema without the ``null`` of an optional field: absent is its
    ``None``; a query string cannot say null."""
    schema = {k: v for k, v in schema.items() if k not in ("title", "description")}
    branches = schema.get("anyOf")
    if branches and {"type": "null"} in branches:
        rest = [b for b in branches if b != {"type": "null"}]
        schema.pop("anyOf")
        schema.update(rest[0] if len(rest) == 1 else {"anyOf": rest})
        if schema.get("default", ...) is None:
            schema.pop("default")
    return schema


def _component_schemas(endpoints: Iterable[Endpoint]) -> tuple[dict[str, Any], dict[tuple[type, str], Any]]:
    """``(components.schemas, {(model, mode): its schema or $ref})`` for every model the
    endpoints name: requests in validation mode, responses in serialization mode."""
    wanted: dict[tuple[type, str], None] = {}
    for op in endpoints:
        for model in (op.query, op.body):
            if _is_model(model):
                wanted[(model, "validation")] = None
        for body in op.responses.values():
            if _is_model(body):
                wanted[(body, "serialization")] = None
    refs, top = models_json_schema(list(wanted), ref_template=REF, schema_generator=_SchemaGenerator)
    return dict(top.get("$defs", {})), refs


def _type_schema(annotation: Any, schemas: dict[str, Any]) -> dict[str, Any]:
    """The JSON schema of a type (a route parameter's), its definitions added to ``schemas``."""
    schema = TypeAdapter(annotation).json_schema(ref_template=REF, schema_generator=_SchemaGenerator)
    schemas.update(schema.pop("$defs", {}))
    return schema


def _resolve(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref", "")
    return schemas[ref.rsplit("/", 1)[-1]] if ref.startswith("#/components/schemas/") else schema


def _parameters(op: Endpoint, schemas: dict[str, Any], refs: dict[tuple[type, str], Any]) -> list[dict[str, Any]]:
    parameters = []
    for name, constraint in route_parameters(op.route):
        if op.path[name] is not str:
            schema = _type_schema(op.path[name], schemas)
        else:
            schema = dict(_CONSTRAINTS.get(constraint or "", {"type": "string"}))
        parameter = {"name": name, "in": "path", "required": True, "schema": _without_null(schema)}
        if schema.get("description"):
            parameter["description"] = schema["description"]
        parameters.append(parameter)
    if op.query is not None:
        model = _resolve(refs[(op.query, "validation")], schemas)
        required = set(model.get("required", ()))
        for name, schema in model.get("properties", {}).items():
            parameter = {"name": name, "in": "query", "required": name in required, "schema": _without_null(schema)}
            if schema.get("description"):
                parameter["description"] = schema["description"]
            parameters.append(parameter)
    return parameters


def _request_body(op: Endpoint, refs: dict[tuple[type, str], Any]) -> dict[str, Any] | None:
    if op.body is None:
        return None
    if op.body == IMAGE_BODY:
        return {"required": True,
                "description": "The photo's bytes, JPEG, PNG or WebP. Any Content-Type: the format is read from the "
                               "bytes.",
                "content": {media: {"schema": {"type": "string", "format": "binary"}} for media in IMAGE_MEDIA_TYPES}}
    return {"required": True, "content": {"application/json": {"schema": refs[(op.body, "validation")]}}}


def _error_statuses(codes: Iterable[str]) -> dict[int, list[str]]:
    """Status → the ``codes`` of that status (``kanta.errors.CODES``), each once, in order."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        if code not in by_status.setdefault(CODES[code].status, []):
            by_status[CODES[code].status].append(code)
    return dict(sorted(by_status.items()))


def _error_response(status: int, codes: list[str]) -> dict[str, Any]:
    lines = [f"- `{code}`: {CODES[code].description}" for code in codes]
    response: dict[str, Any] = {
        "description": f"{http.HTTPStatus(status).phrase}.\n\n" + "\n".join(lines),
        "content": {"application/json": {"schema": {
            "allOf": [{"$ref": "#/components/schemas/Error"}],
            "properties": {"code": {"enum": codes}},
        }}},
    }
    if status in ERROR_HEADERS:
        response["headers"] = ERROR_HEADERS[status]
    return response


def _success_response(status: int, body: Any, refs: dict[tuple[type, str], Any]) -> dict[str, Any]:
    phrase = http.HTTPStatus(status).phrase
    if body is None:
        return {"description": phrase}
    if _is_model(body):
        return {"description": f"{phrase}: {body.__name__}.",
                "content": {"application/json": {"schema": refs[(body, "serialization")]}}}
    media_types = (body,) if isinstance(body, str) else tuple(body)
    return {"description": phrase, "content": {media: {"schema": _media_schema(media)} for media in media_types}}


def _operation(op: Endpoint, schemas: dict[str, Any], refs: dict[tuple[type, str], Any]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "operationId": op.name,
        "summary": op.summary,
        "description": op.description,
        "tags": [op.tag],
        "security": _security(op),
    }
    parameters = _parameters(op, schemas, refs)
    if parameters:
        result["parameters"] = parameters
    body = _request_body(op, refs)
    if body is not None:
        result["requestBody"] = body
    responses = {str(status): _success_response(status, model, refs) for status, model in op.responses.items()}
    errors = _error_statuses([*op.errors, *implicit_errors(op, bool(route_parameters(op.route)))])
    responses |= {str(status): _error_response(status, codes) for status, codes in errors.items()}
    result["responses"] = dict(sorted(responses.items()))
    return result


def _referenced(document: Any) -> set[str]:
    text = json.dumps(document)
    return set(re.findall(r'"#/components/schemas/([^"]+)"', text))


DESCRIPTION = """Face indexing for event photos: guests upload photos to Blob Storage, Kanta finds every face,
groups faces into people, and finds a guest's photos from a selfie.

Bodies are JSON (`Content-Type: application/json`, UTF-8) unless an operation says otherwise. Every
error is `{code, message}` (`validation_error` adds `details`); each response lists the codes it
may have. Routes take the Function App's function key (`x-functions-key` header or `?code=`),
except the anonymous ones, the guest routes (the guest link's bearer token) and the admin ones
(the master key). Kanta run locally checks no function key."""


#: The tags (domains) in the order the reference page shows them; a tag not listed comes after.
TAGS = ("system", "events", "images", "clusters", "search", "guests", "privacy", "web")


def build_document(endpoints: Iterable[Endpoint] | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document (a JSON-ready dict) of ``endpoints`` (default: every declared
    one, ``kanta.endpoints.registered()``); see the module's docstring for what comes from
    where. ``info.version`` is a digest of the rest of the document: it changes exactly when
    the API described does.

    Raises ``ValueError`` naming an endpoint whose path and method another one has.
    """
    endpoints = list(registered() if endpoints is None else endpoints)
    schemas, refs = _component_schemas(endpoints)
    schemas |= ERROR_SCHEMAS
    paths: dict[str, dict[str, Any]] = {}
    tags = dict.fromkeys(TAGS)
    for op in endpoints:
        tags[op.tag] = None
        path, method = openapi_path(op.route), op.method.lower()
        if method in paths.setdefault(path, {}):
            raise ValueError(f"{op.name}: {op.method} {path} is another function's as well")
        paths[path][method] = _operation(op, schemas, refs)
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "Kanta", "version": "", "description": DESCRIPTION},
        "servers": [{"url": ROUTE_PREFIX, "description": "This Function App"}],
        "tags": [{"name": tag} for tag in tags if any(op.tag == tag for op in endpoints)],
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": {}, "securitySchemes": SECURITY_SCHEMES},
    }
    # A query model's fields are parameters: its own schema stays only if something refers to it.
    queries = {refs[(op.query, "validation")]["$ref"].rsplit("/", 1)[-1] for op in endpoints if op.query is not None}
    used = _referenced({"paths": document["paths"], "schemas": {k: v for k, v in schemas.items() if k not in queries}})
    document["components"]["schemas"] = {k: v for k, v in sorted(schemas.items()) if k not in queries or k in used}
    digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
    document["info"]["version"] = digest[:12]
    return document
