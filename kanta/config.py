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
    # Selfies' own pixel limit (width x height from the header), under the event photos' one.
    # A selfie is decoded to at most 4 MP (kanta.faces.detection, query_decode_max_pixels), so
    # its cost is set by the formats that must be decoded whole first (PNG, WebP). 24 MP is the
    # largest default photo of current phones (iPhone 15 and later; front cameras take 7-12 MP).
    # Measured by bench/bombs.py (bench/README.md, "Decompression bombs"): a 23.9 MP RGBA PNG
    # selfie peaks 195 MB above a warm worker in 1.1 s; as an event photo, 291 MB in 2.2 s; a
    # 50 MP PNG event photo 248 MB (714 MB when decoded whole).
    max_query_image_pixels: int = Field(
        24_000_000, gt=0, validation_alias=AliasChoices("KANTA_MAX_QUERY_IMAGE_PIXELS")
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
    # Faces turned further than this (degrees, kanta.faces.detection.yaw_of) are stored but
    # kept out of clustering and search, like small and blurred ones: turned faces sit closer
    # to strangers (bench/README.md, "Face quality").
    max_face_yaw: float = Field(45.0, gt=0, le=90, validation_alias=AliasChoices("KANTA_MAX_FACE_YAW"))

    # Clustering (kanta.clusters.algorithm.cluster_descriptors), on Euclidean distance between
    # dlib descriptors. graph_average (default): two clusters merge while the mean of their
    # pairs' distances, each capped at KANTA_CLUSTER_CAP, is at most KANTA_CLUSTER_EPS, and
    # never when one photo holds a face of each. For the others eps is DBSCAN's radius,
    # Chinese whispers' edge threshold, agglomerative's distance threshold, rank-order's
    # largest linked distance, HDBSCAN's cluster_selection_epsilon; min_samples is DBSCAN's
    # min_samples, HDBSCAN's min_cluster_size, else the smallest cluster kept. New faces join
    # people by graph_average's rule with these eps and cap, whatever the algorithm.
    # Defaults from bench/recognition.py (bench/README.md, "Recognition", 2026-11-30): tuned on
    # half of 29 real identities, no setting allowed below pairwise precision 0.98 on any real
    # set; on the other half pairwise precision 1.000 and F1 >= 0.878 on every set (0.930 on 6
    # crops people, the original re-clustering 0.782); 100k synthetic faces in 20 s on one core
    # with 0.9 GB. eps 0.59 merged two lookalike actors; DBSCAN merges people at every radius
    # that finds them.
    cluster_algorithm: Literal[
        "graph_average", "dbscan", "hdbscan", "agglomerative", "chinese_whispers", "rank_order"
    ] = Field("graph_average", validation_alias=AliasChoices("KANTA_CLUSTER_ALGORITHM"))
    cluster_eps: float = Field(0.58, gt=0, validation_alias=AliasChoices("KANTA_CLUSTER_EPS"))
    cluster_cap: float = Field(0.6, gt=0, validation_alias=AliasChoices("KANTA_CLUSTER_CAP"))
    cluster_min_samples: int = Field(2, ge=1, validation_alias=AliasChoices("KANTA_CLUSTER_MIN_SAMPLES"))
    recluster_schedule: str = Field(
        DEFAULT_RECLUSTER_SCHEDULE, validation_alias=AliasChoices(RECLUSTER_SCHEDULE_SETTING)
    )

    # Selfie search (kanta.search.matching): a person matches when their nearest face is within
    # KANTA_SEARCH_MAX_DISTANCE or their second nearest within KANTA_SEARCH_PERSON_MAX_DISTANCE;
    # a face in no person only within KANTA_SEARCH_MAX_DISTANCE. Calibrated by bench/recognition.py
    # (bench/README.md, "Recognition", 2026-11-30): an absent guest's selfie gets no_match in
    # >= 98.5% of tries on every real set; a present guest gets back 100% of their photos on the
    # photos set and >= 84% on the crops sets (worst cases). The search before (any face within
    # 0.6) let strangers through in up to 71% of tries.
    search_max_distance: float = Field(0.48, gt=0, validation_alias=AliasChoices("KANTA_SEARCH_MAX_DISTANCE"))
    search_person_max_distance: float = Field(
        0.52, gt=0, validation_alias=AliasChoices("KANTA_SEARCH_PERSON_MAX_DISTANCE")
    )
    # The ratio test (kanta.search.matching), in events whose faces are hard to tell apart
    # (kanta.search.service.search_cuts): what passes the cuts matches only when its score is
    # at most this times the best score of what does not; with nothing passing, the clearly
    # nearest person still matches within KANTA_SEARCH_PERSON_MAX_DISTANCE. Chosen by
    # bench/recognition.py on its tuning identities: the largest ratio keeping strangers'
    # selfies matched at or under 2% on every tuning set (bench/README.md).
    search_ratio: float = Field(0.84, gt=0, le=1, validation_alias=AliasChoices("KANTA_SEARCH_RATIO"))

    # Public base URL of Kanta's HTTP API for links handed to guests, without "/api" (e.g.
    # https://photos.example.com): a guest link's join_url is {this}/api/join/{code}#t=<token>.
    # Empty: the scheme and host of the request that made the link. Set it behind a proxy or
    # a custom domain, where the app sees another host name than guests use.
    public_url: str = Field("", pattern=r"^(https?://[^/?#\s]+(/[^?#\s]*)?)?$",
                            validation_alias=AliasChoices("KANTA_PUBLIC_URL"))

    # Abuse caps of guest links (kanta.guests.service): fixed windows (whole UTC hours and
    # days) counted in PostgreSQL, so every instance counts against the same cap; over one,
    # 429 with Retry-After. An event has one guest link, shared by all its guests, so the
    # hourly caps are a whole event's: sized for a large wedding's busiest hour (200 guests, a
    # tenth uploading 50 photos: 1000 upload URLs; most of them searching: 300 selfies), they
    # bound what a leaked link costs: a selfie search is about 0.2-0.4 s of one core
    # (bench/README.md), 300 an hour a few CPU-minutes; an upload costs its indexing (1-2 s)
    # and its storage, 5000 a day per event at most. Forgetting a face erases photos, so a
    # link may ask it only a few times an hour.
    guest_uploads_per_hour: int = Field(1000, ge=1, validation_alias=AliasChoices("KANTA_GUEST_UPLOADS_PER_HOUR"))
    guest_searches_per_hour: int = Field(300, ge=1, validation_alias=AliasChoices("KANTA_GUEST_SEARCHES_PER_HOUR"))
    guest_forgets_per_hour: int = Field(10, ge=1, validation_alias=AliasChoices("KANTA_GUEST_FORGETS_PER_HOUR"))
    guest_uploads_per_event_day: int = Field(
        5000, ge=1, validation_alias=AliasChoices("KANTA_GUEST_UPLOADS_PER_EVENT_DAY")
    )
    # Byte budgets of the same windows (decimal bytes): a SAS URL cannot limit what one PUT
    # writes (up to 5000 MiB), so the bytes are budgeted too. Sized from the counts above at a
    # phone photo's usual 3-5 MB JPEG: 1000 photos an hour, 5000 a day.
    guest_bytes_per_hour: int = Field(
        5_000_000_000, ge=1, validation_alias=AliasChoices("KANTA_GUEST_BYTES_PER_HOUR")
    )
    guest_bytes_per_event_day: int = Field(
        25_000_000_000, ge=1, validation_alias=AliasChoices("KANTA_GUEST_BYTES_PER_EVENT_DAY")
    )

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
