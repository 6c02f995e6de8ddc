-- v1: the history as the first release wrote it (before files carried a version).
CREATE TABLE bond_samples (
  station TEXT NOT NULL, seq INTEGER NOT NULL, ts_ms INTEGER NOT NULL,
  kind INTEGER NOT NULL, verdict TEXT NOT NULL,
  ball_um REAL, dx_um REAL NOT NULL, dy_um REAL NOT NULL,
  PRIMARY KEY (station, seq)) WITHOUT ROWID;
CREATE INDEX bond_samples_time ON bond_samples (station, ts_ms);
CREATE TABLE bond_minutes (
  station TEXT NOT NULL, bucket INTEGER NOT NULL, kind INTEGER NOT NULL, verdict TEXT NOT NULL,
  n INTEGER NOT NULL, PRIMARY KEY (bucket, station, kind, verdict)) WITHOUT ROWID;
CREATE TABLE bond_hours (
  station TEXT NOT NULL, bucket INTEGER NOT NULL, kind INTEGER NOT NULL, verdict TEXT NOT NULL,
  n INTEGER NOT NULL, PRIMARY KEY (bucket, station, kind, verdict)) WITHOUT ROWID;
CREATE TABLE status_log (
  station TEXT NOT NULL, ts_ms INTEGER NOT NULL, state TEXT NOT NULL,
  recipe TEXT, operator TEXT, alarm INTEGER);
CREATE INDEX status_log_time ON status_log (station, ts_ms);
CREATE TABLE stations (
  station TEXT PRIMARY KEY, last_status TEXT, last_seen_ms INTEGER NOT NULL);
CREATE TABLE alarms (
  station TEXT NOT NULL, ts_ms INTEGER NOT NULL, code INTEGER NOT NULL, name TEXT NOT NULL,
  raised INTEGER NOT NULL, text_en TEXT NOT NULL, text_zh TEXT NOT NULL);
CREATE INDEX alarms_time ON alarms (station, ts_ms);
CREATE TABLE changeovers (
  station TEXT NOT NULL, id TEXT NOT NULL, started_ms INTEGER NOT NULL, ended_ms INTEGER NOT NULL,
  doc TEXT NOT NULL, PRIMARY KEY (station, id));
CREATE TABLE shifts (
  station TEXT NOT NULL, shift_id TEXT NOT NULL, started_ms INTEGER NOT NULL,
  ended_ms INTEGER NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (station, shift_id));
CREATE TABLE commands (
  request_id TEXT PRIMARY KEY, station TEXT NOT NULL, kind TEXT NOT NULL, sent_ms INTEGER NOT NULL,
  summary TEXT NOT NULL, by_user TEXT NOT NULL, ok INTEGER, error TEXT, answered_ms INTEGER);
CREATE TABLE recipes (
  name TEXT NOT NULL, version INTEGER NOT NULL, state TEXT NOT NULL, doc TEXT NOT NULL,
  source TEXT NOT NULL, added_ms INTEGER NOT NULL, PRIMARY KEY (name, version));
CREATE TABLE users (
  name TEXT PRIMARY KEY, role TEXT NOT NULL, phc TEXT NOT NULL);
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
