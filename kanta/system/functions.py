"""Operational endpoints: ``GET /api/health`` (anonymous) and ``POST /api/migrations``
(admin: the deployment hook runs the schema migration as the app's own identity)."""

from __future__ import annotations

import azure.functions as func
import psycopg

from kanta import migrate
from kanta.db import connection, ping
from kanta.errors import Conflict, Failed
from kanta.http import api, json_response
from kanta.system.schemas import MigrationResult

bp = func.Blueprint()

#: Seconds the health check waits for the database: a probe that gives up after 2 s gets a
#: 503, not a timeout, when the database is down.
HEALTH_DATABASE_TIMEOUT_S = 1.5


@bp.function_name("health")
@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@api
def health(req: func.HttpRequest) -> func.HttpResponse:
    """200 ``{"status": "ok", "database": "ok"}``; 503 ``database_unavailable`` when the
    database does not answer within ``HEALTH_DATABASE_TIMEOUT_S`` seconds."""
    ping(HEALTH_DATABASE_TIMEOUT_S)
    return json_response({"status": "ok", "database": "ok"})


# ADMIN level: only the host's master key may call it (the azd postdeploy hook fetches it
# with `az functionapp keys list`). Running the migration inside the app makes the managed
# identity the owner of the tables, which later migrations need to ALTER them.
@bp.function_name("run_migrations")
@bp.route(route="migrations", methods=["POST"], auth_level=func.AuthLevel.ADMIN)
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
