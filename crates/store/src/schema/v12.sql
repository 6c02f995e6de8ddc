-- v12: the predicted strength of every wire (issue 18), keyed by its ball bond's record,
-- with the model versions that made it. Written by the station as the wire's stitch
-- arrives, once a model exists.
CREATE TABLE bond_predictions (
    seq          INTEGER PRIMARY KEY,   -- the ball bond (bonds.seq)
    shear_mgf    INTEGER,
    shear_sd_mgf INTEGER,
    pull_mgf     INTEGER,
    pull_sd_mgf  INTEGER,
    shear_model  INTEGER,               -- strength_models.id
    pull_model   INTEGER
);
