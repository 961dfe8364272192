-- Bumped in the transaction of every change of faces.cluster_id that does not also change the
-- event's faces (a re-clustering run, a host's merge, move or "not this person"), so search
-- workers know when their copy of who-is-who is stale (faces_version covers new and deleted faces).
ALTER TABLE events ADD COLUMN clusters_version bigint NOT NULL DEFAULT 0;
