"""Generated input over every HTTP route of the app (hypothesis).

The routes are read from ``function_app.app`` as the host indexes them, so a new route is
covered without editing this file. Each route gets ``EXAMPLES`` requests of its own
methods, called as the host calls the function, each with generated route values (real keys
of a seeded event, photo, face and person, or any text), query strings (the parameter names
of every ``*Query`` model, or any), Content-Types and bodies (JSON of random shapes with the
request models' field names, numbers of thousands of digits, deep nesting, unpaired
surrogates, NULs, UTF-16, random bytes, image headers followed by junk, tiny real images).

Every response must be: no 5xx; JSON (or an empty 204); an error ``{code, message}`` (and
``details`` of ``{field, message, type}``) whose code is in ``kanta.errors.CATALOGUE``; no
message naming a library or Python's internals; and within ``REFUSED_LATENCY_S`` for a
refusal, ``LATENCY_S`` for an answer.

Reproducible: hypothesis is derandomized (the same examples on every run of the same source)
and keeps no example database, and each route starts from a freshly seeded event.
"""

from __future__ import annotations

import datetime as dt
import importlib
import io
import json
import pkgutil
import re
import time
import uuid
from typing import Any

import azure.functions as func
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from pydantic import BaseModel

import kanta
from kanta.endpoints import endpoint_of
from kanta.errors import CODES
from tests.helpers import http_functions, photo, seeded_event

#: Requests generated per route.
EXAMPLES = 200
#: Longest a refused request (4xx) may take, seconds: refusing hostile input must be cheap.
#: A refusal here takes milliseconds; the slowest is a search whose body decodes as a small
#: image with no face (tens of ms). A second catches work that grows with the input (quadratic
#: parsing, a decoded bomb, a retried query) without flaking on a busy CI machine.
REFUSED_LATENCY_S = 1.0
#: Longest an accepted request may take, seconds: some index or search a real photo with
#: dlib (the seed's photos are 400 px: about 0.1 s each here).
LATENCY_S = 3.0
#: Words of Python and of the libraries Kanta uses, which no message may show a client
#: (case-insensitive, except "PIL", a word in capitals).
LIBRARY_WORDS = ["pydantic", "psycopg", "pillow", "sys.", "traceback", "error:", "recursion", "exception",
                 "input should", "should be a valid", "unable to parse", "value error", "int_max_str_digits",
                 "expecting value", "line 1 column", "decompression bomb dos", "cannot identify image", "bytesio",
                 "object at 0x", "numpy", "dlib", "sqlstate", "azure.", "werkzeug", "errno"]


# --- what the app has ------------------------------------------------------------------------


#: ``(function name, route, methods)`` of each HTTP function.
ROUTES = [(name, route, methods) for name, route, methods, _, _ in http_functions()]


def schema_models() -> list[type[BaseModel]]:
    """Every pydantic model of ``kanta.<domain>.schemas``."""
    models = []
    for module_info in pkgutil.iter_modules(kanta.__path__):
        try:
            module = importlib.import_module(f"kanta.{module_info.name}.schemas")
        except ModuleNotFoundError:
            continue
        models += [m for m in vars(module).values()
                   if isinstance(m, type) and issubclass(m, BaseModel) and m.__module__ == module.__name__]
    return models


#: Query parameter names of every ``*Query`` model, and body field names of every other
#: request model (those that forbid unknown fields).
QUERY_NAMES = sorted({f for m in schema_models() if m.__name__.endswith("Query") for f in m.model_fields})
BODY_NAMES = sorted({f for m in schema_models() if not m.__name__.endswith("Query")
                     and m.model_config.get("extra") == "forbid" for f in m.model_fields})

def stable_codes() -> set[str]:
    """The error codes of ``kanta.errors.CATALOGUE``: a code built at run time is not stable."""
    return set(CODES)


def parsed_models(function: Any, part: str) -> list[type[BaseModel]]:
    """The pydantic model the endpoint behind ``function`` reads its ``part`` ("body",
    "query") into (``kanta.endpoints``); none for a photo or no such part."""
    model = getattr(endpoint_of(function), part)
    return [model] if isinstance(model, type) else []


# --- generated requests -----------------------------------------------------------------------


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of the strategies, each drawn ``weight`` times in ``sum(weights)`` (``st.one_of``
    flattens nested choices into equal branches)."""
    return st.sampled_from([s for weight, s in choices for _ in range(weight)]).flatmap(lambda s: s)


ODD_TEXT = ["", " ", "\x00", "a\x00b", "9" * 5000, "-" + "9" * 5000, "-1", "0", "1", " 1", "+1", "1_0", "\u0661",
            "1e999", "NaN", "nan", "inf", "-0", "0.5", "1.0", "null", "true", "false", "yes", "..", "../x", "%00",
            "a" * 300, "\u202e", "\U0001f642", "\ufeff1", "0x1f", "2147483648", "9223372036854775808",
            "largest", "all", "pending", "processed", "failed", "2026-06-01T18:00:00Z", str(uuid.UUID(int=0))]
text = st.text(max_size=24)
any_text = st.one_of(text, st.sampled_from(ODD_TEXT), st.integers(-2**70, 2**70).map(str),
                     st.floats().map(repr))
#: Strings with unpaired surrogates, which JSON can carry ("\ud800") but UTF-8 cannot.
surrogate_text = st.text(st.characters(categories=["Cs", "L", "Nd"]), min_size=1, max_size=8)
times = st.builds(lambda y, mo, d, h, off: f"{y:04}-{mo:02}-{d:02}T{h:02}:00:00{off}",
                  st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32), st.integers(0, 25),
                  st.sampled_from(["Z", "+00:00", "-14:00", "+14:00", ""]))
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10, 10), st.integers(-2**70, 2**70),
                    st.floats(allow_nan=False, allow_infinity=False), any_text, surrogate_text, times)
keys = st.one_of(st.sampled_from(BODY_NAMES or ["name"]), text)
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                           st.dictionaries(keys, inner, max_size=4)),
                           max_leaves=10)


def _dumps(value: Any, ascii_only: bool) -> bytes:
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


json_bodies = st.builds(_dumps, st.one_of(st.dictionaries(keys, json_values, max_size=6), json_values),
                        st.booleans())
huge_numbers = st.builds(lambda name, digits, sign: f'{{"{name}": {sign}{"9" * digits}}}'.encode(),
                         st.sampled_from(BODY_NAMES or ["name"]), st.integers(1, 6000), st.sampled_from(["", "-"]))
deep_nesting = st.builds(lambda depth, opener: (opener * depth + {"[": "]", '{"a":': "}"}[opener] * depth).encode(),
                         st.integers(1, 20_000), st.sampled_from(["[", '{"a":']))
odd_json = st.sampled_from([b"NaN", b'{"name": Infinity}', b'{"name": "a", "name": "b"}', b"\xef\xbb\xbf{}",
                            '{"name": "x"}'.encode("utf-16"), b"{", b"", b"null", b"[]", b'"x"'])
utf16_json = json_bodies.map(lambda raw: raw.decode("utf-8", "surrogatepass").encode("utf-16", "surrogatepass"))
IMAGE_HEADERS = [b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xdb", b"\x89PNG\r\n\x1a\n", b"RIFF\x00\x10\x00\x00WEBPVP8 ",
                 b"GIF89a", b"BM", b"II*\x00"]
image_junk = st.builds(lambda head, tail: head + tail, st.sampled_from(IMAGE_HEADERS), st.binary(max_size=4096))


def _tiny_image(width: int, height: int, fmt: str, grey: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (grey, grey, grey)).save(buf, fmt)
    return buf.getvalue()


tiny_images = st.builds(_tiny_image, st.integers(1, 64), st.integers(1, 64), st.sampled_from(["JPEG", "PNG", "WEBP"]),
                        st.integers(0, 255))
garbage_bodies = st.one_of(json_bodies, huge_numbers, deep_nesting, odd_json, utf16_json, st.binary(max_size=4096),
                          image_junk, tiny_images)
#: Mostly the type JSON routes take, so most bodies get past it to the parser and the models.
content_types = weighted((7, st.just("application/json")),
                         (2, st.sampled_from(["application/json; charset=utf-8", "application/json; charset=utf-16",
                                              "text/plain", "image/jpeg", "application/x-www-form-urlencoded",
                                              "multipart/form-data", "", None])),
                         (1, text))
#: Values a query parameter plausibly has (numbers near the bounds, the literals), or any text.
query_values = st.one_of(st.sampled_from(["true", "false", "0", "1", "3", "20", "50", "200", "201", "-1", "0.48", "2",
                                          "2.5", "largest", "all", "pending", "processed", "failed", "2147483647",
                                          "2147483648"]),
                         st.integers(-5, 300).map(str), any_text)


def queries(names: list[str]) -> st.SearchStrategy[dict[str, str]]:
    """Query strings: none, plausible values of ``names`` (a route's own parameters, or all),
    or any names and values."""
    names = names or QUERY_NAMES or ["limit"]
    return st.one_of(st.just({}), st.dictionaries(st.sampled_from(names), query_values, max_size=3),
                     st.dictionaries(st.one_of(st.sampled_from(QUERY_NAMES or names), text), any_text, max_size=5))


plausible_times = st.one_of(st.none(), st.datetimes(dt.datetime(2026, 1, 1), dt.datetime(2030, 1, 1)).map(
    lambda d: d.isoformat() + "Z"), st.sampled_from(["1999-12-31T23:59:59Z", "2000-01-01T00:00:00Z",
                                                     "2100-01-01T00:00:00+00:00", "2100-01-01T00:00:00-00:01"]),
    times)
plausible_files = st.lists(st.fixed_dictionaries({"filename": st.one_of(st.just("photo.jpg"), text,
                                                                        st.sampled_from(ODD_TEXT)),
                                                  "content_type": st.sampled_from(["image/jpeg", "image/png",
                                                                                   "image/webp", "image/gif"])}),
                           max_size=3)


def plausible_bodies(seed: dict[str, list[str]], models: list[type[BaseModel]]) -> st.SearchStrategy[bytes]:
    """Objects with the fields of one of ``models`` (every request model when empty), mostly
    of plausible values (a new event code, times of a few years, the seed's person ids), so
    requests get past validation to the services."""
    ids = [int(v) for v in seed.get("cluster_id", [])] or [0]
    plausible = {
        "code": st.from_regex(r"[a-z0-9-]{3,32}", fullmatch=True),
        "name": st.one_of(st.none(), text, st.sampled_from(ODD_TEXT)),
        "description": st.one_of(st.none(), text, st.sampled_from(ODD_TEXT)),
        "starts_at": plausible_times, "ends_at": plausible_times, "files": plausible_files,
        "into": st.one_of(st.sampled_from(ids), st.integers(-1, 2**31)),
        "cluster_id": st.one_of(st.none(), st.sampled_from(ids), st.integers(-1, 2**31)),
    }
    models = models or [m for m in schema_models() if m.model_config.get("extra") == "forbid"
                        and not m.__name__.endswith("Query")]

    def value(field: str) -> st.SearchStrategy[Any]:
        return st.one_of(plausible[field], plausible[field], json_values) if field in plausible else json_values

    def objects(model: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
        fields = model.model_fields
        return st.fixed_dictionaries({f: value(f) for f in fields if fields[f].is_required()},
                                     optional={f: value(f) for f in fields if not fields[f].is_required()})

    return st.sampled_from(models).flatmap(objects).map(lambda obj: json.dumps(obj).encode())


# --- the seeded event, and the checks ---------------------------------------------------------


#: A small photo of a person of the seed (320x240): the body of a search that matches.
SELFIE = "obama_5_small.jpg"


@pytest.fixture
def seed(functions: dict[str, Any]) -> dict[str, list[str]]:
    """Real keys per route parameter name: an event with photos of two people, clustered, so
    generated requests also reach the code past the lookups. Made afresh for each route, so a
    route's requests do not depend on what another route's requests deleted or merged."""
    # A guest link with every right: requests carry its token (``call``), so those to guest
    # routes get past the token check.
    keys = seeded_event(functions, "gen", guests=True)
    assert len(keys["image_id"]) == 4 and len(keys["face_id"]) == 4 and len(keys["cluster_id"]) == 2
    return keys


def call(function: Any, method: str, route: dict[str, str], params: dict[str, str], body: bytes,
         content_type: str | None, token: str | None = None) -> tuple[int, bytes, float, str]:
    """Call ``function`` as the host does, with a guest link's ``token`` as bearer if given;
    ``(status, body, seconds, media type)``."""
    headers = {} if content_type is None else {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    req = func.HttpRequest(method=method, url="http://localhost/api/generated", params=params,
                           route_params=route, body=body, headers=headers)
    started = time.perf_counter()
    resp = function(req)
    return resp.status_code, resp.get_body(), time.perf_counter() - started, resp.mimetype


def library_words(message: str, route: dict[str, str]) -> list[str]:
    """The ``LIBRARY_WORDS`` in ``message`` that the request's route did not put there (a
    not-found message names the key asked for)."""
    echoed = " ".join(route.values()).lower()
    found = [w for w in LIBRARY_WORDS if w in message.lower() and w not in echoed]
    return found + (["PIL"] if re.search(r"\bPIL\b", message) and "PIL" not in echoed else [])


def check_response(status: int, raw: bytes, seconds: float, media_type: str, route: dict[str, str],
                   codes: set[str]) -> None:
    assert status < 500, raw[:2000]
    assert seconds < (REFUSED_LATENCY_S if status >= 400 else LATENCY_S), f"{status} after {seconds:.2f} s"
    if status == 204:
        assert raw == b""
        return
    if status < 400 and media_type != "application/json":
        # The API reference page and its files (their types: tests/system/test_openapi.py).
        return
    body = json.loads(raw)
    if status < 400:
        messages = [body["message"]] if isinstance(body, dict) and isinstance(body.get("message"), str) else []
    else:
        assert isinstance(body, dict) and set(body) <= {"code", "message", "details"}, body
        assert body["code"] in codes, f"code {body['code']!r} is not in kanta.errors.CATALOGUE"
        assert isinstance(body["message"], str) and body["message"].strip(), body
        messages = [body["message"]]
        if "details" in body:
            assert body["code"] == "validation_error" and body["details"], body
            for detail in body["details"]:
                assert set(detail) == {"field", "message", "type"}, detail
                assert re.fullmatch(r"[a-z_]+", detail["type"]) and detail["message"].strip(), detail
                messages.append(detail["message"])
    for message in messages:
        assert not library_words(message, route), body


@pytest.mark.parametrize(("name", "route", "methods"), ROUTES, ids=[r[0] for r in ROUTES])
def test_generated_requests_get_kantas_answers(functions, seed, name, route, methods):
    """``EXAMPLES`` generated requests to one route, each answered as ``check_response`` asks."""
    function = functions[name]
    params = re.findall(r"\{(\w+)", route)
    codes = stable_codes()

    def value(param: str) -> st.SearchStrategy[str]:
        # Half real keys, half generated text.
        real = seed.get(param)
        return weighted((1, st.sampled_from(real)), (1, any_text)) if real else any_text

    # Half plausible objects, a tenth real photos (a search that matches), the rest garbage.
    plausible = plausible_bodies(seed, parsed_models(function, "body"))
    bodies = weighted((5, plausible), (1, st.just(photo(SELFIE))), (4, garbage_bodies))
    query_names = [f for m in parsed_models(function, "query") for f in m.model_fields]
    requests = st.sampled_from(methods).flatmap(
        lambda method: st.tuples(st.just(method), st.fixed_dictionaries({p: value(p) for p in params}),
                                 queries(query_names), bodies, content_types))

    # Untimed first call: a route's first use may import or load what it needs.
    call(function, methods[0], {p: "warm-up" for p in params}, {}, b"", None)

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, print_blob=False,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
    @given(requests)
    def run(request: tuple[str, dict[str, str], dict[str, str], bytes, str | None]) -> None:
        method, route_params, query, body, content_type = request
        status, raw, seconds, media_type = call(function, method, route_params, query, body, content_type,
                                                seed["token"][0])
        check_response(status, raw, seconds, media_type, route_params, codes)

    run()


def test_every_http_route_is_generated_for():
    """The routes come from the app itself; a sanity check that indexing found them all."""
    names = {name for name, _, _ in ROUTES}
    assert {"create_event", "list_events", "search_event", "move_face", "health", "run_migrations"} <= names
    assert len(names) == len(ROUTES) >= 17
    assert {"limit", "offset", "top_k", "sample_size", "running"} <= set(QUERY_NAMES)
    assert {"code", "starts_at", "files", "into", "cluster_id", "name"} <= set(BODY_NAMES)


def request_models() -> list[type[BaseModel]]:
    """The models requests are parsed into: query models and bodies that forbid unknown fields."""
    return [m for m in schema_models() if m.__name__.endswith("Query") or m.model_config.get("extra") == "forbid"]


def unbounded_numbers(node: Any, path: str = "") -> list[str]:
    """Paths of the integers and numbers of a JSON schema that lack a lower or an upper bound."""
    found = []
    if isinstance(node, dict):
        if node.get("type") in ("integer", "number") and not (
                {"minimum", "exclusiveMinimum", "ge", "gt"} & set(node)
                and {"maximum", "exclusiveMaximum", "le", "lt"} & set(node)):
            found.append(path)
        for key, child in node.items():
            found += unbounded_numbers(child, f"{path}.{key}")
    elif isinstance(node, list):
        for i, child in enumerate(node):
            found += unbounded_numbers(child, f"{path}[{i}]")
    return found


@pytest.mark.parametrize("model", request_models(), ids=lambda m: m.__name__)
def test_every_number_a_request_takes_is_bounded(model):
    """A number with no bound reaches PostgreSQL as whatever the client sent, and an integer
    over int4/int8 fails there (a 500) instead of at the edge (a 422 naming the field)."""
    assert not unbounded_numbers(model.model_json_schema(mode="validation")), model.__name__
