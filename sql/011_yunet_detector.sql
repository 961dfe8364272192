-- Faces found by YuNet (kanta.faces.detection): the detector's name, the face's pose from its
-- landmarks, a third reason to keep a face out of people (too turned), and which pipeline
-- indexed each photo, so photos indexed by an older one can be indexed again.
ALTER TABLE faces DROP CONSTRAINT faces_detector_check;
ALTER TABLE faces ADD CONSTRAINT faces_detector_check CHECK (detector IN ('hog', 'cnn', 'yunet'));
ALTER TABLE faces DROP CONSTRAINT faces_excluded_reason_check;
ALTER TABLE faces ADD CONSTRAINT faces_excluded_reason_check
    CHECK (excluded_reason IN ('too_small', 'too_blurry', 'too_turned'));
ALTER TABLE faces ADD COLUMN yaw real;    -- degrees, 0 frontal (NULL: indexed before poses were kept)
ALTER TABLE faces ADD COLUMN roll real;   -- degrees counter-clockwise
-- kanta.faces.PIPELINE of the run that indexed the photo; 'dlib-hog' for every photo indexed
-- before this column (face_recognition's HOG detector).
ALTER TABLE images ADD COLUMN pipeline text;
UPDATE images SET pipeline = 'dlib-hog' WHERE status = 'processed';
-- The re-index timer looks for processed photos of another pipeline.
CREATE INDEX images_pipeline_idx ON images (pipeline) WHERE status = 'processed';
