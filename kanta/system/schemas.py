"""Response bodies of the operational endpoints."""

from __future__ import annotations

from pydantic import BaseModel


class MigrationResult(BaseModel):
    """``POST /api/migrations``: the versions this call applied (``sql/NNN_*.sql``, ascending;
    empty when the schema was up to date) and the highest version now applied."""

    applied: list[int]
    current: int
