-- v3: the station's users (badge id, role, argon2 PIN hash, language).
CREATE TABLE users (
    badge      TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL,
    pin_hash   TEXT NOT NULL,
    lang       TEXT NOT NULL,
    created_ms INTEGER NOT NULL
) WITHOUT ROWID;
