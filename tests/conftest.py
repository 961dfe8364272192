"""Fixtures: a real embedded PostgreSQL with pgvector (pgserver), real Azurite, and the
Function App's own function objects, called the way the Functions host calls them.

Nothing here mocks Azure Storage or PostgreSQL; Azure itself (the Functions host, Managed
Identity) is the only thing not present, and tests that stand in for it say so.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kanta.local.services import LocalAzurite, LocalPostgres, free_port
from tests.helpers import Api, SettingsOverride, reset_clients


@pytest.fixture(scope="session")
def services() -> Iterator[dict[str, str]]:
    """Start PostgreSQL and Azurite once per test session, migrate, and point Kanta at them."""
    root = Path(tempfile.mkdtemp(prefix="kanta-test-"))
    root.chmod(0o755)  # pgserver runs postgres as an unprivileged user when we are root
    with contextlib.ExitStack() as stack:
        # Registered as they start: a failure later in setup still stops what started.
        postgres = LocalPostgres(root / "pgdata").start()
        stack.callback(postgres.stop)
        azurite = LocalAzurite(root / "azurite", free_port(), free_port()).start()
        stack.callback(azurite.stop)
        stack.callback(reset_clients)
        env = {
            "KANTA_DATABASE_URL": postgres.dsn("kanta_test"),
            "KANTA_STORAGE": azurite.connection_string,
            "KANTA_RECLUSTER_SCHEDULE": "0 */10 * * * *",
            "KANTA_DB_POOL_TIMEOUT_S": "5",
        }
        os.environ.update(env)
        reset_clients()
        from kanta.migrate import migrate
        from kanta.storage import ensure_containers

        migrate(env["KANTA_DATABASE_URL"])
        ensure_containers()
        yield env


@pytest.fixture(scope="session")
def functions(services: dict[str, str]) -> dict[str, Callable]:
    """The user functions of ``function_app.app`` by function name, as the host indexes them."""
    from function_app import app
    from kanta.local.host import index_functions

    return {fn.get_function_name(): fn.get_user_function() for fn in index_functions(app)}


@pytest.fixture
def api(functions: dict[str, Callable]) -> Api:
    return Api(functions)


@pytest.fixture
def event(api: Api) -> dict[str, Any]:
    """A fresh, running event with a unique code."""
    status, body = api("create_event", "POST", json_body={"code": f"ev-{uuid.uuid4().hex[:12]}", "name": "Test"})
    assert status == 201, body
    return body


@pytest.fixture
def settings_override() -> Iterator[SettingsOverride]:
    """Change Kanta's settings for one test: ``settings_override(KANTA_MAX_IMAGE_BYTES=1000)``
    sets the environment variables (``None`` unsets one) and resets the cached settings,
    pool and storage clients; teardown restores them all (``tests.helpers.SettingsOverride``;
    ``override_settings`` is the same for a ``with`` block)."""
    override = SettingsOverride()
    yield override
    override.restore()
