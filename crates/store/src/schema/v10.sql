-- v10: pull and shear test results (issue 18), per tested wire, joined to the ball bond
-- record of that unit and wire when it is known. A file's rows are taken once: the
-- same file (by its SHA-256) imported again adds nothing.
CREATE TABLE test_results (
    id          INTEGER PRIMARY KEY,
    unit        INTEGER NOT NULL,
    wire        INTEGER NOT NULL,
    test        TEXT NOT NULL CHECK (test IN ('pull', 'shear')),
    force_mgf   INTEGER NOT NULL,
    mode        TEXT NOT NULL,
    tested_at   TEXT NOT NULL,          -- the tester's time, as it wrote it
    bond_seq    INTEGER,                -- the ball bond's record (bonds.seq), if found
    source      TEXT NOT NULL,          -- file name, or 'keypad'
    source_sha  TEXT NOT NULL,          -- SHA-256 of the file (keypad: of the entry)
    line        INTEGER NOT NULL,       -- row in the source
    imported_ms INTEGER NOT NULL,
    by_user     TEXT NOT NULL,
    UNIQUE (source_sha, line)
);
CREATE INDEX test_results_bond ON test_results (bond_seq);
