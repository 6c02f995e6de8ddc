//! The disk guard on a real full file system: the station binary's store on a 16 MiB
//! tmpfs of its own (a user + mount namespace made by `unshare`, so no root is needed),
//! bonding against the simulator at 20 wires/s with a real mosquitto. The test fills
//! that file system from outside (through `/proc/<pid>/root`) while the station bonds:
//!
//! 1. under the free-space floor (`[storage] min_free_mb = 4`): alarm 902, the machine
//!    stopped, a start at the machine itself stopped again;
//! 2. completely: commits fail (SQLITE_FULL) — still 902, still interlocked;
//! 3. space back: 902 clears, start works, bonds flow again.
//!
//! At the end every bond the station published (published = committed: `{S}/bonds` is
//! fed from the store) is in the file, and the file's bonds have no gap: what was held
//! in memory while the disk was full was committed when space came back.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use bonder_core::state::{Command as MachineCommand, MachineState};
use bonder_e2e::Mosquitto;
use bondersim::{SimConfig, Simulator, WireRate};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const STATION: &str = "sz1/assembly/l1/wb-31";

/// The shell that mounts the tmpfs and runs the station as its child; when the station
/// ends (`kill -9` included) it copies the store's files to `fs/../after/` (the tmpfs
/// goes with the namespace). Killed when the test ends (or fails).
struct Station(Child);

impl Station {
    /// `kill -9` of the station itself; waits for the shell's copy.
    fn kill9(&mut self) {
        let children = format!("/proc/{0}/task/{0}/children", self.0.id());
        let pids = std::fs::read_to_string(children).unwrap_or_default();
        for pid in pids.split_whitespace() {
            let _ = Command::new("kill").args(["-9", pid]).status();
        }
        let _ = self.0.wait();
    }
}

impl Drop for Station {
    fn drop(&mut self) {
        self.kill9();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The station on its own 16 MiB tmpfs at `fs` (db `fs/station.sqlite`).
fn station_on_small_fs(dir: &Path, fs: &Path, sim: &Simulator, broker: &str) -> Station {
    let config = dir.join("station.toml");
    std::fs::write(&config, "[storage]\nmin_free_mb = 4\n").unwrap();
    let mut c = Command::new("unshare");
    c.args(["--user", "--map-root-user", "--mount", "sh", "-c"])
        .arg(
            r#"mount -t tmpfs -o size=16m tmpfs "$0" || exit 97
"$@"
code=$?
mkdir -p "$0/../after" && cp "$0"/station.sqlite* "$0/../after/"
exit $code"#,
        )
        .arg(fs)
        .arg(env!("CARGO_BIN_EXE_bonder-station"))
        .args([
            "--headless",
            "--opcua-listen",
            "none",
            "--log",
            "warn,bonder_store=info,bonder_station=info",
        ])
        .args([
            "--station-id",
            STATION,
            "--gateway",
            broker,
            "--camera",
            "none",
        ])
        .arg("--config")
        .arg(&config)
        .arg("--controller")
        .arg(sim.modbus_addr.to_string())
        .arg("--db")
        .arg(fs.join("station.sqlite"))
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    Station(
        c.spawn()
            .expect("unshare (util-linux) runs the station in a mount namespace of its own"),
    )
}

/// The station's view of a path (its mount namespace, where the tmpfs is).
fn inside(station: &Station, p: &Path) -> PathBuf {
    PathBuf::from(format!("/proc/{}/root", station.0.id())).join(p.strip_prefix("/").unwrap())
}

/// Writes zeros to `file` until only `leave` bytes are free on its file system (or it
/// is full), returns the bytes written.
fn fill(file: &Path, leave: u64) -> u64 {
    let dir = file.parent().unwrap();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .unwrap();
    let chunk = vec![0u8; 64 * 1024];
    let mut written = 0;
    loop {
        let free = bonder_store::free_bytes(dir).unwrap();
        if free <= leave {
            break;
        }
        let n = usize::try_from((free - leave).min(chunk.len() as u64)).unwrap();
        match f.write(&chunk[..n]) {
            Ok(0) => break,
            Ok(k) => written += k as u64,
            Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
            Err(e) => panic!("filling {}: {e}", file.display()),
        }
    }
    f.sync_all().ok();
    written
}

struct Plant {
    rx: tokio::sync::mpsc::UnboundedReceiver<bonder_e2e::Received>,
    bonds: BTreeSet<u64>,
    alarm: Option<u64>,
}

impl Plant {
    /// Reads what came until `cond` holds (on the latest status alarm) or `secs` pass.
    async fn until(&mut self, secs: u64, what: &str, cond: impl Fn(&Plant) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        while !cond(self) {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some((t, v, _))) => self.take(&t, &v),
                Ok(None) => panic!("subscriber gone"),
                Err(_) => panic!("no {what} within {secs} s (status alarm {:?})", self.alarm),
            }
        }
    }

    fn take(&mut self, topic: &str, v: &Value) {
        if topic == format!("{STATION}/bonds") {
            for b in v["bonds"].as_array().into_iter().flatten() {
                self.bonds.insert(b["seq"].as_u64().unwrap());
            }
        } else if topic == format!("{STATION}/status") && v["state"] != "offline" {
            self.alarm = v["alarm"].as_u64();
        }
    }
}

async fn wait_state(sim: &Simulator, secs: u64, what: &str, ok: impl Fn(MachineState) -> bool) {
    bonder_e2e::wait_until(what, Duration::from_secs(secs), || ok(sim.state())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_raises_902_interlocks_production_and_loses_nothing() {
    let broker = Mosquitto::start();
    let sim = Simulator::start(SimConfig {
        wire_rate: WireRate::PerSecond(20.0),
        autostart: true,
        seed: 31,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fs = dir.path().join("fs");
    std::fs::create_dir_all(&fs).unwrap();
    let rx = bonder_e2e::subscribe(broker.port, "plant-disk", &format!("{STATION}/#")).await;
    let mut plant = Plant {
        rx,
        bonds: BTreeSet::new(),
        alarm: None,
    };
    let station = station_on_small_fs(dir.path(), &fs, &sim, &broker.url());
    plant.until(60, "bonds", |p| p.bonds.len() >= 100).await;
    let filler = inside(&station, &fs.join("filler"));
    assert_eq!(plant.alarm, None, "no alarm before the disk fills");

    // 1. Under the floor, commits still possible: 902 and the machine stopped.
    let t0 = Instant::now();
    let w = fill(&filler, 2 << 20);
    plant.until(15, "alarm 902", |p| p.alarm == Some(902)).await;
    println!(
        "under the floor ({} MiB written): 902 after {:?}",
        w >> 20,
        t0.elapsed()
    );
    wait_state(&sim, 10, "the machine stopped by the interlock", |s| {
        s != MachineState::Running
    })
    .await;
    println!("machine stopped {:?} after the fill", t0.elapsed());
    // A start at the machine itself is stopped again.
    if sim.state() != MachineState::Idle {
        let _ = sim.command(MachineCommand::Stop);
    }
    sim.command(MachineCommand::Start).unwrap();
    assert_eq!(sim.state(), MachineState::Running);
    wait_state(&sim, 10, "a local start stopped again", |s| {
        s != MachineState::Running
    })
    .await;

    // 2. Full: commits fail. Run the machine for a second at the controller's own
    //    panel — the station stops it again, and holds what it saw meanwhile.
    fill(&filler, 0);
    sim.command(MachineCommand::Start).unwrap();
    wait_state(&sim, 10, "stopped again on a full disk", |s| {
        s != MachineState::Running
    })
    .await;
    let published_while_full = plant.bonds.len();
    plant.until(3, "status", |p| p.alarm == Some(902)).await;

    // 3. Space back: 902 clears, start works, bonds flow and commit again.
    let t1 = Instant::now();
    std::fs::remove_file(&filler).unwrap();
    plant.until(20, "902 cleared", |p| p.alarm.is_none()).await;
    println!("space back: 902 cleared after {:?}", t1.elapsed());
    sim.command(MachineCommand::Start).unwrap();
    let more = plant.bonds.len() + 100;
    plant
        .until(30, "bonds after recovery", |p| p.bonds.len() >= more)
        .await;
    assert!(plant.bonds.len() > published_while_full);
    assert_eq!(
        sim.state(),
        MachineState::Running,
        "the interlock is lifted"
    );

    // Every published bond is in the file, and the file has no gap — after kill -9.
    let mut station = station;
    station.kill9();
    let conn = rusqlite::Connection::open(dir.path().join("after/station.sqlite")).unwrap();
    let seqs: BTreeSet<u64> = conn
        .prepare("SELECT seq FROM bonds")
        .unwrap()
        .query_map([], |r| r.get::<_, i64>(0))
        .unwrap()
        .map(|s| u64::try_from(s.unwrap()).unwrap())
        .collect();
    let missing: Vec<_> = plant.bonds.difference(&seqs).take(10).collect();
    assert!(
        missing.is_empty(),
        "published but not in the file: {missing:?}"
    );
    let (first, last) = (*seqs.first().unwrap(), *seqs.last().unwrap());
    assert_eq!(
        seqs.len() as u64,
        last - first + 1,
        "the file's bonds {first}..={last} have gaps"
    );
    let alarms: Vec<(i64, Option<i64>)> = conn
        .prepare("SELECT raised_ms, cleared_ms FROM alarms WHERE code = 902 ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        !alarms.is_empty() && alarms.iter().all(|(_, cleared)| cleared.is_some()),
        "902 raised and cleared in the store: {alarms:?}"
    );
    sim.shutdown().await;
}
