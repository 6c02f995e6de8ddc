//! Reports from the history: shift report per station and per line (wires, yield,
//! rejects by type, E10 time buckets, OEE) and the changeover report (median and p90
//! per step, slowest first).

use crate::FleetError;
use crate::history::History;
use serde::Serialize;
use std::collections::BTreeMap;

/// SEMI E10 time buckets, minutes. The station's states map as: running → productive;
/// idle, paused → standby; setup → scheduled downtime (changeover); alarm, estop →
/// unscheduled downtime; offline and unknown → non-scheduled. Engineering time is not
/// told apart by the contract's states (always 0 here).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct E10 {
    pub productive_min: f64,
    pub standby_min: f64,
    pub engineering_min: f64,
    pub scheduled_down_min: f64,
    pub unscheduled_down_min: f64,
    pub non_scheduled_min: f64,
}

impl E10 {
    fn add_state(&mut self, state: &str, min: f64) {
        match state {
            "running" => self.productive_min += min,
            "idle" | "paused" => self.standby_min += min,
            "setup" => self.scheduled_down_min += min,
            "alarm" | "estop" => self.unscheduled_down_min += min,
            _ => self.non_scheduled_min += min,
        }
    }

    fn add(&mut self, o: &E10) {
        self.productive_min += o.productive_min;
        self.standby_min += o.standby_min;
        self.engineering_min += o.engineering_min;
        self.scheduled_down_min += o.scheduled_down_min;
        self.unscheduled_down_min += o.unscheduled_down_min;
        self.non_scheduled_min += o.non_scheduled_min;
    }

    /// Operations time: everything but non-scheduled.
    pub fn operations_min(&self) -> f64 {
        self.productive_min
            + self.standby_min
            + self.engineering_min
            + self.scheduled_down_min
            + self.unscheduled_down_min
    }
}

/// One station's (or the line's) numbers.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StationReport {
    pub station: String,
    /// Wires: stitch bonds.
    pub wires: u64,
    pub bonds: u64,
    /// Rejected bonds by defect name.
    pub rejects: BTreeMap<String, u64>,
    pub rejected_bonds: u64,
    /// 100 × (wires − rejected) / wires, a rejected bond counting as a rejected wire.
    pub yield_pct: f64,
    pub e10: E10,
    pub availability_pct: f64,
    pub performance_pct: f64,
    pub quality_pct: f64,
    pub oee_pct: f64,
}

impl StationReport {
    fn finish(&mut self, ideal_wires_per_min: f64) {
        self.rejected_bonds = self.rejects.values().sum();
        let rejected_wires = self.rejected_bonds.min(self.wires);
        self.yield_pct = if self.wires == 0 {
            100.0
        } else {
            (self.wires - rejected_wires) as f64 / self.wires as f64 * 100.0
        };
        let ops = self.e10.operations_min();
        let avail = if ops > 0.0 {
            self.e10.productive_min / ops
        } else {
            0.0
        };
        let perf = if self.e10.productive_min > 0.0 && ideal_wires_per_min > 0.0 {
            (self.wires as f64 / (ideal_wires_per_min * self.e10.productive_min)).min(1.0)
        } else {
            0.0
        };
        let quality = self.yield_pct / 100.0;
        self.availability_pct = avail * 100.0;
        self.performance_pct = perf * 100.0;
        self.quality_pct = quality * 100.0;
        self.oee_pct = avail * perf * quality * 100.0;
    }
}

/// A shift report: every station of the scope, and their total.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShiftReport {
    /// A station id, a line prefix (`site/area/line/`) or "" for everything.
    pub scope: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub ideal_wires_per_min: f64,
    pub stations: Vec<StationReport>,
    pub total: StationReport,
}

/// E10 minutes of one station in `[from, to)`, cut at `now` (the future is not counted).
pub fn e10(
    db: &History,
    station: &str,
    from_ms: i64,
    to_ms: i64,
    now_ms: i64,
) -> Result<E10, FleetError> {
    let end = to_ms.min(now_ms);
    let mut out = E10::default();
    if end <= from_ms {
        return Ok(out);
    }
    let changes = db.status_changes(station, from_ms, end)?;
    let mut t = from_ms;
    let mut state = "unknown".to_string();
    for c in changes {
        let at = c.ts_ms.max(from_ms);
        out.add_state(&state, (at - t) as f64 / 60_000.0);
        t = at;
        state = c.state;
    }
    out.add_state(&state, (end - t) as f64 / 60_000.0);
    Ok(out)
}

/// The shift report of a scope over `[from, to)`.
pub fn shift_report(
    db: &History,
    scope: &str,
    from_ms: i64,
    to_ms: i64,
    now_ms: i64,
    ideal_wires_per_min: f64,
) -> Result<ShiftReport, FleetError> {
    let mut by: BTreeMap<String, StationReport> = BTreeMap::new();
    for s in db.station_ids(scope)? {
        by.entry(s.clone()).or_insert_with(|| StationReport {
            station: s,
            ..Default::default()
        });
    }
    for c in db.counts(scope, from_ms, to_ms)? {
        let r = by
            .entry(c.station.clone())
            .or_insert_with(|| StationReport {
                station: c.station.clone(),
                ..Default::default()
            });
        r.bonds += c.n;
        if c.kind == 1 {
            r.wires += c.n;
        }
        if c.verdict != "ok" {
            *r.rejects.entry(c.verdict).or_default() += c.n;
        }
    }
    let mut total = StationReport {
        station: scope.to_string(),
        ..Default::default()
    };
    let mut stations = Vec::with_capacity(by.len());
    for (id, mut r) in by {
        r.e10 = e10(db, &id, from_ms, to_ms, now_ms)?;
        r.finish(ideal_wires_per_min);
        total.wires += r.wires;
        total.bonds += r.bonds;
        for (k, v) in &r.rejects {
            *total.rejects.entry(k.clone()).or_default() += v;
        }
        total.e10.add(&r.e10);
        stations.push(r);
    }
    total.finish(ideal_wires_per_min);
    Ok(ShiftReport {
        scope: scope.into(),
        from_ms,
        to_ms,
        ideal_wires_per_min,
        stations,
        total,
    })
}

/// Durations of one changeover step name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepStats {
    pub name: String,
    pub count: usize,
    pub median_min: f64,
    pub p90_min: f64,
    pub max_min: f64,
}

/// One changeover in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeoverLine {
    pub station: String,
    pub id: String,
    pub from_recipe: Option<String>,
    pub to_recipe: String,
    pub ended_ms: i64,
    pub minutes: f64,
    pub passed: bool,
    pub pull_gf_min: f64,
    pub shear_gf_min: f64,
}

/// The changeover report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeoverReport {
    pub scope: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub changeovers: Vec<ChangeoverLine>,
    /// Slowest (by median) first.
    pub steps: Vec<StepStats>,
    pub total: StepStats,
}

/// Median of sorted values (0 when empty).
pub fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// Nearest-rank percentile of sorted values (0 when empty).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn stats(name: &str, mut v: Vec<f64>) -> StepStats {
    v.sort_by(f64::total_cmp);
    StepStats {
        name: name.into(),
        count: v.len(),
        median_min: median(&v),
        p90_min: percentile(&v, 90.0),
        max_min: v.last().copied().unwrap_or(0.0),
    }
}

/// The changeover report of a scope over `[from, to)` (by end time).
pub fn changeover_report(
    db: &History,
    scope: &str,
    from_ms: i64,
    to_ms: i64,
) -> Result<ChangeoverReport, FleetError> {
    let rows = db.changeovers(scope, from_ms, to_ms)?;
    let mut steps: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut totals = Vec::new();
    let mut lines = Vec::new();
    for r in rows {
        let c = &r.msg;
        for s in &c.steps {
            let d = (crate::history::ts_ms(&s.ended) - crate::history::ts_ms(&s.started)) as f64
                / 60_000.0;
            steps.entry(s.name.clone()).or_default().push(d.max(0.0));
        }
        totals.push(c.minutes);
        lines.push(ChangeoverLine {
            station: r.station.clone(),
            id: c.id.clone(),
            from_recipe: c.from_recipe.clone(),
            to_recipe: c.to_recipe.clone(),
            ended_ms: crate::history::ts_ms(&c.ended),
            minutes: c.minutes,
            passed: c.first_article.passed,
            pull_gf_min: c.first_article.pull_gf_min,
            shear_gf_min: c.first_article.shear_gf_min,
        });
    }
    let mut steps: Vec<StepStats> = steps.into_iter().map(|(k, v)| stats(&k, v)).collect();
    steps.sort_by(|a, b| {
        b.median_min
            .total_cmp(&a.median_min)
            .then(b.p90_min.total_cmp(&a.p90_min))
            .then(a.name.cmp(&b.name))
    });
    Ok(ChangeoverReport {
        scope: scope.into(),
        from_ms,
        to_ms,
        changeovers: lines,
        steps,
        total: stats("total", totals),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn percentiles() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
        assert_eq!(median(&v), 5.5);
        assert_eq!(percentile(&v, 90.0), 9.0);
        assert_eq!(median(&[3.0]), 3.0);
        assert_eq!(percentile(&[], 90.0), 0.0);
    }

    #[test]
    fn shift_report_counts_e10_and_oee() {
        let mut db = History::open_in_memory().unwrap();
        let h = 3_600_000;
        let s = "a/b/l1/wb-01";
        // 60 minutes: 45 running, 15 in alarm.
        db.add_status_change(s, 0, "running").unwrap();
        db.add_status_change(s, 45 * 60_000, "alarm").unwrap();
        for m in 0..45 {
            db.add_counts(
                s,
                m * 60_000,
                &[(0, "ok", 100), (1, "ok", 99), (1, "nsop", 1)],
            )
            .unwrap();
        }
        let r = shift_report(&db, "a/b/l1/", 0, h, h, 100.0).unwrap();
        let st = &r.stations[0];
        assert_eq!(st.wires, 4500);
        assert_eq!(st.rejects["nsop"], 45);
        assert!((st.yield_pct - 99.0).abs() < 1e-9);
        assert!((st.e10.productive_min - 45.0).abs() < 1e-9);
        assert!((st.e10.unscheduled_down_min - 15.0).abs() < 1e-9);
        assert!((st.availability_pct - 75.0).abs() < 1e-9);
        assert!((st.performance_pct - 100.0).abs() < 1e-9);
        assert!((st.oee_pct - 74.25).abs() < 1e-9);
        assert_eq!(r.total.wires, 4500);
    }
}
