"""Shared HTTP plumbing for the HTTP-triggered functions: JSON responses and errors.

Every error response is ``{"code": "<stable_code>", "message": "<for humans>"}`` (plus
``details`` for validation errors). Services raise domain errors (``kanta.errors``) and this
module alone maps them to status codes (``STATUS``). Callers' mistakes are 4xx; an
unreachable database is 503 so clients retry; anything else is a logged 500 with no
internals in the body.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import azure.functions as func
import psycopg
from pydantic import BaseModel, ValidationError

from kanta.errors import (
    Conflict,
    Failed,
    Invalid,
    KantaError,
    Malformed,
    NotFound,
    TooLarge,
    Unavailable,
    UnsupportedMediaType,
    not_found,
)

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)


#: HTTP status of each domain error (``kanta.errors``): the only place that knows.
STATUS: dict[type[KantaError], int] = {
    Malformed: 400,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    UnsupportedMediaType: 415,
    Invalid: 422,
    Failed: 500,
    Unavailable: 503,
}


def status_of(err: KantaError) -> int:
    """The HTTP status of ``err`` (its nearest class in ``STATUS``; 500 for an unmapped one)."""
    for cls in type(err).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def json_response(body: Any, status: int = 200) -> func.HttpResponse:
    """Serialise ``body`` (a pydantic model or plain JSON data) as an ``application/json`` response."""
    if isinstance(body, BaseModel):
        text = body.model_dump_json()
    else:
        text = json.dumps(body, default=str)
    return func.HttpResponse(text, status_code=status, mimetype="application/json")


def no_content() -> func.HttpResponse:
    """204 with an empty body."""
    return func.HttpResponse(status_code=204)


def error_response(err: KantaError) -> func.HttpResponse:
    """The JSON error response of a domain error: ``{code, message, details?}`` with its status."""
    body: dict[str, Any] = {"code": err.code, "message": err.message}
    if err.details is not None:
        body["details"] = err.details
    return json_response(body, status_of(err))


def _validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or None, "message": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_input=False)
    ]


#: Largest JSON request body we parse, bytes (50 upload entries fit in a few KiB).
MAX_JSON_BYTES = 64 * 1024


def parse_json(req: func.HttpRequest, model: type[M], *, max_bytes: int = MAX_JSON_BYTES) -> M:
    """Parse the request body as JSON into ``model`` (which should forbid unknown fields).

    Raises ``TooLarge`` ``payload_too_large`` over ``max_bytes``, ``Malformed``
    ``malformed_json`` for a body that is not JSON, and ``Invalid`` ``validation_error`` (with
    per-field ``details``) for JSON of the wrong shape.
    """
    raw = req.get_body()
    if len(raw) > max_bytes:
        raise TooLarge("payload_too_large", f"The request body is over {max_bytes} bytes.")
    try:
        data = json.loads(raw or b"null")
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        raise Malformed("malformed_json", "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise Invalid("validation_error", "The request body must be a JSON object.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Invalid("validation_error", "The request body is invalid.", _validation_details(exc)) from None


def parse_query(req: func.HttpRequest, model: type[M]) -> M:
    """Parse the query string into ``model``; ``Invalid`` ``validation_error`` on bad values or unknown names."""
    try:
        return model.model_validate(dict(req.params))
    except ValidationError as exc:
        raise Invalid("validation_error", "The query parameters are invalid.", _validation_details(exc)) from None


#: A numeric id in a route: ASCII digits only (``int()`` would also take " 1" or "١"), and
#: small enough for a PostgreSQL bigint.
_ROUTE_INT = re.compile(r"[0-9]{1,18}")
#: A UUID in a route: its canonical 8-4-4-4-12 hex form only (``uuid.UUID()`` also takes
#: braces, "urn:uuid:" and the form without hyphens).
_ROUTE_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def route_int(req: func.HttpRequest, name: str, kind: str) -> int:
    """Route parameter ``name`` as an id of a ``kind`` (e.g. "face"); ``NotFound``
    ``{kind}_not_found`` for anything but ASCII digits: no such thing can exist."""
    raw = req.route_params.get(name, "")
    if not _ROUTE_INT.fullmatch(raw):
        raise not_found(kind, raw)
    return int(raw)


def route_uuid(req: func.HttpRequest, name: str, kind: str) -> uuid.UUID:
    """Route parameter ``name`` as the UUID of a ``kind``; ``NotFound`` ``{kind}_not_found``
    for anything but the canonical form."""
    raw = req.route_params.get(name, "")
    if not _ROUTE_UUID.fullmatch(raw):
        raise not_found(kind, raw)
    return uuid.UUID(raw)


Handler = Callable[[func.HttpRequest], func.HttpResponse]
#: What a caller gets when the database cannot be reached.
DATABASE_UNAVAILABLE = Unavailable("database_unavailable", "The database is unreachable; try again shortly.")


def api(handler: Handler) -> Handler:
    """Decorate an HTTP function so every failure becomes a JSON error response.

    A domain error (``kanta.errors``) → its status (``STATUS``); ``psycopg.OperationalError``
    (database unreachable, pool timeout) → 503 ``database_unavailable``, logged on one line;
    anything else → logged 500 ``internal_error`` with no internals in the body.
    """

    @functools.wraps(handler)
    def wrapper(req: func.HttpRequest) -> func.HttpResponse:
        try:
            return handler(req)
        except KantaError as err:
            return error_response(err)
        except psycopg.OperationalError as exc:
            # One line: an outage makes every request fail the same way.
            log.warning("database unavailable in %s: %s", handler.__name__, type(exc).__name__)
            return error_response(DATABASE_UNAVAILABLE)
        except Exception:
            log.exception("unhandled error in %s", handler.__name__)
            return error_response(Failed("internal_error", "Something went wrong on our side."))

    return wrapper
