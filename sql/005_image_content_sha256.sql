-- SHA-256 of the bytes an image was indexed from. Event Grid and the blob trigger deliver
-- at least once: a repeated delivery of unchanged bytes is recognised and leaves the image's
-- faces (their ids, and the corrections that point at them) alone.
ALTER TABLE images ADD COLUMN content_sha256 bytea;
