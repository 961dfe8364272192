"""Operational endpoints: ``GET /api/health`` (anonymous), ``POST /api/migrations`` (admin: the
deployment hook runs the schema migration as the app's own identity), and the API's
description (anonymous): ``GET /api/openapi.json``, the OpenAPI 3.1 document, and
``GET /api/docs``, a reference page of it whose files Kanta serves itself from the
``swagger_ui_bundle`` package (``GET /api/docs/{file}``), so it loads nothing from elsewhere."""

from __future__ import annotations

import functools
import json
from typing import Literal

import azure.functions as func
import psycopg

from kanta import migrate
from kanta.db import connection, ping
from kanta.errors import Conflict, Failed, NotFound
from kanta.http import api, file_response, json_response
from kanta.openapi import build_document, operation
from kanta.system.schemas import Health, MigrationResult

bp = func.Blueprint()

#: Seconds the health check waits for the database: a probe that gives up after 2 s gets a
#: 503, not a timeout, when the database is down.
HEALTH_DATABASE_TIMEOUT_S = 1.5


@bp.function_name("health")
@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@operation(summary="Is Kanta up, and its database?", tag="system", auth="anonymous", responses={200: Health},
           errors=("database_unavailable",))
@api
def health(req: func.HttpRequest) -> func.HttpResponse:
    """200 ``{"status": "ok", "database": "ok"}``; 503 ``database_unavailable`` when the
    database does not answer within ``HEALTH_DATABASE_TIMEOUT_S`` seconds."""
    ping(HEALTH_DATABASE_TIMEOUT_S)
    return json_response(Health(status="ok", database="ok"))


# ADMIN level: only the host's master key may call it (the azd postdeploy hook fetches it
# with `az functionapp keys list`). Running the migration inside the app makes the managed
# identity the owner of the tables, which later migrations need to ALTER them.
@bp.function_name("run_migrations")
@bp.route(route="migrations", methods=["POST"], auth_level=func.AuthLevel.ADMIN)
@operation(summary="Apply pending schema migrations", tag="system", auth="admin", responses={200: MigrationResult},
           errors=("migration_changed", "migration_failed", "database_unavailable"))
@api
def run_migrations(req: func.HttpRequest) -> func.HttpResponse:
    """``POST /api/migrations`` → 200 ``MigrationResult``; 409 ``migration_changed`` when an
    applied ``sql/`` file was edited; 500 ``migration_failed`` with the database's message
    when a statement fails (that file is rolled back); 503 when the database is unreachable.
    Safe to repeat (``kanta.migrate.migrate``)."""
    try:
        applied = migrate.migrate()
    except migrate.MigrationError as exc:
        raise Conflict("migration_changed", str(exc)) from exc
    except psycopg.OperationalError:
        raise
    except psycopg.Error as exc:
        # Admin-only endpoint: the operator needs the database's reason to fix the deployment.
        raise Failed("migration_failed", f"{type(exc).__name__}: {exc}") from exc
    with connection() as conn:
        current = conn.execute("SELECT coalesce(max(version), 0) AS v FROM schema_migrations").fetchone()["v"]
    return json_response(MigrationResult(applied=applied, current=current))


# --- the API's description -------------------------------------------------------------------

#: Files of the reference page: the ``swagger_ui_bundle`` package's Swagger UI build, and the
#: script that starts it (``DOCS_SCRIPT``), with the media type each is served as. Only these
#: names are ever served, so no request can read another file.
DOCS_FILES: dict[str, str] = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "favicon-32x32.png": "image/png",
    "favicon-16x16.png": "image/png",
    "kanta-docs.js": "text/javascript",
}
#: The names of ``DOCS_FILES``, as a type (the document lists them).
DocsFile = Literal[tuple(DOCS_FILES)]  # type: ignore[valid-type]

#: Starts Swagger UI on the document, whose URL the page gives (``data-openapi``). No
#: validator badge (it would send the document to an outside validator) and the base layout
#: (no bar to load other documents).
DOCS_SCRIPT = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: document.body.dataset.openapi,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
});
"""

DOCS_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Kanta API</title>
<link rel="stylesheet" href="{files}swagger-ui.css">
<link rel="icon" type="image/png" href="{files}favicon-32x32.png" sizes="32x32">
<link rel="icon" type="image/png" href="{files}favicon-16x16.png" sizes="16x16">
</head>
<body data-openapi="{document}">
<div id="swagger-ui"></div>
<script src="{files}swagger-ui-bundle.js"></script>
<script src="{files}kanta-docs.js"></script>
</body>
</html>
"""

#: The page may load only what Kanta serves: scripts and the document from its own origin
#: (Swagger UI sets styles inline and draws icons as data: URLs).
DOCS_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}
#: Seconds a browser may keep a file of the page: they change only with the package.
DOCS_FILE_MAX_AGE_S = 24 * 3600


@functools.cache
def openapi_json() -> bytes:
    """The OpenAPI document of ``function_app.app``, as JSON bytes, built once per process."""
    from function_app import app  # here: function_app imports this module

    return json.dumps(build_document(app), ensure_ascii=False).encode()


@functools.cache
def docs_file(name: str) -> bytes:
    """The bytes of reference page file ``name`` (a key of ``DOCS_FILES``), read once per
    process. Raises ``KeyError`` for any other name."""
    if name not in DOCS_FILES:
        raise KeyError(name)
    if name == "kanta-docs.js":
        return DOCS_SCRIPT.encode()
    # Imported here: the other routes do not need the package.
    from swagger_ui_bundle import swagger_ui_path

    return (swagger_ui_path / name).read_bytes()


@bp.function_name("openapi_document")
@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@operation(summary="This API's OpenAPI 3.1 document", tag="system", auth="anonymous",
           responses={200: "application/json"}, database=False)
@api
def openapi_document(req: func.HttpRequest) -> func.HttpResponse:
    """``GET /api/openapi.json`` → the OpenAPI 3.1 document of every HTTP route
    (``kanta.openapi.build_document``)."""
    return func.HttpResponse(openapi_json(), mimetype="application/json", charset="utf-8")


@bp.function_name("api_docs")
@bp.route(route="docs", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@operation(summary="The API reference page", tag="system", auth="anonymous", responses={200: "text/html"},
           database=False)
@api
def api_docs(req: func.HttpRequest) -> func.HttpResponse:
    """``GET /api/docs`` → an HTML page (Swagger UI) of ``/api/openapi.json``; its files come
    from ``/api/docs/{file}``. Links are relative, so the page works under any host and
    prefix, with or without a final slash."""
    at_slash = req.url.split("?", 1)[0].endswith("/")
    page = DOCS_PAGE.format(files="" if at_slash else "docs/", document="../openapi.json" if at_slash else "openapi.json")
    return file_response(page, "text/html", {**DOCS_SECURITY_HEADERS, "Cache-Control": "no-cache"})


@bp.function_name("api_docs_file")
@bp.route(route="docs/{file}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@operation(summary="A file of the API reference page", tag="system", auth="anonymous",
           responses={200: tuple(sorted(set(DOCS_FILES.values())))}, path={"file": DocsFile},
           errors=("file_not_found",), database=False)
@api
def api_docs_file(req: func.HttpRequest) -> func.HttpResponse:
    """``GET /api/docs/{file}`` → one of ``DOCS_FILES`` with its media type; 404
    ``file_not_found`` for any other name."""
    name = req.route_params.get("file", "")
    if name not in DOCS_FILES:
        raise NotFound("file_not_found", "The API reference has no file of this name.")
    return file_response(docs_file(name), DOCS_FILES[name], {"Cache-Control": f"public, max-age={DOCS_FILE_MAX_AGE_S}"})
