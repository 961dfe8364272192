"""Shared HTTP plumbing for the HTTP-triggered functions: JSON responses and errors.

Every error response is ``{"code": "<stable_code>", "message": "<for humans>"}`` (plus
``details`` for validation errors). Services raise domain errors (``kanta.errors``); this
module answers each with its class's status in ``kanta.errors.CATALOGUE``
(``kanta.errors.STATUS_OF_CLASS``). Callers'
mistakes are 4xx; an unreachable database is 503 so clients retry; anything else is a logged
500 with no internals in the body. The request readers here (``parse_json``, ``parse_query``,
``route_int``, ``route_uuid``) are what ``kanta.endpoints`` hands a handler its arguments with.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import azure.functions as func
import psycopg
from pydantic import BaseModel, ValidationError

from kanta.errors import (
    STATUS_OF_CLASS,
    Failed,
    Invalid,
    KantaError,
    Malformed,
    TooLarge,
    TooManyRequests,
    Unauthorized,
    Unavailable,
    UnsupportedMediaType,
    not_found,
)
from kanta.validation import ERROR_TYPES, TIME_FORM, json_int

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)


def status_of(err: KantaError) -> int:
    """The HTTP status of ``err`` (its nearest class in ``STATUS_OF_CLASS``; 500 for an
    unmapped one)."""
    for cls in type(err).__mro__:
        if cls in STATUS_OF_CLASS:
            return STATUS_OF_CLASS[cls]
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


def file_response(body: bytes | str, media_type: str, headers: Mapping[str, str]) -> func.HttpResponse:
    """200 with a served file's ``body`` as ``media_type`` (text in UTF-8) and ``headers``, plus
    ``X-Content-Type-Options: nosniff``: browsers take it as the type sent, never one guessed
    from the bytes."""
    return func.HttpResponse(body, status_code=200, mimetype=media_type, charset="utf-8",
                             headers={"X-Content-Type-Options": "nosniff", **headers})


def headers_of(err: KantaError) -> dict[str, str]:
    """The headers an error's status calls for: ``WWW-Authenticate: Bearer`` with a 401 (RFC
    9110 §11.6.1 requires the challenge; Bearer, RFC 6750, is how guests authenticate) and
    ``Retry-After`` (seconds) with a 429 (RFC 6585 §4)."""
    if isinstance(err, Unauthorized):
        return {"WWW-Authenticate": "Bearer"}
    if isinstance(err, TooManyRequests):
        return {"Retry-After": str(err.retry_after_s)}
    return {}


def error_response(err: KantaError) -> func.HttpResponse:
    """The JSON error response of a domain error: ``{code, message, details?}`` with its
    status and headers (``headers_of``)."""
    body: dict[str, Any] = {"code": err.code, "message": err.message}
    if err.details is not None:
        body["details"] = err.details
    response = json_response(body, status_of(err))
    for name, value in headers_of(err).items():
        response.headers[name] = value
    return response


#: What each of pydantic's error types says, in Kanta's words: ``type -> (Kanta's type,
#: message)``; ``{…}`` names a value of the error's context. Kanta's own errors
#: (``kanta.validation.ERROR_TYPES``) keep theirs; any other type is ``invalid``.
_REWORDED: dict[str, tuple[str, str]] = {
    "missing": ("missing", "Required."),
    "extra_forbidden": ("unknown", "Not a {noun} of this request."),
    "int_type": ("not_an_integer", "Must be a whole number."),
    "int_parsing": ("not_an_integer", "Must be a whole number."),
    "int_parsing_size": ("not_an_integer", "Must be a whole number."),
    "int_from_float": ("not_an_integer", "Must be a whole number."),
    "float_type": ("not_a_number", "Must be a number."),
    "float_parsing": ("not_a_number", "Must be a number."),
    "finite_number": ("not_a_number", "Must be a finite number."),
    "bool_type": ("not_a_boolean", "Must be true or false."),
    "bool_parsing": ("not_a_boolean", "Must be true or false."),
    "string_type": ("not_a_string", "Must be a string."),
    "string_unicode": ("invalid_text", "Must be valid Unicode text (no unpaired surrogate)."),
    "string_too_short": ("too_short", "Must be at least {min_length} character(s) long."),
    "string_too_long": ("too_long", "Must be at most {max_length} characters long."),
    "string_pattern_mismatch": ("bad_format", "Does not have the expected form."),
    "too_short": ("too_few", "Must hold at least {min_length} item(s)."),
    "too_long": ("too_many", "Must hold at most {max_length} items."),
    "list_type": ("not_a_list", "Must be a list."),
    "model_type": ("not_an_object", "Must be a JSON object."),
    "model_attributes_type": ("not_an_object", "Must be a JSON object."),
    "dict_type": ("not_an_object", "Must be a JSON object."),
    "literal_error": ("not_allowed", "Must be one of {expected}."),
    "enum": ("not_allowed", "Must be one of {expected}."),
    "greater_than": ("too_small", "Must be greater than {gt}."),
    "greater_than_equal": ("too_small", "Must be at least {ge}."),
    "less_than": ("too_large", "Must be less than {lt}."),
    "less_than_equal": ("too_large", "Must be at most {le}."),
    "recursion_loop": ("too_deep", "Is nested too deeply."),
}
_INVALID = ("invalid", "Is not a valid value here.")


def _shown(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def validation_details(exc: ValidationError, noun: str = "field") -> list[dict[str, Any]]:
    """One ``{field, message, type}`` per problem of ``exc``, in Kanta's words: a validator's
    own error (``kanta.validation.invalid``) as it is, pydantic's reworded (``_REWORDED``), so
    no library's text reaches a client. ``noun`` is what the fields are ("parameter")."""
    details = []
    for error in exc.errors(include_url=False, include_input=False):
        if error["type"] in ERROR_TYPES:
            kind, message = error["type"], error["msg"]
        elif error["type"].startswith(("datetime_", "timezone_", "date_", "time_")):
            kind, message = "not_a_time", f"Must be {TIME_FORM}."
        else:
            kind, template = _REWORDED.get(error["type"], _INVALID)
            context = {k: _shown(v) for k, v in (error.get("ctx") or {}).items()}
            try:
                message = template.format(noun=noun, **context)
            except (KeyError, IndexError, ValueError):
                kind, message = _INVALID
        field = ".".join(str(part) for part in error["loc"]) or None
        details.append({"field": field, "message": message, "type": kind})
    return details


#: Largest JSON request body we parse, bytes (50 upload entries fit in a few KiB).
MAX_JSON_BYTES = 64 * 1024
#: Deepest nesting of objects and arrays in a JSON body. Kanta's deepest body, an upload
#: request (object → files list → file object), nests 3 levels.
MAX_JSON_DEPTH = 8
#: The media type of JSON bodies (RFC 8259), and the charsets it may name. Requiring it keeps
#: form posts and text/plain out, and makes a browser on another origin ask first (CORS
#: preflight): application/json is not one of the types a page may send without asking.
JSON_MEDIA_TYPE = "application/json"
_JSON_CHARSETS = {"utf-8", "utf8"}


def _require_json_type(req: func.HttpRequest) -> None:
    # A missing Content-Type is refused too: a browser sends none for a body without a type,
    # and such a request also skips the CORS preflight.
    media_type, *parameters = (req.headers.get("content-type") or "").split(";")
    if media_type.strip().lower() != JSON_MEDIA_TYPE:
        raise UnsupportedMediaType("unsupported_media_type",
                                   "This request takes a JSON body: send it with Content-Type: application/json.")
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in _JSON_CHARSETS:
            raise UnsupportedMediaType("unsupported_media_type",
                                       "JSON bodies must be UTF-8: send Content-Type: application/json; charset=utf-8.")


class _RepeatedName(ValueError):
    pass


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Python keeps the last of two equal names, other parsers the first: refuse the ambiguity.
    data = dict(pairs)
    if len(data) != len(pairs):
        raise _RepeatedName
    return data


def _no_constant(name: str) -> Any:
    # NaN, Infinity and -Infinity are Python's extensions, not JSON.
    raise ValueError(name)


def _depth(data: Any) -> int:
    """How deeply objects and arrays nest in ``data`` (a scalar: 0), counted up to one past
    ``MAX_JSON_DEPTH``; without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack and deepest <= MAX_JSON_DEPTH:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _load_json(raw: bytes) -> Any:
    """The JSON value of a body, read strictly: UTF-8 only (no byte order mark, no UTF-16),
    RFC 8259 only (no NaN or Infinity), each name once per object, at most
    ``MAX_JSON_DEPTH`` deep, integers of over 20 digits read as out of range
    (``kanta.validation.json_int``). ``Malformed`` ``malformed_json`` otherwise."""
    if not raw:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("malformed_json", "The request body is not UTF-8 text; JSON must be sent as UTF-8.") from None
    try:
        data = json.loads(text, parse_int=json_int, parse_constant=_no_constant, object_pairs_hook=_object)
    except _RepeatedName:
        raise Malformed("malformed_json", "An object in the request body names the same field twice.") from None
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
        raise Malformed("malformed_json", "The request body is not valid JSON.") from None
    if _depth(data) > MAX_JSON_DEPTH:
        raise Malformed("malformed_json",
                        f"The request body nests objects and arrays more than {MAX_JSON_DEPTH} levels deep.")
    return data


def parse_json(req: func.HttpRequest, model: type[M], *, max_bytes: int = MAX_JSON_BYTES) -> M:
    """Parse the request body as JSON into ``model`` (which should forbid unknown fields).

    Raises ``UnsupportedMediaType`` ``unsupported_media_type`` unless the Content-Type is
    ``application/json`` (``charset``, if given, UTF-8), ``TooLarge`` ``payload_too_large``
    over ``max_bytes``, ``Malformed`` ``malformed_json`` for a body that is not strict UTF-8
    JSON (``_load_json``), and ``Invalid`` ``validation_error`` (with per-field ``details``,
    ``validation_details``) for JSON of the wrong shape. An empty body is ``null``.
    """
    _require_json_type(req)
    raw = req.get_body()
    if len(raw) > max_bytes:
        raise TooLarge("payload_too_large", f"The request body is over {max_bytes} bytes.")
    data = _load_json(raw)
    if not isinstance(data, dict):
        raise Invalid("validation_error", "The request body must be a JSON object.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Invalid("validation_error", "The request body is invalid; see details.",
                      validation_details(exc)) from None


#: The query parameter that carries a function key (``?code=``): the Functions host checks it
#: and passes it on with the others, so it is never one of a route's own parameters.
FUNCTION_KEY_PARAMETER = "code"


def parse_query(req: func.HttpRequest, model: type[M]) -> M:
    """Parse the query string into ``model``; ``Invalid`` ``validation_error`` on bad values or
    unknown names (``FUNCTION_KEY_PARAMETER`` aside), with per-parameter ``details``."""
    params = {name: value for name, value in req.params.items() if name != FUNCTION_KEY_PARAMETER}
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        raise Invalid("validation_error", "The query parameters are invalid; see details.",
                      validation_details(exc, "parameter")) from None


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

    A domain error (``kanta.errors``) → its status (``status_of``); ``psycopg.OperationalError``
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
