"""Fixtures: a real embedded PostgreSQL with pgvector (pgserver), real Azurite, and the
Function App's own function objects, called the way the Functions host calls them.

Nothing here mocks Azure Storage or PostgreSQL; Azure itself (the Functions host, Managed
Identity) is the only thing not present, and tests that stand in for it say so.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

from kanta.local.services import LocalAzurite, LocalPostgres, free_port

DATA = Path(__file__).parent / "data"


def reset_clients() -> None:
    """Forget cached settings, pool and storage clients so changed env vars take effect."""
    from kanta.config import get_settings
    from kanta.db import close_pool
    from kanta.storage import get_blob_service

    close_pool()
    get_settings.cache_clear()
    get_blob_service.cache_clear()


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
            "KANTA_DB_POOL_TIMEOUT": "5",
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


class Api:
    """Calls HTTP functions the way the host does: a ``func.HttpRequest`` in, a response out."""

    def __init__(self, functions: dict[str, Callable]) -> None:
        self.functions = functions

    def __call__(self, name: str, method: str = "GET", *, route: dict[str, str] | None = None,
                 params: dict[str, str] | None = None, json_body: Any = None, body: bytes | None = None,
                 ) -> tuple[int, Any]:
        if json_body is not None:
            body = json.dumps(json_body).encode()
        req = func.HttpRequest(method=method, url=f"http://localhost/api/{name}", params=params or {},
                               route_params=route or {}, body=body or b"")
        resp = self.functions[name](req)
        raw = resp.get_body()
        return resp.status_code, (json.loads(raw) if raw else None)


@pytest.fixture
def api(functions: dict[str, Callable]) -> Api:
    return Api(functions)


@pytest.fixture
def event(api: Api) -> dict[str, Any]:
    """A fresh, running event with a unique code."""
    status, body = api("create_event", "POST", json_body={"code": f"ev-{uuid.uuid4().hex[:12]}", "name": "Test"})
    assert status == 201, body
    return body


def photo(name: str) -> bytes:
    """Bytes of a labelled photo in tests/data (see tests/data/README.md)."""
    return (DATA / name).read_bytes()


def run_blob_trigger(functions: dict[str, Callable], blob_name: str, data: bytes | None = None) -> None:
    """Invoke the blob trigger as the host does for ``uploads/{blob_name}``: the blob's bytes
    are read from Azurite unless ``data`` is given."""
    from kanta.config import UPLOADS_CONTAINER
    from kanta.storage import read_blob

    if data is None:
        data = read_blob(blob_name)
    stream = func.blob.InputStream(data=data, name=f"{UPLOADS_CONTAINER}/{blob_name}", length=len(data))
    functions["encode_uploaded_image"](stream)


def put_blob(blob_name: str, data: bytes) -> None:
    """Write a blob to the uploads container with the SDK (a client other than a browser)."""
    from kanta.storage import uploads_container

    uploads_container().upload_blob(blob_name, data, overwrite=True)
