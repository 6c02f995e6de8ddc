-- v7: gateway contract version 2 (docs/spec/gateway-mqtt.md, "Version 2").
-- The store epoch: a random 64-bit id (16 hex digits) drawn once when the store is
-- created (or first migrated to v7). Bond seq restarts at 1 only with a new epoch, so a
-- reader keys bonds by (station, epoch, seq). SQLite's randomblob() draws from the OS's
-- randomness on first use; the epoch is an identifier, not a secret.
CREATE TABLE store_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

INSERT INTO store_meta (key, value) VALUES ('epoch', lower(hex(randomblob(8))));

-- Nonces of signed gateway commands, remembered until their exp + 30 s so that a command
-- replayed after a restart is still refused ("replayed").
CREATE TABLE command_nonces (
    nonce       TEXT PRIMARY KEY,
    -- Unix seconds after which the nonce may be forgotten.
    expires_s   INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX command_nonces_by_expiry ON command_nonces (expires_s);
