"""``GET /api/health``: anonymous liveness and database check."""

from __future__ import annotations

import azure.functions as func

from kanta.db import connection
from kanta.http import api, json_response

bp = func.Blueprint()


@bp.function_name("health")
@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@api
def health(req: func.HttpRequest) -> func.HttpResponse:
    """200 ``{"status": "ok", "database": "ok"}``; 503 ``database_unavailable`` when the
    database does not answer."""
    with connection() as conn:
        conn.execute("SELECT 1")
    return json_response({"status": "ok", "database": "ok"})
