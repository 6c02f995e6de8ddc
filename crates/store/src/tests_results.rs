//! Pull and shear test results (`test_results`): imported from a bench tester's file or
//! entered on the keypad, each joined to the ball bond record of its unit and wire, so
//! the strength prediction is fitted on (features, measured strength) pairs.

use crate::audit::{self, AuditAction, AuditRecord};
use crate::recipes::Actor;
use crate::timefmt::unix_ms;
use crate::{Store, StoreError};
use bonder_core::features::Features;
use bonder_core::permissions::Permission;
use bonder_core::pull_test::{TestKind, TestResult};
use bonder_core::strength::{REGRESSORS, StrengthModel, regressors};
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use time::OffsetDateTime;

/// How far back (in bond records) a tested wire is looked for: 4 million bonds, more
/// than two days of a bonder at 20 wires/s.
pub const JOIN_WINDOW_BONDS: i64 = 4_000_000;

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportOutcome {
    /// Rows stored.
    pub imported: usize,
    /// Rows of a source already imported (nothing stored twice).
    pub duplicates: usize,
    /// Stored rows joined to a bond record.
    pub joined: usize,
}

/// A stored result with the bond it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTestResult {
    /// Row id (import order).
    pub id: i64,
    /// The tested unit, as the tester numbered it.
    pub unit: u32,
    /// The tested wire of that unit.
    pub wire: u16,
    /// Pull or shear.
    pub test: TestKind,
    /// The measured force, gf.
    pub force_gf: f64,
    /// The failure mode (`neck_break` …).
    pub mode: String,
    /// The tester's time, as it wrote it.
    pub tested_at: String,
    /// The ball bond's record, if it was found.
    pub bond_seq: Option<u64>,
    /// The file it came from, or `keypad`.
    pub source: String,
}

/// A tested wire with its bonds' regressors, for fitting.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingRow {
    /// `test_results.id`.
    pub result_id: i64,
    /// The wire's regressors (`bonder_core::strength::regressors`) from the stored
    /// features of its ball bond and the stitch bond after it.
    pub x: [f64; REGRESSORS],
    /// The measured force, gf.
    pub gf: f64,
}

/// A stored model version.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredModel {
    /// Version (row id).
    pub id: i64,
    /// The model.
    pub model: StrengthModel,
    /// The newest result it was fitted on.
    pub last_result_id: i64,
}

/// SHA-256 of a source, hex.
pub fn source_sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Store {
    /// Stores the results of one source (a file's name and SHA-256, or `keypad`) in one
    /// transaction, each joined to the newest ball bond of its unit and wire within
    /// [`JOIN_WINDOW_BONDS`]; a source already imported adds nothing. One audit row.
    pub fn import_test_results(
        &self,
        rows: &[TestResult],
        source: &str,
        sha: &str,
        by: &Actor,
        now: OffsetDateTime,
    ) -> Result<ImportOutcome, StoreError> {
        bonder_core::permissions::check(by.role, Permission::RecordTestResults)?;
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // The ball bonds of the tested units, newest first, in one range scan.
        let max: Option<i64> = tx
            .query_row("SELECT MAX(seq) FROM bonds", [], |r| r.get(0))
            .optional()?
            .flatten();
        let mut seq_of: HashMap<(u32, u16), i64> = HashMap::new();
        if let Some(max) = max {
            let units: std::collections::BTreeSet<u32> = rows.iter().map(|r| r.unit).collect();
            let list = units
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let mut st = tx.prepare(&format!(
                "SELECT seq, unit, wire FROM bonds WHERE seq > ?1 AND kind = 1 AND unit IN ({list})"
            ))?;
            let found = st.query_map([max - JOIN_WINDOW_BONDS], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?;
            for f in found {
                let (seq, unit, wire) = f?;
                let key = (
                    u32::try_from(unit).unwrap_or(0),
                    u16::try_from(wire).unwrap_or(0),
                );
                let e = seq_of.entry(key).or_insert(seq);
                *e = (*e).max(seq);
            }
        }
        let mut out = ImportOutcome::default();
        let now_ms = unix_ms(now);
        {
            let mut ins = tx.prepare(
                "INSERT OR IGNORE INTO test_results (unit, wire, test, force_mgf, mode, tested_at, \
                 bond_seq, source, source_sha, line, imported_ms, by_user) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?;
            for (i, r) in rows.iter().enumerate() {
                let seq = seq_of.get(&(r.unit, r.wire)).copied();
                let n = ins.execute(params![
                    r.unit,
                    r.wire,
                    r.test.name(),
                    (r.force_gf * 1000.0).round() as i64,
                    r.mode,
                    r.time,
                    seq,
                    source,
                    sha,
                    i as i64 + 1,
                    now_ms,
                    by.user,
                ])?;
                if n == 1 {
                    out.imported += 1;
                    out.joined += usize::from(seq.is_some());
                } else {
                    out.duplicates += 1;
                }
            }
        }
        audit::append(
            &tx,
            &AuditRecord {
                time: now,
                user: by.user.clone(),
                role: Some(by.role),
                action: AuditAction::Import,
                object: format!("tests:{source}"),
                old_value: None,
                new_value: Some(
                    serde_json::json!({
                        "sha256": sha,
                        "rows": rows.len(),
                        "imported": out.imported,
                        "duplicates": out.duplicates,
                        "joined": out.joined,
                    })
                    .to_string(),
                ),
                reason: None,
            },
        )?;
        tx.commit()?;
        Ok(out)
    }

    /// How many results of `test` are stored, and the mean force of the newest `newest`
    /// of them, gf (for "predicted against tested"; no join with the bonds).
    pub fn test_summary(
        &self,
        test: TestKind,
        newest: usize,
    ) -> Result<(u64, Option<f64>), StoreError> {
        let conn = self.lock();
        let (n, mean): (i64, Option<f64>) = conn.query_row(
            "SELECT (SELECT COUNT(*) FROM test_results WHERE test = ?1), \
                    (SELECT AVG(force_mgf) FROM (SELECT force_mgf FROM test_results \
                     WHERE test = ?1 ORDER BY id DESC LIMIT ?2))",
            params![test.name(), newest as i64],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((
            u64::try_from(n).unwrap_or(0),
            mean.map(|m| m / crate::codes::MGF_PER_GF),
        ))
    }

    /// Results after `after_id`, oldest first (at most `limit`).
    pub fn test_results(
        &self,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<StoredTestResult>, StoreError> {
        self.select_results(
            "WHERE id > ?1 ORDER BY id LIMIT ?2",
            params![after_id, limit as i64],
        )
    }

    /// Results joined to ball bonds with records `first_seq..=last_seq`, oldest first.
    pub fn test_results_of_bonds(
        &self,
        first_seq: u64,
        last_seq: u64,
    ) -> Result<Vec<StoredTestResult>, StoreError> {
        self.select_results(
            "WHERE bond_seq BETWEEN ?1 AND ?2 ORDER BY id",
            params![first_seq as i64, last_seq as i64],
        )
    }

    fn select_results(
        &self,
        tail: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<StoredTestResult>, StoreError> {
        let conn = self.lock();
        let mut st = conn.prepare(&format!(
            "SELECT id, unit, wire, test, force_mgf, mode, tested_at, bond_seq, source \
             FROM test_results {tail}"
        ))?;
        let rows = st.query_map(args, |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, Option<i64>>(7)?,
                r.get::<_, String>(8)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, unit, wire, test, mgf, mode, tested_at, seq, source) = row?;
            out.push(StoredTestResult {
                id,
                unit: u32::try_from(unit)
                    .map_err(|_| StoreError::Corrupt(format!("unit {unit}")))?,
                wire: u16::try_from(wire)
                    .map_err(|_| StoreError::Corrupt(format!("wire {wire}")))?,
                test: TestKind::from_name(&test)
                    .ok_or_else(|| StoreError::Corrupt(format!("test {test:?}")))?,
                force_gf: mgf as f64 / 1000.0,
                mode,
                tested_at,
                bond_seq: seq.and_then(|s| u64::try_from(s).ok()),
                source,
            });
        }
        Ok(out)
    }
}

/// The stored features of a bond, as the judge extracted them.
fn features(
    imp_bp: i64,
    deform_nm: i64,
    us_uj: i64,
    force_mgf: i64,
    tail_nm: Option<i64>,
) -> Features {
    Features {
        peak_force_gf: (force_mgf as f64 / crate::codes::MGF_PER_GF) as f32,
        us_energy_mj: (us_uj as f64 / crate::codes::UJ_PER_MJ) as f32,
        deform_um: (deform_nm as f64 / crate::codes::NM_PER_UM) as f32,
        impedance_drop_pct: (imp_bp as f64 / crate::codes::BP_PER_PCT) as f32,
        tail_um: tail_nm.map(|t| (t as f64 / crate::codes::NM_PER_UM) as f32),
        us_window: None,
    }
}

impl Store {
    /// Every result of `test` joined to its ball bond and the stitch bond of the same
    /// wire right after it (within 8 records), oldest first.
    pub fn strength_training(&self, test: TestKind) -> Result<Vec<TrainingRow>, StoreError> {
        let conn = self.lock();
        let mut st = conn.prepare(
            "SELECT t.id, t.force_mgf, \
                    COALESCE(b.impedance_drop_bp, 0), COALESCE(b.deform_nm, 0), \
                    COALESCE(b.us_energy_uj, 0), COALESCE(b.peak_force_mgf, 0), \
                    COALESCE(b.ball_nm, 0), \
                    COALESCE(s.impedance_drop_bp, 0), COALESCE(s.deform_nm, 0), \
                    COALESCE(s.us_energy_uj, 0), COALESCE(s.peak_force_mgf, 0), s.tail_nm \
             FROM test_results t \
             JOIN bonds b ON b.seq = t.bond_seq AND b.kind = 1 \
             JOIN bonds s ON s.seq = (SELECT MIN(x.seq) FROM bonds x \
                  WHERE x.seq > b.seq AND x.seq <= b.seq + 8 AND x.kind = 2 \
                    AND x.unit = b.unit AND x.wire = b.wire) \
             WHERE t.test = ?1 ORDER BY t.id",
        )?;
        let rows = st.query_map([test.name()], |r| {
            let g = |i: usize| r.get::<_, i64>(i);
            let ball = features(g(2)?, g(3)?, g(4)?, g(5)?, None);
            let stitch = features(g(7)?, g(8)?, g(9)?, g(10)?, r.get::<_, Option<i64>>(11)?);
            let ball_um = g(6)? as f64 / crate::codes::NM_PER_UM;
            Ok(TrainingRow {
                result_id: g(0)?,
                x: regressors(&ball, &stitch, ball_um),
                gf: g(1)? as f64 / crate::codes::MGF_PER_GF,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Keeps a fitted model as the newest version of its test.
    pub fn save_strength_model(
        &self,
        m: &StrengthModel,
        last_result_id: i64,
        now: OffsetDateTime,
    ) -> Result<i64, StoreError> {
        let conn = self.lock();
        conn.execute(
            "INSERT INTO strength_models (test, fitted_ms, results, last_result_id, r2_fit, \
             sigma_gf, model) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                m.test.name(),
                unix_ms(now),
                m.n as i64,
                last_result_id,
                m.r2_fit,
                m.sigma,
                m.to_json().to_string()
            ],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// The newest model of `test`, if one was fitted.
    pub fn latest_strength_model(&self, test: TestKind) -> Result<Option<StoredModel>, StoreError> {
        let conn = self.lock();
        let row: Option<(i64, i64, String)> = conn
            .query_row(
                "SELECT id, last_result_id, model FROM strength_models WHERE test = ?1 \
                 ORDER BY id DESC LIMIT 1",
                [test.name()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((id, last_result_id, json)) = row else {
            return Ok(None);
        };
        let model = serde_json::from_str(&json)
            .ok()
            .and_then(|v| StrengthModel::from_json(&v))
            .ok_or_else(|| StoreError::Corrupt(format!("strength model {id}")))?;
        Ok(Some(StoredModel {
            id,
            model,
            last_result_id,
        }))
    }
}
