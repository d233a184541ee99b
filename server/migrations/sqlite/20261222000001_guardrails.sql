-- Guardrail policies: detectors of personal data and secrets, referenced by name from routes and
-- consumers (inside their JSON specs; the store refuses to delete a policy still referenced).

CREATE TABLE guardrails (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    -- The policy's spec (the shared crate's `GuardrailSpec`).
    spec TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- The key of the `hash` action's keyed digests: 32 random bytes as hex, sealed like provider keys
-- when there is a master key. Made once by the store on first use and never changed, so a value's
-- digest stays the same across restarts and reloads. NULL until then.
ALTER TABLE meta ADD COLUMN guardrail_hash_key TEXT;
