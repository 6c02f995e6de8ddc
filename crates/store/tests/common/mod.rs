//! Test data shared by the integration tests and the benches (`#[path]`-included).
// Each test binary uses a different part of this module.
#![allow(dead_code)]

use bonder_core::{BondKind, Curve, Defect, Verdict};
use bonder_store::{Actor, BondRecord, Role};
use time::OffsetDateTime;
use time::macros::datetime;

/// 08:00 UTC on the day of the contract's examples.
pub const T0: OffsetDateTime = datetime!(2026-11-23 08:00 UTC);

pub const RECIPE: &str = "SOT23-AU25@7";

/// Tiny deterministic noise (xorshift), so tests need no rand crate.
pub struct Noise(pub u64);

impl Noise {
    pub fn next(&mut self, amplitude: i32) -> i32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let span = u64::try_from(2 * amplitude + 1).unwrap();
        i32::try_from(self.0 % span).unwrap() - amplitude
    }
}

/// A bond curve as the controller sends it: 4 channels × 300 samples at 20 kHz; US
/// current ramps to ~150 mA, force to ~30 gf, Z sinks ~15 µm, impedance settles; noise.
pub fn curve(seed: u64) -> Curve {
    let mut noise = Noise(seed | 1);
    let mut channel = |f: &dyn Fn(i32) -> i32, amplitude: i32| -> Vec<i16> {
        (0..300)
            .map(|t| i16::try_from(f(t) + noise.next(amplitude)).unwrap())
            .collect()
    };
    Curve {
        sample_rate_hz: 20_000,
        channels: [
            channel(&|t| 1500 * t.min(30) / 30, 12),
            channel(&|t| 300 * t.min(15) / 15, 4),
            channel(&|t| -150 * t / 300 - 20 * t.min(20) / 20, 2),
            channel(&|t| 1800 - 600 * t.min(100) / 100, 3),
        ],
    }
}

/// Bond `seq` of a steady production: two bonds (ball, stitch) per wire, two wires per
/// unit, 10 ms apart from `T0`; odd seqs are balls.
pub fn bond(seq: u64, verdict: Verdict, shift_id: Option<i64>, with_curve: bool) -> BondRecord {
    let wire_index = (seq - 1) / 2;
    let kind = if seq % 2 == 1 {
        BondKind::Ball
    } else {
        BondKind::Stitch
    };
    BondRecord {
        seq,
        time: T0 + time::Duration::milliseconds(i64::try_from(seq).unwrap() * 10),
        unit: u32::try_from(wire_index / 2 + 1).unwrap(),
        wire: u16::try_from(wire_index % 2 + 1).unwrap(),
        kind,
        verdict,
        ctrl_verdict: 0,
        dx_um: -0.8,
        dy_um: 1.1,
        ball_um: (kind == BondKind::Ball).then_some(48.3),
        peak_force_gf: 31.2,
        us_energy_mj: 0.84,
        deform_um: 6.9,
        impedance_drop_pct: 33.3,
        tail_um: (kind == BondKind::Stitch).then_some(80.5),
        recipe: RECIPE.into(),
        shift_id,
        curve: with_curve.then(|| curve(seq)),
    }
}

/// A reject of the right kind for the bond's seq.
pub fn reject_for(seq: u64) -> Verdict {
    Verdict::Reject(if seq % 2 == 1 {
        Defect::Nsop
    } else {
        Defect::Nsol
    })
}

pub fn engineer() -> Actor {
    Actor::new("E7", Role::Engineer)
}

pub fn operator() -> Actor {
    Actor::new("OP1042", Role::Operator)
}

/// Every row of every table, as text: equal snapshots mean equal contents.
pub fn dump(path: &std::path::Path) -> Vec<String> {
    let c = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap();
    let mut out = Vec::new();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for t in tables {
        let mut stmt = c.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let n = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(r) = rows.next().unwrap() {
            let cells: Vec<String> = (0..n)
                .map(|i| format!("{:?}", r.get::<_, rusqlite::types::Value>(i).unwrap()))
                .collect();
            out.push(format!("{t}: {}", cells.join(", ")));
        }
    }
    out
}
