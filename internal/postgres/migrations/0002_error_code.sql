-- The machine-readable kind of media.error (an hlsd error code such as
-- 'unsupported_media' or 'insufficient_storage'); '' when there is none.
ALTER TABLE media ADD COLUMN error_code text NOT NULL DEFAULT '';
