-- The response cache and guardrails in the request log: whether a request was answered from the
-- cache and what that saved, the guardrail hits of each request (detector names and counts, never
-- the values), and the cache's hits and savings in the hourly rollups.

ALTER TABLE requests ADD COLUMN cache_hit INTEGER NOT NULL DEFAULT 0;
-- Micro-dollars: what a cached answer cost when it was stored; NULL when not a hit or unpriced.
ALTER TABLE requests ADD COLUMN cost_saved_micros INTEGER;
-- A JSON array of `{guardrail, detector, action, count, phase}`; NULL when there were no hits.
ALTER TABLE requests ADD COLUMN guardrails TEXT;

ALTER TABLE rollups ADD COLUMN cache_hits INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rollups ADD COLUMN cost_saved_micros INTEGER NOT NULL DEFAULT 0;
