"""Shared HTTP plumbing for the HTTP-triggered functions: JSON responses and errors.

Every error response is ``{"code": "<stable_code>", "message": "<for humans>"}`` (plus
``details`` for validation errors). Callers' mistakes are 4xx; an unreachable database is
503 so clients retry; anything else is a logged 500 with no internals in the body.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import azure.functions as func
import psycopg
from pydantic import BaseModel, ValidationError

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)


class ApiError(Exception):
    """An error to return to the caller as JSON with a stable ``code``."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def not_found(kind: str, key: object) -> ApiError:
    """404 for an unknown resource, e.g. ``not_found("event", "wedding-2026")``."""
    return ApiError(404, f"{kind}_not_found", f"No {kind} {key!s}.")


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


def error_response(err: ApiError) -> func.HttpResponse:
    body: dict[str, Any] = {"code": err.code, "message": err.message}
    if err.details is not None:
        body["details"] = err.details
    return json_response(body, err.status)


def _validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or None, "message": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_input=False)
    ]


#: Largest JSON request body we parse, bytes (50 upload entries fit in a few KiB).
MAX_JSON_BYTES = 64 * 1024


def parse_json(req: func.HttpRequest, model: type[M], *, max_bytes: int = MAX_JSON_BYTES) -> M:
    """Parse the request body as JSON into ``model`` (which should forbid unknown fields).

    Raises ``ApiError`` 413 ``payload_too_large`` over ``max_bytes``, 400 ``malformed_json``
    for a body that is not JSON, and 422 ``validation_error`` (with per-field ``details``)
    for JSON of the wrong shape.
    """
    raw = req.get_body()
    if len(raw) > max_bytes:
        raise ApiError(413, "payload_too_large", f"The request body is over {max_bytes} bytes.")
    try:
        data = json.loads(raw or b"null")
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        raise ApiError(400, "malformed_json", f"The request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(422, "validation_error", "The request body must be a JSON object.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, "validation_error", "The request body is invalid.", _validation_details(exc)) from None


def parse_query(req: func.HttpRequest, model: type[M]) -> M:
    """Parse the query string into ``model``; 422 ``validation_error`` on bad values or unknown names."""
    try:
        return model.model_validate(dict(req.params))
    except ValidationError as exc:
        raise ApiError(422, "validation_error", "The query parameters are invalid.", _validation_details(exc)) from None


Handler = Callable[[func.HttpRequest], func.HttpResponse]


def api(handler: Handler) -> Handler:
    """Decorate an HTTP function so every failure becomes a JSON error response.

    ``ApiError`` → its status; ``psycopg.OperationalError`` (database unreachable, pool
    timeout) → 503 ``database_unavailable``; anything else → logged 500 ``internal_error``.
    """

    @functools.wraps(handler)
    def wrapper(req: func.HttpRequest) -> func.HttpResponse:
        try:
            return handler(req)
        except ApiError as err:
            return error_response(err)
        except psycopg.OperationalError:
            log.exception("database unavailable in %s", handler.__name__)
            return error_response(
                ApiError(503, "database_unavailable", "The database is unreachable; try again shortly.")
            )
        except Exception:
            log.exception("unhandled error in %s", handler.__name__)
            return error_response(ApiError(500, "internal_error", "Something went wrong on our side."))

    return wrapper
