//! Process-window search sessions (`window_sessions`, `window_runs`): what the engineer
//! asked for, where the machine was before, and every run as it ends — so a station
//! that restarts resumes after the last stored run, and an abandoned session knows which
//! recipe (and CRC) to put back. Starting, resuming, finishing and abandoning each
//! leave one audit row (`window_search`), in the same transaction.

use crate::audit::{self, AuditAction, AuditRecord};
use crate::recipes::Actor;
use crate::timefmt::rfc3339_ms;
use crate::{Store, StoreError};
use bonder_core::permissions::{self, Permission};
use bonder_core::recipe::Recipe;
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde_json::Value;
use time::OffsetDateTime;

/// What a new session is.
#[derive(Debug, Clone, PartialEq)]
pub struct NewWindowSession {
    /// `Au:25.4`.
    pub wire: String,
    /// Method, parameters, bounds, budget, units per run, seed (the front end's JSON).
    pub plan: Value,
    /// The recipe the candidates are made from.
    pub start_recipe: Recipe,
    /// The recipe the controller ran before (restored at the end or on abandon).
    pub previous_recipe: Recipe,
    /// Its block CRC as the controller reported it.
    pub previous_crc: u32,
}

/// A stored session.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowSession {
    /// Row id.
    pub id: i64,
    /// RFC 3339 UTC.
    pub started: String,
    /// Who started it.
    pub by_user: String,
    /// `Au:25.4`.
    pub wire: String,
    /// Method, parameters, bounds, budget, units per run, seed.
    pub plan: Value,
    /// The recipe the candidates are made from.
    pub start_recipe: Recipe,
    /// The recipe the controller ran before.
    pub previous_recipe: Recipe,
    /// Its block CRC.
    pub previous_crc: u32,
    /// `open`, `done` or `abandoned`.
    pub state: String,
    /// When it was finished or abandoned.
    pub ended: Option<String>,
    /// The estimate, once finished.
    pub result: Option<Value>,
    /// `name@version` of its draft recipe.
    pub draft: Option<String>,
}

/// A stored run: one candidate bonded and measured.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowRun {
    /// 0, 1, 2 … in bonding order.
    pub idx: usize,
    /// The point in the unit cube of the bounds.
    pub at: Vec<f64>,
    /// `{param key: value}` as downloaded.
    pub candidate: Value,
    /// The measured margins (`bonder_core::window::CHARACTERISTICS`).
    pub margins: Vec<f64>,
    /// Mean, sd and count of shear, pull and ball diameter (the front end's JSON).
    pub stats: Value,
    /// Units bonded with the candidate.
    pub units: u32,
    /// Wires bonded with the candidate (what the stop let through included).
    pub wires: u64,
    /// Its first bond record.
    pub first_seq: Option<u64>,
    /// Its last bond record.
    pub last_seq: Option<u64>,
    /// The candidate's block CRC as read back.
    pub recipe_crc: u32,
    /// When it ended (RFC 3339 UTC).
    pub ended: String,
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("window search {what}: {e}"))
}

fn recipe_of(json: &str) -> Result<Recipe, StoreError> {
    Recipe::from_json(json).map_err(|e| corrupt("recipe", e))
}

fn json_of(s: &str) -> Result<Value, StoreError> {
    serde_json::from_str(s).map_err(|e| corrupt("JSON", e))
}

fn floats(s: &str) -> Result<Vec<f64>, StoreError> {
    serde_json::from_str(s).map_err(|e| corrupt("numbers", e))
}

fn record(
    by: &Actor,
    action: AuditAction,
    id: i64,
    new: Value,
    now: OffsetDateTime,
) -> AuditRecord {
    AuditRecord {
        time: now,
        user: by.user.clone(),
        role: Some(by.role),
        action,
        object: format!("window_search:{id}"),
        old_value: None,
        new_value: Some(new.to_string()),
        reason: None,
    }
}

const SESSION_COLUMNS: &str = "id, started, by_user, wire, plan, start_recipe, previous_recipe, \
     previous_crc, state, ended, result, draft";

fn session_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<[Option<String>; 12]> {
    let mut out: [Option<String>; 12] = Default::default();
    for (i, o) in out.iter_mut().enumerate() {
        *o = match r.get_ref(i)? {
            rusqlite::types::ValueRef::Integer(v) => Some(v.to_string()),
            rusqlite::types::ValueRef::Null => None,
            _ => Some(r.get::<_, String>(i)?),
        };
    }
    Ok(out)
}

fn session_of(c: [Option<String>; 12]) -> Result<WindowSession, StoreError> {
    let s = |i: usize| c[i].clone().unwrap_or_default();
    Ok(WindowSession {
        id: s(0).parse().map_err(|e| corrupt("id", e))?,
        started: s(1),
        by_user: s(2),
        wire: s(3),
        plan: json_of(&s(4))?,
        start_recipe: recipe_of(&s(5))?,
        previous_recipe: recipe_of(&s(6))?,
        previous_crc: s(7).parse().map_err(|e| corrupt("crc", e))?,
        state: s(8),
        ended: c[9].clone(),
        result: c[10].as_deref().map(json_of).transpose()?,
        draft: c[11].clone(),
    })
}

impl Store {
    /// Starts a session as `by` (an engineer: [`Permission::SearchProcessWindow`]);
    /// refused while another is open. Returns its id; one audit row.
    pub fn start_window_session(
        &self,
        s: &NewWindowSession,
        by: &Actor,
        now: OffsetDateTime,
    ) -> Result<i64, StoreError> {
        permissions::check(by.role, Permission::SearchProcessWindow)?;
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(id) = tx
            .query_row(
                "SELECT id FROM window_sessions WHERE state = 'open'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
        {
            return Err(StoreError::WindowSessionOpen(id));
        }
        tx.execute(
            "INSERT INTO window_sessions (started, by_user, wire, plan, start_recipe, \
             previous_recipe, previous_crc) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                rfc3339_ms(now),
                by.user,
                s.wire,
                s.plan.to_string(),
                s.start_recipe.to_json(),
                s.previous_recipe.to_json(),
                i64::from(s.previous_crc),
            ],
        )?;
        let id = tx.last_insert_rowid();
        let mut plan = s.plan.clone();
        if let Some(o) = plan.as_object_mut() {
            o.insert("event".into(), "started".into());
            o.insert("wire".into(), s.wire.clone().into());
            o.insert("start_recipe".into(), s.start_recipe.id().into());
            o.insert("previous_recipe".into(), s.previous_recipe.id().into());
            o.insert(
                "previous_crc".into(),
                format!("{:08X}", s.previous_crc).into(),
            );
        }
        audit::append(&tx, &record(by, AuditAction::WindowSearch, id, plan, now))?;
        tx.commit()?;
        Ok(id)
    }

    /// The open session, if any.
    pub fn open_window_session(&self) -> Result<Option<WindowSession>, StoreError> {
        self.one_session("WHERE state = 'open'", rusqlite::params![])
    }

    /// The newest session (open or ended), if any.
    pub fn latest_window_session(&self) -> Result<Option<WindowSession>, StoreError> {
        self.one_session("ORDER BY id DESC LIMIT 1", rusqlite::params![])
    }

    /// A session by id.
    pub fn window_session(&self, id: i64) -> Result<Option<WindowSession>, StoreError> {
        self.one_session("WHERE id = ?1", [id])
    }

    /// The first session row `tail` (a WHERE / ORDER BY clause) selects.
    fn one_session<P: rusqlite::Params>(
        &self,
        tail: &str,
        params: P,
    ) -> Result<Option<WindowSession>, StoreError> {
        let conn = self.lock();
        let row = conn
            .query_row(
                &format!("SELECT {SESSION_COLUMNS} FROM window_sessions {tail}"),
                params,
                session_row,
            )
            .optional()?;
        row.map(session_of).transpose()
    }

    /// A session's runs, in order.
    pub fn window_runs(&self, id: i64) -> Result<Vec<WindowRun>, StoreError> {
        let conn = self.lock();
        let mut st = conn.prepare(
            "SELECT idx, at, candidate, margins, units, wires, first_seq, last_seq, \
             recipe_crc, ended, stats FROM window_runs WHERE session_id = ?1 ORDER BY idx",
        )?;
        let rows = st.query_map([id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, Option<i64>>(6)?,
                r.get::<_, Option<i64>>(7)?,
                r.get::<_, i64>(8)?,
                r.get::<_, String>(9)?,
                r.get::<_, String>(10)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (idx, at, cand, margins, units, wires, first, last, crc, ended, stats) = row?;
            out.push(WindowRun {
                idx: idx as usize,
                at: floats(&at)?,
                candidate: json_of(&cand)?,
                margins: floats(&margins)?,
                stats: json_of(&stats)?,
                units: units as u32,
                wires: wires as u64,
                first_seq: first.map(|v| v as u64),
                last_seq: last.map(|v| v as u64),
                recipe_crc: crc as u32,
                ended,
            });
        }
        Ok(out)
    }

    /// Stores a run of an open session (its index must be the next one).
    pub fn add_window_run(&self, id: i64, run: &WindowRun) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        open_in(&tx, id)?;
        tx.execute(
            "INSERT INTO window_runs (session_id, idx, at, candidate, margins, units, wires, \
             first_seq, last_seq, recipe_crc, ended, stats) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                id,
                run.idx as i64,
                serde_json::to_string(&run.at).map_err(|e| corrupt("at", e))?,
                run.candidate.to_string(),
                serde_json::to_string(&run.margins).map_err(|e| corrupt("margins", e))?,
                i64::from(run.units),
                run.wires as i64,
                run.first_seq.map(|v| v as i64),
                run.last_seq.map(|v| v as i64),
                i64::from(run.recipe_crc),
                run.ended,
                run.stats.to_string(),
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// `by` resumes the open session `id` (after a restart): one audit row.
    pub fn resume_window_session(
        &self,
        id: i64,
        runs_done: usize,
        by: &Actor,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        permissions::check(by.role, Permission::SearchProcessWindow)?;
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        open_in(&tx, id)?;
        let new = serde_json::json!({"event": "resumed", "runs_done": runs_done});
        audit::append(&tx, &record(by, AuditAction::WindowSearch, id, new, now))?;
        tx.commit()?;
        Ok(())
    }

    /// Closes the open session `id` with its result and the draft it produced.
    pub fn finish_window_session(
        &self,
        id: i64,
        result: &Value,
        draft: &str,
        by: &Actor,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.close_window_session(id, "done", Some(result), Some(draft), None, by, now)
    }

    /// Abandons the open session `id` (the caller has restored the previous recipe).
    pub fn abandon_window_session(
        &self,
        id: i64,
        why: &str,
        by: &Actor,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.close_window_session(id, "abandoned", None, None, Some(why), by, now)
    }

    #[allow(clippy::too_many_arguments)]
    fn close_window_session(
        &self,
        id: i64,
        state: &str,
        result: Option<&Value>,
        draft: Option<&str>,
        why: Option<&str>,
        by: &Actor,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        permissions::check(by.role, Permission::SearchProcessWindow)?;
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        open_in(&tx, id)?;
        tx.execute(
            "UPDATE window_sessions SET state = ?2, ended = ?3, result = ?4, draft = ?5 \
             WHERE id = ?1",
            params![
                id,
                state,
                rfc3339_ms(now),
                result.map(Value::to_string),
                draft
            ],
        )?;
        let mut new = serde_json::json!({"event": state});
        if let Some(d) = draft {
            new["draft"] = d.into();
        }
        if let Some(r) = result {
            new["result"] = r.clone();
        }
        let mut rec = record(by, AuditAction::WindowSearch, id, new, now);
        rec.reason = why.map(str::to_string);
        audit::append(&tx, &rec)?;
        tx.commit()?;
        Ok(())
    }
}

fn open_in(tx: &rusqlite::Transaction<'_>, id: i64) -> Result<(), StoreError> {
    let state: Option<String> = tx
        .query_row(
            "SELECT state FROM window_sessions WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    match state.as_deref() {
        Some("open") => Ok(()),
        _ => Err(StoreError::WindowSessionNotOpen(id)),
    }
}
