//! Production counters: wires, rejects by defect, yield, wire rate, UPH.

use crate::bond::{BondEvent, BondKind, Defect, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Window over which the wire rate is smoothed (as the controller's register 11).
pub const RATE_WINDOW_US: u64 = 10_000_000;

/// A snapshot of the counters, cheap to copy to a UI or a log line.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct CounterSnapshot {
    pub bonds: u64,
    pub wires: u64,
    /// Wires with at least one rejected bond.
    pub rejected_wires: u64,
    /// Rejected bonds by defect, indexed by [`Defect::index`].
    pub rejects: [u64; 6],
    pub units: u64,
    pub yield_pct: f64,
    pub wire_rate_per_min: f64,
    pub uph: f64,
}

/// Counts bonds and wires as verdicts arrive.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    bonds: u64,
    wires: u64,
    rejected_wires: u64,
    rejects: [u64; 6],
    units: u64,
    wires_per_unit: u16,
    /// Ball bond of the wire in progress: (unit, wire, ok).
    pending_ball: Option<(u32, u16, bool)>,
    last_unit: Option<u32>,
    /// Controller times (µs) of recent wire completions.
    recent: VecDeque<u64>,
    first_time_us: Option<u64>,
}

impl Counters {
    /// Empty counters; `wires_per_unit` turns the wire rate into UPH.
    pub fn new(wires_per_unit: u16) -> Counters {
        Counters {
            wires_per_unit: wires_per_unit.max(1),
            ..Default::default()
        }
    }

    /// Counts one judged bond. A wire is counted when its stitch bond arrives; it is
    /// rejected when its ball or its stitch was rejected.
    pub fn record(&mut self, bond: &BondEvent, verdict: Verdict) {
        self.bonds += 1;
        if let Verdict::Reject(d) = verdict {
            self.rejects[d.index()] += 1;
        }
        let ok = verdict.is_ok();
        match bond.kind {
            BondKind::Ball => {
                if let Some((_, _, ball_ok)) = self.pending_ball.take() {
                    // The previous wire's stitch never arrived (lost frame): the wire
                    // was still bonded.
                    self.complete_wire(ball_ok, bond.time_us);
                }
                self.pending_ball = Some((bond.unit_no, bond.wire_no, ok));
            }
            BondKind::Stitch => {
                let ball_ok = match self.pending_ball.take() {
                    Some((u, w, b)) if u == bond.unit_no && w == bond.wire_no => b,
                    Some((_, _, b)) => {
                        self.complete_wire(b, bond.time_us);
                        true
                    }
                    None => true,
                };
                self.complete_wire(ball_ok && ok, bond.time_us);
            }
        }
        if self.last_unit.is_some_and(|u| u != bond.unit_no) {
            self.units += 1;
        }
        self.last_unit = Some(bond.unit_no);
    }

    fn complete_wire(&mut self, ok: bool, time_us: u64) {
        self.wires += 1;
        if !ok {
            self.rejected_wires += 1;
        }
        self.first_time_us.get_or_insert(time_us);
        if self.recent.back().is_some_and(|&t| time_us < t) {
            // The controller's clock went back (it restarted): start the window anew.
            self.recent.clear();
        }
        self.recent.push_back(time_us);
        while self
            .recent
            .front()
            .is_some_and(|&t| time_us.saturating_sub(t) > RATE_WINDOW_US)
        {
            self.recent.pop_front();
        }
    }

    /// Rejected bonds of one defect.
    pub fn rejects(&self, d: Defect) -> u64 {
        self.rejects[d.index()]
    }

    /// Good wires / wires, % (100 before the first wire).
    pub fn yield_pct(&self) -> f64 {
        if self.wires == 0 {
            100.0
        } else {
            (self.wires - self.rejected_wires) as f64 / self.wires as f64 * 100.0
        }
    }

    /// Wires per minute over the last [`RATE_WINDOW_US`] of controller time.
    pub fn wire_rate_per_min(&self) -> f64 {
        let (Some(&first), Some(&last)) = (self.recent.front(), self.recent.back()) else {
            return 0.0;
        };
        let n = self.recent.len() as f64;
        let span_us = last.saturating_sub(first).max(1) as f64;
        if self.recent.len() < 2 {
            return 0.0;
        }
        // n wires complete in n-1 intervals.
        (n - 1.0) / span_us * 60e6
    }

    /// Units per hour at the current wire rate.
    pub fn uph(&self) -> f64 {
        self.wire_rate_per_min() * 60.0 / f64::from(self.wires_per_unit)
    }

    /// All counters at once.
    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            bonds: self.bonds,
            wires: self.wires,
            rejected_wires: self.rejected_wires,
            rejects: self.rejects,
            units: self.units,
            yield_pct: self.yield_pct(),
            wire_rate_per_min: self.wire_rate_per_min(),
            uph: self.uph(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bond::Curve;

    fn bond(kind: BondKind, unit: u32, wire: u16, t_us: u64) -> BondEvent {
        BondEvent {
            time_us: t_us,
            unit_no: unit,
            wire_no: wire,
            kind,
            ctrl_verdict: 0,
            place_dx_um: 0.0,
            place_dy_um: 0.0,
            ball_diameter_um: None,
            curve: Curve::default(),
        }
    }

    #[test]
    fn wires_rejects_yield_rate_and_uph() {
        let mut c = Counters::new(2);
        // 20 wires, 10 per second (100 ms apart); wire 5's ball is NSOP, wire 9's stitch NSOL.
        for i in 0..20u64 {
            let (unit, wire) = ((i / 2) as u32 + 1, (i % 2) as u16 + 1);
            let ball_v = if i == 5 {
                Verdict::Reject(Defect::Nsop)
            } else {
                Verdict::Ok
            };
            let st_v = if i == 9 {
                Verdict::Reject(Defect::Nsol)
            } else {
                Verdict::Ok
            };
            c.record(&bond(BondKind::Ball, unit, wire, i * 100_000), ball_v);
            c.record(
                &bond(BondKind::Stitch, unit, wire, i * 100_000 + 40_000),
                st_v,
            );
        }
        let s = c.snapshot();
        assert_eq!((s.bonds, s.wires, s.rejected_wires), (40, 20, 2));
        assert_eq!(c.rejects(Defect::Nsop), 1);
        assert_eq!(c.rejects(Defect::Nsol), 1);
        assert!((s.yield_pct - 90.0).abs() < 1e-9);
        assert!(
            (s.wire_rate_per_min - 600.0).abs() < 1e-6,
            "{}",
            s.wire_rate_per_min
        );
        assert!((s.uph - 18_000.0).abs() < 1e-3);
        assert_eq!(s.units, 9, "units complete when the next one starts");
    }

    #[test]
    fn a_controller_clock_that_goes_back_does_not_panic_or_skew_the_rate() {
        let mut c = Counters::new(1);
        for i in 0..5u64 {
            c.record(
                &bond(BondKind::Stitch, 1, 1, 50_000_000 + i * 100_000),
                Verdict::Ok,
            );
        }
        for i in 0..5u64 {
            c.record(&bond(BondKind::Stitch, 1, 1, i * 100_000), Verdict::Ok);
        }
        assert!((c.wire_rate_per_min() - 600.0).abs() < 1e-6);
    }

    #[test]
    fn a_lost_stitch_still_counts_the_wire_once() {
        let mut c = Counters::new(1);
        c.record(&bond(BondKind::Ball, 1, 1, 0), Verdict::Ok);
        c.record(&bond(BondKind::Ball, 1, 2, 100), Verdict::Ok);
        c.record(&bond(BondKind::Stitch, 1, 2, 200), Verdict::Ok);
        assert_eq!(c.snapshot().wires, 2);
    }
}
