-- Secrets at rest. With a master key, provider keys (provider_keys.secret) and custom header values
-- (inside providers.spec) are stored sealed, as `sealed:v1:<base64(nonce || ciphertext)>`. This
-- column holds a known text sealed with the key: a database that has one needs that key to start,
-- and a different key is refused before anything is served. NULL: the database is not sealed.
ALTER TABLE meta ADD COLUMN key_check TEXT;
