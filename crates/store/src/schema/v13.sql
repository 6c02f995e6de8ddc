-- v13: process-window search sessions (issue 19) and their runs. A session is started
-- by an engineer with the machine in setup; every run (a candidate parameter set,
-- bonded and measured) is stored as it ends, so a restart resumes after the last one.
-- At most one session is open at a time.
CREATE TABLE window_sessions (
    id              INTEGER PRIMARY KEY,
    started         TEXT NOT NULL,          -- RFC 3339 UTC
    by_user         TEXT NOT NULL,
    wire            TEXT NOT NULL,          -- 'Au:25.4'
    plan            TEXT NOT NULL,          -- JSON: method, params, bounds, budget, units per run, seed
    start_recipe    TEXT NOT NULL,          -- the recipe document the candidates are made from
    previous_recipe TEXT NOT NULL,          -- the recipe document the controller ran before
    previous_crc    INTEGER NOT NULL,       -- its block CRC, checked when it is restored
    state           TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'done', 'abandoned')),
    ended           TEXT,
    result          TEXT,                   -- JSON: the estimate (centre, box, margins, units)
    draft           TEXT                    -- 'name@version' of the draft it produced
);
CREATE UNIQUE INDEX window_sessions_one_open ON window_sessions (state) WHERE state = 'open';
CREATE TABLE window_runs (
    session_id INTEGER NOT NULL REFERENCES window_sessions (id),
    idx        INTEGER NOT NULL,            -- 0, 1, 2 … in the order they were bonded
    at         TEXT NOT NULL,               -- JSON: the point in the unit cube of the bounds
    candidate  TEXT NOT NULL,               -- JSON: {param key: value} downloaded
    margins    TEXT NOT NULL,               -- JSON: the measured margins
    stats      TEXT NOT NULL,               -- JSON: mean, sd, n of shear, pull, ball diameter
    units      INTEGER NOT NULL,
    wires      INTEGER NOT NULL,            -- wires bonded with the candidate (overshoot included)
    first_seq  INTEGER,                     -- its bond records
    last_seq   INTEGER,
    recipe_crc INTEGER NOT NULL,            -- the candidate's block CRC as read back
    ended      TEXT NOT NULL,
    PRIMARY KEY (session_id, idx)
);
