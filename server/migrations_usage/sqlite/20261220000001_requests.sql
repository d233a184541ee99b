-- The request log (`usage.db`, a file of its own so its write volume never contends with the
-- configuration's): one row per proxied request, and hourly rollups that usage reports and budget
-- spend are read from without scanning the records.

CREATE TABLE requests (
    -- The insertion order, and the cursor of `GET /api/logs`: newest first is `id DESC`.
    id INTEGER PRIMARY KEY,
    -- Not unique: a client may send the same `x-request-id` twice, and both requests are kept.
    request_id TEXT NOT NULL,
    -- When the request arrived, in milliseconds since the Unix epoch.
    time_ms INTEGER NOT NULL,
    endpoint TEXT NOT NULL,
    -- NULL for anonymous requests and ones refused before a key was read.
    consumer_id INTEGER,
    consumer TEXT,
    key_id INTEGER,
    route TEXT,
    provider TEXT,
    requested_model TEXT,
    model TEXT,
    status INTEGER NOT NULL,
    error_code TEXT,
    stream INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    -- A JSON array of `{provider, status, outcome}`; NULL when it would be empty.
    fallback_trail TEXT,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cached_tokens INTEGER NOT NULL,
    reasoning_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    tokens_estimated INTEGER NOT NULL,
    -- Micro-dollars; NULL when the model has no price (unpriced is not free).
    cost_micros INTEGER,
    latency_ms INTEGER NOT NULL,
    ttft_ms INTEGER,
    client_disconnected INTEGER NOT NULL
);

-- Every index on a rowid table ends with the rowid, so an equality filter on one of these columns
-- walks its index backwards in cursor order and stops after one page.
CREATE INDEX requests_request_id ON requests (request_id);
CREATE INDEX requests_time ON requests (time_ms);
CREATE INDEX requests_consumer ON requests (consumer);
CREATE INDEX requests_key ON requests (key_id);
CREATE INDEX requests_route ON requests (route);
CREATE INDEX requests_provider ON requests (provider);
CREATE INDEX requests_requested_model ON requests (requested_model);
CREATE INDEX requests_model ON requests (model);
CREATE INDEX requests_status ON requests (status);

-- Usage per hour and per consumer, key, route, provider and model. The key columns are never NULL
-- (SQLite treats NULLs as distinct in a unique key, which would defeat the upsert): anonymous and
-- unknown are stored as '' and 0, which no consumer, key, route, provider or model can be.
CREATE TABLE rollups (
    -- The hour's start, in milliseconds since the Unix epoch (UTC).
    hour_ms INTEGER NOT NULL,
    consumer_id INTEGER NOT NULL,
    consumer TEXT NOT NULL,
    key_id INTEGER NOT NULL,
    route TEXT NOT NULL,
    provider TEXT NOT NULL,
    -- The upstream model, or the requested one when the request never reached an upstream.
    model TEXT NOT NULL,
    requests INTEGER NOT NULL,
    -- Requests answered with a status of 400 or more.
    errors INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cached_tokens INTEGER NOT NULL,
    reasoning_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    -- The priced requests' cost in micro-dollars.
    cost_micros INTEGER NOT NULL,
    -- Requests whose model has no price (not in cost_micros).
    unpriced_requests INTEGER NOT NULL,
    PRIMARY KEY (hour_ms, consumer_id, consumer, key_id, route, provider, model)
) WITHOUT ROWID;

-- Budget spend is summed per consumer or per key from a period's start.
CREATE INDEX rollups_consumer ON rollups (consumer_id, hour_ms);
CREATE INDEX rollups_key ON rollups (key_id, hour_ms);
