-- v6: the station's vision setup per recipe (taught pad template and px↔µm calibration,
-- bonder-vision's `VisionSetup` as JSON). Station data: the optics differ between
-- machines, so it is not part of the recipe version that is released and downloaded.
-- Keyed by the recipe's name (a new version of the recipe keeps its teach); every teach
-- is a new row, the newest counts; each is audited with the SHA-256 of its JSON.
CREATE TABLE recipe_vision (
    id              INTEGER PRIMARY KEY,
    recipe_name     TEXT    NOT NULL,
    -- The version running when it was taught.
    recipe_version  INTEGER NOT NULL,
    taught_ms       INTEGER NOT NULL,
    taught_by       TEXT    NOT NULL,
    setup_json      TEXT    NOT NULL
);

CREATE INDEX recipe_vision_by_name ON recipe_vision (recipe_name, id);
