//! The supervisor's own SQLite history of everything it received from the gateway.
//!
//! * `bond_samples`: one row per bond (`(station, seq)` is the key: a bond that arrives
//!   twice — after a station's outage or a backfill — is counted once), with the
//!   measurements SPC needs; kept [`SAMPLE_RETENTION_DAYS`] days;
//! * `bond_minutes` / `bond_hours`: bond counts per station, bucket, kind and verdict
//!   (reports read these: a 7-day line report never touches single bonds);
//! * `status_log`: status changes (state, recipe, operator, alarm) — E10 time buckets;
//! * `alarms`, `changeovers`, `shifts`: as received;
//! * `commands`: what the supervisor sent and each station's `cmd/result`;
//! * `recipes`, `users`, `settings`: the supervisor's library and configuration.

use crate::FleetError;
pub use bonder_core::login::FailureState;
use bonder_gateway::payload::{
    AlarmMsg, BondsMsg, ChangeoverMsg, CmdResult, ShiftMsg, StatusMsg, parse_ts,
};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;

/// What the supervisor sent and its own library and configuration: commands and their
/// answers, recipes, users, settings (a second `impl History`).
mod library;

/// Single bonds are kept this long (SPC); the bucket counts are kept for good.
pub const SAMPLE_RETENTION_DAYS: i64 = 14;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;

/// Unix milliseconds of an RFC 3339 time (0 when unreadable).
pub fn ts_ms(s: &str) -> i64 {
    parse_ts(s)
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .unwrap_or(0)
}

/// Now, unix milliseconds.
pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// What a batch of bonds added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BondsIngested {
    pub new: usize,
    pub duplicates: usize,
}

/// The bond seqs held of one station: the lowest, the highest, and how many there are
/// (`count == last - first + 1` when there is no hole).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SeqSpan {
    pub first: u64,
    pub last: u64,
    pub count: u64,
}

impl SeqSpan {
    /// Seqs missing between the first and the last.
    pub fn missing(&self) -> u64 {
        (self.last - self.first + 1).saturating_sub(self.count)
    }
}

/// Bond count of one station, kind and verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    pub station: String,
    /// 0: ball, 1: stitch.
    pub kind: u8,
    pub verdict: String,
    pub n: u64,
}

/// Bond count of one bucket (a minute).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BucketCount {
    pub bucket_ms: i64,
    pub kind: u8,
    pub verdict: String,
    pub n: u64,
}

/// One bond's measurements (SPC).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sample {
    pub seq: u64,
    pub ts_ms: i64,
    pub ball_um: Option<f64>,
    pub dx_um: f64,
    pub dy_um: f64,
}

/// A status change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusChange {
    pub ts_ms: i64,
    pub state: String,
    pub recipe: Option<String>,
}

/// An alarm raise or clear.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlarmRow {
    pub station: String,
    pub ts_ms: i64,
    pub code: u16,
    pub name: String,
    pub raised: bool,
    pub text_en: String,
    pub text_zh: String,
}

/// A changeover as received.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeoverRow {
    pub station: String,
    pub msg: ChangeoverMsg,
}

/// A command the supervisor sent, with the station's answer once it came.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommandRow {
    pub request_id: String,
    pub station: String,
    pub kind: String,
    pub sent_ms: i64,
    pub summary: String,
    pub by_user: String,
    pub ok: Option<bool>,
    pub error: Option<String>,
    pub answered_ms: Option<i64>,
}

/// A recipe version in the library.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecipeRow {
    pub name: String,
    pub version: u32,
    pub state: String,
    pub source: String,
    pub added_ms: i64,
    #[serde(skip)]
    pub doc: String,
}

/// One row of the supervisor's audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRow {
    pub ts_ms: i64,
    /// Who (a user name; `supervisor` for the app itself).
    pub user: String,
    /// Their role (`none` for a refused sign-in).
    pub role: String,
    /// `login`, `refused`, `lockout`, `logout`, `create`, `modify`, `command`,
    /// `export`, `settings`, `release`, `import`.
    pub action: String,
    /// What was acted on (`user:li`, `station:…/cmd/recipe#rid`, `gateway`).
    pub object: String,
    /// Details (JSON or text; never a secret).
    pub detail: Option<String>,
}

/// A stored user.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRow {
    pub name: String,
    pub role: String,
    pub phc: String,
}

/// A user as listed (no hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserInfo {
    pub name: String,
    pub role: String,
    /// A disabled user is kept (audit, commands sent) but cannot sign in.
    pub enabled: bool,
}

/// One connection to the history file.
#[derive(Debug)]
pub struct History {
    conn: Connection,
}

fn bool_i(b: bool) -> i64 {
    i64::from(b)
}

impl History {
    /// Opens (creating) the file and brings its schema up to
    /// [`SCHEMA_VERSION`](crate::schema::SCHEMA_VERSION) (a file of a newer build is
    /// refused untouched: [`FleetError::NewerSchema`]).
    pub fn open(path: &Path) -> Result<History, FleetError> {
        // Owner-only: password hashes and plant data.
        bonder_credentials::private_files::private_file(path)
            .map_err(|e| FleetError::Config(format!("history {}: {e}", path.display())))?;
        let conn = Connection::open(path)?;
        Self::init(conn)
    }

    /// A private in-memory history (tests).
    pub fn open_in_memory() -> Result<History, FleetError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<History, FleetError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // The version first: a newer build's file is refused before anything is written.
        let mut conn = conn;
        crate::schema::migrate(&mut conn)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Deleted content (a replaced password hash, a settings row) is overwritten, not
        // left in free pages.
        conn.pragma_update(None, "secure_delete", "ON")?;
        Ok(History { conn })
    }

    /// Records a bond batch: new bonds (by `(station, seq)`) are kept and counted,
    /// duplicates are dropped.
    pub fn ingest_bonds(
        &mut self,
        station: &str,
        msg: &BondsMsg,
    ) -> Result<BondsIngested, FleetError> {
        let tx = self.conn.transaction()?;
        let mut out = BondsIngested::default();
        let mut buckets: HashMap<(i64, u8, &str), u64> = HashMap::new();
        let epoch = msg.epoch.as_deref().unwrap_or("");
        {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO station_epochs (station, epoch, first_seen_ms) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![station, epoch, now_ms()])?;
            let mut ins = tx.prepare_cached(
                "INSERT OR IGNORE INTO bond_samples (station, epoch, seq, ts_ms, kind, verdict, ball_um, dx_um, dy_um) VALUES (?1, ?9, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for b in &msg.bonds {
                let t = ts_ms(&b.ts);
                let kind: u8 = if b.kind == "stitch" { 1 } else { 0 };
                let n = ins.execute(params![
                    station,
                    i64::try_from(b.seq).unwrap_or(i64::MAX),
                    t,
                    kind,
                    b.verdict,
                    b.ball_um,
                    b.dx_um,
                    b.dy_um,
                    epoch
                ])?;
                if n == 1 {
                    out.new += 1;
                    *buckets
                        .entry((t - t.rem_euclid(MINUTE_MS), kind, b.verdict.as_str()))
                        .or_default() += 1;
                } else {
                    out.duplicates += 1;
                }
            }
            let mut up_m = tx.prepare_cached(
                "INSERT INTO bond_minutes (station, bucket, kind, verdict, n) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO UPDATE SET n = n + excluded.n",
            )?;
            let mut up_h = tx.prepare_cached(
                "INSERT INTO bond_hours (station, bucket, kind, verdict, n) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO UPDATE SET n = n + excluded.n",
            )?;
            for ((minute, kind, verdict), n) in &buckets {
                let n = i64::try_from(*n).unwrap_or(i64::MAX);
                up_m.execute(params![station, minute, kind, verdict, n])?;
                let hour = minute - minute.rem_euclid(HOUR_MS);
                up_h.execute(params![station, hour, kind, verdict, n])?;
            }
        }
        tx.commit()?;
        Ok(out)
    }

    /// Adds bucket counts directly (synthetic history for load figures and tests).
    pub fn add_counts(
        &mut self,
        station: &str,
        minute_ms: i64,
        counts: &[(u8, &str, u64)],
    ) -> Result<(), FleetError> {
        // A savepoint, so it also works inside `in_transaction`.
        let tx = self.conn.savepoint()?;
        for &(kind, verdict, n) in counts {
            let n = i64::try_from(n).unwrap_or(i64::MAX);
            let hour = minute_ms - minute_ms.rem_euclid(HOUR_MS);
            tx.execute(
                "INSERT INTO bond_minutes (station, bucket, kind, verdict, n) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO UPDATE SET n = n + excluded.n",
                params![station, minute_ms, kind, verdict, n],
            )?;
            tx.execute(
                "INSERT INTO bond_hours (station, bucket, kind, verdict, n) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO UPDATE SET n = n + excluded.n",
                params![station, hour, kind, verdict, n],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Runs `f` in one transaction (bulk synthetic history).
    pub fn in_transaction<T>(
        &mut self,
        f: impl FnOnce(&mut History) -> Result<T, FleetError>,
    ) -> Result<T, FleetError> {
        self.conn.execute_batch("BEGIN")?;
        match f(self) {
            Ok(v) => {
                self.conn.execute_batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Highest bond seq received from a station's store `epoch` (`""`: version-1
    /// messages, which carry none).
    pub fn max_seq(&self, station: &str, epoch: &str) -> Result<Option<u64>, FleetError> {
        let v: Option<i64> = self.conn.query_row(
            "SELECT MAX(seq) FROM bond_samples WHERE station = ?1 AND epoch = ?2",
            params![station, epoch],
            |r| r.get(0),
        )?;
        Ok(v.map(|v| u64::try_from(v).unwrap_or(0)))
    }

    /// The time (Unix ms) of a station epoch's newest bond.
    pub fn last_bond_ms(&self, station: &str, epoch: &str) -> Result<Option<i64>, FleetError> {
        Ok(self.conn.query_row(
            "SELECT MAX(ts_ms) FROM bond_samples WHERE station = ?1 AND epoch = ?2",
            params![station, epoch],
            |r| r.get(0),
        )?)
    }

    /// The store epochs seen of a station, oldest first.
    pub fn epochs(&self, station: &str) -> Result<Vec<String>, FleetError> {
        let mut st = self.conn.prepare_cached(
            "SELECT epoch FROM station_epochs WHERE station = ?1 ORDER BY first_seen_ms, epoch",
        )?;
        let rows = st.query_map([station], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The single bonds held of a station's current store epoch (the newest seen; within
    /// the retention): first and last seq and how many; `None` when there are none.
    pub fn seq_span(&self, station: &str) -> Result<Option<SeqSpan>, FleetError> {
        let (first, last, count): (Option<i64>, Option<i64>, i64) = self.conn.query_row(
            "SELECT MIN(seq), MAX(seq), COUNT(*) FROM bond_samples WHERE station = ?1
               AND epoch = COALESCE((SELECT epoch FROM station_epochs WHERE station = ?1
                                     ORDER BY first_seen_ms DESC, epoch DESC LIMIT 1), '')",
            [station],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let u = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok(first.zip(last).map(|(f, l)| SeqSpan {
            first: u(f),
            last: u(l),
            count: u(count),
        }))
    }

    /// Records a status; a row goes to the status log when state, recipe, operator or
    /// alarm changed since the station's previous status.
    pub fn record_status(&mut self, station: &str, msg: &StatusMsg) -> Result<(), FleetError> {
        let t = match ts_ms(&msg.ts) {
            0 => now_ms(),
            t => t,
        };
        let prev: Option<String> = self
            .conn
            .query_row(
                "SELECT last_status FROM stations WHERE station = ?1",
                [station],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        let prev: Option<StatusMsg> = prev.and_then(|p| serde_json::from_str(&p).ok());
        let changed = prev.is_none_or(|p| {
            (p.state.as_str(), &p.recipe, &p.operator, p.alarm)
                != (msg.state.as_str(), &msg.recipe, &msg.operator, msg.alarm)
        });
        if changed {
            self.conn.execute(
                "INSERT INTO status_log (station, ts_ms, state, recipe, operator, alarm) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![station, t, msg.state, msg.recipe, msg.operator, msg.alarm],
            )?;
        }
        let doc = serde_json::to_string(msg).unwrap_or_default();
        self.conn.execute(
            "INSERT INTO stations (station, last_status, last_seen_ms) VALUES (?1, ?2, ?3) ON CONFLICT DO UPDATE SET last_status = excluded.last_status, last_seen_ms = excluded.last_seen_ms",
            params![station, doc, now_ms()],
        )?;
        Ok(())
    }

    /// Adds a status change at a given time (synthetic history).
    pub fn add_status_change(
        &mut self,
        station: &str,
        t_ms: i64,
        state: &str,
    ) -> Result<(), FleetError> {
        self.conn.execute(
            "INSERT INTO status_log (station, ts_ms, state) VALUES (?1, ?2, ?3)",
            params![station, t_ms, state],
        )?;
        Ok(())
    }

    /// Every station ever seen, with its last status.
    pub fn stations(&self) -> Result<Vec<(String, Option<StatusMsg>)>, FleetError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT station, last_status FROM stations ORDER BY station")?;
        let rows = st.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
        })?;
        let mut out = Vec::new();
        for r in rows {
            let (s, doc) = r?;
            out.push((s, doc.and_then(|d| serde_json::from_str(&d).ok())));
        }
        Ok(out)
    }

    /// Records an alarm raise or clear.
    pub fn record_alarm(&mut self, station: &str, a: &AlarmMsg) -> Result<(), FleetError> {
        self.conn.execute(
            "INSERT INTO alarms (station, ts_ms, code, name, raised, text_en, text_zh) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![station, ts_ms(&a.ts), a.code, a.name, bool_i(a.raised), a.text_en, a.text_zh],
        )?;
        Ok(())
    }

    /// Records a changeover (once per station and id).
    pub fn record_changeover(
        &mut self,
        station: &str,
        c: &ChangeoverMsg,
    ) -> Result<(), FleetError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO changeovers (station, id, started_ms, ended_ms, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![station, c.id, ts_ms(&c.started), ts_ms(&c.ended), serde_json::to_string(c).unwrap_or_default()],
        )?;
        Ok(())
    }

    /// Records a shift report.
    pub fn record_shift(&mut self, station: &str, s: &ShiftMsg) -> Result<(), FleetError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO shifts (station, shift_id, started_ms, ended_ms, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![station, s.shift_id, ts_ms(&s.started), ts_ms(&s.ended), serde_json::to_string(s).unwrap_or_default()],
        )?;
        Ok(())
    }

    /// Bond counts by station, kind and verdict with `from <= time < to`; stations whose
    /// id starts with `prefix` (a station id, a line `site/area/line/`, or "" for all).
    /// Whole hours come from the hour buckets, the edges from the minute buckets.
    pub fn counts(&self, prefix: &str, from_ms: i64, to_ms: i64) -> Result<Vec<Count>, FleetError> {
        let h0 = from_ms + (HOUR_MS - from_ms.rem_euclid(HOUR_MS)) % HOUR_MS;
        let h1 = to_ms - to_ms.rem_euclid(HOUR_MS);
        let mut acc: HashMap<(String, u8, String), u64> = HashMap::new();
        let like = format!("{}%", prefix.replace('%', "").replace('_', "\\_"));
        let mut add = |table: &str, a: i64, b: i64| -> Result<(), FleetError> {
            if a >= b {
                return Ok(());
            }
            let mut st = self.conn.prepare_cached(&format!(
                "SELECT station, kind, verdict, SUM(n) FROM {table} WHERE bucket >= ?1 AND bucket < ?2 AND station LIKE ?3 ESCAPE '\\' GROUP BY station, kind, verdict"
            ))?;
            let rows = st.query_map(params![a, b, like], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, u8>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })?;
            for r in rows {
                let (s, k, v, n) = r?;
                *acc.entry((s, k, v)).or_default() += u64::try_from(n).unwrap_or(0);
            }
            Ok(())
        };
        if h0 < h1 {
            add("bond_hours", h0, h1)?;
            add("bond_minutes", from_ms, h0)?;
            add("bond_minutes", h1, to_ms)?;
        } else {
            add("bond_minutes", from_ms, to_ms)?;
        }
        let mut out: Vec<Count> = acc
            .into_iter()
            .map(|((station, kind, verdict), n)| Count {
                station,
                kind,
                verdict,
                n,
            })
            .collect();
        out.sort_by(|a, b| (&a.station, a.kind, &a.verdict).cmp(&(&b.station, b.kind, &b.verdict)));
        Ok(out)
    }

    /// Minute buckets of one station.
    pub fn minutes(
        &self,
        station: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<BucketCount>, FleetError> {
        let mut st = self.conn.prepare_cached(
            "SELECT bucket, kind, verdict, n FROM bond_minutes WHERE station = ?1 AND bucket >= ?2 AND bucket < ?3 ORDER BY bucket",
        )?;
        let rows = st.query_map(params![station, from_ms, to_ms], |r| {
            Ok(BucketCount {
                bucket_ms: r.get(0)?,
                kind: r.get(1)?,
                verdict: r.get(2)?,
                n: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Status changes of a station in `[from, to)`, preceded by the last change before
    /// `from` (if any).
    pub fn status_changes(
        &self,
        station: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<StatusChange>, FleetError> {
        let map = |r: &rusqlite::Row<'_>| {
            Ok(StatusChange {
                ts_ms: r.get(0)?,
                state: r.get(1)?,
                recipe: r.get(2)?,
            })
        };
        let mut out = Vec::new();
        if let Some(first) = self
            .conn
            .prepare_cached(
                "SELECT ts_ms, state, recipe FROM status_log WHERE station = ?1 AND ts_ms < ?2 ORDER BY ts_ms DESC LIMIT 1",
            )?
            .query_row(params![station, from_ms], map)
            .optional()?
        {
            out.push(first);
        }
        let mut st = self.conn.prepare_cached(
            "SELECT ts_ms, state, recipe FROM status_log WHERE station = ?1 AND ts_ms >= ?2 AND ts_ms < ?3 ORDER BY ts_ms",
        )?;
        for r in st.query_map(params![station, from_ms, to_ms], map)? {
            out.push(r?);
        }
        Ok(out)
    }

    /// Stations with a status change or bonds, whose id starts with `prefix`.
    pub fn station_ids(&self, prefix: &str) -> Result<Vec<String>, FleetError> {
        let like = format!("{}%", prefix.replace('%', "").replace('_', "\\_"));
        let mut st = self.conn.prepare_cached(
            "SELECT DISTINCT station FROM status_log WHERE station LIKE ?1 ESCAPE '\\' UNION SELECT station FROM stations WHERE station LIKE ?1 ESCAPE '\\' ORDER BY 1",
        )?;
        let rows = st.query_map([like], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Alarm raises and clears of a station in `[from, to)`, oldest first.
    pub fn alarms(
        &self,
        station: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<AlarmRow>, FleetError> {
        let mut st = self.conn.prepare_cached(
            "SELECT station, ts_ms, code, name, raised, text_en, text_zh FROM alarms WHERE station = ?1 AND ts_ms >= ?2 AND ts_ms < ?3 ORDER BY ts_ms",
        )?;
        let rows = st.query_map(params![station, from_ms, to_ms], |r| {
            Ok(AlarmRow {
                station: r.get(0)?,
                ts_ms: r.get(1)?,
                code: r.get(2)?,
                name: r.get(3)?,
                raised: r.get::<_, i64>(4)? != 0,
                text_en: r.get(5)?,
                text_zh: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Changeovers that ended in `[from, to)` on stations starting with `prefix`.
    pub fn changeovers(
        &self,
        prefix: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<ChangeoverRow>, FleetError> {
        let like = format!("{}%", prefix.replace('%', "").replace('_', "\\_"));
        let mut st = self.conn.prepare_cached(
            "SELECT station, doc FROM changeovers WHERE station LIKE ?1 ESCAPE '\\' AND ended_ms >= ?2 AND ended_ms < ?3 ORDER BY ended_ms",
        )?;
        let rows = st.query_map(params![like, from_ms, to_ms], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for r in rows {
            let (station, doc) = r?;
            if let Ok(msg) = serde_json::from_str(&doc) {
                out.push(ChangeoverRow { station, msg });
            }
        }
        Ok(out)
    }

    /// The newest `limit` bond samples of a station in `[from, to)`, oldest first.
    pub fn samples(
        &self,
        station: &str,
        from_ms: i64,
        to_ms: i64,
        ball_only: bool,
        limit: usize,
    ) -> Result<Vec<Sample>, FleetError> {
        let mut st = self.conn.prepare_cached(
            "SELECT seq, ts_ms, ball_um, dx_um, dy_um FROM bond_samples WHERE station = ?1 AND ts_ms >= ?2 AND ts_ms < ?3 AND (?4 = 0 OR kind = 0) ORDER BY seq DESC LIMIT ?5",
        )?;
        let rows = st.query_map(
            params![
                station,
                from_ms,
                to_ms,
                bool_i(ball_only),
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
            |r| {
                Ok(Sample {
                    seq: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                    ts_ms: r.get(1)?,
                    ball_um: r.get(2)?,
                    dx_um: r.get(3)?,
                    dy_um: r.get(4)?,
                })
            },
        )?;
        let mut v: Vec<Sample> = rows.collect::<Result<_, _>>()?;
        v.reverse();
        Ok(v)
    }

    /// Drops single bonds older than the retention.
    pub fn prune_samples(&mut self, now_ms: i64) -> Result<usize, FleetError> {
        let cut = now_ms - SAMPLE_RETENTION_DAYS * 24 * HOUR_MS;
        Ok(self
            .conn
            .execute("DELETE FROM bond_samples WHERE ts_ms < ?1", [cut])?)
    }
}
