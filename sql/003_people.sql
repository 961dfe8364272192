-- People that persist (issue 4): stable cluster ids, names, human corrections, run history.

-- Next unused cluster id per event: ids are never reused, so an id always means one person.
ALTER TABLE events ADD COLUMN next_cluster_id integer NOT NULL DEFAULT 0;

-- A person's name, pinned by a host; the row lives as long as the id is in use.
CREATE TABLE clusters (
    event_id   bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    cluster_id integer NOT NULL CHECK (cluster_id >= 0),
    name       text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, cluster_id)
);

-- Human corrections every clustering run honours: 'pinned' (this face is this person: a
-- move or a merge) or 'rejected' (this face is not this person).
CREATE TABLE face_corrections (
    face_id    bigint NOT NULL REFERENCES faces (id) ON DELETE CASCADE,
    event_id   bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('pinned', 'rejected')),
    cluster_id integer NOT NULL CHECK (cluster_id >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (face_id, kind, cluster_id)
);
CREATE INDEX face_corrections_event_idx ON face_corrections (event_id);

-- One row per full clustering run of an event.
CREATE TABLE cluster_runs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id      bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz NOT NULL DEFAULT now(),
    trigger       text NOT NULL CHECK (trigger IN ('timer', 'manual')),
    algorithm     text NOT NULL,
    parameters    jsonb NOT NULL,
    face_count    integer NOT NULL,
    cluster_count integer NOT NULL,
    noise_count   integer NOT NULL,
    kept_count    integer NOT NULL,   -- faces that had an id before and kept it
    seconds       double precision NOT NULL
);
CREATE INDEX cluster_runs_event_idx ON cluster_runs (event_id, id DESC);
