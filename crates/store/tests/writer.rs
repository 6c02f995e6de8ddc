//! The batching writer: everything sent is committed, curves kept by policy, other
//! records round-trip through the reader.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use bonder_core::bond::BondEvent;
use bonder_core::envelope::EnvelopeCheck;
use bonder_core::features::Features;
use bonder_core::{AlarmCode, BondKind, Defect, Judgement, MachineState, Verdict};
use bonder_store::{
    AlarmAck, AlarmRecord, AuditAction, AuditRecord, BondRecord, ChangeoverEnd, ChangeoverStart,
    ChangeoverStep, E10State, FirstArticle, Role, ShiftNote, ShiftStart, StateChange, Store,
    StoreError, TimelineEvent, WriteOp, WriterConfig,
};
use common::{T0, bond, curve, reject_for};
use std::time::Duration;
use time::Duration as Span;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("station.db")).unwrap();
    (dir, store)
}

#[tokio::test]
async fn many_sends_one_flush_and_everything_is_there() {
    let (_dir, store) = store();
    let writer = store.spawn_writer(WriterConfig::default()).unwrap();
    assert_eq!(writer.committed_seq(), 0);
    for seq in 1..=10_000 {
        writer.send(bond(seq, Verdict::Ok, Some(1), false)).unwrap();
    }
    let info = writer.flush().await.unwrap();
    assert_eq!(
        (info.max_bond_seq, info.ops, info.rejected_ops),
        (10_000, 10_000, 0)
    );
    assert_eq!(writer.committed_seq(), 10_000);
    assert_eq!(writer.queued(), 0);
    let reader = store.reader().unwrap();
    assert_eq!(reader.max_bond_seq().unwrap(), Some(10_000));
    let all = reader.bonds_by_seq(1..=10_000).unwrap();
    assert_eq!(all.len(), 10_000);
    assert!(all.iter().zip(1..).all(|(b, seq)| b.seq == seq));

    // A new writer starts from what the file holds.
    writer.close().await.unwrap();
    let again = store.spawn_writer(WriterConfig::default()).unwrap();
    assert_eq!(again.committed_seq(), 10_000);
}

#[tokio::test]
async fn a_batch_is_committed_after_the_interval_without_a_flush() {
    let (_dir, store) = store();
    let writer = store.spawn_writer(WriterConfig::default()).unwrap();
    let mut commits = writer.subscribe();
    writer.send(bond(1, Verdict::Ok, None, false)).unwrap();
    tokio::time::timeout(
        Duration::from_secs(5),
        commits.wait_for(|c| c.max_bond_seq == 1),
    )
    .await
    .unwrap()
    .unwrap();
}

#[tokio::test]
async fn records_round_trip_in_fixed_point() {
    let (_dir, store) = store();
    let writer = store.spawn_writer(WriterConfig::default()).unwrap();
    let mut b = bond(1, Verdict::Reject(Defect::BallSize), Some(4), true);
    b.ctrl_verdict = 101;
    b.us_energy_mj = f32::NAN;
    writer.send(b.clone()).unwrap();
    writer.flush().await.unwrap();
    let back = store
        .reader()
        .unwrap()
        .bonds_by_seq(1..=1)
        .unwrap()
        .remove(0);
    let close = |a: f32, b: f32, step: f32| (a - b).abs() <= step / 2.0 + 1e-6;
    assert_eq!(
        (back.seq, back.time, back.unit, back.wire),
        (b.seq, b.time, b.unit, b.wire)
    );
    assert_eq!(
        (back.kind, back.verdict, back.ctrl_verdict),
        (b.kind, b.verdict, 101)
    );
    assert!(close(back.dx_um, b.dx_um, 0.001) && close(back.dy_um, b.dy_um, 0.001));
    assert!(close(back.ball_um.unwrap(), 48.3, 0.001));
    assert!(close(back.peak_force_gf, b.peak_force_gf, 0.001));
    assert!(back.us_energy_mj.is_nan());
    assert!(close(back.impedance_drop_pct, b.impedance_drop_pct, 0.01));
    assert_eq!(back.tail_um, None);
    assert_eq!(
        (back.recipe.as_str(), back.shift_id),
        (common::RECIPE, Some(4))
    );
    assert_eq!(back.curve, None, "curves are read separately");
}

#[tokio::test]
async fn curves_of_all_rejects_and_one_in_n_good_bonds_are_kept() {
    let (_dir, store) = store();
    let cfg = WriterConfig {
        good_curve_every: 10,
        ..WriterConfig::default()
    };
    let writer = store.spawn_writer(cfg).unwrap();
    for seq in 1..=105u64 {
        let verdict = if seq % 20 == 0 {
            reject_for(seq)
        } else {
            Verdict::Ok
        };
        writer.send(bond(seq, verdict, None, true)).unwrap();
    }
    writer.flush().await.unwrap();
    let reader = store.reader().unwrap();
    let kept: Vec<u64> = (1..=105)
        .filter(|&s| reader.curve(s).unwrap().is_some())
        .collect();
    // 5 rejects (20, 40, … 100) and good bonds number 0, 10, … 90 of the 100 good ones.
    let rejects = [20, 40, 60, 80, 100];
    assert_eq!(kept.iter().filter(|s| rejects.contains(s)).count(), 5);
    assert_eq!(kept.len(), 5 + 10, "{kept:?}");
    assert_eq!(reader.curve(20).unwrap().unwrap(), curve(20), "lossless");
    assert_eq!(
        reader.curve(1).unwrap().unwrap(),
        curve(1),
        "first good one kept"
    );
}

#[tokio::test]
async fn a_bad_operation_is_skipped_without_losing_its_batch() {
    let (_dir, store) = store();
    let writer = store.spawn_writer(WriterConfig::default()).unwrap();
    writer.send(bond(1, Verdict::Ok, None, false)).unwrap();
    writer.send(bond(1, Verdict::Ok, None, false)).unwrap();
    writer
        .send(WriteOp::ShiftNote(ShiftNote {
            shift_id: 99,
            time: T0,
            author: "OP1042".into(),
            text: "no such shift".into(),
        }))
        .unwrap();
    writer.send(bond(2, Verdict::Ok, None, false)).unwrap();
    let info = writer.flush().await.unwrap();
    assert_eq!((info.ops, info.rejected_ops, info.max_bond_seq), (2, 2, 2));
    assert_eq!(
        store.reader().unwrap().bonds_by_seq(1..=2).unwrap().len(),
        2
    );
}

#[tokio::test]
async fn close_commits_and_later_sends_fail() {
    let (_dir, store) = store();
    let writer = store.spawn_writer(WriterConfig::default()).unwrap();
    let clone = writer.clone();
    writer.send(bond(1, Verdict::Ok, None, false)).unwrap();
    assert_eq!(writer.close().await.unwrap().max_bond_seq, 1);
    // The thread has gone once close returned and its channel is dropped shortly after.
    for _ in 0..100 {
        if clone.send(bond(2, Verdict::Ok, None, false)).is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(matches!(
        clone.flush().await,
        Err(StoreError::WriterStopped)
    ));
    assert_eq!(store.reader().unwrap().max_bond_seq().unwrap(), Some(1));
}

#[test]
fn from_judged_copies_event_and_features() {
    let event = BondEvent {
        time_us: 123,
        unit_no: 4821,
        wire_no: 1,
        kind: BondKind::Stitch,
        ctrl_verdict: 102,
        place_dx_um: 0.4,
        place_dy_um: -0.2,
        ball_diameter_um: None,
        curve: curve(7),
    };
    let judgement = Judgement {
        verdict: Verdict::Reject(Defect::Nsol),
        features: Features {
            peak_force_gf: 88.0,
            us_energy_mj: 0.21,
            deform_um: 0.7,
            impedance_drop_pct: 2.0,
            tail_um: Some(60.0),
            us_window: Some((10, 200)),
        },
        envelope: Some(EnvelopeCheck::default()),
    };
    let r = BondRecord::from_judged(366_845, &event, &judgement, "SOT23-AU25@7", Some(3), T0);
    assert_eq!(
        (r.seq, r.unit, r.wire, r.kind, r.ctrl_verdict),
        (366_845, 4821, 1, BondKind::Stitch, 102)
    );
    assert_eq!(
        (r.verdict, r.dx_um, r.dy_um, r.ball_um),
        (judgement.verdict, 0.4, -0.2, None)
    );
    assert_eq!(
        (r.peak_force_gf, r.us_energy_mj, r.deform_um),
        (88.0, 0.21, 0.7)
    );
    assert_eq!((r.impedance_drop_pct, r.tail_um), (2.0, Some(60.0)));
    assert_eq!(
        (r.recipe.as_str(), r.shift_id, r.time),
        ("SOT23-AU25@7", Some(3), T0)
    );
    assert_eq!(r.curve, Some(curve(7)));
}

#[tokio::test]
async fn alarms_shifts_events_states_and_changeovers_round_trip() {
    let (_dir, store) = store();
    let writer = store.spawn_writer(WriterConfig::default()).unwrap();
    let at = |min: i64| T0 + Span::minutes(min);
    let ops = vec![
        WriteOp::ShiftStart(ShiftStart {
            id: 1,
            time: at(0),
            operator: "OP1042".into(),
            team: "B".into(),
        }),
        WriteOp::StateChange(StateChange {
            time: at(0),
            state: E10State::from_machine(MachineState::Running),
        }),
        WriteOp::Alarm(AlarmRecord {
            code: AlarmCode::Nsol,
            raised: true,
            time: at(5),
        }),
        WriteOp::Alarm(AlarmRecord {
            code: AlarmCode::DoorOpen,
            raised: true,
            time: at(6),
        }),
        WriteOp::AlarmAck(AlarmAck {
            code: AlarmCode::Nsol,
            time: at(7),
            user: "OP1042".into(),
            role: Role::Operator,
        }),
        WriteOp::Alarm(AlarmRecord {
            code: AlarmCode::Nsol,
            raised: false,
            time: at(8),
        }),
        WriteOp::ShiftNote(ShiftNote {
            shift_id: 1,
            time: at(9),
            author: "OP1042".into(),
            text: "换线后首件合格，劈刀已更换".into(),
        }),
        WriteOp::Event(TimelineEvent {
            time: at(10),
            kind: "capillary_changed".into(),
            text: "1572-15-437GM".into(),
        }),
        WriteOp::ChangeoverStart(ChangeoverStart {
            id: 1,
            time: at(20),
            from_recipe: Some("SOT23-AU25@7".into()),
            to_recipe: "SOT23-CU20@3".into(),
            user: "T3".into(),
        }),
        WriteOp::ChangeoverStep(ChangeoverStep {
            changeover_id: 1,
            name: "wire_spool".into(),
            started: at(20),
            ended: at(28),
            by: "T3".into(),
            outcome: "ok".into(),
        }),
        WriteOp::ChangeoverEnd(ChangeoverEnd {
            id: 1,
            time: at(40),
            user: "T3".into(),
            role: Role::Technician,
            first_article: Some(FirstArticle {
                passed: true,
                pull_gf_min: 3.5,
                shear_gf_min: 14.0,
            }),
            abandoned: false,
        }),
        WriteOp::Audit(AuditRecord {
            time: at(41),
            user: "OP1042".into(),
            role: Some(Role::Operator),
            action: AuditAction::Login,
            object: "user:OP1042".into(),
            old_value: None,
            new_value: None,
            reason: None,
        }),
        WriteOp::ShiftEnd {
            id: 1,
            time: at(480),
        },
    ];
    for op in ops {
        writer.send(op).unwrap();
    }
    assert_eq!(writer.flush().await.unwrap().rejected_ops, 0);

    let r = store.reader().unwrap();
    let day = (T0 - Span::days(1), T0 + Span::days(1));
    let alarms = r.alarms(day.0, day.1).unwrap();
    assert_eq!(alarms.len(), 2);
    assert_eq!((alarms[0].code, alarms[0].raised), (AlarmCode::Nsol, at(5)));
    assert_eq!(
        (alarms[0].acked, alarms[0].acked_by.as_deref()),
        (Some(at(7)), Some("OP1042"))
    );
    assert_eq!(alarms[0].cleared, Some(at(8)));
    assert_eq!(
        (alarms[1].code, alarms[1].acked, alarms[1].cleared),
        (AlarmCode::DoorOpen, None, None)
    );

    let shift = r.shift(1).unwrap().unwrap();
    assert_eq!(
        (shift.started, shift.ended, shift.team.as_str()),
        (at(0), Some(at(480)), "B")
    );
    assert_eq!(r.shifts(day.0, day.1).unwrap(), vec![shift]);
    assert_eq!(r.max_shift_id().unwrap(), Some(1));
    assert_eq!(
        r.shift_notes(1).unwrap()[0].text,
        "换线后首件合格，劈刀已更换"
    );
    assert_eq!(r.events(day.0, day.1).unwrap()[0].kind, "capillary_changed");
    assert_eq!(
        r.state_changes(day.0, day.1).unwrap()[0].state,
        E10State::Productive
    );

    let co = r.changeovers(day.0, day.1).unwrap();
    assert_eq!(co.len(), 1);
    assert_eq!(
        (co[0].ended, co[0].ended_by.as_deref()),
        (Some(at(40)), Some("T3"))
    );
    assert_eq!(co[0].first_article.map(|f| f.passed), Some(true));
    assert_eq!(co[0].steps.len(), 1);
    assert_eq!(
        (co[0].steps[0].name.as_str(), co[0].steps[0].ended),
        ("wire_spool", at(28))
    );
    assert_eq!(r.max_changeover_id().unwrap(), Some(1));

    let audit: Vec<(String, String, Option<String>, Option<String>)> = r
        .audit(0, 10)
        .unwrap()
        .into_iter()
        .map(|e| (e.action, e.object, e.old_value, e.new_value))
        .collect();
    assert_eq!(
        audit,
        [
            (
                "alarm_ack".into(),
                "alarm:102#1".into(),
                None,
                Some("nsol".into())
            ),
            (
                "changeover".into(),
                "changeover:1".into(),
                Some("SOT23-AU25@7".into()),
                Some("SOT23-CU20@3".into())
            ),
            ("login".into(), "user:OP1042".into(), None, None),
        ]
    );
}

#[tokio::test]
async fn outbox_cursor_and_bonds_after() {
    let (_dir, store) = store();
    let writer = store.spawn_writer(WriterConfig::default()).unwrap();
    for seq in 1..=10 {
        writer.send(bond(seq, Verdict::Ok, None, false)).unwrap();
    }
    writer.flush().await.unwrap();
    assert_eq!(store.get_cursor("bonds").unwrap(), None);
    store.set_cursor("bonds", 5).unwrap();
    store.set_cursor("bonds", 6).unwrap();
    assert_eq!(store.get_cursor("bonds").unwrap(), Some(6));
    let next: Vec<u64> = store
        .reader()
        .unwrap()
        .bonds_after(6, 3)
        .unwrap()
        .iter()
        .map(|b| b.seq)
        .collect();
    assert_eq!(next, [7, 8, 9]);
    let by_time = store
        .reader()
        .unwrap()
        .bonds_by_time(T0 + Span::milliseconds(30), T0 + Span::milliseconds(60))
        .unwrap();
    assert_eq!(by_time.iter().map(|b| b.seq).collect::<Vec<_>>(), [3, 4, 5]);
}

#[test]
fn the_store_and_the_writer_handle_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Store>();
    shareable::<bonder_store::WriterHandle>();
    fn movable<T: Send>() {}
    movable::<bonder_store::Reader>();
}

#[tokio::test]
async fn vision_inspections_join_their_bonds_and_go_with_them() {
    use bonder_store::VisionInspection;
    let (_dir, store) = store();
    let writer = store.spawn_writer(WriterConfig::default()).unwrap();
    for seq in 1..=3 {
        writer.send(bond(seq, Verdict::Ok, None, false)).unwrap();
    }
    let insp = |seq: u64, verdict: &str, ball: Option<f64>| {
        WriteOp::VisionInspection(VisionInspection {
            seq,
            time: T0 + Span::seconds(seq as i64),
            frame_no: 100 + seq as u32,
            verdict: verdict.into(),
            confidence: 0.97,
            ball_um: ball,
            dx_um: ball.map(|_| 1.25),
            dy_um: ball.map(|_| -0.5),
            pad_score: Some(0.93),
        })
    };
    writer.send(insp(1, "ok", Some(47.5))).unwrap();
    writer.send(insp(3, "missing", None)).unwrap();
    // A second inspection of the same bond is ignored; one of an unknown bond or with an
    // unknown verdict is rejected.
    writer.send(insp(1, "off_pad", Some(40.0))).unwrap();
    writer.send(insp(9, "ok", Some(47.0))).unwrap();
    writer.send(insp(2, "blurry", None)).unwrap();
    let info = writer.flush().await.unwrap();
    assert_eq!(info.rejected_ops, 2);
    let r = store.reader().unwrap();
    let got = r.vision_inspections(1..=10).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].seq, 1);
    assert_eq!(got[0].verdict, "ok");
    assert_eq!(got[0].ball_um, Some(47.5));
    assert_eq!((got[0].dx_um, got[0].dy_um), (Some(1.25), Some(-0.5)));
    assert_eq!(got[0].frame_no, 101);
    assert_eq!(got[0].time, T0 + Span::seconds(1));
    assert!((got[0].confidence - 0.97).abs() < 1e-6);
    assert_eq!(got[1].verdict, "missing");
    assert_eq!(got[1].ball_um, None);
    // Deleting bonds (retention) deletes their inspections.
    writer.close().await.unwrap();
    let c = rusqlite::Connection::open(store.path()).unwrap();
    c.execute_batch("PRAGMA foreign_keys = ON; DELETE FROM bonds WHERE seq < 3;")
        .unwrap();
    let left = r.vision_inspections(1..=10).unwrap();
    assert_eq!(left.iter().map(|v| v.seq).collect::<Vec<_>>(), vec![3]);
}
