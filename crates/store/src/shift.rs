//! The shift summary, computed from the bond records, alarms and E10 state changes.
//!
//! Over the shift's period (start to end, or to `now` while it is open):
//!
//! * **bonds**: bond records carrying the shift's id; **wires**: its stitch bonds (a wire
//!   is complete when its stitch is made, as `bonder_core::Counters` counts);
//!   **rejected wires**: distinct (unit, wire) pairs with a rejected bond;
//!   **units**: distinct unit numbers among its stitch bonds.
//! * **E10 minutes**: each state change holds until the next; the state at the start
//!   is the last change before it; time before the first recorded change counts as
//!   non-scheduled (the station was not recording).
//! * **planned** = total − non-scheduled − scheduled down.
//! * **availability** = productive / planned (standby, engineering and unscheduled down
//!   are losses).
//! * **performance** = wires / (ideal wires per hour × productive hours). The ideal
//!   rate is a parameter; [`DEFAULT_IDEAL_WIRES_PER_HOUR`] is 72 000 (20 wires/s, the
//!   nameplate speed of a fast ball bonder). Above 100 % means the ideal is set too low.
//! * **quality** = yield = (wires − rejected wires) / wires (100 % with no wires).
//! * **OEE** = availability × performance × quality.
//! * **UPH** = units / productive hours (the machine's rate while it runs).
//! * **downtime** = scheduled down + unscheduled down.

use crate::StoreError;
use crate::codes::{defect_from_code, kind_code};
use crate::records::{E10State, Shift, ShiftNote};
use crate::shift_rows::{load_notes, load_shift};
use crate::timefmt::{from_unix_ms, unix_ms};
use bonder_core::{BondKind, Defect};
use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;

/// Ideal wire rate used for performance unless the caller gives another: 20 wires/s.
pub const DEFAULT_IDEAL_WIRES_PER_HOUR: f64 = 72_000.0;

/// Minutes spent in each SEMI E10 state.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct E10Minutes {
    /// Minutes productive.
    pub productive: f64,
    /// Minutes in standby.
    pub standby: f64,
    /// Minutes of engineering.
    pub engineering: f64,
    /// Minutes scheduled down.
    pub scheduled_down: f64,
    /// Minutes unscheduled down.
    pub unscheduled_down: f64,
    /// Minutes not scheduled (or not recorded).
    pub non_scheduled: f64,
}

impl E10Minutes {
    /// Minutes in one state.
    pub fn get(&self, s: E10State) -> f64 {
        match s {
            E10State::Productive => self.productive,
            E10State::Standby => self.standby,
            E10State::Engineering => self.engineering,
            E10State::ScheduledDown => self.scheduled_down,
            E10State::UnscheduledDown => self.unscheduled_down,
            E10State::NonScheduled => self.non_scheduled,
        }
    }

    fn add(&mut self, s: E10State, min: f64) {
        let slot = match s {
            E10State::Productive => &mut self.productive,
            E10State::Standby => &mut self.standby,
            E10State::Engineering => &mut self.engineering,
            E10State::ScheduledDown => &mut self.scheduled_down,
            E10State::UnscheduledDown => &mut self.unscheduled_down,
            E10State::NonScheduled => &mut self.non_scheduled,
        };
        *slot += min;
    }

    /// All minutes.
    pub fn total(&self) -> f64 {
        E10State::ALL.into_iter().map(|s| self.get(s)).sum()
    }

    /// Scheduled plus unscheduled down time (the gateway's `downtime_min`).
    pub fn downtime_min(&self) -> f64 {
        self.scheduled_down + self.unscheduled_down
    }
}

/// Production of one shift (formulas in the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct ShiftSummary {
    /// The shift.
    pub shift: Shift,
    /// End of the summarised period (the shift's end, or `now` while it is open).
    pub until: OffsetDateTime,
    /// Bond records of the shift.
    pub bonds: u64,
    /// Wires: the shift's stitch bonds.
    pub wires: u64,
    /// Wires with at least one rejected bond.
    pub rejected_wires: u64,
    /// Rejected bonds by defect, indexed by [`Defect::index`].
    pub rejects: [u64; 6],
    /// Distinct units among the shift's stitch bonds.
    pub units: u64,
    /// Alarms raised during the period.
    pub alarms: u64,
    /// Time by SEMI E10 state.
    pub minutes: E10Minutes,
    /// The ideal rate performance is measured against.
    pub ideal_wires_per_hour: f64,
    /// Good wires / wires, %.
    pub yield_pct: f64,
    /// Units per productive hour.
    pub uph: f64,
    /// Productive / planned time, %.
    pub availability_pct: f64,
    /// Wires / (ideal rate × productive time), %.
    pub performance_pct: f64,
    /// Good wires / wires, % (= yield).
    pub quality_pct: f64,
    /// Availability × performance × quality, %.
    pub oee_pct: f64,
    /// Handover notes, oldest first.
    pub notes: Vec<ShiftNote>,
}

impl ShiftSummary {
    /// Rejected bonds of one defect.
    pub fn rejects_of(&self, d: Defect) -> u64 {
        self.rejects[d.index()]
    }
}

fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn e10_minutes(conn: &Connection, from_ms: i64, to_ms: i64) -> Result<E10Minutes, StoreError> {
    let state = |name: String| {
        E10State::from_name(&name).ok_or_else(|| StoreError::Corrupt(format!("E10 state {name:?}")))
    };
    let mut current = match conn
        .prepare_cached(
            "SELECT state FROM state_changes WHERE time_ms <= ?1 ORDER BY time_ms DESC, id DESC LIMIT 1",
        )?
        .query_row([from_ms], |r| r.get::<_, String>(0))
        .optional()?
    {
        Some(name) => state(name)?,
        None => E10State::NonScheduled,
    };
    let mut m = E10Minutes::default();
    let mut t = from_ms;
    let mut stmt = conn.prepare_cached(
        "SELECT time_ms, state FROM state_changes WHERE time_ms > ?1 AND time_ms < ?2
         ORDER BY time_ms, id",
    )?;
    let mut rows = stmt.query([from_ms, to_ms])?;
    while let Some(r) = rows.next()? {
        let at: i64 = r.get(0)?;
        m.add(current, (at - t) as f64 / 60_000.0);
        current = state(r.get(1)?)?;
        t = at;
    }
    m.add(current, (to_ms - t).max(0) as f64 / 60_000.0);
    Ok(m)
}

fn pct(num: f64, den: f64) -> f64 {
    if den > 0.0 { num / den * 100.0 } else { 0.0 }
}

pub(crate) fn summarize(
    conn: &Connection,
    shift_id: i64,
    now: OffsetDateTime,
    ideal_wires_per_hour: f64,
) -> Result<ShiftSummary, StoreError> {
    let shift = load_shift(conn, shift_id)?.ok_or(StoreError::ShiftNotFound(shift_id))?;
    let from_ms = unix_ms(shift.started);
    let to_ms = shift
        .ended
        .map_or_else(|| unix_ms(now), unix_ms)
        .max(from_ms);

    let stitch = kind_code(BondKind::Stitch);
    let (mut bonds, mut wires) = (0, 0);
    let mut stmt =
        conn.prepare_cached("SELECT kind, COUNT(*) FROM bonds WHERE shift_id = ?1 GROUP BY kind")?;
    let mut rows = stmt.query([shift_id])?;
    while let Some(r) = rows.next()? {
        let (kind, n): (i64, i64) = (r.get(0)?, r.get(1)?);
        bonds += count(n);
        if kind == stitch {
            wires = count(n);
        }
    }
    let units: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM (SELECT DISTINCT unit FROM bonds WHERE shift_id = ?1 AND kind = ?2)",
        )?
        .query_row(
            params![shift_id, stitch],
            |r| r.get(0),
        )?;
    let mut rejects = [0u64; 6];
    let mut stmt = conn.prepare_cached(
        "SELECT verdict, COUNT(*) FROM bonds WHERE shift_id = ?1 AND verdict <> 0 GROUP BY verdict",
    )?;
    let mut rows = stmt.query([shift_id])?;
    while let Some(r) = rows.next()? {
        let (code, n): (i64, i64) = (r.get(0)?, r.get(1)?);
        let d =
            defect_from_code(code).ok_or_else(|| StoreError::Corrupt(format!("verdict {code}")))?;
        rejects[d.index()] = count(n);
    }
    let rejected_wires: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM (SELECT DISTINCT unit, wire FROM bonds
                                   WHERE shift_id = ?1 AND verdict <> 0)",
        )?
        .query_row([shift_id], |r| r.get(0))?;
    let alarms: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM alarms WHERE raised_ms >= ?1 AND raised_ms < ?2")?
        .query_row([from_ms, to_ms], |r| r.get(0))?;

    let minutes = e10_minutes(conn, from_ms, to_ms)?;
    let rejected_wires = count(rejected_wires).min(wires);
    let units = count(units);
    let productive_h = minutes.productive / 60.0;
    let planned_min = minutes.total() - minutes.non_scheduled - minutes.scheduled_down;
    let availability_pct = pct(minutes.productive, planned_min);
    let performance_pct = pct(wires as f64, ideal_wires_per_hour * productive_h);
    let quality_pct = if wires == 0 {
        100.0
    } else {
        pct((wires - rejected_wires) as f64, wires as f64)
    };
    let oee_pct = availability_pct * performance_pct * quality_pct / 10_000.0;
    let uph = if productive_h > 0.0 {
        units as f64 / productive_h
    } else {
        0.0
    };
    Ok(ShiftSummary {
        notes: load_notes(conn, shift_id)?,
        until: from_unix_ms(to_ms),
        shift,
        bonds,
        wires,
        rejected_wires,
        rejects,
        units,
        alarms: count(alarms),
        minutes,
        ideal_wires_per_hour,
        yield_pct: quality_pct,
        uph,
        availability_pct,
        performance_pct,
        quality_pct,
        oee_pct,
    })
}
