"""The one place that builds Blob Storage clients, names blobs and signs SAS URLs.

Locally the ``KANTA_STORAGE`` setting holds a connection string (Azurite's), and SAS
tokens are signed with its account key. In Azure the same connection is identity-based
(``KANTA_STORAGE__blobServiceUri`` + ``__clientId``): the client authenticates with the
user-assigned Managed Identity and SAS tokens are *user delegation* SAS, signed with a key
that Azure issues to that identity (Learn: "Create a user delegation SAS for a blob with
Python"). No account key is used on that path.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from azure.storage.blob import (
    BlobClient,
    BlobSasPermissions,
    BlobServiceClient,
    ContainerClient,
    ContentSettings,
    CorsRule,
    UserDelegationKey,
    generate_blob_sas,
)

from kanta import identity
from kanta.config import FACES_CONTAINER, UPLOADS_CONTAINER, get_settings


class StorageNotConfigured(RuntimeError):
    """Raised when neither a connection string nor a blob service URI is set."""


@functools.cache
def get_blob_service() -> BlobServiceClient:
    """Return the process-wide ``BlobServiceClient`` for the uploads account.

    ``KANTA_STORAGE`` (a connection string, e.g. Azurite's) wins when set; otherwise
    ``KANTA_STORAGE__blobServiceUri`` with the Managed Identity of
    ``KANTA_STORAGE__clientId``. TLS certificates are verified as the SDK's transport does
    by default (``requests``: its CA bundle, or ``REQUESTS_CA_BUNDLE``).

    Raises ``StorageNotConfigured`` when ``KANTA_STORAGE`` is not set either way.
    """
    settings = get_settings()
    if settings.storage_connection_string:
        return BlobServiceClient.from_connection_string(settings.storage_connection_string)
    if settings.storage_blob_service_uri:
        credential = identity.managed_identity_credential(settings.storage_client_id)
        return BlobServiceClient(settings.storage_blob_service_uri, credential=credential)
    raise StorageNotConfigured("set KANTA_STORAGE (connection string) or KANTA_STORAGE__blobServiceUri")


def uploads_container() -> ContainerClient:
    """Return the client of the uploads container (``kanta.config.UPLOADS_CONTAINER``)."""
    return get_blob_service().get_container_client(UPLOADS_CONTAINER)


def ensure_containers() -> None:
    """Create the uploads and faces containers if missing (local runs and tests; Azure's are
    created by the infrastructure)."""
    for container in (uploads_container(), faces_container()):
        if not container.exists():
            container.create_container()


#: Seconds a browser may cache the answer to a CORS preflight of the blob endpoint.
CORS_MAX_AGE_S = 3600


def allow_browser_origins(origins: list[str]) -> None:
    """Let pages of ``origins`` (``scheme://host:port``) PUT photos to upload URLs and GET
    photos and thumbnails with read URLs, by setting the blob service's CORS rule (local runs
    and tests: Azurite; Azure's rule comes from the infrastructure). Replaces any rule.

    Raises ``azure.core.exceptions.AzureError`` when storage refuses or cannot be reached."""
    rule = CorsRule(
        allowed_origins=list(origins),
        allowed_methods=["GET", "HEAD", "PUT", "OPTIONS"],
        # What the page sends with an upload: the ticket's headers.
        allowed_headers=["content-type", "x-ms-blob-type", "x-ms-blob-content-type", "x-ms-version",
                         "x-ms-date", "x-ms-client-request-id"],
        exposed_headers=["etag", "last-modified", "content-length", "content-type"],
        max_age_in_seconds=CORS_MAX_AGE_S,
    )
    get_blob_service().set_service_properties(cors=[rule])


def faces_container() -> ContainerClient:
    """Return the client of the face thumbnails container (``kanta.config.FACES_CONTAINER``)."""
    return get_blob_service().get_container_client(FACES_CONTAINER)


class _DelegationKeyCache:
    """Caches the user delegation key of one blob service and renews it before it runs out.

    A user delegation SAS stops working when the key that signed it expires, so a key is
    used only for SAS that end at least ``RENEW_BEFORE`` before the key does; otherwise a
    new key is fetched (one Get User Delegation Key request, not one per URL).
    """

    # Azure accepts delegation keys valid for at most 7 days; one day is plenty for the
    # minutes-to-hours SAS Kanta signs, and a leaked key is then useful for a day at most.
    KEY_LIFETIME = dt.timedelta(days=1)
    MAX_KEY_LIFETIME = dt.timedelta(days=7)
    RENEW_BEFORE = dt.timedelta(hours=1)
    # Start the key a little in the past: the service's clock may be behind ours.
    CLOCK_SKEW = dt.timedelta(minutes=5)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: UserDelegationKey | None = None
        self._expires: dt.datetime | None = None
        # URL of the service the key came from: a key is only valid on its own account.
        self._service_url: str | None = None

    def get(self, service: BlobServiceClient, needed_until: dt.datetime) -> UserDelegationKey:
        """Return a key of ``service`` valid until at least ``needed_until`` (timezone-aware)
        plus ``RENEW_BEFORE``, fetching a new one when the cached one is not.

        Raises ``ValueError`` when ``needed_until`` is more than 7 days away (Azure's limit
        for delegation keys) and ``azure.core.exceptions.HttpResponseError`` when the
        service refuses the key (e.g. the identity lacks Storage Blob Delegator).
        """
        with self._lock:
            if (
                self._key is None
                or self._service_url != service.url
                or self._expires - self.RENEW_BEFORE < needed_until
            ):
                now = dt.datetime.now(dt.UTC)
                if needed_until > now + self.MAX_KEY_LIFETIME:
                    raise ValueError(f"a user delegation SAS cannot last past {self.MAX_KEY_LIFETIME} from now")
                lifetime = min(max(self.KEY_LIFETIME, needed_until - now + self.RENEW_BEFORE), self.MAX_KEY_LIFETIME)
                self._key = service.get_user_delegation_key(now - self.CLOCK_SKEW, now + lifetime)
                self._expires = now + lifetime
                self._service_url = service.url
            return self._key


_delegation_keys = _DelegationKeyCache()


def blob_sas_url(
    blob_name: str, permission: BlobSasPermissions, expires_at: dt.datetime, container: str = UPLOADS_CONTAINER,
    *, content_type: str | None = None, content_disposition: str | None = None,
) -> str:
    """Return a URL for one blob of ``container`` carrying a SAS for ``permission``.

    ``content_type`` / ``content_disposition``: headers the service answers a read with,
    whatever the blob was stored with (the SAS's ``rsct`` / ``rscd``).

    ``expires_at`` must be timezone-aware; the SAS carries it to the second (UTC). Signed
    with the account key when the client has one (connection string, Azurite), else with a
    user delegation key (Managed Identity; see ``_DelegationKeyCache.get`` for its errors).
    The start time is set 5 minutes back to tolerate clock skew between us and the client.
    When the blob endpoint is https the SAS allows https only.
    """
    service = get_blob_service()
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    common = {
        "account_name": service.account_name,
        "container_name": container,
        "blob_name": blob_name,
        "permission": permission,
        "expiry": expires_at,
        "start": start,
        # The storage endpoint checks the protocol of each request against the SAS: over
        # https, a SAS leaked into a plain-http request would be refused. Decided by the
        # endpoint that checks the SAS, not KANTA_PUBLIC_BLOB_ENDPOINT: an https tunnel in
        # front of an http Azurite reaches it over http. Azurite locally speaks http, so
        # there the SAS names no protocol (both allowed), as before.
        "protocol": "https" if service.scheme == "https" else None,
    }
    account_key = getattr(service.credential, "account_key", None)
    if account_key:
        token = generate_blob_sas(account_key=account_key, **common)
    else:
        token = generate_blob_sas(user_delegation_key=_delegation_keys.get(service, expires_at), **common)
    base = get_settings().public_blob_endpoint.rstrip("/") or service.url.rstrip("/")
    return f"{base}/{container}/{blob_name}?{token}"


def upload_url(blob_name: str, expires_at: dt.datetime) -> str:
    """SAS URL that lets its holder create one blob that does not exist yet, nothing else:
    create only (``sp=c``), so it cannot overwrite the photo once it is there, set its
    metadata, read or list (Storage REST "Create a service SAS": ``c`` writes a new blob;
    overwriting, metadata and properties need ``w``)."""
    return blob_sas_url(blob_name, BlobSasPermissions(create=True), expires_at)


#: Types a photo is served as (the formats Kanta indexes); anything else is a download.
_IMAGE_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


def read_url(blob_name: str, expires_at: dt.datetime, container: str = UPLOADS_CONTAINER) -> str:
    """SAS URL that lets its holder read one blob of ``container`` until ``expires_at``.

    The answer's type comes from the blob name's extension, never from what the uploader
    sent: an image type shown inline, else ``application/octet-stream`` as an attachment, so
    a blob uploaded as ``text/html`` is never rendered as a page from our storage origin."""
    extension = blob_name.rsplit(".", 1)[-1].lower() if "." in blob_name.rsplit("/", 1)[-1] else ""
    content_type = _IMAGE_TYPES.get(extension)
    return blob_sas_url(blob_name, BlobSasPermissions(read=True), expires_at, container,
                        content_type=content_type or "application/octet-stream",
                        content_disposition="inline" if content_type else "attachment")


def delete_thumbnails(prefix: str) -> None:
    """Delete the face thumbnails whose names start with ``prefix``."""
    delete_prefix(prefix, [faces_container()])


def delete_photo(blob_name: str, image_id: uuid.UUID | None) -> None:
    """Delete a photo's blob and, for image ``image_id``, its face thumbnails (under its
    event's code, the first part of the blob name: ``blob_name_for``). What is already gone
    is skipped."""
    delete_blobs([blob_name])
    if image_id is not None:
        delete_thumbnails(thumbnail_prefix(blob_name.split("/", 1)[0], image_id))


def thumbnail_url(blob_name: str, expires_at: dt.datetime) -> str:
    """Read SAS URL of a face thumbnail."""
    return read_url(blob_name, expires_at, FACES_CONTAINER)


def write_thumbnails(thumbnails: dict[str, bytes]) -> None:
    """Write face thumbnails (blob name → JPEG bytes) to the faces container, overwriting."""
    container = faces_container()
    for name, data in thumbnails.items():
        container.upload_blob(name, data, overwrite=True, content_settings=ContentSettings(content_type="image/jpeg"))


def seal_photo(blob_name: str, content_type: str) -> None:
    """Make an accepted photo's blob serve as what it really is: its stored type becomes
    ``content_type`` (whatever the uploader sent; the upload URL cannot change it afterwards)
    and any snapshot taken through the upload URL is deleted.
    Raises ``ResourceNotFoundError`` when the blob is gone."""
    container = uploads_container()
    blob = container.get_blob_client(blob_name)
    blob.set_http_headers(ContentSettings(content_type=content_type, content_disposition="inline"))
    if any(b.name == blob_name and b.snapshot
           for b in container.list_blobs(name_starts_with=blob_name, include=["snapshots"])):
        blob.delete_blob(delete_snapshots="only")


def uploads_blob(blob_name: str) -> BlobClient:
    """Client of blob ``blob_name`` of the uploads container (it may not exist)."""
    return uploads_container().get_blob_client(blob_name)


def blob_exists(blob_name: str) -> bool:
    """Whether blob ``blob_name`` exists in the uploads container."""
    return uploads_blob(blob_name).exists()


def read_blob(blob_name: str) -> bytes:
    """Download one blob of the uploads container. Raises ``ResourceNotFoundError`` if absent."""
    return uploads_container().download_blob(blob_name).readall()


def delete_blobs(blob_names: Iterable[str], container: ContainerClient | None = None) -> None:
    """Delete blobs of ``container`` (default: uploads), ignoring ones already gone."""
    from azure.core.exceptions import ResourceNotFoundError

    container = container or uploads_container()
    for name in blob_names:
        try:
            container.delete_blob(name, delete_snapshots="include")
        except ResourceNotFoundError:
            pass


def delete_version(blob_name: str, etag: str) -> Literal["deleted", "gone", "rewritten"]:
    """Delete version ``etag`` of blob ``blob_name`` of the uploads container, with its
    snapshots (a refused upload, an unclaimed one). Returns ``"deleted"``, ``"gone"`` (already
    deleted) or ``"rewritten"``: written again since, so kept (that version gets its own
    indexing run). Raises ``azure.core.exceptions.AzureError`` when storage fails."""
    from azure.core import MatchConditions
    from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

    try:
        uploads_container().delete_blob(blob_name, delete_snapshots="include", etag=etag,
                                        match_condition=MatchConditions.IfNotModified)
    except ResourceNotFoundError:
        return "gone"
    except ResourceModifiedError:
        return "rewritten"
    return "deleted"


def delete_prefix(prefix: str, containers: Iterable[ContainerClient] | None = None, *,
                  modified_before: dt.datetime | None = None) -> int:
    """Delete every blob whose name starts with ``prefix`` in ``containers`` (default: the
    uploads and faces containers: an event's photos and thumbnails); return the count.

    ``modified_before`` (timezone-aware): only blobs last written before then, so blobs
    written later under the same prefix (a new event with the same code) are left alone."""
    count = 0
    for container in containers or (uploads_container(), faces_container()):
        names = [b.name for b in container.list_blobs(name_starts_with=prefix)
                 if modified_before is None or b.last_modified < modified_before]
        delete_blobs(names, container)
        count += len(names)
    return count


# --------------------------------------------------------------------------- blob names and read URLs


def blob_name_for(event_code: str, image_id: uuid.UUID, extension: str) -> str:
    """Blob name of an uploaded image: ``{event_code}/{image_id}.{extension}``."""
    return f"{event_code}/{image_id}.{extension}"


def event_prefix(event_code: str) -> str:
    """Prefix of an event's blobs in either container (its photos, its thumbnails): ``{event_code}/``."""
    return f"{event_code}/"


def thumbnail_prefix(event_code: str, image_id: uuid.UUID) -> str:
    """Prefix of an image's face thumbnails in the faces container: ``{event_code}/{image_id}/``."""
    return f"{event_code}/{image_id}/"


def read_url_expiry(at_most_s: float | None = None) -> dt.datetime:
    """When read URLs issued now expire: ``KANTA_READ_URL_TTL_S`` seconds from now, or
    ``at_most_s`` seconds if that is shorter."""
    ttl = get_settings().read_url_ttl_s
    return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=ttl if at_most_s is None else min(ttl, at_most_s))


def face_urls(row: Mapping[str, Any], expires_at: dt.datetime) -> dict[str, str]:
    """``url`` (the face's thumbnail, else its photo) and ``image_url`` (the photo) of a face
    row holding ``thumbnail_blob`` and ``blob_name``."""
    image_url = read_url(row["blob_name"], expires_at)
    thumbnail = row.get("thumbnail_blob")
    return {"url": thumbnail_url(thumbnail, expires_at) if thumbnail else image_url, "image_url": image_url}


def photo_url(row: Mapping[str, Any], expires_at: dt.datetime) -> str | None:
    """Read URL of an image row's photo once it is ``processed``; ``None`` before (its blob
    may not exist) and for a failed one (its bytes are not a photo Kanta vouches for)."""
    return read_url(row["blob_name"], expires_at) if row["status"] == "processed" else None


def face_thumbnail_url(row: Mapping[str, Any], expires_at: dt.datetime) -> str | None:
    """Read URL of a face row's thumbnail, or ``None`` when it has none."""
    return thumbnail_url(row["thumbnail_blob"], expires_at) if row.get("thumbnail_blob") else None
