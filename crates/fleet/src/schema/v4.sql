-- v4: the supervisor's login lockout and its own audit trail (issue 14).
-- Failed sign-ins in a row and the lock, per user name as typed (known or not).
CREATE TABLE login_failures (
  name TEXT PRIMARY KEY, failures INTEGER NOT NULL, locked_until_ms INTEGER) WITHOUT ROWID;

-- What the supervisor's users did: sign-ins (and refusals, locks), user and settings
-- changes, every command sent, exports. Append-only: no statement of the app changes a row.
CREATE TABLE audit (
  id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, user TEXT NOT NULL, role TEXT NOT NULL,
  action TEXT NOT NULL, object TEXT NOT NULL, detail TEXT);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
