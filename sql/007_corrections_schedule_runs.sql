-- A host's merge or move schedules a re-clustering run: corrections_version is bumped with
-- each, and a run records the value it saw, as faces_version / clustered_version do.
ALTER TABLE events ADD COLUMN corrections_version bigint NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN clustered_corrections_version bigint NOT NULL DEFAULT 0;
