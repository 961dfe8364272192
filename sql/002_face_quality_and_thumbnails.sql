-- Per-face quality and provenance (issue 3): which detector pass found the face, its score,
-- sharpness, why it is kept out of clustering and search (if it is), and its thumbnail blob.

ALTER TABLE faces
    ADD COLUMN detector        text NOT NULL DEFAULT 'hog' CHECK (detector IN ('hog', 'cnn')),
    ADD COLUMN angle           real NOT NULL DEFAULT 0,      -- degrees of the rotated pass
    ADD COLUMN score           real,                         -- detector confidence
    ADD COLUMN sharpness       real,                         -- variance of the Laplacian
    ADD COLUMN excluded_reason text CHECK (excluded_reason IN ('too_small', 'too_blurry')),
    ADD COLUMN thumbnail_blob  text;                         -- in the faces container

ALTER TABLE images ADD COLUMN detection_profile text;

-- Clustering and search read only usable faces of an event.
CREATE INDEX faces_event_usable_idx ON faces (event_id) WHERE excluded_reason IS NULL;
