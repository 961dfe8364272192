"""Kanta's HTTP endpoints: each declared once, with ``endpoint(...)`` on its handler.

::

    @endpoint(bp, "update_cluster", "PATCH", "events/{code}/clusters/{cluster_id}", summary="Name a person",
              tag="clusters", responses={200: Cluster}, errors=("event_not_found", "cluster_not_found"))
    def update_cluster(code: EventCode, cluster_id: ClusterId, body: ClusterUpdate) -> Cluster:
        \"\"\"Give a person a name, or take it away.\"\"\"
        return service.rename_cluster(code, cluster_id, body.name)

From that one declaration come:

- the Azure function: its name, route, method and auth level, registered on the blueprint
  (the host checks function keys per function, as for any other);
- error handling: ``kanta.http.api`` turns every failure into a JSON error response;
- the handler's arguments, read from the request and typed by its annotations: a route
  parameter of the same name (``uuid.UUID``: the canonical form; an ``int`` type: 1 to 18
  ASCII digits; anything else: the text as is, its type only documents it), ``query`` (a
  pydantic model: ``kanta.http.parse_query``), ``body`` (a pydantic model:
  ``kanta.http.parse_json``; ``bytes``: a photo's bytes as sent), ``guest`` (what the
  declaration's ``authorize`` returns) and ``req`` (the request itself, for what the others
  do not cover);
- the response: the handler's model or JSON data with the declaration's success status (and
  ``headers``), an empty 204, or the ``func.HttpResponse`` it returns (pages, files);
- the OpenAPI operation (``kanta.openapi.build_document`` over ``registered()``).

A request that is wrong in several ways is refused for the first of: the guest token, the
query, the body, a route id. A route id that is not of its form cannot name anything, so it
is a 404 ``{kind}_not_found``, the kind being the parameter's name without ``_id``.

A declaration that contradicts itself (a handler parameter nothing provides, an error code
the catalogue lacks, a model that is not one) raises ``ValueError`` naming the endpoint, at
import: the app does not start.
"""

from __future__ import annotations

import inspect
import re
import typing
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import azure.functions as func
from pydantic import BaseModel, Field

from kanta.errors import CODES
from kanta.http import api, json_response, no_content, parse_json, parse_query, route_int, route_uuid

#: How a caller is authorised: the host's function key, none, a guest link's token
#: (``Authorization: Bearer <token>``, checked by the declaration's ``authorize``), or the
#: host's master key.
Auth = Literal["function", "anonymous", "guest", "admin"]
#: The binding's auth level of each ``Auth``: guest routes are anonymous at the host.
AUTH_LEVEL: dict[str, func.AuthLevel] = {
    "function": func.AuthLevel.FUNCTION,
    "anonymous": func.AuthLevel.ANONYMOUS,
    "guest": func.AuthLevel.ANONYMOUS,
    "admin": func.AuthLevel.ADMIN,
}
#: ``Endpoint.body`` of a route whose body is a photo's bytes (``body: bytes``), not JSON.
IMAGE_BODY = "image"

#: A numeric id in a route as ``kanta.http.route_int`` reads it: 1 to 18 ASCII digits (it
#: fits a PostgreSQL bigint); anything else is a 404.
RouteInt = Annotated[int, Field(ge=0, le=10**18 - 1)]

#: A response that is not a pydantic model: a media type, or several.
MediaTypes = str | tuple[str, ...]

#: A parameter of an Azure route template: ``{name}``, ``{name:int}``, ``{name?}``, ``{*name}``.
TEMPLATE_PARAMETER = re.compile(r"\{\*?(\w+)(?::([^{}?]*))?\??\}")


def route_parameters(route: str) -> list[tuple[str, str | None]]:
    """``(name, constraint)`` of each parameter of an Azure route template, in order."""
    return [(m.group(1), m.group(2)) for m in TEMPLATE_PARAMETER.finditer(route)]


def _base_type(annotation: Any) -> Any:
    """``int`` of ``Annotated[int, ...]``; the annotation itself otherwise."""
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _route_value(req: func.HttpRequest, name: str, annotation: Any) -> Any:
    """Route parameter ``name`` of ``req``, read per its annotation's base type: ``uuid.UUID``
    (``kanta.http.route_uuid``), ``int`` (``kanta.http.route_int``), else the text as is.
    Raises ``NotFound`` ``{kind}_not_found`` for an id not of its form."""
    base = _base_type(annotation)
    if base is uuid.UUID:
        return route_uuid(req, name, name.removesuffix("_id"))
    if base is int:
        return route_int(req, name, name.removesuffix("_id"))
    return req.route_params.get(name, "")


@dataclass(frozen=True)
class Endpoint:
    """One HTTP endpoint as declared (``endpoint``): Azure function ``name``; ``method``
    ("GET"); ``route``, an Azure route template under ``/api`` ("events/{code}"); ``summary``
    and ``tag`` (its domain) for the document; ``auth``; ``responses``, status → pydantic
    model (``None``: no body; a media type or a tuple of them: a body that is not a model,
    such as a page); ``errors``, the codes of ``kanta.errors.CATALOGUE`` it may answer with
    besides those every endpoint of its kind may (``kanta.openapi.implicit_errors``);
    ``headers`` added to its success response; ``database``, whether it may answer 503
    ``database_unavailable``; ``authorize``, for ``auth="guest"``, reads the request's
    credential (raising ``Unauthorized`` and the like) and returns the handler's ``guest``.

    From the handler's signature: ``takes``, its parameters' names; ``path``, each route
    parameter's type (its annotation, else the declaration's ``path``, else ``str``);
    ``query`` and ``body``, the models it parses (``body`` may be ``IMAGE_BODY``)."""

    name: str
    method: str
    route: str
    summary: str
    tag: str
    auth: Auth
    responses: Mapping[int, type | MediaTypes | None]
    errors: tuple[str, ...]
    headers: Mapping[str, str]
    database: bool
    authorize: Callable[[func.HttpRequest], Any] | None
    handler: Callable[..., Any]
    takes: frozenset[str] = frozenset()
    path: Mapping[str, Any] = field(default_factory=dict)
    query: type[BaseModel] | None = None
    body: type[BaseModel] | str | None = None

    @property
    def level(self) -> func.AuthLevel:
        """The auth level the host checks (``AUTH_LEVEL``)."""
        return AUTH_LEVEL[self.auth]

    @property
    def description(self) -> str:
        """The handler's docstring, else the summary."""
        return inspect.getdoc(self.handler) or self.summary

    @property
    def success(self) -> int:
        """The status of a success (the one 2xx of ``responses``)."""
        (status,) = [s for s in self.responses if 200 <= s < 300]
        return status

    def __call__(self, req: func.HttpRequest) -> func.HttpResponse:
        """Answer ``req``: read the handler's arguments (in the order the module docstring
        gives), call it, and make its result the response. Domain errors propagate (the
        registered function is wrapped in ``kanta.http.api``)."""
        arguments: dict[str, Any] = {}
        if self.authorize is not None:
            arguments["guest"] = self.authorize(req)
        if self.query is not None:
            arguments["query"] = parse_query(req, self.query)
        if self.body == IMAGE_BODY:
            arguments["body"] = req.get_body()
        elif self.body is not None:
            arguments["body"] = parse_json(req, self.body)
        for name, annotation in self.path.items():
            if name in self.takes:
                arguments[name] = _route_value(req, name, annotation)
        if "req" in self.takes:
            arguments["req"] = req
        result = self.handler(**arguments)
        if isinstance(result, func.HttpResponse):
            return result
        if self.success == 204:
            return no_content()
        response = json_response(result, self.success)
        for name, value in self.headers.items():
            response.headers[name] = value
        return response


#: Every endpoint declared, by function name, in the order declared.
_REGISTRY: dict[str, Endpoint] = {}


def registered() -> list[Endpoint]:
    """Every endpoint declared so far, in the order declared. ``function_app`` imports every
    domain's ``functions`` module, so after it is imported this is the whole API."""
    return list(_REGISTRY.values())


def endpoint_of(function: Callable) -> Endpoint | None:
    """The ``Endpoint`` behind an HTTP function the host indexes (``get_user_function()``), or
    ``None`` for any other function."""
    return getattr(function, "__kanta_endpoint__", None)


def _declare(name: str, method: str, route: str, handler: Callable, path_types: Mapping[str, Any],
             fields: dict[str, Any]) -> Endpoint:
    """The ``Endpoint`` of a declaration, checked (module docstring)."""
    hints = typing.get_type_hints(handler, include_extras=True)
    parameters = list(inspect.signature(handler).parameters)
    route_names = [p for p, _ in route_parameters(route)]
    if unknown := sorted(set(path_types) - set(route_names)):
        raise ValueError(f"{name}: path names {unknown}, not parameters of route {route!r}")
    path = {p: hints.get(p, path_types.get(p, str)) for p in route_names}
    known = {*route_names, "query", "body", "req"} | ({"guest"} if fields["authorize"] else set())
    if unknown := [p for p in parameters if p not in known]:
        raise ValueError(f"{name}: nothing provides handler parameter(s) {unknown}")
    query = hints.get("query") if "query" in parameters else None
    if "query" in parameters and not _is_model(query):
        raise ValueError(f"{name}: query must be annotated with a pydantic model")
    body: Any = hints.get("body") if "body" in parameters else None
    if body is bytes:
        body = IMAGE_BODY
    elif "body" in parameters and not _is_model(body):
        raise ValueError(f"{name}: body must be annotated with a pydantic model, or bytes (a photo)")
    if (fields["auth"] == "guest") != (fields["authorize"] is not None):
        raise ValueError(f"{name}: auth='guest' and authorize=... go together")
    if unknown := [code for code in fields["errors"] if code not in CODES]:
        raise ValueError(f"{name}: error code(s) {unknown} are not in kanta.errors.CATALOGUE")
    for p in route_names:
        if _base_type(path[p]) in (int, uuid.UUID) and f"{p.removesuffix('_id')}_not_found" not in CODES:
            raise ValueError(f"{name}: route id {p!r} would answer a code not in kanta.errors.CATALOGUE")
    ep = Endpoint(name=name, method=method, route=route, handler=handler, takes=frozenset(parameters), path=path,
                  query=query, body=body, **fields)
    if len([s for s in ep.responses if 200 <= s < 300]) != 1:
        raise ValueError(f"{name}: responses must have exactly one success (2xx) status")
    if name in _REGISTRY:
        raise ValueError(f"{name}: declared twice")
    return ep


def endpoint(bp: func.Blueprint, name: str, method: str, route: str, *, summary: str, tag: str,
             auth: Auth = "function", responses: Mapping[int, type | MediaTypes | None] | None = None,
             errors: tuple[str, ...] = (), headers: Mapping[str, str] | None = None, database: bool = True,
             authorize: Callable[[func.HttpRequest], Any] | None = None,
             path: Mapping[str, Any] | None = None) -> Callable[[Callable], Callable]:
    """Declare the decorated handler as HTTP function ``name`` (``method`` on ``route``) of
    blueprint ``bp``, with the ``Endpoint`` fields as keyword arguments (``responses``
    defaults to ``{200: None}``); see the module docstring. ``path`` documents the type of a
    route parameter the handler does not take (``{"code": EventCode}``). Returns the handler
    unchanged.

    Raises ``ValueError`` naming the endpoint when the declaration contradicts itself."""
    fields = {"summary": summary, "tag": tag, "auth": auth, "responses": dict(responses or {200: None}),
              "errors": tuple(errors), "headers": dict(headers or {}), "database": database, "authorize": authorize}

    def declare(handler: Callable) -> Callable:
        ep = _declare(name, method.upper(), route, handler, path or {}, fields)

        # The function the host indexes and calls: its one parameter is the trigger's "req"
        # (the worker binds by parameter name), so it does not wrap the handler's signature.
        def function(req: func.HttpRequest) -> func.HttpResponse:
            return ep(req)

        function.__name__ = function.__qualname__ = name
        function.__module__ = handler.__module__
        function.__doc__ = handler.__doc__
        function.__kanta_endpoint__ = ep  # type: ignore[attr-defined]
        bp.function_name(name)(bp.route(route=route, methods=[ep.method], auth_level=ep.level)(api(function)))
        _REGISTRY[name] = ep
        return handler

    return declare
