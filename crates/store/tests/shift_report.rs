//! The shift summary on a small dataset computed by hand, and its exports.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use bonder_core::{AlarmCode, Defect, Verdict};
use bonder_store::{
    AlarmRecord, E10State, ShiftNote, ShiftStart, StateChange, Store, WriteOp, WriterConfig,
};
use common::{T0, bond};
use time::Duration;

fn at(min: i64) -> time::OffsetDateTime {
    T0 + Duration::minutes(min)
}

/// Shift 1 runs 08:00–09:00 (T0 is 08:00); shift 2 from 09:00, still open; shift 3 ran
/// 06:00–07:00, before any state was recorded.
async fn dataset() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("station.db")).unwrap();
    let w = store.spawn_writer(WriterConfig::default()).unwrap();
    let shift = |id, start, end: Option<i64>| {
        let mut ops = vec![WriteOp::ShiftStart(ShiftStart {
            id,
            time: at(start),
            operator: "OP1042".into(),
            team: "A".into(),
        })];
        if let Some(end) = end {
            ops.push(WriteOp::ShiftEnd { id, time: at(end) });
        }
        ops
    };
    let mut ops: Vec<WriteOp> = [
        shift(1, 0, Some(60)),
        shift(2, 60, None),
        shift(3, -120, Some(-60)),
    ]
    .concat();
    for (min, state) in [
        (-10, E10State::Productive),
        (30, E10State::UnscheduledDown),
        (40, E10State::Standby),
        (45, E10State::ScheduledDown),
        (50, E10State::Productive),
        (70, E10State::Standby),
    ] {
        ops.push(WriteOp::StateChange(StateChange {
            time: at(min),
            state,
        }));
    }
    for min in [-5, 31, 46] {
        ops.push(WriteOp::Alarm(AlarmRecord {
            code: AlarmCode::WireBroken,
            raised: true,
            time: at(min),
        }));
    }
    // 20 bonds: units 1–5, two wires each. Rejects: wire (3,1) ball NSOP, wire (4,2)
    // stitch NSOL, wire (5,1) ball size and short tail.
    for seq in 1..=20u64 {
        let verdict = match seq {
            9 => Verdict::Reject(Defect::Nsop),
            16 => Verdict::Reject(Defect::Nsol),
            17 => Verdict::Reject(Defect::BallSize),
            18 => Verdict::Reject(Defect::ShortTail),
            _ => Verdict::Ok,
        };
        ops.push(bond(seq, verdict, Some(1), false).into());
    }
    // Bonds of another shift and of no shift do not count.
    ops.push(bond(21, Verdict::Reject(Defect::Nsop), Some(2), false).into());
    ops.push(bond(22, Verdict::Ok, None, false).into());
    ops.push(WriteOp::ShiftNote(ShiftNote {
        shift_id: 1,
        time: at(59),
        author: "OP1042".into(),
        text: "5号机劈刀已换".into(),
    }));
    for op in ops {
        w.send(op).unwrap();
    }
    assert_eq!(w.close().await.unwrap().rejected_ops, 0);
    (dir, store)
}

fn near(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[tokio::test]
async fn numbers_match_the_hand_computation() {
    let (_dir, store) = dataset().await;
    let s = store
        .reader()
        .unwrap()
        .shift_summary(1, at(600), 30.0)
        .unwrap();
    assert_eq!(
        (s.bonds, s.wires, s.rejected_wires, s.units),
        (20, 10, 3, 5)
    );
    assert_eq!(s.rejects_of(Defect::Nsop), 1);
    assert_eq!(s.rejects_of(Defect::Nsol), 1);
    assert_eq!(s.rejects_of(Defect::BallSize), 1);
    assert_eq!(s.rejects_of(Defect::ShortTail), 1);
    assert_eq!(
        s.rejects_of(Defect::Placement) + s.rejects_of(Defect::Curve),
        0
    );
    assert_eq!(s.alarms, 2);
    assert_eq!(s.until, at(60), "an ended shift ends at its end");
    // 08:00–08:30 productive (from 07:50), 08:30–08:40 unscheduled down, 08:40–08:45
    // standby, 08:45–08:50 scheduled down, 08:50–09:00 productive.
    let m = s.minutes;
    assert!(near(m.productive, 40.0) && near(m.unscheduled_down, 10.0));
    assert!(near(m.standby, 5.0) && near(m.scheduled_down, 5.0));
    assert!(near(m.engineering, 0.0) && near(m.non_scheduled, 0.0));
    assert!(near(m.downtime_min(), 15.0) && near(m.total(), 60.0));
    assert!(near(s.yield_pct, 70.0) && near(s.quality_pct, 70.0));
    // Availability 40 / (60 − 5) min; performance 10 wires / (30 wires/h × 40/60 h).
    assert!(
        near(s.availability_pct, 4000.0 / 55.0),
        "{}",
        s.availability_pct
    );
    assert!(near(s.performance_pct, 50.0), "{}", s.performance_pct);
    assert!(
        near(s.oee_pct, 40.0 / 55.0 * 0.5 * 0.7 * 100.0),
        "{}",
        s.oee_pct
    );
    assert!(
        near(s.uph, 7.5),
        "5 units in 40 productive minutes: {}",
        s.uph
    );
    assert_eq!(s.notes.len(), 1);
}

#[tokio::test]
async fn an_open_shift_runs_to_now_and_unrecorded_time_is_non_scheduled() {
    let (_dir, store) = dataset().await;
    let r = store.reader().unwrap();
    let open = r
        .shift_summary(2, at(90), bonder_store::DEFAULT_IDEAL_WIRES_PER_HOUR)
        .unwrap();
    assert_eq!(open.until, at(90));
    assert!(near(open.minutes.productive, 10.0) && near(open.minutes.standby, 20.0));
    assert_eq!(
        (open.bonds, open.wires, open.rejects_of(Defect::Nsop)),
        (1, 0, 1)
    );
    assert!(near(open.yield_pct, 100.0), "no wire, no loss");

    let early = r.shift_summary(3, at(90), 30.0).unwrap();
    assert!(near(early.minutes.non_scheduled, 60.0));
    assert!(near(early.availability_pct, 0.0) && near(early.oee_pct, 0.0));
    assert!(matches!(
        r.shift_summary(9, at(90), 30.0),
        Err(bonder_store::StoreError::ShiftNotFound(9))
    ));
}

fn zh(key: &str) -> String {
    match key {
        "report-item" => "项目".into(),
        "report-value" => "数值".into(),
        "report-oee-pct" => "OEE（%）".into(),
        "report-title" => "班次报告".into(),
        "export-col-seq" => "序号".into(),
        "export-col-verdict" => "判定".into(),
        other => other.into(),
    }
}

#[tokio::test]
async fn the_report_exports_to_csv_and_xlsx_with_localized_headers() {
    let (dir, store) = dataset().await;
    let r = store.reader().unwrap();
    let s = r.shift_summary(1, at(600), 30.0).unwrap();

    let mut csv_bytes = Vec::new();
    s.write_csv(&mut csv_bytes, &zh).unwrap();
    let text = String::from_utf8(csv_bytes).unwrap();
    let body = text.strip_prefix('\u{feff}').expect("byte order mark");
    let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(body.as_bytes())
        .records()
        .collect::<Result<_, _>>()
        .unwrap();
    let value = |label: &str| {
        rows.iter()
            .find(|r| &r[0] == label)
            .map(|r| r[1].to_owned())
            .unwrap_or_else(|| panic!("{label} in {body}"))
    };
    assert!(body.starts_with("项目,数值\n"), "{body}");
    assert_eq!(value("OEE（%）"), "25.45");
    assert_eq!(value("report-wires"), "10");
    assert_eq!(value("defect-nsop"), "1");
    assert_eq!(value("e10-unscheduled-down"), "10.0");
    assert!(value("report-note").ends_with("OP1042: 5号机劈刀已换"));

    let xlsx = dir.path().join("shift-1.xlsx");
    s.write_xlsx(&xlsx, &zh).unwrap();
    let bytes = std::fs::read(&xlsx).unwrap();
    assert!(bytes.starts_with(b"PK"), "an xlsx is a zip");

    let mut bonds_csv = Vec::new();
    assert_eq!(r.export_bonds_csv(1..=20, &mut bonds_csv, &zh).unwrap(), 20);
    let text = String::from_utf8(bonds_csv).unwrap();
    let mut reader = csv::Reader::from_reader(text.strip_prefix('\u{feff}').unwrap().as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(
        (&headers[0], &headers[5], &headers[1]),
        ("序号", "判定", "export-col-time")
    );
    let rows: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().unwrap();
    assert_eq!(rows.len(), 20);
    assert_eq!(
        (&rows[8][0], &rows[8][5], &rows[8][4]),
        ("9", "nsop", "ball")
    );
    assert_eq!(&rows[8][1], "2026-11-23T08:00:00.090Z");
    assert_eq!(
        (&rows[8][7], &rows[8][9], &rows[8][14]),
        ("-0.800", "48.300", "")
    );
}
