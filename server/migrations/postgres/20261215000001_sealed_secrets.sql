-- Secrets at rest, on PostgreSQL: the twin of sqlite/20261215000001_sealed_secrets.sql. With a
-- master key, provider keys and custom header values are stored sealed; this column holds a known
-- text sealed with the key, so a different key is refused before anything is served. NULL: the
-- database is not sealed.
ALTER TABLE meta ADD COLUMN key_check TEXT;
