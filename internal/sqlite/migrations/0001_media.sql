-- The library's media. Times are UTC text with fixed microsecond precision
-- ('2006-01-02T15:04:05.000000Z'), so text order is time order.
CREATE TABLE media (
    id          TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    kind        TEXT NOT NULL DEFAULT '' CHECK (kind IN ('', 'audio', 'video')),
    status      TEXT NOT NULL CHECK (status IN ('queued', 'processing', 'ready', 'failed')),
    progress    REAL NOT NULL DEFAULT 0,
    error       TEXT NOT NULL DEFAULT '',
    duration    REAL NOT NULL DEFAULT 0,
    renditions  TEXT NOT NULL DEFAULT '[]',
    source_name TEXT NOT NULL DEFAULT '',
    source_size INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;

-- Newest-first pages walk this index (keyset pagination on created_at, id).
CREATE INDEX media_created_at ON media (created_at DESC, id DESC);
