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

from pydantic import AliasChoices, Field, model_validator
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


def _named(field: str, *former: str) -> AliasChoices:
    """The environment names of ``field``: ``KANTA_<FIELD>``, then the ``former`` names it had
    (read so that existing app settings keep working)."""
    return AliasChoices(f"KANTA_{field.upper()}", *former)


class Settings(BaseSettings):
    """Kanta's settings, parsed from the environment: field ``x`` is read from ``KANTA_X``
    (any case) unless its ``validation_alias`` names others; a name ending in ``_s`` is in
    seconds, ``_px`` in pixels, ``_deg`` in degrees, ``_bytes`` in bytes. Why each default is
    what it is: bench/README.md, "Where the settings' defaults come from".

    Raises ``pydantic.ValidationError`` at construction when a value has the wrong shape.
    """

    model_config = SettingsConfigDict(env_prefix="KANTA_", case_sensitive=False, extra="ignore",
                                      populate_by_name=True)

    # PostgreSQL DSN (libpq URI or key=value). Locally, scripts/start points it at pgserver;
    # in Azure it names the server, database and the managed identity as user, no password.
    database_url: str = ""
    # How connections log in (kanta.db): "password" = whatever the DSN carries; "entra" = a
    # fresh Microsoft Entra token of managed identity KANTA_DATABASE_CLIENT_ID per connection.
    database_auth: Literal["password", "entra"] = "password"
    database_client_id: str = ""
    db_pool_min_size: int = 1
    db_pool_max_size: int = 4
    # Wait for a pooled connection before the request fails as unavailable. The names without
    # the unit are read too, as before.
    db_pool_timeout_s: float = Field(10.0, validation_alias=_named("db_pool_timeout_s", "KANTA_DB_POOL_TIMEOUT"))
    # Life of a pooled connection: well under an Entra token's 60-90 min (psycopg_pool max_lifetime).
    db_pool_max_lifetime_s: float = Field(
        1800.0, validation_alias=_named("db_pool_max_lifetime_s", "KANTA_DB_POOL_MAX_LIFETIME")
    )

    # Storage, one connection for the trigger binding and the SDK client: a connection string
    # locally (Azurite), or in Azure identity-based service URIs and the identity's client id.
    storage_connection_string: str = Field("", validation_alias=AliasChoices(STORAGE_CONNECTION))
    storage_blob_service_uri: str = Field("", validation_alias=AliasChoices(f"{STORAGE_CONNECTION}__blobServiceUri"))
    storage_client_id: str = Field("", validation_alias=AliasChoices(f"{STORAGE_CONNECTION}__clientId"))

    # How the blob trigger learns of new blobs: the host's polling scan (local, Azurite) or
    # Event Grid (required on Flex Consumption). Read when function_app is indexed.
    blob_trigger_source: Literal["LogsAndContainerScan", "EventGrid"] = "LogsAndContainerScan"

    # Lifetime of upload (write) and read SAS URLs.
    upload_url_ttl_s: int = Field(900, validation_alias=_named("upload_url_ttl_s", "KANTA_UPLOAD_URL_TTL"))
    read_url_ttl_s: int = Field(3600, validation_alias=_named("read_url_ttl_s", "KANTA_READ_URL_TTL"))
    # Public base URL of blob storage when it differs from the one the app reaches
    # (e.g. Azurite behind a tunnel); empty = the client's own URL.
    public_blob_endpoint: str = ""

    # Event photos' limits (decompression-bomb guard, Pillow's MAX_IMAGE_PIXELS idea), then
    # selfies' (the search body, and width x height from the header); bench/README.md,
    # "Decompression bombs".
    max_image_bytes: int = 40 * 1024 * 1024
    max_image_pixels: int = 50_000_000
    max_query_image_bytes: int = 10 * 1024 * 1024
    max_query_image_pixels: int = Field(24_000_000, gt=0)

    # Detection profile (kanta.faces.detection.PROFILES).
    detection_profile: Literal["fast", "balanced", "accurate"] = "balanced"
    # Faces narrower, blurrier (variance of the Laplacian of the aligned chip) or more turned
    # (kanta.faces.detection.yaw_of) than these are stored but kept out of clustering and
    # search; bench/README.md, "Face quality".
    min_face_px: int = 24
    min_face_sharpness: float = 25.0
    max_face_yaw_deg: float = Field(45.0, gt=0, le=90, validation_alias=_named("max_face_yaw_deg", "KANTA_MAX_FACE_YAW"))

    # Clustering (kanta.clusters.algorithm, the one algorithm shipped, graph_average, named in
    # each run's record) on Euclidean distance between descriptors; bench/README.md, "Recognition".
    cluster_algorithm: Literal["graph_average"] = "graph_average"
    cluster_eps: float = Field(0.58, gt=0)
    cluster_cap: float = Field(0.6, gt=0)
    cluster_min_samples: int = Field(2, ge=1)
    recluster_schedule: str = Field(DEFAULT_RECLUSTER_SCHEDULE, validation_alias=AliasChoices(RECLUSTER_SCHEDULE_SETTING))

    # Selfie search (kanta.search.matching): Euclidean distances of a person's nearest and
    # second-nearest face, and the ratio test of hard events; bench/README.md, "Recognition".
    search_max_distance: float = Field(0.48, gt=0)
    search_person_max_distance: float = Field(0.52, gt=0)
    search_ratio: float = Field(0.84, gt=0, le=1)

    # Public base URL of Kanta's HTTP API for links handed to guests, without "/api"
    # (https://photos.example.com); empty: the scheme and host of the request that made the link.
    public_url: str = Field("", pattern=r"^(https?://[^/?#\s]+(/[^?#\s]*)?)?$")

    # Caps of guest links (kanta.caps) in whole UTC hours and days, counted in PostgreSQL;
    # an event has one link, so the hourly caps are a whole event's.
    guest_uploads_per_hour: int = Field(1000, ge=1)
    guest_searches_per_hour: int = Field(300, ge=1)
    guest_forgets_per_hour: int = Field(10, ge=1)
    guest_uploads_per_event_day: int = Field(5000, ge=1)
    guest_bytes_per_hour: int = Field(5_000_000_000, ge=1)
    guest_bytes_per_event_day: int = Field(25_000_000_000, ge=1)

    @model_validator(mode="after")
    def _eps_under_cap(self) -> Settings:
        # graph_average and the incremental assignment need it (kanta.clusters.algorithm).
        if self.cluster_eps >= self.cluster_cap:
            raise ValueError(f"KANTA_CLUSTER_EPS ({self.cluster_eps}) must be under KANTA_CLUSTER_CAP ({self.cluster_cap})")
        return self


@functools.cache
def get_settings() -> Settings:
    """Return the process-wide settings (read once; tests call ``get_settings.cache_clear()``)."""
    return Settings()
