-- The photo lifecycle: pending (upload URL issued) → indexing (a blob trigger run or the
-- re-drive job is on it) → processed | failed; a deleted photo leaves a tombstone.

ALTER TABLE images DROP CONSTRAINT images_status_check;
ALTER TABLE images ADD CONSTRAINT images_status_check
    CHECK (status IN ('pending', 'indexing', 'processed', 'failed'));

-- When the current indexing run started: a run older than the function timeout is dead
-- (its worker crashed or lost the database) and the re-drive job takes the photo over.
ALTER TABLE images ADD COLUMN indexing_started_at timestamptz;
-- Re-drive job (kanta.images.service.redrive_uploads): runs it made on this photo, and when
-- it may look at the photo again (exponential backoff); NULL: as soon as it is due.
ALTER TABLE images ADD COLUMN redrive_attempts integer NOT NULL DEFAULT 0;
ALTER TABLE images ADD COLUMN next_redrive_at timestamptz;

-- The timers scan only unfinished photos, a small part of a large table.
CREATE INDEX images_unfinished_idx ON images (created_at) WHERE status IN ('pending', 'indexing');

-- Blob names of deleted photos (an image's delete, or every image of a deleted event,
-- upload tickets included). The blob trigger deletes, never indexes, a blob under such a
-- name that was written before the delete (a run that started before it, a late or
-- repeated delivery) or, for a photo uploaded through a ticket, any blob until
-- reuploads_blocked_until: its upload URL may write it again until it expires (also into a
-- new event with the same code). A client with storage access may upload another
-- client-named blob again at once. Kept for a day (kanta.images.service.purge_tombstones),
-- longer than upload URLs live and deliveries are retried; the purge removes whatever blob
-- or thumbnails of the photo are still in storage before it forgets the name.
CREATE TABLE deleted_blobs (
    blob_name               text PRIMARY KEY,
    image_id                uuid NOT NULL,     -- its thumbnails: faces/{event_code}/{image_id}/
    deleted_at              timestamptz NOT NULL DEFAULT now(),
    reuploads_blocked_until timestamptz        -- NULL: no upload URL was issued for it
);
CREATE INDEX deleted_blobs_deleted_at_idx ON deleted_blobs (deleted_at);
