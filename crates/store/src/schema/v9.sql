-- v9: the SECS/GEM host's configuration and the spool (issue 16). What the host
-- defines, links and enables survives a restart; so do the messages spooled while it
-- was away, in order.
CREATE TABLE gem_reports (
    rptid INTEGER PRIMARY KEY,
    vids  TEXT NOT NULL            -- JSON array of VIDs, in report order
);
CREATE TABLE gem_links (
    ceid   INTEGER PRIMARY KEY,
    rptids TEXT NOT NULL           -- JSON array of RPTIDs, in link order
);
CREATE TABLE gem_enabled_events (
    ceid INTEGER PRIMARY KEY
);
CREATE TABLE gem_constants (
    ecid  INTEGER PRIMARY KEY,
    value TEXT NOT NULL            -- JSON: {"u": 5} | {"f": 98.0} | {"b": true}
);
CREATE TABLE gem_disabled_alarms (
    alid INTEGER PRIMARY KEY
);
-- Streams spooled (S2F43); no row at all = the default (S5, S6), see gem_meta.
CREATE TABLE gem_spool_streams (
    stream INTEGER PRIMARY KEY
);
CREATE TABLE gem_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE gem_spool (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ms  INTEGER NOT NULL,
    stream   INTEGER NOT NULL,
    function INTEGER NOT NULL,
    w        INTEGER NOT NULL,
    body     BLOB NOT NULL
);
