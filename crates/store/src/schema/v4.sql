-- v4: guided changeovers: each step's outcome, how a changeover ended, and the wizard's
-- state while one is open (so a restart resumes at the step it was on).
ALTER TABLE changeover_steps ADD COLUMN outcome TEXT NOT NULL DEFAULT '';

-- 'completed' or 'abandoned' once ended; NULL while open.
ALTER TABLE changeovers ADD COLUMN outcome TEXT
    CHECK (outcome IS NULL OR outcome IN ('completed', 'abandoned'));

CREATE TABLE changeover_progress (
    changeover_id INTEGER PRIMARY KEY REFERENCES changeovers (id),
    updated_ms    INTEGER NOT NULL,
    state_json    TEXT    NOT NULL
);
