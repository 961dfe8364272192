"""PostgreSQL login with Microsoft Entra ID (``KANTA_DATABASE_AUTH=entra``), against the real
local PostgreSQL.

Azure Database for PostgreSQL takes a managed identity's access token as the password of the
role named after the identity, and checks it only at login. Here the real server checks a
real password (scram-sha-256, set on a test role) equal to the token the fake credential
hands out: a stale token is refused exactly as Azure refuses an expired one. The only fake is
the credential, because only Azure has the managed identity endpoint.
"""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest
from azure.core.credentials import AccessToken
from psycopg import sql
from psycopg.conninfo import make_conninfo

from kanta import db, identity
from kanta.config import get_settings

ROLE = "kanta_identity_test"
CLIENT_ID = "0b3f5e2a-1c4d-4e6f-8a9b-7c6d5e4f3a2b"


class FakeTokenCredential:
    """Stands in for ``ManagedIdentityCredential``: hands out ``token`` (changed by the test
    to simulate renewal) and records every scope asked for."""

    def __init__(self) -> None:
        self.token = "token-1"
        self.scopes: list[tuple[str, ...]] = []
        self.lock = threading.Lock()

    def get_token(self, *scopes: str, **kwargs) -> AccessToken:
        with self.lock:
            self.scopes.append(scopes)
            return AccessToken(self.token, 2_000_000_000)


@pytest.fixture
def entra(services, monkeypatch, settings_override):
    """Kanta configured as in Azure (Entra auth, no password in the DSN) for a role whose login
    the local server checks with scram-sha-256. Yields ``(credential, set_password)``."""
    admin_dsn = services["KANTA_DATABASE_URL"]
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        hba = Path(admin.execute("SHOW hba_file").fetchone()[0])
        original = hba.read_text()
        # First matching line wins: this role alone must present a password; others keep trust.
        hba.write_text(f"local all {ROLE} scram-sha-256\nhost all {ROLE} all scram-sha-256\n" + original)
        admin.execute("SELECT pg_reload_conf()")
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(ROLE)))
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'token-1'").format(sql.Identifier(ROLE)))

    def set_password(password: str) -> None:
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(ROLE), sql.Literal(password)))

    credential = FakeTokenCredential()
    calls: list[str] = []

    def fake_factory(client_id: str) -> FakeTokenCredential:
        calls.append(client_id)
        return credential

    monkeypatch.setattr(identity, "managed_identity_credential", fake_factory)
    settings_override(KANTA_DATABASE_URL=make_conninfo(admin_dsn, user=ROLE, password=None),
                      KANTA_DATABASE_AUTH="entra", KANTA_DATABASE_CLIENT_ID=CLIENT_ID, KANTA_DB_POOL_TIMEOUT_S=2)
    yield credential, set_password, calls
    db.close_pool()
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        hba.write_text(original)
        admin.execute("SELECT pg_reload_conf()")
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(ROLE)))


def test_the_dsn_carries_no_password_and_the_server_needs_one(entra):
    # Guard: the test proves something only if the server refuses this role without a token.
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(get_settings().database_url).close()


def test_each_new_connection_logs_in_with_a_fresh_token(entra, api):
    credential, set_password, calls = entra
    status, body = api("health")
    assert status == 200, body
    assert calls and set(calls) == {CLIENT_ID}
    assert credential.scopes and set(credential.scopes) == {(db.ENTRA_SCOPE,)}
    with db.connection() as conn:
        assert conn.execute("SELECT current_user AS u").fetchone()["u"] == ROLE

    # The token is renewed and the old one stops working: connections already open stay
    # (the server checks tokens at login only), and the next new one must use the new token.
    credential.token = "token-2"
    set_password("token-2")
    pool = db.get_pool()
    with pool.connection() as first, pool.connection() as second:  # the second is opened now
        for conn in (first, second):
            assert conn.execute("SELECT current_user AS u").fetchone()["u"] == ROLE
    with db.connect() as conn:  # one-off connections (migrations)
        assert conn.execute("SELECT current_user").fetchone()[0] == ROLE


def test_a_refused_token_is_a_503_not_a_500(entra, api):
    _, set_password, _ = entra
    set_password("a-newer-token")  # the credential's token no longer logs in
    with pytest.raises(psycopg.OperationalError):
        db.connect().close()
    status, body = api("health")
    assert status == 503 and body["code"] == "database_unavailable"


def test_password_auth_adds_nothing(settings_override):
    settings_override(KANTA_DATABASE_AUTH="password")
    assert db.auth_kwargs() == {}
