"""``POST /api/migrations``: the deployment hook migrates the schema through the app, as the
app's own database identity."""

from __future__ import annotations

import psycopg
import pytest

from kanta.migrate import discover
from tests.helpers import override_settings


@pytest.fixture
def fresh_database(services, settings_override):
    """Point the app at a new, empty database for one test."""
    dsn = services["KANTA_DATABASE_URL"]
    name = "kanta_endpoint_test"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    settings_override(KANTA_DATABASE_URL=dsn.replace("/kanta_test?", f"/{name}?"))


def test_first_call_applies_every_file_and_the_next_none(api, fresh_database):
    versions = [m.version for m in discover()]
    status, body = api("run_migrations", "POST")
    assert status == 200, body
    assert body == {"applied": versions, "current": versions[-1]}
    # The schema works: the app can create an event in the database it just migrated.
    assert api("create_event", "POST", json_body={"code": "after-migration", "name": "x"})[0] == 201
    assert api("run_migrations", "POST") == (200, {"applied": [], "current": versions[-1]})


def test_unreachable_database_is_a_503(api):
    with override_settings(KANTA_DATABASE_URL="host=127.0.0.1 port=1 dbname=x user=x connect_timeout=1"):
        status, body = api("run_migrations", "POST")
    assert status == 503 and body["code"] == "database_unavailable"
