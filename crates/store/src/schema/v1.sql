-- Schema version 1 of the station store. Times are Unix milliseconds (UTC) in `*_ms`
-- columns, except `audit.ts` (RFC 3339 text, part of the hashed row). Measurements of
-- bonds are fixed-point integers whose unit is in the column name (nm, mgf, uJ, bp).

-- Recipes: every version kept, never overwritten.
CREATE TABLE recipe_versions (
    name         TEXT    NOT NULL,
    version      INTEGER NOT NULL CHECK (version > 0),
    state        TEXT    NOT NULL CHECK (state IN ('draft', 'released', 'retired')),
    doc          TEXT    NOT NULL,          -- the recipe document (JSON), as created
    base_version INTEGER,                   -- version it was edited from; NULL for the first
    created_ms   INTEGER NOT NULL,
    created_by   TEXT    NOT NULL,
    created_role TEXT    NOT NULL,
    reason       TEXT    NOT NULL,
    released_ms  INTEGER,
    released_by  TEXT,
    retired_ms   INTEGER,
    retired_by   TEXT,
    PRIMARY KEY (name, version)
) WITHOUT ROWID;

CREATE TRIGGER recipe_versions_never_overwritten
BEFORE UPDATE OF name, version, doc, base_version, created_ms, created_by, created_role, reason
ON recipe_versions
BEGIN
    SELECT RAISE(ABORT, 'recipe versions are never overwritten');
END;

CREATE TRIGGER recipe_versions_never_deleted BEFORE DELETE ON recipe_versions
BEGIN
    SELECT RAISE(ABORT, 'recipe versions are never deleted');
END;

-- Parameter-level diff of a version against its base version, in display order.
CREATE TABLE recipe_changes (
    name      TEXT    NOT NULL,
    version   INTEGER NOT NULL,
    ord       INTEGER NOT NULL,
    key       TEXT    NOT NULL,
    old_value TEXT    NOT NULL,
    new_value TEXT    NOT NULL,
    PRIMARY KEY (name, version, ord),
    FOREIGN KEY (name, version) REFERENCES recipe_versions (name, version)
) WITHOUT ROWID;

-- Audit trail: append-only, hash-chained (see audit.rs for the canonical encoding).
CREATE TABLE audit (
    id        INTEGER PRIMARY KEY,
    ts        TEXT NOT NULL,
    user      TEXT NOT NULL,
    role      TEXT NOT NULL,
    action    TEXT NOT NULL,
    object    TEXT NOT NULL,
    old_value TEXT,
    new_value TEXT,
    reason    TEXT,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit rows are append-only');
END;

CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit rows are append-only');
END;

-- `name@version` strings of the recipes bonds were made with (bonds refer by id).
CREATE TABLE recipe_labels (
    id    INTEGER PRIMARY KEY,
    label TEXT NOT NULL UNIQUE
);

-- One row per bond. No foreign key on shift_id: a bond is never refused.
CREATE TABLE bonds (
    seq               INTEGER PRIMARY KEY,
    time_ms           INTEGER NOT NULL,
    unit              INTEGER NOT NULL,
    wire              INTEGER NOT NULL,
    kind              INTEGER NOT NULL,     -- 1 ball, 2 stitch
    verdict           INTEGER NOT NULL,     -- 0 ok, else 1 + Defect::index
    ctrl_verdict      INTEGER NOT NULL,
    dx_nm             INTEGER,
    dy_nm             INTEGER,
    ball_nm           INTEGER,
    peak_force_mgf    INTEGER,
    us_energy_uj      INTEGER,
    deform_nm         INTEGER,
    impedance_drop_bp INTEGER,              -- basis points: 0.01 %
    tail_nm           INTEGER,
    recipe_label      INTEGER NOT NULL REFERENCES recipe_labels (id),
    shift_id          INTEGER
);

CREATE INDEX bonds_time ON bonds (time_ms);
-- Shift report: bonds and wires per kind, distinct units (covering).
CREATE INDEX bonds_shift ON bonds (shift_id, kind, unit);
-- Shift report: rejects by defect and rejected wires (covering, rejects only).
CREATE INDEX bonds_rejects ON bonds (shift_id, verdict, unit, wire) WHERE verdict <> 0;

-- Kept curves, compressed; separate so that bond rows stay small.
CREATE TABLE curves (
    seq            INTEGER PRIMARY KEY REFERENCES bonds (seq) ON DELETE CASCADE,
    sample_rate_hz INTEGER NOT NULL,
    format         INTEGER NOT NULL,        -- 1: per channel i16 deltas, byte planes, zstd
    data           BLOB    NOT NULL
);

CREATE TABLE alarms (
    id         INTEGER PRIMARY KEY,
    code       INTEGER NOT NULL,
    raised_ms  INTEGER NOT NULL,
    cleared_ms INTEGER,
    acked_ms   INTEGER,
    acked_by   TEXT
);

CREATE INDEX alarms_raised ON alarms (raised_ms);

CREATE TABLE shifts (
    id         INTEGER PRIMARY KEY,
    started_ms INTEGER NOT NULL,
    ended_ms   INTEGER,
    operator   TEXT    NOT NULL,
    team       TEXT    NOT NULL
);

CREATE TABLE shift_notes (
    id       INTEGER PRIMARY KEY,
    shift_id INTEGER NOT NULL REFERENCES shifts (id),
    time_ms  INTEGER NOT NULL,
    author   TEXT    NOT NULL,
    text     TEXT    NOT NULL
);

CREATE INDEX shift_notes_shift ON shift_notes (shift_id);

-- Events timeline.
CREATE TABLE events (
    id      INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    kind    TEXT    NOT NULL,
    text    TEXT    NOT NULL
);

CREATE INDEX events_time ON events (time_ms);

-- SEMI E10 state changes.
CREATE TABLE state_changes (
    id      INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    state   TEXT    NOT NULL CHECK (state IN ('productive', 'standby', 'engineering',
                                             'scheduled_down', 'unscheduled_down',
                                             'non_scheduled'))
);

CREATE INDEX state_changes_time ON state_changes (time_ms);

CREATE TABLE changeovers (
    id              INTEGER PRIMARY KEY,
    from_recipe     TEXT,
    to_recipe       TEXT    NOT NULL,
    started_ms      INTEGER NOT NULL,
    started_by      TEXT    NOT NULL,
    ended_ms        INTEGER,
    ended_by        TEXT,
    fa_passed       INTEGER,                -- first article: 1 passed, 0 failed
    fa_pull_min_gf  REAL,
    fa_shear_min_gf REAL
);

CREATE TABLE changeover_steps (
    id            INTEGER PRIMARY KEY,
    changeover_id INTEGER NOT NULL REFERENCES changeovers (id),
    name          TEXT    NOT NULL,
    started_ms    INTEGER NOT NULL,
    ended_ms      INTEGER NOT NULL,
    by_user       TEXT    NOT NULL
);

CREATE INDEX changeover_steps_changeover ON changeover_steps (changeover_id);

-- Store and forward: the last seq published per gateway topic.
CREATE TABLE outbox_cursor (
    topic    TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL
) WITHOUT ROWID;
