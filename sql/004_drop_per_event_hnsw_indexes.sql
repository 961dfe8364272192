-- Search no longer uses per-event partial HNSW indexes (kanta/search/descriptors.py scans an
-- in-process copy of the event's descriptors exactly; bench/search.py has the numbers).
-- Drop any the timer created: they only slowed down inserts.
DO $$
DECLARE
    idx record;
BEGIN
    FOR idx IN SELECT indexname FROM pg_indexes WHERE tablename = 'faces' AND indexname LIKE 'faces\_hnsw\_event\_%'
    LOOP
        EXECUTE format('DROP INDEX IF EXISTS %I', idx.indexname);
    END LOOP;
END $$;
