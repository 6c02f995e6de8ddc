//! Ingest without a broker: messages handed to the core land in the model at once and
//! in the history after a flush; a bond that arrives twice is counted once.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use bonder_fleet::history::now_ms;
use bonder_fleet::{Condition, Supervisor, synth};

#[test]
fn status_bonds_alarms_and_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let sv = Supervisor::open(&dir.path().join("h.sqlite")).unwrap();
    let s = "sz1/assembly/l1/wb-01";
    let st = synth::status(
        "running",
        "SOT23-CU20@3",
        Some("OP1"),
        100,
        600.0,
        99.5,
        None,
    );
    sv.on_message(&format!("{s}/status"), &serde_json::to_vec(&st).unwrap());
    let mut rng = synth::Rng::new(1);
    let b = synth::bonds(&mut rng, 1, 50, 0.0);
    let payload = serde_json::to_vec(&b).unwrap();
    sv.on_message(&format!("{s}/bonds"), &payload);
    sv.on_message(&format!("{s}/bonds"), &payload); // again: same seq, dropped
    sv.on_message(
        &format!("{s}/alarms"),
        &serde_json::to_vec(&synth::alarm(104, true)).unwrap(),
    );
    sv.on_message("not/a/station", b"{}");
    sv.on_message(&format!("{s}/status"), b"{not json");

    let t = sv.tile(s).unwrap();
    assert_eq!(t.condition, Condition::Alarm);
    assert_eq!(t.alarm.as_ref().unwrap().code, 104);
    assert_eq!(sv.bonds_received(), 200);

    sv.flush();
    let now = now_ms();
    let r = bonder_fleet::reports::shift_report(
        &sv.db(),
        "sz1/",
        now - 3_600_000,
        now + 60_000,
        now,
        600.0,
    )
    .unwrap();
    assert_eq!(r.stations.len(), 1);
    assert_eq!(r.total.wires, 50);
    assert_eq!(r.total.bonds, 100);
    assert_eq!(sv.db().max_seq(s).unwrap(), Some(100));
    assert_eq!(sv.db().alarms(s, now - 60_000, now + 1).unwrap().len(), 1);
    // The state log has the running state since the status.
    let e10 =
        bonder_fleet::reports::e10(&sv.db(), s, now - 60_000, now + 60_000, now + 60_000).unwrap();
    assert!(e10.productive_min > 0.9, "{e10:?}");
}

#[test]
fn history_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.sqlite");
    let s = "sz1/assembly/l1/wb-02";
    {
        let sv = Supervisor::open(&path).unwrap();
        let st = synth::status("idle", "SOT23-CU20@3", None, 0, 0.0, 100.0, None);
        sv.on_message(&format!("{s}/status"), &serde_json::to_vec(&st).unwrap());
        sv.flush();
    }
    let sv = Supervisor::open(&path).unwrap();
    // Known from the history, offline until it speaks again.
    let t = sv.tile(s).unwrap();
    assert_eq!(t.state, "offline");
}
