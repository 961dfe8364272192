-- Byte budgets of guest uploads (kanta.caps): the size an upload request declared for the
-- photo (NULL: a host's request that declared none), the bytes counted against its guest
-- link's and event's budgets (the declared size when the URL was issued, the blob's real
-- size once it arrived), and the link that asked (NULL: the host). A link's id changes when
-- the host rotates it, so it is not a foreign key: the old link's counts simply end.
ALTER TABLE images ADD COLUMN declared_bytes bigint CHECK (declared_bytes > 0);
ALTER TABLE images ADD COLUMN charged_bytes bigint CHECK (charged_bytes >= 0);
ALTER TABLE images ADD COLUMN guest_link_id bigint;
-- Bytes of the face's thumbnail blob, so the host sees what an event stores (NULL: a face
-- indexed before sizes were kept, or one without a thumbnail).
ALTER TABLE faces ADD COLUMN thumbnail_bytes integer CHECK (thumbnail_bytes > 0);
-- Byte budgets count up to tens of gigabytes in a window.
ALTER TABLE rate_counters ALTER COLUMN count TYPE bigint;
