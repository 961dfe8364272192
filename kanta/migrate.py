"""Kanta's schema migration command: ``python -m kanta.migrate [--dsn DSN]``.

Applies the numbered files ``sql/NNN_name.sql`` in order, each in its own transaction,
and records each applied version with the SHA-256 of its text in ``schema_migrations``.
Safe to re-run: applied versions are skipped, and a PostgreSQL advisory lock keeps two
concurrent runs (say, two deployments) from applying the same file twice. An applied file
whose text changed afterwards is an error: write a new numbered file instead.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.rows import tuple_row

from kanta.db import connect

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
_FILE_RE = re.compile(r"^(\d{3,})_([a-z0-9_]+)\.sql$")
# Arbitrary constant key for pg_advisory_lock, shared by every migration run.
_LOCK_KEY = 0x6B616E7461

log = logging.getLogger(__name__)


class MigrationError(RuntimeError):
    """A migration file is malformed, duplicated, or changed after it was applied."""


@dataclass(frozen=True)
class Migration:
    """One numbered SQL file."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(sql_dir: Path = SQL_DIR) -> list[Migration]:
    """Return the migrations in ``sql_dir`` sorted by version.

    Raises ``MigrationError`` for a ``.sql`` file not named ``NNN_name.sql`` or a repeated version.
    """
    found: dict[int, Migration] = {}
    for path in sorted(sql_dir.glob("*.sql")):
        match = _FILE_RE.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"{path.name}: version {version} is used twice")
        found[version] = Migration(version, match.group(2), path.read_text())
    return [found[v] for v in sorted(found)]


def migrate(dsn: str | None = None, sql_dir: Path = SQL_DIR) -> list[int]:
    """Apply pending migrations to the database at ``dsn`` (default ``KANTA_DATABASE_URL``,
    authenticated as ``KANTA_DATABASE_AUTH`` says); return the versions applied.

    Raises ``MigrationError`` (see ``discover``; also for a changed applied file) and
    ``psycopg.Error`` when the database refuses a statement (that file's transaction is
    rolled back, earlier files stay applied).
    """
    migrations = discover(sql_dir)
    applied_now: list[int] = []
    with connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version integer PRIMARY KEY,
                       name text NOT NULL,
                       checksum text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            done = {
                row[0]: row[1]
                for row in conn.execute("SELECT version, checksum FROM schema_migrations")
            }
            for m in migrations:
                if m.version in done:
                    if done[m.version] != m.checksum:
                        raise MigrationError(
                            f"{m.version:03d}_{m.name}.sql changed after it was applied"
                        )
                    continue
                with conn.transaction():
                    conn.execute(m.sql)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (m.version, m.name, m.checksum),
                    )
                log.info("applied migration %03d_%s", m.version, m.name)
                applied_now.append(m.version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now


def current_version(conn: psycopg.Connection) -> int:
    """The highest migration version applied through ``conn`` (0 when none is)."""
    with conn.cursor(row_factory=tuple_row) as cur:
        (version,) = cur.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(version)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; the DSN defaults to the ``KANTA_DATABASE_URL`` setting."""
    from kanta.config import get_settings

    parser = argparse.ArgumentParser(prog="python -m kanta.migrate", description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", default=None, help="PostgreSQL DSN (default: KANTA_DATABASE_URL)")
    args = parser.parse_args(argv)
    if not (args.dsn or get_settings().database_url):
        parser.error("no DSN: pass --dsn or set KANTA_DATABASE_URL")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    applied = migrate(args.dsn)
    print(f"applied {len(applied)} migration(s)" + (f": {applied}" if applied else "; schema is up to date"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
