//! Process health through the real station: bondersim at `--wires-per-s max` with a
//! failing ultrasonic generator (and its ground truth file), the bench tester exporting
//! into the station's watched folder, a real mosquitto with a plant subscriber on
//! `{S}/health`. The station's analytics must raise alarm 910 (in its SQLite store) and
//! publish a `drift` on the US energy, falling, the ultrasonic output ranked first, both
//! languages, at the controller time of a bond the simulator made after the drift began.
//!
//! The full-length lead-time runs (8 h of production ahead of the yield, every cause, a
//! stable week) are `cargo test -p bondersim --test early_warning` — the same monitor on
//! the same bond model, at a speed CI can afford (a debug station takes ≈ 3 700 wires/s).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use bonder_e2e::Mosquitto;
use bonder_e2e::procs::{self, Proc};
use bondersim::{SimConfig, Simulator, WireRate};
use rusqlite::Connection;
use std::io::BufRead;
use std::path::Path;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_bonder-station");
const STATION: &str = "sz1/assembly/l1/wb-16";
/// The generator starts failing at this wire.
const START: u64 = 5_000;

/// A simulator with a scenario and its truth file, the bench tester exporting into the
/// station's watched folder, a headless station on a real mosquitto, and a plant
/// subscriber on `{S}/health`.
struct Rig {
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
    truth: std::path::PathBuf,
    rt: tokio::runtime::Runtime,
    _broker: Mosquitto,
    plant: tokio::sync::mpsc::UnboundedReceiver<bonder_e2e::Received>,
    sim: Simulator,
    station: Proc,
}

impl Rig {
    fn start(scenario: &str, rate: WireRate, every_units: u32, seed: u64, client: &str) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path();
        let db = home.join("station.sqlite");
        let truth = home.join("truth.jsonl");
        let watched = home.join("pull-tests");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let broker = Mosquitto::start();
        let plant = rt.block_on(bonder_e2e::subscribe(
            broker.port,
            client,
            &format!("{STATION}/health"),
        ));
        let sim = rt
            .block_on(Simulator::start(SimConfig {
                autostart: true,
                wire_rate: rate,
                camera: None,
                seed,
                scenarios: vec![scenario.parse().unwrap()],
                truth: Some(truth.clone()),
                pull_tests: Some(bondersim::pull_tester::PullTests {
                    dir: watched.clone(),
                    every_units,
                }),
                ..SimConfig::default()
            }))
            .unwrap();
        procs::add_user(Path::new(BIN), home, &db, "A1", "admin", "admin-password-1");
        let mut c =
            procs::headless_station(Path::new(BIN), home, &db, &sim.modbus_addr.to_string());
        // `--gateway` after the helper's embedded broker: the real one wins.
        c.args(["--opcua-listen", "none", "--gateway", &broker.url()])
            .arg("--pull-tests-dir")
            .arg(&watched);
        let station = Proc::spawn(c);
        Rig {
            _dir: dir,
            db,
            truth,
            rt,
            _broker: broker,
            plant,
            sim,
            station,
        }
    }
}

/// The truth file's wires in order, up to a torn last line.
fn truth_lines(path: &Path) -> impl Iterator<Item = serde_json::Value> {
    std::io::BufReader::new(std::fs::File::open(path).unwrap())
        .lines()
        .map_while(Result::ok)
        .map_while(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
}

#[test]
fn a_failing_generator_raises_910_and_health_names_the_ultrasonic_output() {
    let mut rig = Rig::start(
        &format!("us-drift:start={START},pct_per_100k=60"),
        WireRate::Max,
        20,
        17,
        "plant-health",
    );
    let plant = &mut rig.plant;
    let drift = rig.rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(240), async {
            loop {
                let (topic, v, retained) = plant.recv().await.expect("subscriber");
                assert_eq!(topic, format!("{STATION}/health"));
                assert!(!retained, "health is not retained");
                if v["kind"] == "drift" {
                    return v;
                }
            }
        })
        .await
        .expect("a drift warning on {S}/health within 240 s")
    });
    println!("{STATION}/health: {drift}");
    assert_eq!(drift["v"], 1);
    assert_eq!(drift["feature"], "ball_us_energy_mj");
    assert_eq!(drift["direction"], "down");
    assert_eq!(drift["causes"][0]["cause"], "ultrasonic_output", "{drift}");
    let weights: Vec<f64> = drift["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["weight"].as_f64().unwrap())
        .collect();
    assert!(
        weights.windows(2).all(|w| w[0] >= w[1]),
        "sorted: {weights:?}"
    );
    assert!((weights.iter().sum::<f64>() - 1.0).abs() < 0.01);
    assert!(drift["eta_wires"].is_null());
    let en = drift["text_en"].as_str().unwrap();
    let zh = drift["text_zh"].as_str().unwrap();
    assert!(
        en.contains("ball US energy") && en.contains("ultrasonic output"),
        "{en}"
    );
    assert!(zh.contains("超声能量") && zh.contains("超声输出"), "{zh}");
    // The alarm is in the store, raised.
    procs::poll("alarm 910 stored", 30, || {
        Connection::open(&rig.db)
            .ok()?
            .query_row("SELECT COUNT(*) FROM alarms WHERE code = 910", [], |r| {
                r.get::<_, i64>(0)
            })
            .ok()
            .filter(|n| *n >= 1)
    });
    rig.station.kill();
    let Rig {
        rt,
        sim,
        truth,
        _dir,
        ..
    } = rig;
    rt.block_on(sim.shutdown());

    // `at_time_us` is the controller time of a ball bond the simulator made, after the
    // generator began to fail, and before the truth's yield had moved.
    let at = drift["at_time_us"].as_u64().unwrap();
    let mut index = None;
    for (i, v) in truth_lines(&truth).enumerate() {
        if v["time_us"].as_u64() == Some(at) {
            index = Some(i as u64);
            assert!(
                v["causes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|c| c == "ultrasonic_output"),
                "{v}"
            );
            break;
        }
    }
    let index = index.unwrap_or_else(|| panic!("no wire of the truth at {at} µs"));
    println!(
        "drift raised at wire {index} ({} wires after the generator began to fail)",
        index - START
    );
    assert!(index > START, "{index}");
}

/// The lead time through the real station at full length: a failing generator (5 % per
/// 100 000 wires from wire 50 000) paced at 2 000 wires/s (100 × a production bonder; at
/// `max` the store's writer — every bond and every wire's prediction — falls behind, the
/// station raises 902 and stops the machine, as it must) against a headless station with
/// the bench tester feeding its strength models, until the truth's rolling yield (20 000
/// wires) has fallen under 98 %; the first `{S}/health` warning must come 8 hours of
/// production at 20 wires/s (576 000 wires) before, the ultrasonic output first. Long
/// (≈ 1 M wires): `cargo test --release -p bonder-station --test process_health --
/// --ignored --nocapture` (≈ 5 minutes).
#[test]
#[ignore]
fn lead_time_through_the_station() {
    let mut rig = Rig::start(
        "us-drift:start=50000,pct_per_100k=5",
        WireRate::PerSecond(2000.0),
        50,
        5,
        "plant-lead",
    );
    let t0 = std::time::Instant::now();
    let end_wires = 1_000_000u64;
    let mut warnings = Vec::new();
    while rig
        .sim
        .stats()
        .wires
        .load(std::sync::atomic::Ordering::Relaxed)
        < end_wires
    {
        std::thread::sleep(Duration::from_millis(500));
        while let Ok((_, v, _)) = rig.plant.try_recv() {
            warnings.push(v);
        }
        assert!(t0.elapsed() < Duration::from_secs(1800), "too slow");
    }
    let secs = t0.elapsed().as_secs_f64();
    rig.station.kill();
    let Rig {
        rt,
        sim,
        truth,
        mut plant,
        _dir,
        ..
    } = rig;
    rt.block_on(sim.shutdown());
    while let Ok((_, v, _)) = plant.try_recv() {
        warnings.push(v);
    }
    println!(
        "{end_wires} wires in {secs:.0} s ({:.0} wires/s, {:.0} bonds/s, analytics and predictions on)",
        end_wires as f64 / secs,
        2.0 * end_wires as f64 / secs
    );
    let first = warnings
        .iter()
        .find(|w| w["kind"] != "cleared")
        .unwrap_or_else(|| panic!("no warning: {warnings:?}"))
        .clone();
    // The truth: index of the first warning's wire and of the yield's fall.
    let at = first["at_time_us"].as_u64().unwrap();
    let mut window = std::collections::VecDeque::with_capacity(20_001);
    let (mut good, mut warned_at, mut drop_at) = (0u32, None, None);
    for (i, v) in truth_lines(&truth).enumerate() {
        if warned_at.is_none() && v["time_us"].as_u64() >= Some(at) {
            warned_at = Some(i as u64);
        }
        let ok = v["in_spec"] == true;
        window.push_back(ok);
        good += u32::from(ok);
        if window.len() > 20_000 {
            good -= u32::from(window.pop_front().unwrap_or(false));
        }
        if window.len() == 20_000 && good < 19_600 {
            drop_at = Some(i as u64);
            break;
        }
    }
    let (warned, drop) = (warned_at.unwrap(), drop_at.expect("the yield fell"));
    println!(
        "first warning {} on {} at wire {warned} (cause {}), yield under 98 % at wire {drop}: \
         lead {} wires = {:.1} h at 20 wires/s; warnings: {}",
        first["kind"],
        first["feature"],
        first["causes"][0]["cause"],
        drop - warned,
        (drop - warned) as f64 / 72_000.0,
        warnings.len()
    );
    assert_eq!(first["causes"][0]["cause"], "ultrasonic_output", "{first}");
    assert!(drop >= warned + 576_000, "lead {}", drop - warned);
}
