-- Ladder rungs taller than the source, skipped by the transcode (hlsd never
-- upscales): a JSON array of heights, shown as the media's skipped_rungs.
ALTER TABLE media ADD COLUMN skipped_rungs TEXT NOT NULL DEFAULT '[]';
