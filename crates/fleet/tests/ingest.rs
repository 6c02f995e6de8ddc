//! Ingest without a broker: messages handed to the core land in the model at once and
//! in the history after a flush; a bond that arrives twice is counted once.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use bonder_fleet::history::now_ms;
use bonder_fleet::{Condition, Supervisor, synth};

#[test]
fn status_bonds_alarms_and_duplicates() {
    let seed = 1;
    println!("seed {seed}");
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
    let mut rng = synth::Rng::new(seed);
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
    assert_eq!(sv.db().max_seq(s, "").unwrap(), Some(100));
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

#[test]
fn seq_span_shows_holes() {
    let seed = 2;
    println!("seed {seed}");
    let dir = tempfile::tempdir().unwrap();
    let sv = Supervisor::open(&dir.path().join("h.sqlite")).unwrap();
    let s = "sz1/assembly/l1/wb-02";
    assert_eq!(sv.db().seq_span(s).unwrap(), None);
    let mut rng = synth::Rng::new(seed);
    // Bonds 1..=100, then 201..=300: a hole of 100 (not connected, so no backfill).
    for first in [1, 201] {
        let b = synth::bonds(&mut rng, first, 50, 0.0);
        sv.on_message(&format!("{s}/bonds"), &serde_json::to_vec(&b).unwrap());
    }
    sv.flush();
    let span = sv.db().seq_span(s).unwrap().unwrap();
    assert_eq!((span.first, span.last, span.count), (1, 300, 200));
    assert_eq!(span.missing(), 100);
    let b = synth::bonds(&mut rng, 101, 50, 0.0);
    sv.on_message(&format!("{s}/bonds"), &serde_json::to_vec(&b).unwrap());
    sv.flush();
    assert_eq!(sv.db().seq_span(s).unwrap().unwrap().missing(), 0);
}

/// A hole longer than one request allows is asked for whole, in several requests. (The
/// "broker" accepts the connection and never answers, so the requests stay queued in the
/// session: what is checked is what the core asks for; the station's side is tested
/// against a real station in `src-tauri/tests/commands.rs`.)
#[test]
fn a_long_hole_is_asked_for_in_several_requests() {
    use bonder_fleet::service::MAX_BACKFILL;
    let seed = 3;
    println!("seed {seed}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("mqtt://{}", silent.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let sv = Supervisor::open(&dir.path().join("h.sqlite")).unwrap();
    sv.connect(rt.handle(), bonder_fleet::GatewaySettings::new(url))
        .unwrap();
    // The session is up (its client made, so requests can be queued) once it has
    // opened its connection to the silent "broker".
    silent.set_nonblocking(true).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let _session = loop {
        match silent.accept() {
            Ok((conn, _)) => break conn,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the supervisor never connected to the silent broker"
                );
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("accept: {e}"),
        }
    };
    let s = "sz1/assembly/l1/wb-03";
    let mut rng = synth::Rng::new(seed);
    // A forged batch right after the first, with a seq no station could have reached:
    // logged and ignored for gap detection (no backfill asked for).
    let first = synth::bonds(&mut rng, 1, 50, 0.0);
    let s2 = "sz1/assembly/l1/wb-04";
    sv.on_message(&format!("{s2}/bonds"), &serde_json::to_vec(&first).unwrap());
    let forged = synth::bonds(&mut rng, 4_000_000_000, 1, 0.0);
    sv.on_message(
        &format!("{s2}/bonds"),
        &serde_json::to_vec(&forged).unwrap(),
    );
    let after = synth::bonds(&mut rng, 101, 1, 0.0);
    sv.on_message(&format!("{s2}/bonds"), &serde_json::to_vec(&after).unwrap());
    assert!(
        sv.db().commands(10).unwrap().is_empty(),
        "no backfill for a forged seq, and the real ones that follow are no gap"
    );
    // A station last heard two hours ago may well have made 450 050 bonds since.
    let mut first = synth::bonds(&mut rng, 1, 50, 0.0);
    let two_hours_ago = bonder_fleet::history::now_ms() - 2 * 3_600_000;
    for b in &mut first.bonds {
        b.ts =
            time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(two_hours_ago) * 1_000_000)
                .unwrap()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap();
    }
    sv.on_message(&format!("{s}/bonds"), &serde_json::to_vec(&first).unwrap());
    let hole = 2 * MAX_BACKFILL + 50_000;
    let later = synth::bonds(&mut rng, 101 + hole, 5, 0.0);
    sv.on_message(&format!("{s}/bonds"), &serde_json::to_vec(&later).unwrap());
    let mut asked: Vec<(String, String)> = sv
        .db()
        .commands(10)
        .unwrap()
        .into_iter()
        .map(|c| (c.kind, c.summary))
        .collect();
    asked.sort_by_key(|(_, s)| s.split("..").next().unwrap().parse::<u64>().unwrap());
    let m = MAX_BACKFILL;
    assert_eq!(
        asked,
        [
            (101, 100 + m),
            (101 + m, 100 + 2 * m),
            (101 + 2 * m, 100 + hole)
        ]
        .map(|(a, b)| ("backfill".to_string(), format!("{a}..={b}")))
    );
    sv.disconnect();
}

/// A station whose store was replaced starts again at seq 1 under a new epoch (contract
/// v2): its bonds are new, they count in the reports, and no backfill is asked for.
#[test]
fn a_replaced_station_store_keeps_flowing_into_the_reports() {
    let seed = 4;
    println!("seed {seed}");
    let dir = tempfile::tempdir().unwrap();
    let sv = Supervisor::open(&dir.path().join("h.sqlite")).unwrap();
    let s = "sz1/assembly/l1/wb-05";
    let mut rng = synth::Rng::new(seed);
    for (epoch, first) in [
        ("00aa00aa00aa00aa", 1),
        ("00aa00aa00aa00aa", 101),
        ("11bb11bb11bb11bb", 1),
    ] {
        let mut b = synth::bonds(&mut rng, first, 50, 0.0);
        b.v = 2;
        b.epoch = Some(epoch.into());
        sv.on_message(&format!("{s}/bonds"), &serde_json::to_vec(&b).unwrap());
    }
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
    assert_eq!(
        r.total.bonds, 300,
        "the new store's 100 bonds are not duplicates"
    );
    assert_eq!(
        sv.db().epochs(s).unwrap(),
        ["00aa00aa00aa00aa", "11bb11bb11bb11bb"]
    );
    assert_eq!(sv.db().max_seq(s, "00aa00aa00aa00aa").unwrap(), Some(200));
    // The span (gap detection) is the current epoch's.
    let span = sv.db().seq_span(s).unwrap().unwrap();
    assert_eq!(
        (span.first, span.last, span.count, span.missing()),
        (1, 100, 100, 0)
    );
}
