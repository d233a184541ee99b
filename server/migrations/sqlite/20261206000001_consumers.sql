-- Consumers (the apps and teams that call the proxy), their client API keys, and gateway settings.
-- A key is stored only as its SHA-256 digest, with the last four characters for the masked form:
-- a copy of the database cannot be used to call the proxy.

CREATE TABLE consumers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    -- The consumer's spec without its keys.
    spec TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE consumer_keys (
    -- Stable across edits, so limit counters keyed by it survive reloads.
    id INTEGER PRIMARY KEY,
    -- Names are labels, not identities: a rotated key and its successor share one.
    consumer_id INTEGER NOT NULL REFERENCES consumers (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    key_sha256 TEXT NOT NULL UNIQUE,
    -- The key's last four characters, for `sy-…k3Qz`; NULL when only the digest was imported.
    last4 TEXT,
    -- allowed_models and limits, as JSON.
    spec TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    -- Milliseconds since the epoch; NULL never expires.
    expires_at INTEGER,
    created_at INTEGER NOT NULL,
    -- Written from memory every few seconds, never on the request path.
    last_used_at INTEGER
);
CREATE INDEX consumer_keys_by_consumer ON consumer_keys (consumer_id);

-- Gateway-wide settings, one JSON document (the shared crate's `Settings`).
CREATE TABLE settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    spec TEXT NOT NULL
);
INSERT INTO settings (id, spec) VALUES (1, '{}');
