//! The shift report over 1.5 million bond rows (a 12-hour shift of a fast bonder:
//! 750 000 wires, ~35 bonds/s), in a file that also holds an earlier shift, alarms and
//! E10 state changes (target < 0.5 s). The data set is built once, outside the timing.
//!
//! `cargo bench -p bonder-store --bench shift_report` (about half a minute).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use bonder_core::{AlarmCode, Verdict};
use bonder_store::{
    AlarmRecord, DEFAULT_IDEAL_WIRES_PER_HOUR, E10State, ShiftStart, StateChange, Store, WriteOp,
    WriterConfig,
};
use criterion::{Criterion, criterion_group, criterion_main};
use std::time::{Duration, Instant};
use time::Duration as Span;

const EARLIER_SHIFT_BONDS: u64 = 150_000;
const SHIFT_BONDS: u64 = 1_500_000;

fn build(store: &Store) {
    let started = Instant::now();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let writer = store.spawn_writer(WriterConfig::default()).unwrap();
    let t0 = common::T0;
    for (id, start_h) in [(1, -12), (2, 0)] {
        writer
            .send(WriteOp::ShiftStart(ShiftStart {
                id,
                time: t0 + Span::hours(start_h),
                operator: "OP1042".into(),
                team: "A".into(),
            }))
            .unwrap();
    }
    writer.send(WriteOp::ShiftEnd { id: 1, time: t0 }).unwrap();
    // Every 20 minutes: 2 min alarm down, then running again.
    for k in 0..36 * 2 {
        let at = t0 + Span::minutes(-12 * 60 + k * 20);
        for (offset, state) in [(0, E10State::Productive), (18, E10State::UnscheduledDown)] {
            writer
                .send(WriteOp::StateChange(StateChange {
                    time: at + Span::minutes(offset),
                    state,
                }))
                .unwrap();
        }
        writer
            .send(WriteOp::Alarm(AlarmRecord {
                code: AlarmCode::WireBroken,
                raised: true,
                time: at + Span::minutes(18),
            }))
            .unwrap();
    }
    for seq in 1..=EARLIER_SHIFT_BONDS + SHIFT_BONDS {
        let shift = if seq <= EARLIER_SHIFT_BONDS { 1 } else { 2 };
        // 0.5 % of bonds rejected, spread over the defects.
        let verdict = if seq % 200 == 7 {
            common::reject_for(seq)
        } else if seq % 1000 == 500 {
            Verdict::Reject(bonder_core::Defect::Placement)
        } else {
            Verdict::Ok
        };
        let mut b = common::bond(seq, verdict, Some(shift), false);
        // 12 h over the shift's bonds.
        b.time = t0 + Span::milliseconds(i64::try_from(seq).unwrap() * 28);
        writer.send(b).unwrap();
    }
    let info = rt.block_on(writer.close()).unwrap();
    assert_eq!(info.max_bond_seq, EARLIER_SHIFT_BONDS + SHIFT_BONDS);
    eprintln!(
        "built {} bonds in {:.1} s",
        info.max_bond_seq,
        started.elapsed().as_secs_f64()
    );
}

fn shift_report(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("bench.db")).unwrap();
    build(&store);
    let reader = store.reader().unwrap();
    let end = common::T0 + Span::hours(12);
    let s = reader
        .shift_summary(2, end, DEFAULT_IDEAL_WIRES_PER_HOUR)
        .unwrap();
    eprintln!(
        "shift 2: {} bonds, {} wires, {} rejected wires, {} units, yield {:.2} %, OEE {:.1} %, {} alarms",
        s.bonds, s.wires, s.rejected_wires, s.units, s.yield_pct, s.oee_pct, s.alarms
    );
    assert_eq!(s.bonds, SHIFT_BONDS);
    let mut g = c.benchmark_group("shift_report");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));
    g.bench_function("summary_1_5m_bonds", |b| {
        b.iter(|| {
            reader
                .shift_summary(2, end, DEFAULT_IDEAL_WIRES_PER_HOUR)
                .unwrap()
        });
    });
    g.finish();
}

criterion_group!(benches, shift_report);
criterion_main!(benches);
