"""``kanta.db`` when PostgreSQL cannot be reached: every HTTP function answers 503
``database_unavailable`` (clients retry), and the blob trigger raises so the host retries
the blob: nothing is recorded meanwhile and nothing is lost."""

from __future__ import annotations

import psycopg
import pytest

from tests.helpers import (
    FACE,
    SettingsOverride,
    assert_error,
    assert_processed,
    get_image,
    photo,
    put_blob,
    run_blob_trigger,
    upload_ticket,
)

#: Settings pointing Kanta at a database nothing listens on (port 1), with a 2 s pool timeout.
DATABASE_DOWN = {"KANTA_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x?connect_timeout=1",
                 "KANTA_DB_POOL_TIMEOUT": 2}


@pytest.fixture
def database_down(services: dict[str, str], settings_override: SettingsOverride) -> SettingsOverride:
    """Kanta pointed at a database that does not answer."""
    settings_override(**DATABASE_DOWN)
    return settings_override


def test_blob_trigger_raises_while_database_is_down_and_a_retry_processes_it(api, functions, event,
                                                                            settings_override):
    """The host retries a blob whose run raised; nothing is recorded meanwhile, nothing lost."""
    ticket = upload_ticket(api, event["code"])
    put_blob(ticket["blob_name"], photo(FACE))
    settings_override(**DATABASE_DOWN)
    with pytest.raises(psycopg.OperationalError):
        run_blob_trigger(functions, ticket["blob_name"])
    settings_override.restore()
    assert get_image(api, ticket["image_id"])["status"] == "pending"
    run_blob_trigger(functions, ticket["blob_name"])
    assert_processed(api, ticket["image_id"], faces=1)


@pytest.mark.parametrize(("name", "method", "kwargs"), [
    ("health", "GET", {}),
    ("list_events", "GET", {}),
    ("create_event", "POST", {"json_body": {"code": "while-down"}}),
])
def test_http_while_database_is_down_is_503(api, database_down, name, method, kwargs):
    assert_error(api(name, method, **kwargs), 503, "database_unavailable")
