"""Kanta's OpenAPI 3.1 document, built from the app itself.

Every HTTP function is decorated with ``operation(...)`` between its route and ``api``::

    @bp.function_name("create_event")
    @bp.route(route="events", methods=["POST"])
    @operation(summary="Create an event", tag="events", body=EventCreate,
               responses={201: Event}, errors=("event_exists",))
    @api
    def create_event(req): ...

The decorator only records an ``Operation`` on the function. ``build_document(app)`` reads
every HTTP function the app registers, as the Functions host indexes it (route template,
methods, auth level), and the ``Operation`` recorded on it:

- paths: the route under the ``/api`` prefix (``servers``), ``{name}`` and ``{name:int}``
  parameters (``Operation.path`` may give a parameter a type), one operation per method,
  its ``operationId`` the function name, its description the function's docstring;
- schemas: every pydantic model an operation names (query, body, responses), in one
  ``pydantic.json_schema.models_json_schema`` call (requests in validation mode, responses
  in serialization mode) whose ``$defs`` become ``components.schemas``; a query model's
  fields become query parameters;
- errors: one response per status with the shared ``Error`` schema ``{code, message,
  details?}``, its ``code`` an enum of the codes the operation lists (``ERRORS`` gives each
  code's status), plus those every such operation may answer (``implicit_errors``);
- security: from the binding's auth level (function key, master key, or none) and, for
  ``auth="guest"``, the guest link's bearer token.

A mistake in what a function documents (no ``Operation``, an auth that contradicts its
binding, an error code with no status, a parameter not in the route) raises ``ValueError``
naming the function, so the tests of the document catch it.
"""

from __future__ import annotations

import hashlib
import http
import inspect
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import azure.functions as func
from pydantic import BaseModel, Field, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, models_json_schema

#: How a caller is authorised: the host's function key, none, a guest link's token
#: (``Authorization: Bearer <token>``), or the host's master key.
Auth = Literal["function", "anonymous", "guest", "admin"]
#: A body that is not JSON: the bytes of a photo (search, forget-my-face).
IMAGE_BODY = "image"

#: Attribute of a decorated function that holds its ``Operation``.
ATTRIBUTE = "__kanta_operation__"

#: A numeric id in a route as ``kanta.http.route_int`` reads it: 1 to 18 ASCII digits (it
#: fits a PostgreSQL bigint); anything else is a 404. For ``Operation.path``.
RouteInt = Annotated[int, Field(ge=0, le=10**18 - 1)]

#: A response that is not a pydantic model: a media type, or several.
MediaTypes = str | tuple[str, ...]


@dataclass(frozen=True)
class Operation:
    """One HTTP function as documented: ``summary``; ``tag`` (its domain); ``auth``;
    ``query`` and ``body``, the pydantic models it parses (``body`` may be ``IMAGE_BODY``);
    ``responses``, status → pydantic model (``None``: no body; a media type or a tuple of
    them: a body that is not a model, such as a page); ``errors``, the stable ``code``
    values it may answer with (their statuses from ``ERRORS``; or a mapping status → codes
    for codes ``ERRORS`` does not know).

    Optional: ``path``, route parameter name → a type pydantic can describe
    (``EventCode``, ``uuid.UUID``, ``RouteInt``), for parameters that are not plain strings;
    ``description``, instead of the function's docstring; ``database``, whether it may
    answer 503 ``database_unavailable`` (any function that uses the database may)."""

    summary: str
    tag: str
    auth: Auth = "function"
    query: type | None = None
    body: type | str | None = None
    responses: Mapping[int, type | MediaTypes | None] = field(default_factory=lambda: {200: None})
    errors: Sequence[str] | Mapping[int, Sequence[str]] = ()
    path: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None
    database: bool = True


def operation(**fields: Any) -> Callable[[Callable], Callable]:
    """Record an ``Operation`` (its fields as keyword arguments) on the decorated HTTP function
    and return the function unchanged."""
    op = Operation(**fields)

    def record(function: Callable) -> Callable:
        setattr(function, ATTRIBUTE, op)
        return function

    return record


def operation_of(function: Callable) -> Operation | None:
    """The ``Operation`` recorded on ``function``, or ``None``."""
    return getattr(function, ATTRIBUTE, None)


# --- error codes ------------------------------------------------------------------------------

#: Every stable error code: its HTTP status (``kanta.http.STATUS`` of the error class that
#: raises it; tests check each against the source) and what it means, for the document.
ERRORS: dict[str, tuple[int, str]] = {
    "malformed_json": (400, "The body is not strict UTF-8 JSON, or nests too deeply."),
    "guest_token_invalid": (401, "No guest token, or one that is unknown, expired or revoked."),
    "right_withheld": (403, "The guest link does not allow this."),
    "event_not_found": (404, "No event has this code."),
    "image_not_found": (404, "No photo has this id."),
    "cluster_not_found": (404, "The event has no person with this id."),
    "face_not_found": (404, "No face has this id."),
    "guest_link_not_found": (404, "The event has no guest link."),
    "file_not_found": (404, "The API reference has no file of this name."),
    "asset_not_found": (404, "The page (guest page or host console) has no file of this name."),
    "route_not_found": (404, ("No route matches the path (a parameter that is empty or holds a '/'). Kanta's "
                             "local host answers so; the Functions host answers 404 with no body.")),
    "event_exists": (409, "An event already has this code."),
    "image_not_uploaded": (409, "The photo is not in storage (yet): there is nothing to index."),
    "image_changed": (409, "The photo was replaced or removed while it was read; try again."),
    "migration_changed": (409, "A migration file that was applied has been edited since."),
    "face_search_off": (409, "The event's host turned selfie search off."),
    "retention_over": (409, "The event's retention period has ended: its face data is deleted."),
    "payload_too_large": (413, "The body is over this route's limit."),
    "unsupported_media_type": (415, "The body is not sent as application/json (UTF-8)."),
    "validation_error": (422, "A value is missing, unknown, of the wrong type or out of range: see `details`."),
    "same_cluster": (422, "A person cannot be merged into itself."),
    "face_excluded": (422, "The face is too small or too blurry to be part of a person."),
    "not_in_cluster": (422, "The face is in no person."),
    "invalid_image": (422, "The photo cannot be decoded, or is over the pixel limits."),
    "no_face": (422, "No face was found in the photo."),
    "face_unusable": (422, "Every face in the photo is too small or too blurry to search with."),
    "consent_required": (422, "The guest has not accepted the event's consent text."),
    "confirmation_required": (422, "Forgetting a face must be confirmed."),
    "too_many_requests": (429, "Done too often; `Retry-After` says when it may be done again."),
    "internal_error": (500, "Something went wrong on Kanta's side (logged)."),
    "migration_failed": (500, "A migration statement failed (rolled back); the message has the database's reason."),
    "database_unavailable": (503, "The database is unreachable; try again shortly."),
    "people_busy": (503, "The event's people are being sorted again; try in a minute."),
    "faces_busy": (503, "The event's photos are being indexed; try again in a minute."),
    "storage_unavailable": (503, "Photo storage is unreachable; nothing was erased; try again shortly."),
}

#: Response headers that come with a status (``kanta.http.headers_of``).
ERROR_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "`Bearer`: the guest link's token (RFC 6750).", "required": True,
                               "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "Seconds until it may be done again.", "required": True,
                          "schema": {"type": "integer", "minimum": 1}}},
}

#: Codes every JSON body may be refused with (``kanta.http.parse_json``).
JSON_BODY_ERRORS = ("malformed_json", "payload_too_large", "unsupported_media_type", "validation_error")


def implicit_errors(op: Operation, has_path_parameters: bool) -> tuple[str, ...]:
    """The codes ``op`` may answer with whatever it lists: its JSON body's and query's
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
#: The security schemes that satisfy each auth level the host checks (any one of them).
_HOST_SCHEMES: dict[func.AuthLevel, tuple[str, ...]] = {
    func.AuthLevel.ANONYMOUS: (),
    func.AuthLevel.FUNCTION: ("functionKey", "functionKeyQuery"),
    func.AuthLevel.ADMIN: ("masterKey",),
}
#: The binding's auth level each ``Auth`` but "guest" means.
_AUTH_LEVEL: dict[str, func.AuthLevel] = {
    "anonymous": func.AuthLevel.ANONYMOUS,
    "function": func.AuthLevel.FUNCTION,
    "admin": func.AuthLevel.ADMIN,
}


def _security(name: str, op: Operation, level: func.AuthLevel) -> list[dict[str, list[str]]]:
    """The operation's security requirements: the host's keys for the binding's auth level,
    each with the guest token for ``auth="guest"``; ``[]`` for none."""
    if op.auth != "guest" and _AUTH_LEVEL[op.auth] != level:
        raise ValueError(f"{name}: documented auth {op.auth!r}, but its binding's auth level is {level.name}")
    host = [{scheme: []} for scheme in _HOST_SCHEMES[level]]
    if op.auth == "guest":
        return [{**requirement, "guestToken": []} for requirement in host] or [{"guestToken": []}]
    return host


# --- routes -----------------------------------------------------------------------------------

#: The host's route prefix (host.json ``extensions.http.routePrefix``).
ROUTE_PREFIX = "/api"
#: A parameter of an Azure route template: ``{name}``, ``{name:int}``, ``{name?}``, ``{*name}``.
_TEMPLATE_PARAMETER = re.compile(r"\{\*?(\w+)(?::([^{}?]*))?\??\}")
#: Schemas of the route constraints a parameter may have (ASP.NET Core's); a parameter with
#: none, or another, is a string.
_CONSTRAINTS: dict[str, dict[str, Any]] = {
    "int": {"type": "integer", "format": "int32"},
    "long": {"type": "integer", "format": "int64"},
    "bool": {"type": "boolean"},
    "guid": {"type": "string", "format": "uuid"},
}


def route_parameters(route: str) -> list[tuple[str, str | None]]:
    """``(name, constraint)`` of each parameter of an Azure route template, in order."""
    return [(m.group(1), m.group(2)) for m in _TEMPLATE_PARAMETER.finditer(route)]


def openapi_path(route: str) -> str:
    """The OpenAPI path of an Azure route template, relative to ``ROUTE_PREFIX``:
    ``events/{code}`` → ``/events/{code}``, ``faces/{id:int}`` → ``/faces/{id}``."""
    return "/" + _TEMPLATE_PARAMETER.sub(lambda m: "{" + m.group(1) + "}", route)


def http_functions(app: func.FunctionApp) -> list[Any]:
    """The HTTP functions ``app`` registers, as the host indexes them (``azure.functions``
    ``Function`` objects: trigger, name, user function).

    Built from the app's function builders, not ``app.get_functions()``: azure-functions
    1.26 raises "does not have a unique function name" on a second call of that, and in Azure
    the Python worker made the first one when it indexed the app. ``build`` is idempotent."""
    functions = [builder.build(app.auth_level) for builder in app._function_builders]
    return [fn for fn in functions if fn.is_http_function()]


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


@dataclass
class _Entry:
    name: str
    path: str
    methods: list[str]
    level: func.AuthLevel
    parameters: list[tuple[str, str | None]]
    op: Operation
    description: str


def _entries(app: func.FunctionApp) -> list[_Entry]:
    entries = []
    for fn in http_functions(app):
        name = fn.get_function_name()
        trigger = fn.get_trigger()
        function = fn.get_user_function()
        op = operation_of(function)
        if op is None:
            raise ValueError(f"{name}: an HTTP function without @operation(...) (kanta.openapi)")
        if not trigger.methods:
            raise ValueError(f"{name}: list its methods in @route(methods=[...])")
        route = trigger.route or name
        parameters = route_parameters(route)
        unknown = set(op.path) - {p for p, _ in parameters}
        if unknown:
            raise ValueError(f"{name}: Operation.path names {sorted(unknown)}, not parameters of route {route!r}")
        if op.body is not None and op.body != IMAGE_BODY and not _is_model(op.body):
            raise ValueError(f"{name}: Operation.body must be a pydantic model or IMAGE_BODY")
        methods = [str(getattr(m, "value", m)).lower() for m in trigger.methods]
        description = op.description or inspect.getdoc(inspect.unwrap(function)) or op.summary
        entries.append(_Entry(name, openapi_path(route), methods, trigger.auth_level, parameters, op, description))
    return entries


def _component_schemas(entries: Iterable[_Entry]) -> tuple[dict[str, Any], dict[tuple[type, str], Any]]:
    """``(components.schemas, {(model, mode): its schema or $ref})`` for every model the
    operations name: requests in validation mode, responses in serialization mode."""
    wanted: dict[tuple[type, str], None] = {}
    for entry in entries:
        for model in (entry.op.query, entry.op.body):
            if _is_model(model):
                wanted[(model, "validation")] = None
        for body in entry.op.responses.values():
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


def _parameters(entry: _Entry, schemas: dict[str, Any], refs: dict[tuple[type, str], Any]) -> list[dict[str, Any]]:
    parameters = []
    for name, constraint in entry.parameters:
        if name in entry.op.path:
            schema = _type_schema(entry.op.path[name], schemas)
        else:
            schema = dict(_CONSTRAINTS.get(constraint or "", {"type": "string"}))
        parameter = {"name": name, "in": "path", "required": True, "schema": _without_null(schema)}
        if schema.get("description"):
            parameter["description"] = schema["description"]
        parameters.append(parameter)
    if entry.op.query is not None:
        model = _resolve(refs[(entry.op.query, "validation")], schemas)
        required = set(model.get("required", ()))
        for name, schema in model.get("properties", {}).items():
            parameter = {"name": name, "in": "query", "required": name in required, "schema": _without_null(schema)}
            if schema.get("description"):
                parameter["description"] = schema["description"]
            parameters.append(parameter)
    return parameters


def _request_body(op: Operation, refs: dict[tuple[type, str], Any]) -> dict[str, Any] | None:
    if op.body is None:
        return None
    if op.body == IMAGE_BODY:
        return {"required": True,
                "description": "The photo's bytes, JPEG, PNG or WebP. Any Content-Type: the format is read from the "
                               "bytes.",
                "content": {media: {"schema": {"type": "string", "format": "binary"}} for media in IMAGE_MEDIA_TYPES}}
    return {"required": True, "content": {"application/json": {"schema": refs[(op.body, "validation")]}}}


def _error_statuses(name: str, op: Operation, implicit: Iterable[str]) -> dict[int, list[str]]:
    """Status → the codes of that status ``op`` may answer with, each once, in order."""
    by_status: dict[int, list[str]] = {}

    def add(status: int, code: str) -> None:
        if code not in by_status.setdefault(status, []):
            by_status[status].append(code)

    if isinstance(op.errors, Mapping):
        for status, codes in op.errors.items():
            for code in codes:
                add(int(status), code)
    else:
        for code in op.errors:
            if code not in ERRORS:
                raise ValueError(f"{name}: error code {code!r} has no status: add it to kanta.openapi.ERRORS, "
                                 "or list it as errors={status: (code, ...)}")
            add(ERRORS[code][0], code)
    for code in implicit:
        add(ERRORS[code][0], code)
    return dict(sorted(by_status.items()))


def _error_response(status: int, codes: list[str]) -> dict[str, Any]:
    lines = [f"- `{code}`: {ERRORS[code][1]}" if code in ERRORS else f"- `{code}`" for code in codes]
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


def _operation(entry: _Entry, schemas: dict[str, Any], refs: dict[tuple[type, str], Any]) -> dict[str, Any]:
    op = entry.op
    result: dict[str, Any] = {
        "operationId": entry.name,
        "summary": op.summary,
        "description": entry.description,
        "tags": [op.tag],
        "security": _security(entry.name, op, entry.level),
    }
    parameters = _parameters(entry, schemas, refs)
    if parameters:
        result["parameters"] = parameters
    body = _request_body(op, refs)
    if body is not None:
        result["requestBody"] = body
    responses = {str(status): _success_response(status, model, refs) for status, model in op.responses.items()}
    errors = _error_statuses(entry.name, op, implicit_errors(op, bool(entry.parameters)))
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


def build_document(app: func.FunctionApp) -> dict[str, Any]:
    """The OpenAPI 3.1 document (a JSON-ready dict) of ``app``'s HTTP functions; see the
    module's docstring for what comes from where. ``info.version`` is a digest of the rest of
    the document: it changes exactly when the API described does.

    Raises ``ValueError`` naming the function when one documents itself wrongly.
    """
    entries = _entries(app)
    schemas, refs = _component_schemas(entries)
    schemas |= ERROR_SCHEMAS
    paths: dict[str, dict[str, Any]] = {}
    tags: dict[str, None] = {}
    for entry in entries:
        tags[entry.op.tag] = None
        for method in entry.methods:
            if method in paths.setdefault(entry.path, {}):
                raise ValueError(f"{entry.name}: {method.upper()} {entry.path} is another function's as well")
            paths[entry.path][method] = _operation(entry, schemas, refs)
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "Kanta", "version": "", "description": DESCRIPTION},
        "servers": [{"url": ROUTE_PREFIX, "description": "This Function App"}],
        "tags": [{"name": tag} for tag in tags],
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": {}, "securitySchemes": SECURITY_SCHEMES},
    }
    # A query model's fields are parameters: its own schema stays only if something refers to it.
    queries = {refs[(entry.op.query, "validation")]["$ref"].rsplit("/", 1)[-1]
               for entry in entries if entry.op.query is not None}
    used = _referenced({"paths": document["paths"], "schemas": {k: v for k, v in schemas.items() if k not in queries}})
    document["components"]["schemas"] = {k: v for k, v in sorted(schemas.items()) if k not in queries or k in used}
    digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
    document["info"]["version"] = digest[:12]
    return document
