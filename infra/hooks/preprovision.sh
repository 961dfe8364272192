#!/bin/sh
# azd preprovision hook. POSIX sh only (no PowerShell twin): on Windows run azd from WSL or
# Git Bash. Needs the Azure CLI (az), signed in as the same account as azd.
#
# Sets two azd environment values that azd does not provide by itself:
#   AZURE_PRINCIPAL_NAME     UPN of the deploying user: main.bicep makes that user the
#                            PostgreSQL Entra administrator, which needs the name, not only
#                            the object id (AZURE_PRINCIPAL_ID) that azd passes.
#   AZURE_CLIENT_IP_ADDRESS  this machine's public IP, for the PostgreSQL firewall rule that
#                            lets the postprovision hook connect (set KANTA_DETECT_CLIENT_IP=false
#                            to skip; set the value yourself when behind a proxy).
# Existing values are kept, so `azd env set ...` beforehand overrides both.
set -eu

if [ -z "${AZURE_PRINCIPAL_NAME:-}" ]; then
    if [ "${AZURE_PRINCIPAL_TYPE:-User}" != "User" ]; then
        echo "AZURE_PRINCIPAL_TYPE is ${AZURE_PRINCIPAL_TYPE}: run" >&2
        echo "  azd env set AZURE_PRINCIPAL_NAME <display name of the group or service principal>" >&2
        exit 1
    fi
    name=$(az ad signed-in-user show --query userPrincipalName -o tsv)
    if [ -z "$name" ]; then
        echo "could not read the signed-in user's UPN; run: azd env set AZURE_PRINCIPAL_NAME you@example.com" >&2
        exit 1
    fi
    azd env set AZURE_PRINCIPAL_NAME "$name"
    echo "AZURE_PRINCIPAL_NAME=$name (PostgreSQL Entra administrator)"
fi

# The administrator is AZURE_PRINCIPAL_ID (azd's account); the hooks connect with the az CLI's
# account. When both are known and differ, the postprovision hook would fail to log in.
if [ -n "${AZURE_PRINCIPAL_ID:-}" ] && [ "${AZURE_PRINCIPAL_TYPE:-User}" = "User" ]; then
    az_id=$(az ad signed-in-user show --query id -o tsv 2>/dev/null || true)
    if [ -n "$az_id" ] && [ "$az_id" != "$AZURE_PRINCIPAL_ID" ]; then
        echo "azd is signed in as $AZURE_PRINCIPAL_ID but the Azure CLI as $az_id: sign both in as the same user (az login / azd auth login)" >&2
        exit 1
    fi
fi

if [ -z "${AZURE_CLIENT_IP_ADDRESS:-}" ] && [ "${KANTA_DETECT_CLIENT_IP:-true}" != "false" ]; then
    ip=$(curl -fsS --max-time 10 https://api.ipify.org 2>/dev/null || true)
    case "$ip" in
        *[!0-9.]* | "")
            echo "warning: could not detect this machine's public IP; the postprovision hook can reach" >&2
            echo "PostgreSQL only if you run: azd env set AZURE_CLIENT_IP_ADDRESS <your public IPv4>" >&2
            ;;
        *)
            azd env set AZURE_CLIENT_IP_ADDRESS "$ip"
            echo "AZURE_CLIENT_IP_ADDRESS=$ip (PostgreSQL firewall rule for the hooks)"
            ;;
    esac
fi
