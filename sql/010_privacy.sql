-- Privacy: guests' faces are biometric data. Per event: whether guests may search by selfie,
-- the consent text they read first, how long face data is kept after the event, and the
-- record of what was erased or purged. kanta/privacy/ applies them; README "Privacy".

-- Face search on or off for the event (hosts' clustering goes on either way).
ALTER TABLE events ADD COLUMN face_search boolean NOT NULL DEFAULT true;
-- Shown to guests before a selfie is used; NULL: Kanta's default text (kanta/privacy/policy.py).
ALTER TABLE events ADD COLUMN consent_text text CHECK (length(consent_text) BETWEEN 1 AND 4000);
-- Days after the event (the later of its end, its creation and its last photo) after which
-- its faces (descriptors, thumbnails, people) are deleted; NULL: kept until the event is.
ALTER TABLE events ADD COLUMN retention_days integer DEFAULT 30 CHECK (retention_days BETWEEN 1 AND 3650);
-- The photos go too at the end of the retention.
ALTER TABLE events ADD COLUMN retention_deletes_photos boolean NOT NULL DEFAULT false;
-- The retention is never counted from before this time: events that exist when this file is
-- applied get their full retention from now (an upgrade deletes nothing at once); a new
-- event's is its creation.
ALTER TABLE events ADD COLUMN retention_from timestamptz NOT NULL DEFAULT now();
-- When the retention purge deleted the event's faces (for good: the event indexes and
-- searches no faces after it), and how many it deleted.
ALTER TABLE events ADD COLUMN faces_purged_at timestamptz;
ALTER TABLE events ADD COLUMN purged_face_count integer NOT NULL DEFAULT 0;
-- Faces erased at a guest's or the host's request (how many, never whose).
ALTER TABLE events ADD COLUMN erased_face_count integer NOT NULL DEFAULT 0;

-- The event's do-not-index list: descriptors of people who asked to be forgotten (the selfie
-- they sent, and the faces of theirs that were erased). A new face within the search's face
-- cut of one is not stored. Kept only to honour the request; it goes with the event, or at
-- the end of the event's retention with its faces.
CREATE TABLE erased_descriptors (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id   bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    descriptor vector(128) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX erased_descriptors_event_idx ON erased_descriptors (event_id);

-- The hourly retention job looks only at events not purged yet that have a retention.
CREATE INDEX events_retention_due_idx ON events (id) WHERE faces_purged_at IS NULL AND retention_days IS NOT NULL;
