-- v5: the station's bond vision beside the bond records. One row per ball bond that the
-- camera saw (the first frame that showed it), keyed by the bond's seq; deleted with
-- its bond (retention).
CREATE TABLE vision_inspections (
    seq         INTEGER PRIMARY KEY REFERENCES bonds (seq) ON DELETE CASCADE,
    time_ms     INTEGER NOT NULL,
    frame_no    INTEGER NOT NULL,
    verdict     TEXT    NOT NULL
        CHECK (verdict IN ('ok', 'off_pad', 'ball_size', 'missing', 'no_pad')),
    confidence  REAL    NOT NULL,
    -- Measured ball diameter and ball centre − pad centre, µm (NULL: no ball found).
    ball_um     REAL,
    dx_um       REAL,
    dy_um       REAL,
    -- NCC score of the pad match (NULL: no pad found).
    pad_score   REAL
);

-- Rejects of the vision by time (reports).
CREATE INDEX vision_inspections_abnormal ON vision_inspections (time_ms)
    WHERE verdict <> 'ok';
