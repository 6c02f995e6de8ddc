-- v8: account administration and the login lockout (issue 14).
-- A disabled user keeps their row (the audit trail names them) but cannot sign in
-- anywhere; `updated_ms` is the last change of role, secret or state.
ALTER TABLE users ADD COLUMN disabled_ms INTEGER;
ALTER TABLE users ADD COLUMN updated_ms INTEGER;

-- Failed sign-ins in a row and the lock, per badge string as typed: known or not, so a
-- lock does not tell anybody whether a badge exists.
CREATE TABLE login_failures (
    badge           TEXT PRIMARY KEY,
    failures        INTEGER NOT NULL,
    locked_until_ms INTEGER
) WITHOUT ROWID;
