-- The configuration store. Providers and routes keep their full spec as JSON (the shapes in the
-- shared crate), so new optional settings need no migration; what needs integrity lives in columns:
-- unique names, API keys with stable ids, and which routes use which providers.

CREATE TABLE meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    -- Incremented by every write, so a reader can tell cheaply whether anything changed.
    revision INTEGER NOT NULL
);
INSERT INTO meta (id, revision) VALUES (1, 0);

CREATE TABLE providers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    -- The provider's spec without its API keys.
    spec TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE provider_keys (
    -- Stable across edits that keep the key, so health state keyed by it survives reloads.
    id INTEGER PRIMARY KEY,
    provider_id INTEGER NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    secret TEXT NOT NULL
);
CREATE INDEX provider_keys_by_provider ON provider_keys (provider_id, position);

CREATE TABLE routes (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    spec TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Which providers each route uses, primary or fallback. RESTRICT makes deleting a provider that a
-- route still uses impossible even for a writer that skips the admin API's own check.
CREATE TABLE route_providers (
    route_id INTEGER NOT NULL REFERENCES routes (id) ON DELETE CASCADE,
    provider_id INTEGER NOT NULL REFERENCES providers (id) ON DELETE RESTRICT,
    PRIMARY KEY (route_id, provider_id)
);
CREATE INDEX route_providers_by_provider ON route_providers (provider_id);
