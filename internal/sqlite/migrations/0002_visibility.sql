-- Private media and encryption (docs/security.md): who may play a media
-- (public: anyone with its URL; signed: only with a playback token) and
-- whether its segments are AES-128 encrypted (the key is DATA/keys/{id}.key).
ALTER TABLE media ADD COLUMN visibility TEXT NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'signed'));
ALTER TABLE media ADD COLUMN encrypted INTEGER NOT NULL DEFAULT 0 CHECK (encrypted IN (0, 1));
