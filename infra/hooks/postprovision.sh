#!/bin/sh
# azd postprovision hook. POSIX sh only (no PowerShell twin): on Windows run azd from WSL or
# Git Bash. Needs python3 (3.10+) and the Azure CLI signed in as the deploying user.
#
# Makes the app's managed identity a PostgreSQL principal with rights on the kanta database
# (infra/hooks/grant_database_access.py). It runs as the deploying user, the server's Entra
# administrator; the identity then runs the schema migrations itself (postdeploy hook), so
# it owns the tables. Safe to re-run.
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
venv="$root/.azure/hooks-venv"

# A throwaway venv with exactly the script's two dependencies (same pins as requirements.txt).
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    'psycopg[binary]==3.3.9' 'azure-identity==1.27.0'

# Arguments default to the azd environment: POSTGRES_HOST, AZURE_PRINCIPAL_NAME,
# AZURE_IDENTITY_NAME, AZURE_IDENTITY_PRINCIPAL_ID, POSTGRES_DATABASE.
"$venv/bin/python" "$root/infra/hooks/grant_database_access.py"
