"""The one place that reads Kanta's configuration.

Values come from Function App application settings, which the Functions host exposes as
environment variables (locally from ``local.settings.json``'s ``Values``). Names are
case-insensitive; the ``KANTA_STORAGE`` connection follows the Functions host's
identity-based connection convention (``<Conn>__blobServiceUri`` etc.) so that one setting
drives both the blob trigger binding and the SDK client.
"""

from __future__ import annotations

import functools
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Name of the app setting (and binding ``connection``) for the uploads storage account.
STORAGE_CONNECTION = "KANTA_STORAGE"
#: Blob container that browsers upload event photos into; the blob trigger watches it.
UPLOADS_CONTAINER = "uploads"
#: Blob container of face thumbnails, ``{event_code}/{image_id}/{n}.jpg`` (not watched).
FACES_CONTAINER = "faces"
#: App setting holding the re-clustering timer's six-field NCRONTAB schedule.
RECLUSTER_SCHEDULE_SETTING = "KANTA_RECLUSTER_SCHEDULE"
DEFAULT_RECLUSTER_SCHEDULE = "0 */10 * * * *"


class Settings(BaseSettings):
    """Kanta's settings, parsed from the environment.

    Raises ``pydantic.ValidationError`` at construction when a value has the wrong shape.
    """

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", populate_by_name=True)

    # PostgreSQL DSN (libpq URI or key=value). Locally, scripts/start points it at pgserver;
    # in Azure it names the server, database and the managed identity as user, no password.
    database_url: str = Field("", validation_alias=AliasChoices("KANTA_DATABASE_URL"))
    # How connections log in (kanta.db): "password" = whatever the DSN carries; "entra" = a
    # fresh Microsoft Entra token of the managed identity KANTA_DATABASE_CLIENT_ID per new
    # connection (Azure Database for PostgreSQL with Entra-only authentication).
    database_auth: Literal["password", "entra"] = Field("password", validation_alias=AliasChoices("KANTA_DATABASE_AUTH"))
    database_client_id: str = Field("", validation_alias=AliasChoices("KANTA_DATABASE_CLIENT_ID"))
    db_pool_min_size: int = Field(1, validation_alias=AliasChoices("KANTA_DB_POOL_MIN_SIZE"))
    db_pool_max_size: int = Field(4, validation_alias=AliasChoices("KANTA_DB_POOL_MAX_SIZE"))
    # Seconds to wait for a pooled connection before the request fails as unavailable.
    db_pool_timeout_s: float = Field(10.0, validation_alias=AliasChoices("KANTA_DB_POOL_TIMEOUT"))
    # Seconds a pooled connection lives: well under an Entra token's 60-90 min lifetime, so a
    # revoked identity loses its open connections within this time (psycopg_pool max_lifetime).
    db_pool_max_lifetime_s: float = Field(1800.0, validation_alias=AliasChoices("KANTA_DB_POOL_MAX_LIFETIME"))

    # Storage: a connection string locally (Azurite) ...
    storage_connection_string: str = Field("", validation_alias=AliasChoices(STORAGE_CONNECTION))
    # ... or, in Azure, identity-based: service URIs plus the user-assigned identity's client id.
    storage_blob_service_uri: str = Field(
        "", validation_alias=AliasChoices(f"{STORAGE_CONNECTION}__blobServiceUri")
    )
    storage_client_id: str = Field("", validation_alias=AliasChoices(f"{STORAGE_CONNECTION}__clientId"))

    # How the blob trigger learns of new blobs: the host's polling scan (local, Azurite) or
    # Event Grid (required on Flex Consumption). Read when function_app is indexed.
    blob_trigger_source: Literal["LogsAndContainerScan", "EventGrid"] = Field(
        "LogsAndContainerScan", validation_alias=AliasChoices("KANTA_BLOB_TRIGGER_SOURCE")
    )

    # Lifetime of upload (write) and read SAS URLs, seconds.
    upload_url_ttl_s: int = Field(900, validation_alias=AliasChoices("KANTA_UPLOAD_URL_TTL"))
    read_url_ttl_s: int = Field(3600, validation_alias=AliasChoices("KANTA_READ_URL_TTL"))
    # Public base URL of blob storage when it differs from the one the app reaches
    # (e.g. Azurite behind a tunnel); empty = the client's own URL.
    public_blob_endpoint: str = Field("", validation_alias=AliasChoices("KANTA_PUBLIC_BLOB_ENDPOINT"))

    # Images: bytes and pixel limits (decompression-bomb guard, Pillow's MAX_IMAGE_PIXELS idea).
    max_image_bytes: int = Field(40 * 1024 * 1024, validation_alias=AliasChoices("KANTA_MAX_IMAGE_BYTES"))
    max_image_pixels: int = Field(50_000_000, validation_alias=AliasChoices("KANTA_MAX_IMAGE_PIXELS"))
    # Selfie bodies of the search endpoint, bytes.
    max_query_image_bytes: int = Field(
        10 * 1024 * 1024, validation_alias=AliasChoices("KANTA_MAX_QUERY_IMAGE_BYTES")
    )

    # Detection profile (kanta.faces.detection.PROFILES): fast, balanced or accurate.
    detection_profile: Literal["fast", "balanced", "accurate"] = Field(
        "balanced", validation_alias=AliasChoices("KANTA_DETECTION_PROFILE")
    )
    # Faces narrower than this (pixels) or blurrier than this (variance of the Laplacian of
    # the aligned face chip at native size, at most 150 px) are stored but kept out of
    # clustering and search. On tests/data and the PASCAL group photos sharp faces score
    # 116-2054; a Gaussian blur of radius 2 px per 1000 px of width brings them to 6-86.
    min_face_px: int = Field(24, validation_alias=AliasChoices("KANTA_MIN_FACE_PX"))
    min_face_sharpness: float = Field(25.0, validation_alias=AliasChoices("KANTA_MIN_FACE_SHARPNESS"))

    # Clustering (kanta.clusters.algorithm.cluster_descriptors): dbscan, hdbscan, agglomerative
    # or chinese_whispers, on Euclidean distance between dlib descriptors. eps: DBSCAN's radius,
    # Chinese whispers' edge threshold, agglomerative's distance threshold (average linkage),
    # HDBSCAN's cluster_selection_epsilon; min_samples: DBSCAN's min_samples, HDBSCAN's
    # min_cluster_size, else the smallest cluster kept (smaller ones are noise).
    # Defaults from bench/cluster.py (bench/README.md, "Clustering", 2026-11-21): DBSCAN with
    # eps 0.5, min_samples 2 has pairwise F1 0.988-1.000 on the real labelled sets and 1.000 on
    # synthetic events of 1k/10k/100k faces, re-clusters 100k faces in 14 s on one core with
    # 0.8 GB, and every clustered face keeps its id after 10% more faces. eps 0.55 chains people
    # together in large events (pairwise precision 0.81 at 100k); Chinese whispers (eps 0.55)
    # is as accurate but takes 54 s and 4.8 GB at 100k, over a 2048 MB Flex instance;
    # agglomerative needs O(n^2) memory; HDBSCAN splits people by photo and takes > 60 s.
    cluster_algorithm: Literal["dbscan", "hdbscan", "agglomerative", "chinese_whispers"] = Field(
        "dbscan", validation_alias=AliasChoices("KANTA_CLUSTER_ALGORITHM")
    )
    cluster_eps: float = Field(0.5, validation_alias=AliasChoices("KANTA_CLUSTER_EPS"))
    cluster_min_samples: int = Field(2, validation_alias=AliasChoices("KANTA_CLUSTER_MIN_SAMPLES"))
    # A new face joins the person of its nearest clustered face when closer than this
    # (Euclidean): DBSCAN's eps, so a face joins now the person the next full run would
    # give it as a border face of that person's cluster.
    assign_max_distance: float = Field(0.5, validation_alias=AliasChoices("KANTA_ASSIGN_MAX_DISTANCE"))
    recluster_schedule: str = Field(
        DEFAULT_RECLUSTER_SCHEDULE, validation_alias=AliasChoices(RECLUSTER_SCHEDULE_SETTING)
    )

    # Search cut-off (Euclidean). dlib documents 0.6 as its same-person threshold; on the real
    # labelled pairs of bench/cluster.py (pictures of 6 people and their variants) same-person
    # pairs reach 0.563 and different people start at 0.627: 0.6 is the middle of that gap.
    search_max_distance: float = Field(0.6, validation_alias=AliasChoices("KANTA_SEARCH_MAX_DISTANCE"))


@functools.cache
def get_settings() -> Settings:
    """Return the process-wide settings (read once; tests call ``get_settings.cache_clear()``)."""
    return Settings()
