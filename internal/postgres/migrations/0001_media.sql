-- The library's media, as in internal/sqlite (0001_media and 0002_visibility
-- there). Ids compare bytewise (COLLATE "C") whatever the database's locale,
-- so pages come in the same order as on SQLite.
CREATE TABLE media (
    id          text COLLATE "C" PRIMARY KEY,
    title       text NOT NULL,
    kind        text NOT NULL DEFAULT '' CHECK (kind IN ('', 'audio', 'video')),
    status      text NOT NULL CHECK (status IN ('queued', 'processing', 'ready', 'failed')),
    progress    double precision NOT NULL DEFAULT 0,
    error       text NOT NULL DEFAULT '',
    duration    double precision NOT NULL DEFAULT 0,
    renditions  jsonb NOT NULL DEFAULT '[]',
    source_name text NOT NULL DEFAULT '',
    source_size bigint NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    -- Who may play a media (public: anyone with its URL; signed: only with a
    -- playback token) and whether its segments are AES-128 encrypted.
    visibility  text NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'signed')),
    encrypted   boolean NOT NULL DEFAULT false
);

-- Newest-first pages walk this index (keyset pagination on created_at, id).
CREATE INDEX media_created_at ON media (created_at DESC, id DESC);
