"""The migration command applies numbered SQL files in order, records them, and is safe to re-run."""

from __future__ import annotations

import psycopg
import pytest

from kanta.migrate import MigrationError, discover, migrate


@pytest.fixture
def empty_db(services):
    """A fresh database on the test server."""
    dsn = services["KANTA_DATABASE_URL"]
    name = "kanta_migrate_test"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return dsn.replace("/kanta_test?", f"/{name}?")


def test_repo_migrations_apply_once_and_rerun_is_a_no_op(empty_db):
    versions = [m.version for m in discover()]
    assert versions == sorted(versions) and versions[0] == 1
    assert migrate(empty_db) == versions
    assert migrate(empty_db) == []
    with psycopg.connect(empty_db) as conn:
        recorded = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
        assert recorded == versions
        assert conn.execute("SELECT extname FROM pg_extension WHERE extname = 'vector'").fetchone()


def test_changed_applied_file_and_bad_names_are_refused(empty_db, tmp_path):
    (tmp_path / "001_a.sql").write_text("CREATE TABLE a (x int);")
    assert migrate(empty_db, tmp_path) == [1]
    (tmp_path / "002_b.sql").write_text("CREATE TABLE b (x int);")
    assert migrate(empty_db, tmp_path) == [2]
    (tmp_path / "001_a.sql").write_text("CREATE TABLE a (x bigint);")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(empty_db, tmp_path)
    (tmp_path / "oops.sql").write_text("")
    with pytest.raises(MigrationError, match="NNN_name.sql"):
        discover(tmp_path)


def test_failed_migration_is_rolled_back_and_not_recorded(empty_db, tmp_path):
    (tmp_path / "001_ok.sql").write_text("CREATE TABLE ok (x int);")
    (tmp_path / "002_bad.sql").write_text("CREATE TABLE half (x int); SELECT no_such_function();")
    with pytest.raises(psycopg.Error):
        migrate(empty_db, tmp_path)
    with psycopg.connect(empty_db) as conn:
        assert [r[0] for r in conn.execute("SELECT version FROM schema_migrations")] == [1]
        assert conn.execute("SELECT to_regclass('half')").fetchone()[0] is None
