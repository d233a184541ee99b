-- The response cache and guardrails in the request log, on PostgreSQL: the twin of
-- sqlite/20261222000001_cache_guardrails.sql.

ALTER TABLE requests ADD COLUMN cache_hit BOOLEAN NOT NULL DEFAULT FALSE;
-- Micro-dollars: what a cached answer cost when it was stored; NULL when not a hit or unpriced.
ALTER TABLE requests ADD COLUMN cost_saved_micros BIGINT;
-- A JSON array of `{guardrail, detector, action, count, phase}`; NULL when there were no hits.
ALTER TABLE requests ADD COLUMN guardrails TEXT;

ALTER TABLE rollups ADD COLUMN cache_hits BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rollups ADD COLUMN cost_saved_micros BIGINT NOT NULL DEFAULT 0;
