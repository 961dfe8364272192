"""The OpenAPI document (``GET /api/openapi.json``), the API reference page (``GET /api/docs``)
and generated requests over every documented operation (schemathesis).

The document is built from the endpoints Kanta declares (``kanta.endpoints``); these tests
hold it to what the host indexes of ``function_app.app``, so a route registered without
``@endpoint(...)``, or one the app does not register, fails here. Error codes are held to the
catalogue (``kanta.errors.CATALOGUE``), and the catalogue to the source that raises them. The generated
run serves the app over real HTTP with Kanta's local host (``kanta.local.host``), against
the session's PostgreSQL and Azurite, and checks every response against the document.
"""

from __future__ import annotations

import ast
import http.client
import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import azure.functions as func
import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import kanta
from kanta import errors
from kanta.endpoints import endpoint, endpoint_of, registered
from kanta.errors import CATALOGUE, CODES, KantaError, UnknownErrorCode
from kanta.http import status_of
from kanta.openapi import IMAGE_BODY, build_document, openapi_path, route_parameters
from tests.helpers import Api, bearer, http_functions, local_host, seeded_event

#: Requests generated per operation (about 30 operations): the run takes about a minute on
#: two cores, seeding included.
EXAMPLES = 40


ROUTES = http_functions()


@pytest.fixture(scope="module")
def document(functions) -> dict[str, Any]:
    """The document as ``GET /api/openapi.json`` serves it: the one ``build_document`` makes
    of the declared endpoints."""
    expected = build_document()
    status, body = Api(functions)("openapi_document")
    assert status == 200 and body == expected
    return body


def ref_target(document: dict[str, Any], ref: str) -> Any:
    """The node ``ref`` (``#/components/...``) points to; ``KeyError`` when there is none."""
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def refs_in(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for child in node.values():
            yield from refs_in(child)
    elif isinstance(node, list):
        for child in node:
            yield from refs_in(child)


# --- the document ----------------------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1(functions, document):
    from openapi_spec_validator import OpenAPIV31SpecValidator

    assert document["openapi"] == "3.1.0"
    OpenAPIV31SpecValidator(document).validate()
    # Served as JSON, the same bytes each time (built once per process).
    served = [functions["openapi_document"](func.HttpRequest("GET", "http://localhost/api/openapi.json", body=b""))
              for _ in range(2)]
    assert [r.mimetype for r in served] == ["application/json"] * 2
    assert served[0].get_body() == served[1].get_body()


def test_the_document_is_built_from_an_app_the_host_has_indexed():
    """In Azure the worker indexes the app first (``app.get_functions()``, which refuses a
    second call); building the document after that still works, and gives the same."""
    from function_app import app
    from kanta.local.host import index_functions

    index_functions(app)
    assert build_document() == build_document()


def test_the_declared_endpoints_are_the_http_functions_the_host_indexes():
    """Kanta's registry (what the document is built from) and the app as the host indexes it
    (public ``get_functions()``) have the same functions, routes, methods and auth levels, and
    each indexed function is its endpoint's."""
    declared = {(e.name, e.route, (e.method,), e.level.name) for e in registered()}
    indexed = {(name, route, tuple(methods), auth) for name, route, methods, auth, _ in ROUTES}
    assert declared == indexed
    by_name = {e.name: e for e in registered()}
    for name, _, _, _, function in ROUTES:
        assert endpoint_of(function) is by_name[name], name


@pytest.mark.parametrize(("name", "route", "methods", "auth", "function"), ROUTES, ids=[r[0] for r in ROUTES])
def test_every_http_function_is_documented(request, name, route, methods, auth, function):
    """Each HTTP function of the app has an ``Operation``, and the document has its path,
    each of its methods (operationId: the function's name), its route parameters, and the
    keys the host asks for at its auth level."""
    op = endpoint_of(function)
    assert op is not None, f"{name} is not declared with @endpoint(...)"
    document = request.getfixturevalue("document")
    path = document["paths"].get(openapi_path(route))
    assert path is not None, f"{route} is not in the document"
    for method in methods:
        documented = path.get(method.lower())
        assert documented is not None, f"{method} {route} is not in the document"
        assert documented["operationId"] == name and documented["summary"] == op.summary
        parameters = {p["name"] for p in documented.get("parameters", ()) if p["in"] == "path"}
        assert parameters == {p for p, _ in route_parameters(route)}
        schemes = [sorted(requirement) for requirement in documented["security"]]
        host = {"ANONYMOUS": [], "FUNCTION": [["functionKey"], ["functionKeyQuery"]], "ADMIN": [["masterKey"]]}[auth]
        if op.auth == "guest":
            host = [sorted([*keys, "guestToken"]) for keys in host] or [["guestToken"]]
        assert schemes == host


def test_the_document_has_no_operation_the_app_lacks(document):
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    registered_ = {(openapi_path(route), method.lower()) for _, route, methods, _, _ in ROUTES for method in methods}
    assert documented == registered_


def _handler(body: bytes) -> None:
    """A handler for declarations that must be refused."""


@pytest.mark.parametrize(("declaration", "handler", "message"), [
    ({"errors": ("no_such_code",)}, _handler, "not in kanta.errors.CATALOGUE"),
    ({}, lambda guest: None, "nothing provides handler parameter(s) ['guest']"),
    ({}, lambda body: None, "body must be annotated"),
    ({"auth": "guest"}, _handler, "auth='guest' and authorize=... go together"),
    ({"responses": {200: None, 201: None}}, _handler, "exactly one success"),
    ({"path": {"other": str}}, _handler, "not parameters of route"),
])
def test_a_declaration_that_contradicts_itself_is_refused(declaration, handler, message):
    """``endpoint(...)`` refuses, at import, what would make the API differ from its
    document; nothing is registered."""
    before = registered()
    with pytest.raises(ValueError, match=re.escape(message)):
        endpoint(func.Blueprint(), "refused", "POST", "things/{thing_id}", summary="s", tag="t", **declaration)(handler)
    assert registered() == before


def test_a_route_id_answers_404_in_the_words_of_its_kind(functions):
    """A route id read from an ``int`` or ``uuid.UUID`` annotation that is not of its form is
    ``{kind}_not_found``, the kind being the parameter's name without ``_id``."""
    api = Api(functions)
    assert api("get_image", route={"image_id": "{00000000-0000-0000-0000-000000000000}"})[1]["code"] == "image_not_found"
    assert api("erase_person", "POST", route={"code": "any", "cluster_id": "1e3"})[1]["code"] == "cluster_not_found"
    status, body = api("move_face", "PUT", route={"face_id": " 1"}, json_body={"cluster_id": None})
    assert (status, body["code"], body["message"]) == (404, "face_not_found", "No such face.")


def _schema_of(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    return ref_target(document, node["$ref"]) if "$ref" in node else node


@pytest.mark.parametrize(("name", "route", "methods", "auth", "function"), ROUTES, ids=[r[0] for r in ROUTES])
def test_every_model_an_operation_names_is_in_the_document(document, name, route, methods, auth, function):
    """The body, query and response models of each operation are there, with their fields,
    and every ``$ref`` of the document resolves."""
    op = endpoint_of(function)
    assert op is not None, f"{name} is not declared with @endpoint(...)"
    for method in methods:
        documented = document["paths"][openapi_path(route)][method.lower()]
        if isinstance(op.body, type):
            schema = _schema_of(document, documented["requestBody"]["content"]["application/json"]["schema"])
            assert set(schema["properties"]) == set(op.body.model_fields), name
        elif op.body == IMAGE_BODY:
            assert "application/octet-stream" in documented["requestBody"]["content"]
        if op.query is not None:
            query = {p["name"] for p in documented["parameters"] if p["in"] == "query"}
            assert query == set(op.query.model_fields), name
        for status, model in op.responses.items():
            response = documented["responses"][str(status)]
            if isinstance(model, type) and issubclass(model, BaseModel):
                schema = _schema_of(document, response["content"]["application/json"]["schema"])
                assert set(schema["properties"]) == set(model.model_fields), (name, status)
            elif model is None:
                assert "content" not in response
    for ref in set(refs_in(document)):
        ref_target(document, ref)


def numbers_without_bounds(document: dict[str, Any], node: Any, path: str = "", seen: frozenset = frozenset()
                           ) -> list[str]:
    """Paths of the integers and numbers of a request schema lacking a lower or upper bound."""
    found = []
    if isinstance(node, dict):
        if "$ref" in node and node["$ref"] not in seen:
            return numbers_without_bounds(document, ref_target(document, node["$ref"]), path, seen | {node["$ref"]})
        if node.get("type") in ("integer", "number") and not (
                {"minimum", "exclusiveMinimum"} & set(node) and {"maximum", "exclusiveMaximum"} & set(node)):
            found.append(path)
        for key, child in node.items():
            found += numbers_without_bounds(document, child, f"{path}.{key}", seen)
    elif isinstance(node, list):
        for i, child in enumerate(node):
            found += numbers_without_bounds(document, child, f"{path}[{i}]", seen)
    return found


def test_the_document_states_the_bounds_of_every_number_a_request_takes(document):
    """A client reads the limits from the document (``limit`` 1–200, cluster ids within
    PostgreSQL integer), as JSON Schema's ``minimum``/``maximum``."""
    unbounded = []
    for path, item in document["paths"].items():
        for method, documented in item.items():
            for parameter in documented.get("parameters", ()):
                unbounded += numbers_without_bounds(document, parameter["schema"], f"{method} {path} {parameter['name']}")
            body = documented.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                unbounded += numbers_without_bounds(document, body["schema"], f"{method} {path} body")
    assert not unbounded
    limit = next(p for p in document["paths"]["/events"]["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"] | {"default": 50} == {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}


def test_every_error_code_has_one_status_per_class():
    """The catalogue gives each code its class's status: ``kanta.http`` answers each class
    with one status, and the document lists each code under that status."""
    for entry in CATALOGUE:
        error = entry.kind.__new__(entry.kind)
        assert status_of(error) == entry.status, entry.code
    documented = {(code, int(status)) for item in build_document()["paths"].values() for op in item.values()
                  for status, response in op["responses"].items()
                  for code in response.get("content", {}).get("application/json", {}).get("schema", {})
                  .get("properties", {}).get("code", {}).get("enum", ())}
    assert documented and all(CODES[code].status == status for code, status in documented), documented


def test_an_error_not_in_the_catalogue_cannot_be_made():
    """A code the catalogue lacks, or a code of another class, fails where it is made."""
    with pytest.raises(UnknownErrorCode, match="'no_such_code' is not in"):
        errors.Invalid("no_such_code", "m")
    with pytest.raises(UnknownErrorCode, match="'event_not_found' is a NotFound"):
        errors.Invalid("event_not_found", "m")
    assert errors.not_found("event", "x").code == "event_not_found"


def raise_sites() -> list[tuple[str, str, str]]:
    """``(where, class name, code)`` of each domain error Kanta's source makes with a literal
    code: ``Conflict("event_exists", ...)``, and ``not_found("event", ...)`` as a ``NotFound``
    ``event_not_found``. Read with ``ast``, so an error on a path no test takes counts too."""
    classes = {name for name, value in vars(errors).items()
               if isinstance(value, type) and issubclass(value, KantaError) and value is not KantaError}
    sites = []
    root = Path(kanta.__file__).parent
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                continue
            where = f"{path.relative_to(root.parent)}:{node.lineno}"
            if node.func.id in classes:
                sites.append((where, node.func.id, node.args[0].value))
            elif node.func.id == "not_found":
                sites.append((where, "NotFound", f"{node.args[0].value}_not_found"))
    return sites


def test_every_error_kanta_raises_is_in_the_catalogue_with_its_class():
    sites = raise_sites()
    assert len(sites) > 30, "the raise sites were not found"
    wrong = [(where, kind, code) for where, kind, code in sites
             if code not in CODES or CODES[code].kind.__name__ != kind]
    assert not wrong, f"codes not in kanta.errors.CATALOGUE, or of another class there: {wrong}"


def test_the_catalogue_names_no_code_kanta_never_answers():
    """Each code is raised somewhere in the source, or is a route id's ``{kind}_not_found``
    (``kanta.endpoints``), or the local host's own answer (``route_not_found``)."""
    raised = {code for _, _, code in raise_sites()}
    route_ids = {f"{name.removesuffix('_id')}_not_found" for e in registered() for name in e.path if name.endswith("_id")}
    host = Path(kanta.__file__).parent.joinpath("local", "host.py").read_text()
    assert set(CODES) - raised - route_ids <= {code for code in CODES if f'"{code}"' in host}


# --- the reference page ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def base_url(services) -> Iterator[str]:
    """The app served over real HTTP by Kanta's local host, on a free port."""
    from function_app import app

    with local_host(app) as origin:
        yield f"{origin}/api"


class _Links(HTMLParser):
    """Every ``src``/``href`` of a page, and the ``data-openapi`` of its body."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.document: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.links += [v for k, v in attrs if k in ("src", "href") and v]
        if tag == "body":
            self.document = values.get("data-openapi")


def package_file(name: str) -> bytes:
    from swagger_ui_bundle import swagger_ui_path

    return (swagger_ui_path / name).read_bytes()


@pytest.mark.parametrize("page", ["docs", "docs/"])
def test_the_reference_page_loads_everything_from_kanta(base_url, page):
    """The page and each file it loads come from Kanta (the Swagger UI files are the
    package's own bytes) with their media types; nothing points to another host."""
    url = f"{base_url}/{page}"
    got = requests.get(url, timeout=10)
    assert got.status_code == 200 and got.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in got.headers["Content-Security-Policy"]
    assert not re.search(r"(?i)(https?:)?//", got.text), "the page names a URL of another host"
    parser = _Links()
    parser.feed(got.text)
    assert parser.document
    assert urljoin(url, parser.document) == f"{base_url}/openapi.json"
    types = {".css": "text/css", ".js": "text/javascript", ".png": "image/png"}
    loaded = set()
    for link in parser.links:
        target = urljoin(url, link)
        assert urlsplit(target).netloc == urlsplit(base_url).netloc
        name = target.removeprefix(f"{base_url}/docs/")
        served = requests.get(target, timeout=10)
        assert served.status_code == 200, target
        assert served.headers["Content-Type"].split(";")[0] == types[Path(name).suffix], target
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        if name != "kanta-docs.js":
            assert served.content == package_file(name), target
        loaded.add(name)
    assert {"swagger-ui-bundle.js", "swagger-ui.css", "kanta-docs.js"} <= loaded
    script = requests.get(f"{base_url}/docs/kanta-docs.js", timeout=10).text
    assert "validatorUrl: null" in script and "http" not in script
    document = requests.get(urljoin(url, parser.document), timeout=10)
    assert document.status_code == 200 and document.json()["openapi"] == "3.1.0"


def test_the_reference_page_reads_openapi_3_1(base_url):
    """The page's Swagger UI knows OpenAPI 3.1 (``isOAS31``, since Swagger UI 5): the 4.x build
    of swagger-ui-bundle 1.1.0 shows "Unable to render this definition" for any document but
    ``swagger: 2.0`` and ``openapi: 3.0.n``."""
    bundle = requests.get(f"{base_url}/docs/swagger-ui-bundle.js", timeout=10).text
    assert "isOAS31" in bundle


RAW_PATHS = ["/docs/..%2F..%2Ffunction_app.py", "/docs/%2e%2e%2ffunction_app.py", "/docs/..%2f..%2frequirements.txt",
             "/docs/%2e%2e", "/docs/..", "/docs/index.html", "/docs/swagger-initializer.js",
             "/docs/swagger-ui-bundle.js.map", "/docs/SWAGGER-UI.CSS", "/docs/swagger-ui.css%00.png",
             "/docs/%2Fetc%2Fpasswd", "/docs/swagger-ui.css/..%2F..%2F..%2Fhost.json"]


@pytest.mark.parametrize("raw_path", RAW_PATHS)
def test_no_other_file_is_served(base_url, raw_path):
    """Only the listed files are served: a path that climbs out of the folder, or names
    another file of the package, is a JSON 404 (sent as is, not normalised by a client)."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request("GET", parts.path + raw_path)
    got = conn.getresponse()
    body = got.read()
    conn.close()
    assert got.status == 404, (raw_path, got.status)
    assert json.loads(body)["code"] in ("file_not_found", "route_not_found")


@pytest.mark.parametrize("name", ["../../function_app.py", "../openapi.py", "/etc/passwd", "..", "",
                                  "swagger-ui.css/../../../host.json", "swagger_ui_bundle/__init__.py"])
def test_no_other_file_is_served_whatever_the_host_passes(functions, name):
    """However the Functions host decodes a path, the function serves no name off its list."""
    status, body = Api(functions)("api_docs_file", route={"file": name})
    assert status == 404 and body["code"] == "file_not_found"


# --- generated requests ----------------------------------------------------------------------


OPERATIONS = [(name, method, openapi_path(route)) for name, route, methods, _, _ in ROUTES for method in methods]


@pytest.fixture(scope="module")
def schema(document):
    import schemathesis

    return schemathesis.openapi.from_dict(document, config=schemathesis.Config())


@pytest.mark.parametrize(("name", "method", "path"), OPERATIONS, ids=[o[0] for o in OPERATIONS])
def test_generated_requests_conform_to_the_document(functions, schema, base_url, name, method, path):
    """``EXAMPLES`` requests generated from the document (valid and invalid ones) to one
    operation, over HTTP: no 5xx, and each response's status, media type, headers and body
    as the document says. Half the time the route parameters are real keys of a freshly
    seeded event, so requests get past the lookups; a guest route then also gets the real
    token of the event's guest link (else a generated one: its 401 must conform too)."""
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
              response_schema_conformance]
    operation = schema[path][method]
    strategies = [operation.as_strategy(mode) for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]
    parameters = [p for p, _ in route_parameters(path)]
    if {"code", "image_id", "face_id", "cluster_id"} & set(parameters):
        guest = any("guestToken" in requirement for requirement in schema.raw_schema["paths"][path][method.lower()]
                    ["security"])
        keys = {p: values[0] for p, values in seeded_event(functions, "oas", guests=guest).items()}
        real = {p: keys[p] for p in parameters if p in keys}
        headers = bearer(keys["token"]) if guest else None
        strategies += [operation.as_strategy(GenerationMode.POSITIVE, path_parameters=real, headers=headers)] * 2
    session = requests.Session()

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, print_blob=False,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(st.one_of(strategies))
    def run(case: Any) -> None:
        case.call_and_validate(base_url=base_url, session=session, checks=checks, timeout=30)

    run()
