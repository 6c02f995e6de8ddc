-- v3: bonds keyed by (station, epoch, seq) (gateway contract v2). A station whose store is
-- replaced starts a new epoch with seq 1: its bonds are new bonds, not duplicates of the
-- old store's. Version-1 messages carry no epoch and are stored under epoch ''.
CREATE TABLE bond_samples_v3 (
  station TEXT NOT NULL, epoch TEXT NOT NULL DEFAULT '', seq INTEGER NOT NULL,
  ts_ms INTEGER NOT NULL, kind INTEGER NOT NULL, verdict TEXT NOT NULL,
  ball_um REAL, dx_um REAL NOT NULL, dy_um REAL NOT NULL,
  PRIMARY KEY (station, epoch, seq)) WITHOUT ROWID;
INSERT INTO bond_samples_v3 (station, epoch, seq, ts_ms, kind, verdict, ball_um, dx_um, dy_um)
  SELECT station, '', seq, ts_ms, kind, verdict, ball_um, dx_um, dy_um FROM bond_samples;
DROP TABLE bond_samples;
ALTER TABLE bond_samples_v3 RENAME TO bond_samples;
CREATE INDEX bond_samples_time ON bond_samples (station, ts_ms);

-- The epochs seen per station, the newest (by first sight) being the current one.
CREATE TABLE station_epochs (
  station TEXT NOT NULL, epoch TEXT NOT NULL, first_seen_ms INTEGER NOT NULL,
  PRIMARY KEY (station, epoch)) WITHOUT ROWID;
INSERT INTO station_epochs (station, epoch, first_seen_ms)
  SELECT station, '', MIN(ts_ms) FROM bond_samples GROUP BY station;
