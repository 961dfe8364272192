"""Response bodies of the operational endpoints."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class MigrationResult(BaseModel):
    """``POST /api/migrations``: the versions this call applied (``sql/NNN_*.sql``, ascending;
    empty when the schema was up to date) and the highest version now applied."""

    applied: list[int]
    current: int


class Health(BaseModel):
    """``GET /api/health``: Kanta answers and its database does (when it does not, the answer
    is a 503 ``database_unavailable`` error instead)."""

    status: Literal["ok"]
    database: Literal["ok"]
