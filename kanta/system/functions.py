"""Operational endpoints: ``GET /api/health`` (anonymous), ``POST /api/migrations`` (admin: the
deployment hook runs the schema migration as the app's own identity), and the API's
description (anonymous): ``GET /api/openapi.json``, the OpenAPI 3.1 document, and
``GET /api/docs``, a reference page of it whose files Kanta serves itself from the
``swagger_ui_bundle`` package (``GET /api/docs/{file}``), so it loads nothing from elsewhere."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Literal

import azure.functions as func
import psycopg

from kanta import migrate
from kanta.db import connection, ping
from kanta.endpoints import endpoint
from kanta.errors import Conflict, Failed, NotFound
from kanta.http import file_response
from kanta.openapi import build_document
from kanta.system.schemas import Health, MigrationResult

bp = func.Blueprint()
system = functools.partial(endpoint, bp, tag="system", auth="anonymous")

#: Seconds the health check waits for the database: a probe that gives up after 2 s gets a
#: 503, not a timeout, when the database is down.
HEALTH_DATABASE_TIMEOUT_S = 1.5


@system("health", "GET", "health", summary="Is Kanta up, and its database?", responses={200: Health},
        errors=("database_unavailable",))
def health() -> Health:
    """Kanta is up and its database answers within ``HEALTH_DATABASE_TIMEOUT_S`` seconds."""
    ping(HEALTH_DATABASE_TIMEOUT_S)
    return Health(status="ok", database="ok")


# ADMIN level: only the host's master key may call it (the azd postdeploy hook fetches it
# with `az functionapp keys list`). Running the migration inside the app makes the managed
# identity the owner of the tables, which later migrations need to ALTER them.
@system("run_migrations", "POST", "migrations", auth="admin", summary="Apply pending schema migrations",
        responses={200: MigrationResult}, errors=("migration_changed", "migration_failed", "database_unavailable"))
def run_migrations() -> MigrationResult:
    """Apply the ``sql/`` files not applied yet, each in its own transaction; safe to repeat
    (``kanta.migrate.migrate``). An applied file edited since is refused; a failed statement
    rolls its file back and answers the database's message."""
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
        current = migrate.current_version(conn)
    return MigrationResult(applied=applied, current=current)


# --- the API's description -------------------------------------------------------------------

#: Files of the reference page: the ``swagger_ui_bundle`` package's Swagger UI build, and the
#: script that starts it (``STATIC_DIR/kanta-docs.js``), with the media type each is served as. Only these
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

#: Kanta's own files of the reference page: the page (``{files}``: where the other files are;
#: ``{document}``: the document's URL) and ``kanta-docs.js``, which starts Swagger UI.
STATIC_DIR = Path(__file__).with_name("static")

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
    """The OpenAPI document of every declared endpoint (``kanta.endpoints.registered()``), as
    JSON bytes, built once per process at its first request: by then the host has loaded
    ``function_app``, which imports every domain's ``functions`` module."""
    return json.dumps(build_document(), ensure_ascii=False).encode()


@functools.cache
def docs_page() -> str:
    """The reference page's template (``STATIC_DIR/docs.html``), read once per process."""
    return (STATIC_DIR / "docs.html").read_text(encoding="utf-8")


@functools.cache
def docs_file(name: str) -> bytes:
    """The bytes of reference page file ``name`` (a key of ``DOCS_FILES``), read once per
    process. Raises ``KeyError`` for any other name."""
    if name not in DOCS_FILES:
        raise KeyError(name)
    if name == "kanta-docs.js":
        return (STATIC_DIR / name).read_bytes()
    # Imported here: the other routes do not need the package.
    from swagger_ui_bundle import swagger_ui_path

    return (swagger_ui_path / name).read_bytes()


@system("openapi_document", "GET", "openapi.json", summary="This API's OpenAPI 3.1 document",
        responses={200: "application/json"}, database=False)
def openapi_document() -> func.HttpResponse:
    """The OpenAPI 3.1 document of every HTTP route (``kanta.openapi.build_document``)."""
    return func.HttpResponse(openapi_json(), mimetype="application/json", charset="utf-8")


@system("api_docs", "GET", "docs", summary="The API reference page", responses={200: "text/html"}, database=False)
def api_docs(req: func.HttpRequest) -> func.HttpResponse:
    """An HTML page (Swagger UI) of ``/api/openapi.json``; its files come from
    ``/api/docs/{file}``. Links are relative, so the page works under any host and
    prefix, with or without a final slash."""
    at_slash = req.url.split("?", 1)[0].endswith("/")
    page = docs_page().format(files="" if at_slash else "docs/", document="../openapi.json" if at_slash else "openapi.json")
    return file_response(page, "text/html", {**DOCS_SECURITY_HEADERS, "Cache-Control": "no-cache"})


@system("api_docs_file", "GET", "docs/{file}", summary="A file of the API reference page",
        responses={200: tuple(sorted(set(DOCS_FILES.values())))}, errors=("file_not_found",), database=False)
def api_docs_file(file: DocsFile) -> func.HttpResponse:
    """One of ``DOCS_FILES`` with its media type; any other name is not found."""
    if file not in DOCS_FILES:
        raise NotFound("file_not_found", "The API reference has no file of this name.")
    return file_response(docs_file(file), DOCS_FILES[file], {"Cache-Control": f"public, max-age={DOCS_FILE_MAX_AGE_S}"})
