"""The one place that opens PostgreSQL connections: a psycopg 3 pool with pgvector types.

The pool is created lazily on first use, once per process, so importing Kanta never touches
the network. Every connection has the pgvector adapters registered, so ``numpy`` arrays
of shape ``(128,)`` bind to ``vector(128)`` and ``vector`` columns load as
``pgvector.Vector`` (``.to_numpy()`` gives float32 of shape ``(128,)``).

Authentication (``KANTA_DATABASE_AUTH``):

* ``password`` (default): whatever the DSN carries (locally pgserver needs none).
* ``entra``: Azure Database for PostgreSQL with Microsoft Entra ID. The DSN names the
  user-assigned managed identity as ``user`` and has no password; each *new* connection gets
  a fresh access token for ``ENTRA_SCOPE`` as its password, from ``ManagedIdentityCredential``
  (``KANTA_DATABASE_CLIENT_ID``), which caches tokens and renews them before they expire
  (Learn: "Use Microsoft Entra ID for authentication with Azure Database for PostgreSQL").
  The server checks the token only at login, so a pooled connection outlives its token;
  ``KANTA_DB_POOL_MAX_LIFETIME_S`` (default 30 min) still recycles connections well within
  a token's lifetime (60–90 min), so a revoked identity loses access soon.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
from pgvector.psycopg import register_vector
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from kanta import identity
from kanta.config import Settings, get_settings

#: OAuth scope of Azure Database for PostgreSQL's Entra tokens (Learn, same page).
ENTRA_SCOPE = "https://ossrdbms-aad.database.windows.net/.default"

_pool: ConnectionPool | None = None
_pool_lock = threading.Lock()


class DatabaseNotConfigured(RuntimeError):
    """Raised when ``KANTA_DATABASE_URL`` is empty."""


def auth_kwargs(settings: Settings | None = None) -> dict[str, str]:
    """Connection keyword arguments that authenticate one new connection: ``{}`` for
    ``password`` auth, ``{"password": <Entra access token>}`` for ``entra``.

    Raises ``azure.core.exceptions.ClientAuthenticationError`` (an ``azure.identity``
    ``CredentialUnavailableError`` outside Azure) when no token can be had.
    """
    settings = settings or get_settings()
    if settings.database_auth != "entra":
        return {}
    token = identity.managed_identity_credential(settings.database_client_id).get_token(ENTRA_SCOPE)
    return {"password": token.token}


def connect(dsn: str | None = None, **kwargs: Any) -> psycopg.Connection:
    """Open one connection outside the pool (migrations: autocommit and advisory locks),
    authenticated as ``KANTA_DATABASE_AUTH`` says. ``dsn`` defaults to ``KANTA_DATABASE_URL``;
    ``kwargs`` go to ``psycopg.connect`` (e.g. ``autocommit=True``).

    Raises ``DatabaseNotConfigured`` without a DSN and ``psycopg.OperationalError`` when the
    server refuses or cannot be reached.
    """
    settings = get_settings()
    dsn = dsn or settings.database_url
    if not dsn:
        raise DatabaseNotConfigured("KANTA_DATABASE_URL is not set")
    # No server-side prepared statements: safe behind PgBouncer's transaction mode (psycopg
    # docs, "Prepared statements"; Azure's built-in PgBouncer listens on port 6432).
    return psycopg.connect(dsn, prepare_threshold=None, **auth_kwargs(settings), **kwargs)


def _configure(conn: psycopg.Connection) -> None:
    register_vector(conn)
    # register_vector runs a query; leave the connection idle, not in a transaction.
    conn.commit()


def get_pool() -> ConnectionPool:
    """Return the process-wide connection pool, opening it on first call.

    Raises ``DatabaseNotConfigured`` when no DSN is set.
    """
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                settings = get_settings()
                if not settings.database_url:
                    raise DatabaseNotConfigured("KANTA_DATABASE_URL is not set")
                _pool = ConnectionPool(
                    settings.database_url,
                    min_size=settings.db_pool_min_size,
                    max_size=settings.db_pool_max_size,
                    timeout=settings.db_pool_timeout_s,
                    max_lifetime=settings.db_pool_max_lifetime_s,
                    configure=_configure,
                    # A connection the server dropped (a restart, an outage) is noticed when
                    # it is borrowed and replaced, instead of failing the request that got it.
                    check=ConnectionPool.check_connection,
                    # A callable: psycopg_pool calls it for every new connection, so each
                    # one logs in with a current token (psycopg_pool 3.3, "kwargs").
                    kwargs=lambda: {"row_factory": dict_row, "prepare_threshold": None, **auth_kwargs(settings)},
                    open=True,
                    name="kanta",
                )
    return _pool


@contextlib.contextmanager
def connection(timeout_s: float | None = None) -> Iterator[psycopg.Connection]:
    """Borrow a pooled connection; the block runs in one transaction, committed on success.

    ``timeout_s``: seconds to wait for a connection, default ``KANTA_DB_POOL_TIMEOUT_S``.
    Raises ``psycopg.OperationalError`` (``psycopg_pool.PoolTimeout`` included) when the
    database cannot be reached within that time.
    """
    with get_pool().connection(timeout=timeout_s) as conn:
        yield conn


class DatabaseTimeout(psycopg.OperationalError):
    """The database did not answer within the time a caller allowed (``ping``)."""


# Threads that run ping's query, so a caller can stop waiting for a server that stopped
# answering mid-query (libpq has no client-side query timeout). Two: probes come one at a
# time; a stuck one must not block the next.
_ping_threads = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="kanta-db-ping")


def _select_one(timeout_s: float) -> None:
    with connection(timeout_s) as conn:
        conn.execute("SELECT 1")


def ping(timeout_s: float) -> None:
    """Check that the database answers ``SELECT 1`` within ``timeout_s`` seconds, whatever
    the pool timeout: for health probes, which give up after a few seconds.

    Raises ``psycopg.OperationalError`` (``DatabaseTimeout`` when no answer came in time; a
    query still waiting goes on in the background and returns its connection when done).
    """
    future = _ping_threads.submit(_select_one, timeout_s)
    try:
        future.result(timeout=timeout_s)
    except concurrent.futures.TimeoutError:
        future.cancel()
        raise DatabaseTimeout(f"the database did not answer within {timeout_s} s") from None


def close_pool() -> None:
    """Close the process-wide pool (tests and the local host call this on shutdown)."""
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.close()
            _pool = None
