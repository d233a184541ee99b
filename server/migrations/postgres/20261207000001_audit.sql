-- The audit trail on PostgreSQL: the twin of sqlite/20261207000001_audit.sql. One entry per
-- configuration revision, written in the transaction that makes the revision, and the resources
-- it changed as masked JSON documents (never a secret).

CREATE TABLE audit_entries (
    -- meta.revision after the write; set by the store, so not an identity.
    revision BIGINT PRIMARY KEY,
    -- The gateway clock's milliseconds since the Unix epoch.
    at_ms BIGINT NOT NULL,
    -- 'console:<user>', 'admin-token', 'cli:<os user>', 'node:<name>' or 'system'.
    actor TEXT COLLATE "C" NOT NULL,
    -- The admin socket's peer address, 'local' for the CLI; NULL when unknown.
    source TEXT,
    -- create, replace, delete, apply, rollback, key_create, key_update, key_rotate, key_delete,
    -- settings, account_create, password_change, seal, unseal.
    action TEXT NOT NULL,
    -- One line for a person: "route 'chat' replaced", "key …k3Qz added to consumer 'ci'".
    summary TEXT NOT NULL,
    -- The revision a rollback went back to.
    rolled_back_to BIGINT
);
CREATE INDEX audit_entries_at ON audit_entries (at_ms);
CREATE INDEX audit_entries_actor ON audit_entries (actor, revision);

CREATE TABLE audit_changes (
    revision BIGINT NOT NULL REFERENCES audit_entries (revision) ON DELETE CASCADE,
    -- The order of the changes within the revision.
    seq BIGINT NOT NULL,
    -- provider, route, consumer, guardrail, settings or account.
    kind TEXT NOT NULL,
    -- The resource's name; '' for the settings.
    name TEXT COLLATE "C" NOT NULL,
    -- Masked JSON as the admin API shows it; NULL when the resource did not exist before.
    before TEXT,
    -- Masked JSON; NULL when the write deleted it.
    after TEXT,
    PRIMARY KEY (revision, seq)
);
CREATE INDEX audit_changes_resource ON audit_changes (kind, name, revision);
