#!/usr/bin/env python3
"""Make the Function App's managed identity a PostgreSQL principal with rights on Kanta's
database (azd postprovision hook, run by ``infra/hooks/postprovision.sh``).

Runs as the deploying user, whom ``infra/app/postgres.bicep`` made the server's Entra
administrator, with an Entra token from the Azure CLI (no password exists on the server).
In database ``postgres`` it creates the identity's role with
``pgaadauth_create_principal_with_oid`` (Azure's function; it exists only in that
database); in the app database it creates the ``vector`` extension (the administrator may,
the app may not) and lets the role connect and create objects in schema ``public``. The
app, as the identity, then runs the migrations itself and so owns its tables, which later
migrations need to ALTER them and drop their indexes.

Idempotent: an existing role is left alone and the grants are no-ops the second time.
Dependencies: ``psycopg[binary]`` and ``azure-identity`` only.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping, Sequence

import psycopg
from psycopg import sql

#: OAuth scope of Azure Database for PostgreSQL's Entra authentication.
TOKEN_SCOPE = "https://ossrdbms-aad.database.windows.net/.default"
#: The maintenance database, the only one with the pgaadauth_* functions.
ADMIN_DATABASE = "postgres"


def get_token() -> str:
    """Return an Entra access token for PostgreSQL of the user signed in to the Azure CLI.

    Raises ``azure.identity.CredentialUnavailableError`` when the CLI is missing or signed
    out, ``azure.core.exceptions.ClientAuthenticationError`` when it cannot issue a token.
    """
    # Imported here so that the argument parsing and SQL helpers import without it.
    from azure.identity import AzureCliCredential

    return AzureCliCredential().get_token(TOKEN_SCOPE).token


def connect(host: str, user: str, dbname: str, token: str, *, attempts: int = 12,
            delay_s: float = 10.0) -> psycopg.Connection:
    """Open an autocommit TLS connection as ``user`` with ``token`` as the password.

    Retries ``attempts`` times, ``delay_s`` apart, on ``psycopg.OperationalError``: a new
    firewall rule or Entra administrator takes a minute or two to apply. Raises the last
    ``psycopg.OperationalError`` when every attempt fails.
    """
    for attempt in range(1, attempts + 1):
        try:
            return psycopg.connect(host=host, port=5432, dbname=dbname, user=user, password=token,
                                   sslmode="require", connect_timeout=15, autocommit=True)
        except psycopg.OperationalError as error:
            if attempt == attempts:
                raise
            print(f"connecting to {dbname} on {host} failed ({str(error).strip()}); retrying", file=sys.stderr)
            time.sleep(delay_s)
    raise AssertionError("unreachable")


def ensure_principal(conn: psycopg.Connection, role: str, object_id: str) -> bool:
    """Create the Entra role ``role`` for the service principal ``object_id`` unless a role
    of that name exists. ``conn`` must be an administrator's connection to ``postgres``.

    Returns True when the role was created. Raises ``psycopg.Error`` from the server (for
    example when ``object_id`` is not a principal of the server's tenant).
    """
    if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
        return False
    # (role name, object id, principal type, is admin, is MFA): a plain, non-admin role.
    conn.execute("SELECT * FROM pgaadauth_create_principal_with_oid(%s, %s, 'service', false, false)",
                 (role, object_id))
    return True


def grant_statements(database: str, role: str) -> list[sql.Composed]:
    """The statements, in order, that let ``role`` use ``database``: the vector extension,
    connect and temporary tables, and creating objects in schema public (PostgreSQL 15+
    no longer lets every role create there)."""
    return [
        sql.SQL("CREATE EXTENSION IF NOT EXISTS vector"),
        sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(sql.Identifier(database), sql.Identifier(role)),
        sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(sql.Identifier(role)),
    ]


def parse_args(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> argparse.Namespace:
    """Parse the command line; each option defaults to the azd environment variable named in
    its help. Exits with status 2 (argparse) when a required value is missing."""
    env = os.environ if env is None else env
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])

    def option(flag: str, variable: str, help_: str, default: str | None = None) -> None:
        value = env.get(variable) or default
        fallback = f" or {default}" if default else ""
        parser.add_argument(flag, default=value, required=value is None,
                            help=f"{help_} (default: ${variable}{fallback})")

    option("--host", "POSTGRES_HOST", "server FQDN")
    option("--admin-user", "AZURE_PRINCIPAL_NAME", "UPN of the Entra administrator (the deploying user)")
    option("--identity-name", "AZURE_IDENTITY_NAME", "name of the managed identity, the role to create")
    option("--identity-object-id", "AZURE_IDENTITY_PRINCIPAL_ID", "object (principal) id of the managed identity")
    option("--database", "POSTGRES_DATABASE", "the app's database", default="kanta")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the hook; returns the process exit status (0 on success). Errors from Azure or
    the server propagate with their traceback, which azd shows."""
    args = parse_args(argv)
    token = get_token()
    with connect(args.host, args.admin_user, ADMIN_DATABASE, token) as conn:
        created = ensure_principal(conn, args.identity_name, args.identity_object_id)
    print(f"role {args.identity_name}: {'created' if created else 'already exists'}")
    with connect(args.host, args.admin_user, args.database, token) as conn:
        for statement in grant_statements(args.database, args.identity_name):
            conn.execute(statement)
    print(f"role {args.identity_name}: may connect to {args.database} and create objects in schema public")
    return 0


if __name__ == "__main__":
    sys.exit(main())
