-- Guest links: a host shares one link per event; whoever holds its token may use the guest
-- routes of that event, within the rights the host gave it, until it expires.

-- Only the token's SHA-256 is kept: a copy of this table (a backup, a log of a query) does
-- not let anyone in. The token has 256 random bits, so a plain hash is enough (no salt or
-- slow hash: there is nothing to guess). Rotating a link replaces its row, so the old
-- token stops working at once and the new link starts with fresh abuse counters (keyed by id).
CREATE TABLE guest_links (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     bigint NOT NULL UNIQUE REFERENCES events (id) ON DELETE CASCADE,
    token_sha256 bytea NOT NULL UNIQUE CHECK (length(token_sha256) = 32),
    can_upload   boolean NOT NULL,
    can_find_me  boolean NOT NULL,
    can_gallery  boolean NOT NULL,
    expires_at   timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Fixed-window counters of what guests do (kanta.guests.service), in the database so that
-- every instance of the app counts against the same caps. One row per (what is counted,
-- whose, which window); a request adds to its row with one INSERT ... ON CONFLICT DO UPDATE,
-- which serialises concurrent requests on the row. Windows start on whole hours / days
-- (UTC); old ones are deleted by purge_guest_counters_timer.
CREATE TABLE rate_counters (
    scope        text NOT NULL,          -- e.g. 'link_uploads', 'event_uploads'
    key          text NOT NULL,          -- a guest link's or an event's id
    window_start timestamptz NOT NULL,
    count        integer NOT NULL CHECK (count >= 0),
    PRIMARY KEY (scope, key, window_start)
);
CREATE INDEX rate_counters_window_start_idx ON rate_counters (window_start);
