-- Kanta's initial schema: events, their uploaded images, and one row per detected face
-- with its 128-d dlib descriptor (pgvector). Applied by `python -m kanta.migrate`.

CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE events (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code              text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9-]{3,32}$'),
    name              text,
    description       text,
    starts_at         timestamptz,
    ends_at           timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    -- faces_version is incremented in every transaction that adds or removes faces of the
    -- event; a clustering run records the version it read. A counter, not a timestamp:
    -- transaction timestamps can commit out of order and hide a change from the timer.
    faces_version     bigint NOT NULL DEFAULT 0,
    clustered_version bigint NOT NULL DEFAULT 0,
    last_clustered_at timestamptz,
    CHECK (starts_at IS NULL OR ends_at IS NULL OR starts_at < ends_at)
);

CREATE TABLE images (
    id                 uuid PRIMARY KEY,
    event_id           bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    -- "{event_code}/{image_id}.{ext}" in the uploads container; one row per blob, so
    -- processing the same blob twice updates this row instead of adding another.
    blob_name          text NOT NULL UNIQUE,
    original_filename  text,
    content_type       text,
    status             text NOT NULL DEFAULT 'pending'
                       CHECK (status IN ('pending', 'processed', 'failed')),
    failure_code       text,      -- stable reason code when status = 'failed'
    failure_reason     text,      -- human explanation when status = 'failed'
    size_bytes         bigint,
    width              integer,   -- pixels, upright (after EXIF orientation)
    height             integer,
    face_count         integer,
    processing_seconds double precision,
    created_at         timestamptz NOT NULL DEFAULT now(),
    processed_at       timestamptz
);
CREATE INDEX images_event_created_idx ON images (event_id, created_at, id);

CREATE TABLE faces (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    image_id    uuid NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    event_id    bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    -- Bounding box in pixels of the upright original image.
    bbox_x      integer NOT NULL,
    bbox_y      integer NOT NULL,
    bbox_width  integer NOT NULL CHECK (bbox_width > 0),
    bbox_height integer NOT NULL CHECK (bbox_height > 0),
    descriptor  vector(128) NOT NULL,
    -- NULL: not clustered yet; -1: noise (no person); >= 0: a person of this event.
    cluster_id  integer,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX faces_image_idx ON faces (image_id);
CREATE INDEX faces_event_cluster_idx ON faces (event_id, cluster_id);
