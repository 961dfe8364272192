#!/bin/sh
# azd postdeploy hook. POSIX sh only (no PowerShell twin): on Windows run azd from WSL or
# Git Bash. Needs curl and the Azure CLI signed in as the deploying user.
#
# 1. Applies the schema migrations as the app's identity (so it owns the tables) by calling
#    POST /api/migrations with the host's master key, retrying while the new code starts.
# 2. Creates (or updates: the command is a PUT) the Event Grid subscription that feeds the
#    blob trigger. It can only exist after the code is deployed: its webhook URL carries the
#    host's blobs_extension system key. Only BlobCreated events of the uploads container are
#    sent: thumbnails written to the faces container of the same account must not trigger.
# Safe to re-run.
set -eu

# The blob trigger function (kanta/images/functions.py) and the container it watches
# (kanta/config.py UPLOADS_CONTAINER); tests/test_infra.py checks both against the code.
BLOB_FUNCTION_NAME=encode_uploaded_image
UPLOADS_CONTAINER=uploads
EVENT_SUBSCRIPTION_NAME=kanta-uploads-blob-created

: "${AZURE_RESOURCE_GROUP:?run azd provision first}"
: "${AZURE_FUNCTION_APP_NAME:?run azd provision first}"
: "${AZURE_UPLOADS_SYSTEM_TOPIC_NAME:?run azd provision first}"
app_url=${AZURE_FUNCTION_APP_URL:-https://${AZURE_FUNCTION_APP_NAME}.azurewebsites.net}

body=$(mktemp)
trap 'rm -f "$body"' EXIT

# Keys are never printed. Listing them goes through the app's host, which can refuse while
# the freshly deployed code starts, so the master key is read inside the retry loop.
master_key=""

echo "Applying migrations: POST $app_url/api/migrations"
deadline=$(($(date +%s) + 180))
while :; do
    if [ -z "$master_key" ]; then
        master_key=$(az functionapp keys list -g "$AZURE_RESOURCE_GROUP" -n "$AZURE_FUNCTION_APP_NAME" \
            --query masterKey -o tsv 2>/dev/null || true)
    fi
    # POST (--data) with an empty body, Content-Length: 0.
    status=000
    if [ -n "$master_key" ]; then
        status=$(curl -sS -o "$body" -w '%{http_code}' -H "x-functions-key: $master_key" \
            --data '' --max-time 60 "$app_url/api/migrations" 2>/dev/null) || true
    fi
    if [ "$status" = 200 ]; then
        cat "$body"
        echo
        break
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
        if [ -z "$master_key" ]; then
            echo "migrations failed: could not read the master key (az functionapp keys list)" >&2
        else
            echo "migrations failed: HTTP $status" >&2
            cat "$body" >&2
        fi
        exit 1
    fi
    echo "  HTTP $status, the app is starting; retrying in 10 s"
    sleep 10
done

# The blobs_extension key appears once the host has indexed the blob trigger.
blobs_key=""
deadline=$(($(date +%s) + 120))
while [ -z "$blobs_key" ]; do
    blobs_key=$(az functionapp keys list -g "$AZURE_RESOURCE_GROUP" -n "$AZURE_FUNCTION_APP_NAME" \
        --query "systemKeys.blobs_extension" -o tsv 2>/dev/null || true)
    if [ -z "$blobs_key" ]; then
        if [ "$(date +%s)" -ge "$deadline" ]; then
            echo "the blobs_extension system key did not appear: is $BLOB_FUNCTION_NAME indexed?" >&2
            exit 1
        fi
        sleep 10
    fi
done

echo "Subscribing $BLOB_FUNCTION_NAME to BlobCreated events of container $UPLOADS_CONTAINER"
az eventgrid system-topic event-subscription create \
    --name "$EVENT_SUBSCRIPTION_NAME" \
    --resource-group "$AZURE_RESOURCE_GROUP" \
    --system-topic-name "$AZURE_UPLOADS_SYSTEM_TOPIC_NAME" \
    --endpoint-type webhook \
    --endpoint "$app_url/runtime/webhooks/blobs?functionName=Host.Functions.${BLOB_FUNCTION_NAME}&code=${blobs_key}" \
    --event-delivery-schema eventgridschema \
    --included-event-types Microsoft.Storage.BlobCreated \
    --subject-begins-with "/blobServices/default/containers/${UPLOADS_CONTAINER}/" \
    --output none
echo "Event Grid subscription $EVENT_SUBSCRIPTION_NAME is in place"
