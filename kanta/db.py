"""The one place that opens PostgreSQL connections: a psycopg 3 pool with pgvector types.

The pool is created lazily on first use, once per process, so importing Kanta never touches
the network. Every connection has the pgvector adapters registered, so ``numpy`` arrays
of shape ``(128,)`` bind to ``vector(128)`` and ``vector`` columns load as ``pgvector.Vector`` (``.to_numpy()`` gives
float32 of shape ``(128,)``).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import psycopg
from pgvector.psycopg import register_vector
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from kanta.config import get_settings

_pool: ConnectionPool | None = None
_pool_lock = threading.Lock()


class DatabaseNotConfigured(RuntimeError):
    """Raised when ``KANTA_DATABASE_URL`` is empty."""


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
                    configure=_configure,
                    # No server-side prepared statements: safe behind PgBouncer's
                    # transaction mode (psycopg docs, "Prepared statements").
                    kwargs={"row_factory": dict_row, "prepare_threshold": None},
                    open=True,
                    name="kanta",
                )
    return _pool


@contextlib.contextmanager
def connection() -> Iterator[psycopg.Connection]:
    """Borrow a pooled connection; the block runs in one transaction, committed on success.

    Raises ``psycopg.OperationalError`` (``psycopg_pool.PoolTimeout`` included) when the
    database cannot be reached within the pool timeout.
    """
    with get_pool().connection() as conn:
        yield conn


def close_pool() -> None:
    """Close the process-wide pool (tests and the local host call this on shutdown)."""
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.close()
            _pool = None
