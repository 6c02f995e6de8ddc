-- v11: fitted strength models (issue 18), one row per fitted version: the model as
-- JSON (bonder_core::strength::StrengthModel::to_json), what it was fitted on and how
-- well. The newest row of a test is the one in use.
CREATE TABLE strength_models (
    id             INTEGER PRIMARY KEY,
    test           TEXT NOT NULL CHECK (test IN ('pull', 'shear')),
    fitted_ms      INTEGER NOT NULL,
    results        INTEGER NOT NULL,     -- tested wires it was fitted on
    last_result_id INTEGER NOT NULL,     -- the newest test_results.id among them
    r2_fit         REAL NOT NULL,
    sigma_gf       REAL NOT NULL,
    model          TEXT NOT NULL
);
CREATE INDEX strength_models_test ON strength_models (test, id);
