//! Reads on a separate read-only connection: WAL lets them run while the writer
//! commits, and they never wait for it.

use crate::audit::{self, AuditEntry};
use crate::codes::{
    BP_PER_PCT, MGF_PER_GF, NM_PER_UM, UJ_PER_MJ, from_fixed, kind_from_code, seq_sql,
    verdict_from_code,
};
use crate::export;
use crate::records::{
    AlarmEntry, BondRecord, Changeover, ChangeoverStep, E10State, FirstArticle, Shift, ShiftNote,
    StateChange, TimelineEvent, VisionInspection,
};
use crate::shift::{self, ShiftSummary};
use crate::shift_rows::{SELECT_SHIFT, load_notes, load_shift, shift_from_row};
use crate::timefmt::{from_unix_ms, unix_ms};
use crate::{StoreError, curve};
use bonder_core::{AlarmCode, Curve};
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::io::Write;
use std::ops::RangeInclusive;
use time::OffsetDateTime;

/// A read-only view of the store; get one with [`Store::reader`](crate::Store::reader).
/// Each reader has its own connection (keep it, don't open one per query).
#[derive(Debug)]
pub struct Reader {
    conn: Connection,
}

const SELECT_BOND: &str = "SELECT b.seq, b.time_ms, b.unit, b.wire, b.kind, b.verdict, b.ctrl_verdict, \
     b.dx_nm, b.dy_nm, b.ball_nm, b.peak_force_mgf, b.us_energy_uj, b.deform_nm, \
     b.impedance_drop_bp, b.tail_nm, l.label, b.shift_id \
     FROM bonds b JOIN recipe_labels l ON l.id = b.recipe_label";

fn bond_from_row(r: &Row<'_>) -> rusqlite::Result<BondRecord> {
    let seq: i64 = r.get(0)?;
    let kind: i64 = r.get(4)?;
    let verdict: i64 = r.get(5)?;
    let opt = |v: Option<i64>, steps| v.map(|x| from_fixed(Some(x), steps));
    Ok(BondRecord {
        seq: u64::try_from(seq).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(0, seq))?,
        time: from_unix_ms(r.get(1)?),
        unit: r.get(2)?,
        wire: r.get(3)?,
        kind: kind_from_code(kind).ok_or(rusqlite::Error::IntegralValueOutOfRange(4, kind))?,
        verdict: verdict_from_code(verdict)
            .ok_or(rusqlite::Error::IntegralValueOutOfRange(5, verdict))?,
        ctrl_verdict: r.get(6)?,
        dx_um: from_fixed(r.get(7)?, NM_PER_UM),
        dy_um: from_fixed(r.get(8)?, NM_PER_UM),
        ball_um: opt(r.get(9)?, NM_PER_UM),
        peak_force_gf: from_fixed(r.get(10)?, MGF_PER_GF),
        us_energy_mj: from_fixed(r.get(11)?, UJ_PER_MJ),
        deform_um: from_fixed(r.get(12)?, NM_PER_UM),
        impedance_drop_pct: from_fixed(r.get(13)?, BP_PER_PCT),
        tail_um: opt(r.get(14)?, NM_PER_UM),
        recipe: r.get(15)?,
        shift_id: r.get(16)?,
        curve: None,
    })
}

impl Reader {
    pub(crate) fn new(conn: Connection) -> Reader {
        Reader { conn }
    }

    fn bonds_where(
        &self,
        clause: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<BondRecord>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("{SELECT_BOND} {clause}"))?;
        let rows = stmt.query_map(args, bond_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Bonds whose seq is in the range, by seq (curves not included: see [`Self::curve`]).
    pub fn bonds_by_seq(&self, seqs: RangeInclusive<u64>) -> Result<Vec<BondRecord>, StoreError> {
        self.bonds_where(
            "WHERE b.seq BETWEEN ?1 AND ?2 ORDER BY b.seq",
            [seq_sql(*seqs.start()), seq_sql(*seqs.end())],
        )
    }

    /// Bonds with `from <= time < to`, by time.
    pub fn bonds_by_time(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<BondRecord>, StoreError> {
        self.bonds_where(
            "WHERE b.time_ms >= ?1 AND b.time_ms < ?2 ORDER BY b.time_ms, b.seq",
            [unix_ms(from), unix_ms(to)],
        )
    }

    /// Up to `limit` bonds with a seq above `seq`, by seq (the gateway's outbox).
    pub fn bonds_after(&self, seq: u64, limit: usize) -> Result<Vec<BondRecord>, StoreError> {
        self.bonds_where(
            "WHERE b.seq > ?1 ORDER BY b.seq LIMIT ?2",
            [seq_sql(seq), i64::try_from(limit).unwrap_or(i64::MAX)],
        )
    }

    /// The vision's inspections of the bonds whose seq is in the range, by seq.
    pub fn vision_inspections(
        &self,
        seqs: RangeInclusive<u64>,
    ) -> Result<Vec<VisionInspection>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, time_ms, frame_no, verdict, confidence, ball_um, dx_um, dy_um, pad_score
             FROM vision_inspections WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq",
        )?;
        let rows = stmt.query_map([seq_sql(*seqs.start()), seq_sql(*seqs.end())], |r| {
            Ok(VisionInspection {
                seq: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                time: from_unix_ms(r.get(1)?),
                frame_no: r.get(2)?,
                verdict: r.get(3)?,
                confidence: r.get::<_, f64>(4)? as f32,
                ball_um: r.get(5)?,
                dx_um: r.get(6)?,
                dy_um: r.get(7)?,
                pad_score: r.get::<_, Option<f64>>(8)?.map(|v| v as f32),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The highest bond seq stored (`None` when there is no bond).
    pub fn max_bond_seq(&self) -> Result<Option<u64>, StoreError> {
        let v: Option<i64> = self
            .conn
            .query_row("SELECT MAX(seq) FROM bonds", [], |r| r.get(0))?;
        Ok(v.and_then(|s| u64::try_from(s).ok()))
    }

    /// The kept curve of a bond (`None` when it was not kept or was deleted).
    pub fn curve(&self, seq: u64) -> Result<Option<Curve>, StoreError> {
        let row: Option<(u32, i64, Vec<u8>)> = self
            .conn
            .prepare_cached("SELECT sample_rate_hz, format, data FROM curves WHERE seq = ?1")?
            .query_row([seq_sql(seq)], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        row.map(|(rate, format, data)| curve::decode(format, rate, &data))
            .transpose()
    }

    /// Alarms raised with `from <= raised < to`, oldest first.
    pub fn alarms(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<AlarmEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, code, raised_ms, acked_ms, acked_by, cleared_ms FROM alarms
             WHERE raised_ms >= ?1 AND raised_ms < ?2 ORDER BY raised_ms, id",
        )?;
        let rows = stmt.query_map([unix_ms(from), unix_ms(to)], |r| {
            let code: u16 = r.get(1)?;
            Ok(AlarmEntry {
                id: r.get(0)?,
                code: AlarmCode::from_code(code).unwrap_or(AlarmCode::Other(code)),
                raised: from_unix_ms(r.get(2)?),
                acked: r.get::<_, Option<i64>>(3)?.map(from_unix_ms),
                acked_by: r.get(4)?,
                cleared: r.get::<_, Option<i64>>(5)?.map(from_unix_ms),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Shifts started with `from <= started < to`, oldest first.
    pub fn shifts(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<Shift>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{SELECT_SHIFT} WHERE started_ms >= ?1 AND started_ms < ?2 ORDER BY started_ms, id"
        ))?;
        let rows = stmt.query_map([unix_ms(from), unix_ms(to)], shift_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One shift.
    pub fn shift(&self, id: i64) -> Result<Option<Shift>, StoreError> {
        load_shift(&self.conn, id)
    }

    /// The highest shift id (choose the next one from it at start-up).
    pub fn max_shift_id(&self) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT MAX(id) FROM shifts", [], |r| r.get(0))?)
    }

    /// A shift's handover notes, oldest first.
    pub fn shift_notes(&self, shift_id: i64) -> Result<Vec<ShiftNote>, StoreError> {
        load_notes(&self.conn, shift_id)
    }

    /// The summary of a shift (`now` ends the period of a shift still open), with the
    /// ideal rate for performance ([`DEFAULT_IDEAL_WIRES_PER_HOUR`] unless the plant
    /// has its own). Formulas in [`crate::shift`].
    ///
    /// [`DEFAULT_IDEAL_WIRES_PER_HOUR`]: crate::DEFAULT_IDEAL_WIRES_PER_HOUR
    pub fn shift_summary(
        &self,
        shift_id: i64,
        now: OffsetDateTime,
        ideal_wires_per_hour: f64,
    ) -> Result<ShiftSummary, StoreError> {
        shift::summarize(&self.conn, shift_id, now, ideal_wires_per_hour)
    }

    /// Messages queued for the gateway, oldest first: (id, topic suffix, payload).
    pub fn outbox_messages(&self, limit: usize) -> Result<Vec<(i64, String, String)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, topic, payload FROM outbox_messages ORDER BY id LIMIT ?1",
        )?;
        let rows = stmt.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Timeline events with `from <= time < to`, oldest first.
    pub fn events(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<TimelineEvent>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT time_ms, kind, text FROM events WHERE time_ms >= ?1 AND time_ms < ?2
             ORDER BY time_ms, id",
        )?;
        let rows = stmt.query_map([unix_ms(from), unix_ms(to)], |r| {
            Ok(TimelineEvent {
                time: from_unix_ms(r.get(0)?),
                kind: r.get(1)?,
                text: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// E10 state changes with `from <= time < to`, oldest first.
    pub fn state_changes(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<StateChange>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT time_ms, state FROM state_changes WHERE time_ms >= ?1 AND time_ms < ?2
             ORDER BY time_ms, id",
        )?;
        let mut rows = stmt.query([unix_ms(from), unix_ms(to)])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let name: String = r.get(1)?;
            let state = E10State::from_name(&name)
                .ok_or_else(|| StoreError::Corrupt(format!("E10 state {name:?}")))?;
            out.push(StateChange {
                time: from_unix_ms(r.get(0)?),
                state,
            });
        }
        Ok(out)
    }

    /// Changeovers started with `from <= started < to`, oldest first, with their steps.
    pub fn changeovers(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<Changeover>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, from_recipe, to_recipe, started_ms, started_by, ended_ms, ended_by,
                    fa_passed, fa_pull_min_gf, fa_shear_min_gf, outcome
             FROM changeovers WHERE started_ms >= ?1 AND started_ms < ?2 ORDER BY started_ms, id",
        )?;
        let rows = stmt.query_map([unix_ms(from), unix_ms(to)], |r| {
            let passed: Option<bool> = r.get(7)?;
            let pull: Option<f32> = r.get(8)?;
            let shear: Option<f32> = r.get(9)?;
            Ok(Changeover {
                id: r.get(0)?,
                from_recipe: r.get(1)?,
                to_recipe: r.get(2)?,
                started: from_unix_ms(r.get(3)?),
                started_by: r.get(4)?,
                ended: r.get::<_, Option<i64>>(5)?.map(from_unix_ms),
                ended_by: r.get(6)?,
                first_article: passed.map(|passed| FirstArticle {
                    passed,
                    pull_gf_min: pull.unwrap_or(f32::NAN),
                    shear_gf_min: shear.unwrap_or(f32::NAN),
                }),
                outcome: r.get(10)?,
                steps: Vec::new(),
            })
        })?;
        let mut out: Vec<Changeover> = rows.collect::<Result<_, _>>()?;
        let mut steps = self.conn.prepare_cached(
            "SELECT name, started_ms, ended_ms, by_user, outcome FROM changeover_steps
             WHERE changeover_id = ?1 ORDER BY started_ms, id",
        )?;
        for c in &mut out {
            let id = c.id;
            c.steps = steps
                .query_map([id], |r| {
                    Ok(ChangeoverStep {
                        changeover_id: id,
                        name: r.get(0)?,
                        started: from_unix_ms(r.get(1)?),
                        ended: from_unix_ms(r.get(2)?),
                        by: r.get(3)?,
                        outcome: r.get(4)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
        }
        Ok(out)
    }

    /// The open changeover's id and wizard state (the latest, when several are open).
    pub fn open_changeover(&self) -> Result<Option<(i64, String)>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT p.changeover_id, p.state_json FROM changeover_progress p
                 JOIN changeovers c ON c.id = p.changeover_id
                 WHERE c.ended_ms IS NULL ORDER BY p.changeover_id DESC LIMIT 1",
            )?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    /// The highest changeover id (choose the next one from it at start-up).
    pub fn max_changeover_id(&self) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT MAX(id) FROM changeovers", [], |r| r.get(0))?)
    }

    /// The hash of the newest audit row (`None` while the trail is empty): published
    /// as `audit_head` so that the trail's tail is anchored outside the station.
    pub fn audit_head(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT hash FROM audit ORDER BY id DESC LIMIT 1")?
            .query_row([], |r| r.get(0))
            .optional()?)
    }

    /// Up to `limit` audit rows with an id above `after_id`, oldest first.
    pub fn audit(&self, after_id: i64, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{} WHERE id > ?1 ORDER BY id LIMIT ?2",
            audit::SELECT_ENTRY
        ))?;
        let rows = stmt.query_map(
            params![after_id, i64::try_from(limit).unwrap_or(i64::MAX)],
            audit::entry_from_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Audit rows written at or after `since` (their `ts`, RFC 3339 UTC, sorts as
    /// time), oldest first, at most `limit`, after row `after_id` (for paging).
    pub fn audit_since(
        &self,
        since: OffsetDateTime,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{} WHERE ts >= ?1 AND id > ?2 ORDER BY id LIMIT ?3",
            audit::SELECT_ENTRY
        ))?;
        let rows = stmt.query_map(
            params![
                crate::timefmt::rfc3339_ms(since),
                after_id,
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
            audit::entry_from_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Writes the bonds whose seq is in the range as CSV (UTF-8 with a byte order mark,
    /// so that spreadsheet programs read Chinese headers right), streaming; headers
    /// through `tr` (keys `export-col-*` of [`EXPORT_KEYS`](crate::EXPORT_KEYS)).
    /// Returns the number of rows written.
    pub fn export_bonds_csv(
        &self,
        seqs: RangeInclusive<u64>,
        out: &mut dyn Write,
        tr: &dyn Fn(&str) -> String,
    ) -> Result<u64, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "{SELECT_BOND} WHERE b.seq BETWEEN ?1 AND ?2 ORDER BY b.seq"
        ))?;
        let rows = stmt.query_map(
            [seq_sql(*seqs.start()), seq_sql(*seqs.end())],
            bond_from_row,
        )?;
        export::bonds_csv(rows.map(|r| r.map_err(StoreError::from)), out, tr)
    }
}
