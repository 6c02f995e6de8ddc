-- v2: a user can be disabled (kept, cannot sign in).
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
