//! The station binary with its real SQLite store and a real mosquitto: store and
//! forward across `kill -9`, the last will, and `audit verify` on a hand-edited file.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use bonder_e2e::Mosquitto;
use bonder_store::{Actor, Role, Store};
use bondersim::{SimConfig, Simulator, WireRate};
use rumqttc::{AsyncClient, MqttOptions, QoS};
use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::sync::mpsc;

const STATION: &str = "sz1/assembly/l1/wb-09";

fn station(
    db: &std::path::Path,
    controller: std::net::SocketAddr,
    gateway: &str,
    home: &std::path::Path,
) -> Child {
    station_with(db, controller, gateway, home, &[])
}

fn station_with(
    db: &std::path::Path,
    controller: std::net::SocketAddr,
    gateway: &str,
    home: &std::path::Path,
    extra: &[&str],
) -> Child {
    Command::new(env!("CARGO_BIN_EXE_bonder-station"))
        .args(extra)
        .args(["--opcua-listen", "none"])
        .args([
            "--headless",
            "--log",
            "warn",
            "--station-id",
            STATION,
            "--gateway",
            gateway,
        ])
        .arg("--controller")
        .arg(controller.to_string())
        .arg("--db")
        .arg(db)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn subscriber(port: u16) -> mpsc::UnboundedReceiver<bonder_e2e::Received> {
    bonder_e2e::subscribe(port, "kill9-sub", &format!("{STATION}/#")).await
}

/// Reads until `pred` holds on the seqs seen (or panics after `secs`); returns the last
/// status state seen.
async fn collect_until(
    rx: &mut mpsc::UnboundedReceiver<bonder_e2e::Received>,
    seen: &mut BTreeSet<u64>,
    secs: u64,
    what: &str,
    pred: impl Fn(&BTreeSet<u64>, Option<&str>) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    let mut state: Option<String> = None;
    while !pred(seen, state.as_deref()) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some((t, v, _))) if t.ends_with("/bonds") => {
                for b in v["bonds"].as_array().unwrap() {
                    seen.insert(b["seq"].as_u64().unwrap());
                }
            }
            Ok(Some((t, v, _))) if t.ends_with("/status") => {
                state = v["state"].as_str().map(str::to_string)
            }
            Ok(Some(_)) => {}
            _ => panic!(
                "timed out waiting for {what}: {} seqs seen, max {:?}, status {state:?}",
                seen.len(),
                seen.last()
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_run_loses_no_seq_and_the_last_will_says_offline() {
    let broker = Mosquitto::start();
    let mut rx = subscriber(broker.port).await;
    let sim_cfg = SimConfig {
        wire_rate: WireRate::PerSecond(20.0),
        autostart: true,
        ..SimConfig::default()
    };
    println!("seed {}", sim_cfg.seed);
    let sim = Simulator::start(sim_cfg).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("station.sqlite");
    let mut seen = BTreeSet::new();

    let mut child = station(&db, sim.modbus_addr, &broker.url(), dir.path());
    collect_until(
        &mut rx,
        &mut seen,
        30,
        "bonds from the first run",
        |s, _| s.len() >= 120,
    )
    .await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    collect_until(&mut rx, &mut seen, 20, "the last will", |_, st| {
        st == Some("offline")
    })
    .await;
    let before = *seen.last().unwrap();

    let mut child = station(&db, sim.modbus_addr, &broker.url(), dir.path());
    collect_until(&mut rx, &mut seen, 30, "bonds after the restart", |s, _| {
        // Live bonds may arrive before the backlog: wait until nothing is missing.
        s.last()
            .is_some_and(|&m| m >= before + 120 && s.len() as u64 == m)
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();

    let max = *seen.last().unwrap();
    bonder_e2e::assert_no_gap(&seen);
    // What the subscriber saw is what the store holds.
    let store = Store::open(&db).unwrap();
    assert!(store.reader().unwrap().max_bond_seq().unwrap().unwrap() >= max);
    sim.shutdown().await;
}

#[test]
fn audit_verify_names_the_first_hand_edited_row() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("station.sqlite");
    {
        let store = Store::open(&db).unwrap();
        let eng = Actor::new("E7", Role::Engineer);
        let repo = store.recipes();
        repo.create(
            &bonder_core::recipe::Recipe::default_au(),
            &eng,
            "new device",
        )
        .unwrap();
        let mut r = repo.get("SOT23-AU25", 1).unwrap();
        r.ball.force_gf.0 = 31.0;
        repo.edit(1, &r, &eng, "NSOP trend").unwrap();
        repo.release("SOT23-AU25", 2, &eng, "first article passed")
            .unwrap();
    }
    let verify = || {
        Command::new(env!("CARGO_BIN_EXE_bonder-station"))
            .args(["audit", "verify", "--db"])
            .arg(&db)
            .env("HOME", dir.path())
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .output()
            .unwrap()
    };
    let ok = verify();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&ok.stdout).trim(),
        "audit trail intact: 3 rows"
    );

    // Someone edits the reason of row 2 by hand (dropping the append-only triggers).
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute_batch(
        "DROP TRIGGER audit_no_update; UPDATE audit SET reason = 'all fine' WHERE id = 2;",
    )
    .unwrap();
    drop(c);
    let bad = verify();
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("row 2"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_recipe_becomes_a_draft_and_bad_commands_change_nothing() {
    let broker = Mosquitto::start();
    let mut rx = subscriber(broker.port).await;
    let sim_cfg = SimConfig {
        autostart: true,
        ..SimConfig::default()
    };
    println!("seed {}", sim_cfg.seed);
    let sim = Simulator::start(sim_cfg).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("station.sqlite");
    // Version-1 commands: the migration switch (signed ones: signed_commands.rs).
    let mut child = station_with(
        &db,
        sim.modbus_addr,
        &broker.url(),
        dir.path(),
        &["--accept-unsigned"],
    );
    let mut seen = BTreeSet::new();
    collect_until(&mut rx, &mut seen, 30, "the station online", |s, _| {
        !s.is_empty()
    })
    .await;

    let (mes, mut ev) = AsyncClient::new(MqttOptions::new("mes", "127.0.0.1", broker.port), 10);
    tokio::spawn(async move { while ev.poll().await.is_ok() {} });
    let topic = format!("{STATION}/cmd/recipe");
    let cu = bonder_core::recipe::Recipe::default_cu();
    let mut bad = cu.clone();
    bad.forming_gas_l_min.0 = 12.5;
    let cases = [
        (
            format!(r#"{{"v":1,"request_id":"ok-1","recipe":{}}}"#, cu.to_json()),
            true,
            "",
        ),
        (
            "{broken".to_string(),
            false,
            "unsigned: not a JWS (malformed JSON",
        ),
        (
            format!(r#"{{"v":3,"request_id":"v-3","recipe":{}}}"#, cu.to_json()),
            false,
            "unsigned: not a JWS",
        ),
        (
            format!(
                r#"{{"v":1,"request_id":"bad-1","recipe":{}}}"#,
                bad.to_json()
            ),
            false,
            "forming_gas_l_min 12.5 is outside 0..10",
        ),
    ];
    for (payload, ok, needle) in cases {
        mes.publish(&topic, QoS::AtLeastOnce, false, payload)
            .await
            .unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        let res = loop {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some((t, v, _))) if t.ends_with("/cmd/result") => break v,
                Ok(Some(_)) => {}
                _ => panic!("no cmd/result"),
            }
        };
        assert_eq!(res["ok"].as_bool(), Some(ok), "{res}");
        assert!(
            res["error"].as_str().unwrap_or("").contains(needle),
            "{res}"
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Exactly one new recipe: the valid one, as a draft awaiting release.
    let store = Store::open(&db).unwrap();
    let versions = store.recipes().versions("SOT23-CU20").unwrap();
    assert_eq!(versions.len(), 1, "{versions:?}");
    assert!(
        store
            .recipes()
            .sendable("SOT23-CU20", versions[0].version)
            .is_err(),
        "a draft cannot be sent"
    );
    // The library holds the recipe the station runs (seeded at start) and the draft.
    assert_eq!(
        store.recipes().names().unwrap(),
        vec!["SOT23-AU25".to_string(), "SOT23-CU20".to_string()]
    );
    sim.shutdown().await;
}

#[test]
fn every_export_header_is_translated() {
    for key in bonder_store::EXPORT_KEYS {
        for lang in bonder_i18n::Lang::ALL {
            assert!(
                bonder_i18n::has_key(lang, key),
                "{key} missing in {}",
                lang.code()
            );
        }
    }
}

#[test]
fn exports_have_localized_headers() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("station.sqlite");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_bonder-station"))
            .args(args)
            .arg("--db")
            .arg(&db)
            .env("HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // A short run against the built-in simulator fills the store (its own broker port
    // may be taken by another test: the gateway is not needed here).
    run(&[
        "--headless",
        "--opcua-listen",
        "none",
        "--simulate",
        "--for-seconds",
        "3",
        "--log",
        "error",
        "--gateway",
        "mqtt://127.0.0.1:9",
    ]);
    let csv = dir.path().join("bonds.csv");
    run(&[
        "export",
        "bonds",
        "--lang",
        "zh-CN",
        "--out",
        csv.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&csv).unwrap();
    let header = text.lines().next().unwrap();
    assert!(
        header.contains("序号") && header.contains("判定"),
        "{header}"
    );
    assert!(
        text.lines().count() > 20,
        "bonds exported: {}",
        text.lines().count()
    );
    let report = dir.path().join("shift.csv");
    run(&[
        "export",
        "shift",
        "--lang",
        "en-US",
        "--out",
        report.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(
        text.contains("Yield (%)") && text.contains("OEE (%)"),
        "{text}"
    );
    let xlsx = dir.path().join("shift.xlsx");
    run(&[
        "export",
        "shift",
        "--lang",
        "zh-CN",
        "--out",
        xlsx.to_str().unwrap(),
    ]);
    assert_eq!(
        &std::fs::read(&xlsx).unwrap()[..2],
        b"PK",
        "an xlsx is a zip"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_down_10_s_while_the_simulator_bonds_loses_no_seq() {
    let mut broker = Mosquitto::start();
    let mut rx = subscriber(broker.port).await;
    let sim_cfg = SimConfig {
        wire_rate: WireRate::PerSecond(20.0),
        autostart: true,
        ..SimConfig::default()
    };
    println!("seed {}", sim_cfg.seed);
    let sim = Simulator::start(sim_cfg).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("station.sqlite");
    let mut child = station(&db, sim.modbus_addr, &broker.url(), dir.path());
    let mut seen = BTreeSet::new();
    collect_until(&mut rx, &mut seen, 30, "bonds before the outage", |s, _| {
        s.len() >= 40
    })
    .await;
    broker.stop();
    // Deliberate: an outage of a given length (the assertion below counts ~10 s of
    // bonds stored meanwhile), so time, not state, is what is tested.
    tokio::time::sleep(Duration::from_secs(10)).await;
    broker.restart();
    let during = Store::open(&db)
        .unwrap()
        .reader()
        .unwrap()
        .max_bond_seq()
        .unwrap()
        .unwrap();
    collect_until(
        &mut rx,
        &mut seen,
        40,
        "the backlog and live bonds after the outage",
        // Live bonds may arrive before the backlog: wait until nothing is missing.
        |s, _| {
            s.last()
                .is_some_and(|&m| m >= during + 40 && s.len() as u64 == m)
        },
    )
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    bonder_e2e::assert_no_gap(&seen);
    assert!(
        during > 40 + 300,
        "the outage lasted ~10 s at 40 bonds/s: store at {during}"
    );
    sim.shutdown().await;
}
