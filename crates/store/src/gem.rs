//! The SECS/GEM host's configuration and the spool (schema v9), on the store's own
//! connection. Plain rows: the GEM model (`bonder-gem`) is mapped onto them by the
//! station, so the store knows nothing of SECS.

use crate::{Store, StoreError};
use rusqlite::{OptionalExtension, TransactionBehavior, params};

/// A constant's value as stored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GemValue {
    /// An unsigned integer (U1–U4 constants).
    U(u64),
    /// A float (F4 constants).
    F(f64),
    /// A BOOLEAN constant.
    Bool(bool),
}

impl GemValue {
    fn to_json(self) -> String {
        match self {
            GemValue::U(u) => serde_json::json!({ "u": u }),
            GemValue::F(f) => serde_json::json!({ "f": f }),
            GemValue::Bool(b) => serde_json::json!({ "b": b }),
        }
        .to_string()
    }

    fn from_json(s: &str) -> Option<GemValue> {
        let v: serde_json::Value = serde_json::from_str(s).ok()?;
        if let Some(u) = v.get("u").and_then(serde_json::Value::as_u64) {
            return Some(GemValue::U(u));
        }
        if let Some(f) = v.get("f").and_then(serde_json::Value::as_f64) {
            return Some(GemValue::F(f));
        }
        v.get("b")
            .and_then(serde_json::Value::as_bool)
            .map(GemValue::Bool)
    }
}

/// Everything the host configured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GemRows {
    /// RPTID → VIDs (S2F33).
    pub reports: Vec<(u32, Vec<u32>)>,
    /// CEID → RPTIDs (S2F35).
    pub links: Vec<(u32, Vec<u32>)>,
    /// Enabled CEIDs (S2F37).
    pub enabled_events: Vec<u32>,
    /// ECID → value, for the constants the host set (S2F15).
    pub constants: Vec<(u32, GemValue)>,
    /// ALIDs the host disabled (S5F3).
    pub disabled_alarms: Vec<u32>,
    /// `None`: never set by the host (the default applies).
    pub spool_streams: Option<Vec<u8>>,
}

/// One spooled message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GemSpooled {
    /// Row id (in spool order); ignored on push.
    pub id: i64,
    /// When it was spooled (Unix ms).
    pub time_ms: i64,
    /// SECS stream.
    pub stream: u8,
    /// SECS function.
    pub function: u8,
    /// Reply expected.
    pub w: bool,
    /// The encoded SECS-II body (empty: none).
    pub body: Vec<u8>,
}

/// What a spool write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpoolWrite {
    /// Stored.
    Stored,
    /// Stored; the spool was full and its oldest message was discarded.
    StoredDiscardingOldest,
    /// The spool was full: this message was discarded.
    Discarded,
}

fn ids_json(ids: &[u32]) -> String {
    serde_json::Value::from(ids.to_vec()).to_string()
}

fn ids_from(s: &str) -> Result<Vec<u32>, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("GEM id list {s:?}: {e}")))
}

/// Messages in the spool, kept in `gem_meta` (`spool_len`) by every write in the same
/// transaction: `COUNT(*)` would scan the table, and a spool may hold millions.
fn spool_len_in(conn: &rusqlite::Connection) -> Result<u64, StoreError> {
    let v: Option<String> = conn
        .query_row(
            "SELECT value FROM gem_meta WHERE key = 'spool_len'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(match v.and_then(|v| v.parse().ok()) {
        Some(n) => n,
        None => {
            let n: i64 = conn.query_row("SELECT COUNT(*) FROM gem_spool", [], |r| r.get(0))?;
            u64::try_from(n).unwrap_or(0)
        }
    })
}

fn set_spool_len(conn: &rusqlite::Connection, n: u64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO gem_meta (key, value) VALUES ('spool_len', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute([n.to_string()])?;
    Ok(())
}

fn u32_of(v: i64) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("GEM id {v}")))
}

impl Store {
    /// The host's configuration as stored (empty on a new file).
    pub fn gem_load(&self) -> Result<GemRows, StoreError> {
        let conn = self.lock();
        let mut rows = GemRows::default();
        let pairs = |sql: &str| -> Result<Vec<(u32, Vec<u32>)>, StoreError> {
            let mut st = conn.prepare(sql)?;
            let raw: Vec<(i64, String)> = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            raw.into_iter()
                .map(|(id, j)| Ok((u32_of(id)?, ids_from(&j)?)))
                .collect()
        };
        rows.reports = pairs("SELECT rptid, vids FROM gem_reports ORDER BY rptid")?;
        rows.links = pairs("SELECT ceid, rptids FROM gem_links ORDER BY ceid")?;
        let ids = |sql: &str| -> Result<Vec<i64>, StoreError> {
            let mut st = conn.prepare(sql)?;
            Ok(st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?)
        };
        rows.enabled_events = ids("SELECT ceid FROM gem_enabled_events ORDER BY ceid")?
            .into_iter()
            .map(u32_of)
            .collect::<Result<_, _>>()?;
        rows.disabled_alarms = ids("SELECT alid FROM gem_disabled_alarms ORDER BY alid")?
            .into_iter()
            .map(u32_of)
            .collect::<Result<_, _>>()?;
        let set: Option<String> = conn
            .query_row(
                "SELECT value FROM gem_meta WHERE key = 'spool_streams_set'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        if set.is_some() {
            rows.spool_streams = Some(
                ids("SELECT stream FROM gem_spool_streams ORDER BY stream")?
                    .into_iter()
                    .map(|s| {
                        u8::try_from(s).map_err(|_| StoreError::Corrupt(format!("stream {s}")))
                    })
                    .collect::<Result<_, _>>()?,
            );
        }
        let mut st = conn.prepare("SELECT ecid, value FROM gem_constants ORDER BY ecid")?;
        let raw: Vec<(i64, String)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (id, v) in raw {
            let value = GemValue::from_json(&v)
                .ok_or_else(|| StoreError::Corrupt(format!("GEM constant {id} = {v:?}")))?;
            rows.constants.push((u32_of(id)?, value));
        }
        Ok(rows)
    }

    /// Replaces the host's configuration (one transaction).
    pub fn gem_save(&self, rows: &GemRows) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(
            "DELETE FROM gem_reports; DELETE FROM gem_links; DELETE FROM gem_enabled_events;
             DELETE FROM gem_constants; DELETE FROM gem_disabled_alarms;
             DELETE FROM gem_spool_streams; DELETE FROM gem_meta WHERE key = 'spool_streams_set';",
        )?;
        for (id, vids) in &rows.reports {
            tx.execute(
                "INSERT INTO gem_reports (rptid, vids) VALUES (?1, ?2)",
                params![id, ids_json(vids)],
            )?;
        }
        for (id, rpts) in &rows.links {
            tx.execute(
                "INSERT INTO gem_links (ceid, rptids) VALUES (?1, ?2)",
                params![id, ids_json(rpts)],
            )?;
        }
        for id in &rows.enabled_events {
            tx.execute("INSERT INTO gem_enabled_events (ceid) VALUES (?1)", [id])?;
        }
        for (id, v) in &rows.constants {
            tx.execute(
                "INSERT INTO gem_constants (ecid, value) VALUES (?1, ?2)",
                params![id, v.to_json()],
            )?;
        }
        for id in &rows.disabled_alarms {
            tx.execute("INSERT INTO gem_disabled_alarms (alid) VALUES (?1)", [id])?;
        }
        if let Some(streams) = &rows.spool_streams {
            tx.execute(
                "INSERT INTO gem_meta (key, value) VALUES ('spool_streams_set', '1')",
                [],
            )?;
            for s in streams {
                tx.execute("INSERT INTO gem_spool_streams (stream) VALUES (?1)", [s])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Spools a message, keeping at most `max` (when full: the oldest is discarded with
    /// `overwrite`, else this one).
    pub fn gem_spool_push(
        &self,
        m: &GemSpooled,
        max: u64,
        overwrite: bool,
    ) -> Result<SpoolWrite, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut n = spool_len_in(&tx)?;
        let mut outcome = SpoolWrite::Stored;
        if n >= max {
            if !overwrite {
                return Ok(SpoolWrite::Discarded);
            }
            let gone = tx.execute(
                "DELETE FROM gem_spool WHERE id IN
                 (SELECT id FROM gem_spool ORDER BY id LIMIT ?1)",
                [i64::try_from(n - max + 1).unwrap_or(i64::MAX)],
            )?;
            n -= gone as u64;
            outcome = SpoolWrite::StoredDiscardingOldest;
        }
        tx.prepare_cached(
            "INSERT INTO gem_spool (time_ms, stream, function, w, body) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![m.time_ms, m.stream, m.function, m.w, m.body])?;
        set_spool_len(&tx, n + 1)?;
        tx.commit()?;
        Ok(outcome)
    }

    /// The oldest `n` spooled messages.
    pub fn gem_spool_oldest(&self, n: usize) -> Result<Vec<GemSpooled>, StoreError> {
        let conn = self.lock();
        let mut st = conn.prepare_cached(
            "SELECT id, time_ms, stream, function, w, body FROM gem_spool ORDER BY id LIMIT ?1",
        )?;
        let rows = st.query_map([i64::try_from(n).unwrap_or(i64::MAX)], |r| {
            Ok(GemSpooled {
                id: r.get(0)?,
                time_ms: r.get(1)?,
                stream: r.get(2)?,
                function: r.get(3)?,
                w: r.get(4)?,
                body: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Removes one spooled message (delivered to the host).
    pub fn gem_spool_delete(&self, id: i64) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let gone = tx
            .prepare_cached("DELETE FROM gem_spool WHERE id = ?1")?
            .execute([id])?;
        if gone > 0 {
            let n = spool_len_in(&tx)?;
            set_spool_len(&tx, n.saturating_sub(gone as u64))?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Deletes every spooled message; how many there were.
    pub fn gem_spool_purge(&self) -> Result<u64, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx.execute("DELETE FROM gem_spool", [])?;
        set_spool_len(&tx, 0)?;
        tx.commit()?;
        Ok(n as u64)
    }

    /// Messages in the spool.
    pub fn gem_spool_len(&self) -> Result<u64, StoreError> {
        spool_len_in(&self.lock())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_and_spool_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gem.db");
        let rows = GemRows {
            reports: vec![(1, vec![2001, 2002, 1006])],
            links: vec![(106, vec![1])],
            enabled_events: vec![106, 101],
            constants: vec![
                (3003, GemValue::Bool(true)),
                (3010, GemValue::F(97.5)),
                (3001, GemValue::U(30)),
            ],
            disabled_alarms: vec![103],
            spool_streams: Some(vec![6]),
        };
        {
            let s = Store::open(&path).unwrap();
            assert_eq!(s.gem_load().unwrap(), GemRows::default());
            s.gem_save(&rows).unwrap();
            for i in 0..5u8 {
                let m = GemSpooled {
                    id: 0,
                    time_ms: i64::from(i),
                    stream: 6,
                    function: 11,
                    w: true,
                    body: vec![i],
                };
                assert_eq!(
                    s.gem_spool_push(&m, 3, true).unwrap(),
                    if i < 3 {
                        SpoolWrite::Stored
                    } else {
                        SpoolWrite::StoredDiscardingOldest
                    }
                );
            }
            let m = GemSpooled {
                id: 0,
                time_ms: 9,
                stream: 5,
                function: 1,
                w: true,
                body: vec![],
            };
            assert_eq!(
                s.gem_spool_push(&m, 3, false).unwrap(),
                SpoolWrite::Discarded
            );
        }
        let s = Store::open(&path).unwrap();
        let mut back = s.gem_load().unwrap();
        back.enabled_events.sort_unstable();
        let mut want = rows.clone();
        want.enabled_events.sort_unstable();
        want.constants.sort_by_key(|c| c.0);
        assert_eq!(back, want);
        let spooled = s.gem_spool_oldest(10).unwrap();
        assert_eq!(
            spooled.iter().map(|m| m.body[0]).collect::<Vec<_>>(),
            [2, 3, 4],
            "oldest discarded, order kept"
        );
        s.gem_spool_delete(spooled[0].id).unwrap();
        assert_eq!(s.gem_spool_len().unwrap(), 2);
        assert_eq!(s.gem_spool_purge().unwrap(), 2);
        assert_eq!(s.gem_spool_len().unwrap(), 0);
    }
}
