//! The fault soak (`scripts/fault-soak.sh [MINUTES]` runs it; ignored in the normal
//! test run): the simulator at 20 wires/s, a real mosquitto, the station binary, and the
//! fault proxy on all three of its connections (stream, Modbus, broker). For the given
//! minutes (`SOAK_MINUTES`, default 10) a seeded random schedule (`SOAK_SEED`) of
//! faults — stream blackhole, Modbus reset, broker down, station `kill -9` — runs with
//! quiet spells in between. At the end it checks and prints:
//!
//! * bonds the simulator made vs bonds in the store vs bonds a plant subscriber saw:
//!   every bond stored reached the plant; every bond lost happened inside a fault's
//!   window (made between the fault and the station's recovery), and none twice;
//! * per fault kind: count, detection and recovery times (median, max), alarms 901
//!   raised/cleared;
//! * the station's RSS over the soak.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use bonder_e2e::Mosquitto;
use bonder_testkit::fault_proxy::{Fault, FaultProxy};
use bondersim::{SimConfig, Simulator, WireRate};
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const STATION: &str = "sz1/assembly/l1/wb-99";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    StreamBlackhole,
    ModbusReset,
    BrokerDown,
    Kill9,
}

impl Kind {
    const ALL: [Kind; 4] = [
        Kind::StreamBlackhole,
        Kind::ModbusReset,
        Kind::BrokerDown,
        Kind::Kill9,
    ];
    fn name(self) -> &'static str {
        match self {
            Kind::StreamBlackhole => "stream blackhole",
            Kind::ModbusReset => "Modbus reset",
            Kind::BrokerDown => "broker down",
            Kind::Kill9 => "station kill -9",
        }
    }
}

#[derive(Debug)]
struct Outcome {
    kind: Kind,
    t0: Instant,
    /// Fault start → the station showed it noticed (901 up; gateway down).
    detected: Option<Duration>,
    /// Fault lifted → bonds reach the plant again.
    recovered: Duration,
    /// Bonds the simulator made between the fault's start and the recovery.
    window_bonds: u64,
    alarms_901: (u32, u32),
}

/// What the plant subscriber has seen.
#[derive(Debug, Default)]
struct Seen {
    bonds: BTreeSet<u64>,
    /// 901 raised / cleared, with when.
    alarm_901: Vec<(Instant, bool)>,
}

/// The station's latest headless status line, parsed to key=value.
#[derive(Debug, Default)]
struct Line {
    fields: BTreeMap<String, String>,
}

struct StationProc {
    child: Child,
    line: Arc<Mutex<Line>>,
}

fn spawn_station(
    dir: &Path,
    modbus: &FaultProxy,
    stream: &FaultProxy,
    broker: &FaultProxy,
) -> StationProc {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bonder-station"))
        .args([
            "--headless",
            "--opcua-listen",
            "none",
            "--log",
            "warn",
            "--station-id",
            STATION,
            "--camera",
            "none",
        ])
        .arg("--controller")
        .arg(modbus.addr().to_string())
        .arg("--stream")
        .arg(format!("tcp://{}", stream.addr()))
        .arg("--gateway")
        .arg(format!("mqtt://{}", broker.addr()))
        .arg("--db")
        .arg(dir.join("station.sqlite"))
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let line = Arc::new(Mutex::new(Line::default()));
    let l = line.clone();
    std::thread::spawn(move || {
        for text in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            let fields = text
                .split_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            l.lock().unwrap().fields = fields;
        }
    });
    StationProc { child, line }
}

impl StationProc {
    fn field(&self, k: &str) -> Option<String> {
        self.line.lock().unwrap().fields.get(k).cloned()
    }
    fn rss_kb(&self) -> Option<u64> {
        let st = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        st.lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }
    fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// The highest bond seq in the store file.
fn max_stored(db: &Path) -> u64 {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap();
    c.query_row("SELECT COALESCE(MAX(seq), 0) FROM bonds", [], |r| {
        r.get::<_, i64>(0)
    })
    .map(|s| u64::try_from(s).unwrap())
    .unwrap()
}

fn median(v: &mut [Duration]) -> Option<Duration> {
    v.sort();
    v.get(v.len() / 2).copied()
}

fn ms(d: Option<Duration>) -> String {
    d.map_or("-".into(), |d| format!("{:.0}", d.as_secs_f64() * 1000.0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a soak of minutes: scripts/fault-soak.sh runs it"]
async fn fault_soak() {
    let minutes: f64 = std::env::var("SOAK_MINUTES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(10.0);
    let seed: u64 = std::env::var("SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    println!("fault soak: {minutes} min, seed {seed}, 20 wires/s");
    let mosquitto = Mosquitto::start();
    let sim = Simulator::start(SimConfig {
        wire_rate: WireRate::PerSecond(20.0),
        autostart: true,
        seed,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let stream = FaultProxy::start(sim.stream_addr.unwrap()).await.unwrap();
    let modbus = FaultProxy::start(sim.modbus_addr).await.unwrap();
    let broker = FaultProxy::start(format!("127.0.0.1:{}", mosquitto.port).parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();

    let seen = Arc::new(Mutex::new(Seen::default()));
    {
        let mut rx =
            bonder_e2e::subscribe(mosquitto.port, "soak-plant", &format!("{STATION}/#")).await;
        let seen = seen.clone();
        tokio::spawn(async move {
            while let Some((topic, v, _)) = rx.recv().await {
                let mut s = seen.lock().unwrap();
                if topic.ends_with("/bonds") {
                    for b in v["bonds"].as_array().into_iter().flatten() {
                        if let Some(q) = b["seq"].as_u64() {
                            s.bonds.insert(q);
                        }
                    }
                } else if topic.ends_with("/alarms") && v["code"] == 901 {
                    s.alarm_901.push((Instant::now(), v["raised"] == true));
                }
            }
        });
    }
    let max_seen = || seen.lock().unwrap().bonds.last().copied().unwrap_or(0);
    let made = || sim.stats().bonds.load(Ordering::Relaxed);

    let mut station = spawn_station(dir.path(), &modbus, &stream, &broker);
    let started = Instant::now();
    let end = started + Duration::from_secs_f64(minutes * 60.0);
    bonder_e2e::wait_until("first bonds at the plant", Duration::from_secs(60), || {
        max_seen() > 50
    })
    .await;

    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut rss: Vec<(Duration, u64)> = Vec::new();
    // Waits for bonds at the plant past `mark`; samples RSS meanwhile.
    async fn until_bonds_past(mark: u64, max_seen: &dyn Fn() -> u64, limit: Duration) -> Duration {
        let t = Instant::now();
        while max_seen() <= mark {
            assert!(
                t.elapsed() < limit,
                "no bonds at the plant past {mark} within {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        t.elapsed()
    }
    while Instant::now() < end {
        // A quiet spell, sampling RSS.
        let quiet = Duration::from_secs(rng.random_range(20..=40));
        let q0 = Instant::now();
        while q0.elapsed() < quiet && Instant::now() < end {
            if let Some(kb) = station.rss_kb() {
                rss.push((started.elapsed(), kb));
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        if Instant::now() >= end {
            break;
        }
        let kind = Kind::ALL[rng.random_range(0..Kind::ALL.len())];
        let t0 = Instant::now();
        let b0 = made();
        let alarms_before = seen.lock().unwrap().alarm_901.len();
        let stream_conns = stream.accepted();
        let mut detected = None;
        let lift;
        // Recovered: the plant sees a bond past this (default: the newest seen at the
        // lift; for a kill, the newest stored, so only the new run's bonds count).
        let mut past: Option<u64> = None;
        match kind {
            Kind::StreamBlackhole => {
                let hold = Duration::from_secs(rng.random_range(5..=15));
                stream.set(Fault::Blackhole);
                while t0.elapsed() < hold {
                    if detected.is_none()
                        && seen.lock().unwrap().alarm_901[alarms_before..]
                            .iter()
                            .any(|(_, r)| *r)
                    {
                        detected = Some(t0.elapsed());
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                stream.set(Fault::Pass);
                lift = Instant::now();
            }
            Kind::ModbusReset => {
                modbus.reset_all();
                lift = Instant::now();
            }
            Kind::BrokerDown => {
                let hold = Duration::from_secs(rng.random_range(10..=30));
                broker.set(Fault::Blackhole);
                while t0.elapsed() < hold {
                    if detected.is_none() && station.field("gateway").as_deref() == Some("down") {
                        detected = Some(t0.elapsed());
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                broker.set(Fault::Pass);
                // The half-open old connections are dropped: the station's MQTT
                // keep-alive has given up on them by now, or does so shortly.
                broker.reset_all();
                lift = Instant::now();
            }
            Kind::Kill9 => {
                station.kill9();
                past = Some(max_stored(&dir.path().join("station.sqlite")));
                tokio::time::sleep(Duration::from_secs(rng.random_range(2..=5))).await;
                station = spawn_station(dir.path(), &modbus, &stream, &broker);
                lift = Instant::now();
            }
        }
        if kind == Kind::ModbusReset {
            // Recovered when the new Modbus session has reopened the stream.
            let t = Instant::now();
            while stream.accepted() <= stream_conns {
                assert!(
                    t.elapsed() < Duration::from_secs(30),
                    "stream not reopened after a Modbus reset"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        let mark = past.unwrap_or_else(max_seen);
        until_bonds_past(mark, &max_seen, Duration::from_secs(90)).await;
        let recovered = lift.elapsed();
        // Bonds made from the fault's start until the plant saw new ones: the window.
        let window_bonds = made() - b0;
        println!(
            "t={:>5.0}s {:<17} detected={:>6} ms recovered={:>6} ms window_bonds={window_bonds}",
            started.elapsed().as_secs_f64(),
            kind.name(),
            ms(detected),
            ms(Some(recovered)),
        );
        outcomes.push(Outcome {
            kind,
            t0,
            detected,
            recovered,
            window_bonds,
            alarms_901: (0, 0),
        });
    }

    // The end: the machine stops, everything stored reaches the plant.
    sim.command(bonder_core::state::Command::Stop).unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let made_total = made();
    let db = dir.path().join("station.sqlite");
    let stored = || -> BTreeSet<u64> {
        let c =
            rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .unwrap();
        c.prepare("SELECT seq FROM bonds")
            .unwrap()
            .query_map([], |r| r.get::<_, i64>(0))
            .unwrap()
            .map(|s| u64::try_from(s.unwrap()).unwrap())
            .collect()
    };
    bonder_e2e::wait_until(
        "the plant has every stored bond",
        Duration::from_secs(120),
        || {
            let st = stored();
            let s = seen.lock().unwrap();
            st.is_subset(&s.bonds)
        },
    )
    .await;
    let line = station.line.lock().unwrap().fields.clone();
    station.kill9();
    let in_store = stored();
    let seen_total = seen.lock().unwrap().bonds.len() as u64;
    let dup_wires: u64 = {
        let c =
            rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .unwrap();
        c.query_row(
            "SELECT COUNT(*) FROM (SELECT unit, wire, kind FROM bonds GROUP BY unit, wire, kind HAVING COUNT(*) > 1)",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| u64::try_from(n).unwrap())
        .unwrap()
    };
    let lost = made_total.saturating_sub(in_store.len() as u64);
    // Each 901 event belongs to the fault that preceded it.
    for (at, raised) in seen.lock().unwrap().alarm_901.clone() {
        if let Some(o) = outcomes.iter_mut().rev().find(|o| o.t0 <= at) {
            if raised {
                o.alarms_901.0 += 1;
            } else {
                o.alarms_901.1 += 1;
            }
        }
    }
    let explained: u64 = outcomes.iter().map(|o| o.window_bonds).sum();

    println!();
    println!(
        "| fault | count | detected median / max (ms) | recovered median / max (ms) | bonds in windows | 901 raised / cleared |"
    );
    println!("|---|---|---|---|---|---|");
    for k in Kind::ALL {
        let of: Vec<&Outcome> = outcomes.iter().filter(|o| o.kind == k).collect();
        let mut det: Vec<Duration> = of.iter().filter_map(|o| o.detected).collect();
        let mut rec: Vec<Duration> = of.iter().map(|o| o.recovered).collect();
        println!(
            "| {} | {} | {} / {} | {} / {} | {} | {} / {} |",
            k.name(),
            of.len(),
            ms(median(&mut det)),
            ms(det.iter().max().copied()),
            ms(median(&mut rec)),
            ms(rec.iter().max().copied()),
            of.iter().map(|o| o.window_bonds).sum::<u64>(),
            of.iter().map(|o| o.alarms_901.0).sum::<u32>(),
            of.iter().map(|o| o.alarms_901.1).sum::<u32>(),
        );
    }
    let peak = rss.iter().map(|(_, kb)| *kb).max().unwrap_or(0);
    let first = rss.first().map_or(0, |(_, kb)| *kb);
    let last = rss.last().map_or(0, |(_, kb)| *kb);
    println!();
    println!("bonds made by the simulator: {made_total}");
    println!("bonds in the store:          {}", in_store.len());
    println!("bonds the plant saw:         {seen_total}");
    println!(
        "lost: {lost}; made inside fault windows: {explained}; duplicated wires in the store: {dup_wires}"
    );
    println!(
        "station's last run: lost_frames={} replayed={} deadlines={}",
        line.get("lost").cloned().unwrap_or_default(),
        line.get("replayed").cloned().unwrap_or_default(),
        line.get("deadlines").cloned().unwrap_or_default()
    );
    println!(
        "station RSS: first {first} kB, last {last} kB, peak {peak} kB ({} samples)",
        rss.len()
    );
    assert!(
        seen_total >= in_store.len() as u64,
        "every stored bond reached the plant"
    );
    assert!(
        lost <= explained,
        "{lost} bonds lost, only {explained} made inside fault windows"
    );
    assert_eq!(dup_wires, 0, "a bond recorded twice");
    let raised: u32 = outcomes.iter().map(|o| o.alarms_901.0).sum();
    let cleared: u32 = outcomes.iter().map(|o| o.alarms_901.1).sum();
    assert_eq!(raised, cleared, "every 901 raised was cleared");
    for o in outcomes.iter().filter(|o| o.kind == Kind::StreamBlackhole) {
        assert!(
            o.detected.is_some(),
            "a blackhole of 5 s or more raises 901: {o:?}"
        );
    }
    sim.shutdown().await;
}
