//! OPC UA end to end: python `asyncua` 2.1.0 (PyPI, in the virtual environment that
//! `scripts/test-all.sh` creates) as the MES client, the station binary with its real
//! SQLite store and PKI as the server, bondersim as the controller, and python `secsgem`
//! as the GEM host that flips the shared LOCAL/REMOTE switch. The client only does what it
//! is told (`tests/peers/opcua_client.py`); every expectation is here.
//!
//! Figures (printed, not asserted), in the load scenario
//! `load_every_variable_to_one_client_and_memory_per_session`: monitored-item
//! notifications per second to one client subscribed to every variable, the time from a
//! bond's arrival at the station to the `LastBond.Seq` data change at the client
//! (p50/p99), and the station's resident memory per session.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use bonder_e2e::procs::{self, JsonPeer, Proc, free_port, percentile, station_command};
use bondersim::{SimConfig, Simulator, WireRate};
use rusqlite::Connection;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_bonder-station");

fn station_cmd(home: &Path) -> Command {
    station_command(Path::new(BIN), home)
}

fn add_user(home: &Path, db: &Path, badge: &str, role: &str, secret: &str) {
    procs::add_user(Path::new(BIN), home, db, badge, role, secret);
}

/// The station binary on the simulator with OPC UA on `ua` and GEM on `gem`.
fn start_station(
    home: &Path,
    db: &Path,
    controller: std::net::SocketAddr,
    ua: u16,
    gem: u16,
) -> Proc {
    let mut c = procs::headless_station(Path::new(BIN), home, db, &controller.to_string());
    c.args(["--gem-listen", &format!("127.0.0.1:{gem}")])
        .args(["--opcua-listen", &format!("opc.tcp://127.0.0.1:{ua}/")]);
    Proc::spawn(c)
}

/// The `asyncua` client (`tests/peers/opcua_client.py`).
struct Peer(JsonPeer);

impl Peer {
    fn start(script: &str) -> Peer {
        Peer(JsonPeer::start(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/peers")
                .join(script),
            false,
        ))
    }

    fn call(&mut self, cmd: Value) -> Value {
        self.0.call(cmd)
    }

    fn ok(&mut self, cmd: Value) -> Value {
        let v = self.call(cmd.clone());
        assert_eq!(v["ok"], true, "{cmd} failed: {v}");
        v
    }
}

struct Bench {
    rt: tokio::runtime::Runtime,
    sim: Option<Simulator>,
    dir: tempfile::TempDir,
    url: String,
    station: Proc,
    db: PathBuf,
    gem_port: u16,
}

fn bench(wire_rate: WireRate) -> Bench {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sim = rt
        .block_on(Simulator::start(SimConfig {
            autostart: true,
            wire_rate,
            ..SimConfig::default()
        }))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().to_path_buf();
    let db = home.join("station.sqlite");
    add_user(&home, &db, "A1", "admin", "admin-password-1");
    add_user(&home, &db, "EN1", "engineer", "engineer-pass-1");
    add_user(&home, &db, "TE1", "technician", "246810");
    add_user(&home, &db, "OP1", "operator", "135790");
    let (ua, gem_port) = (free_port(), free_port());
    let station = start_station(&home, &db, sim.modbus_addr, ua, gem_port);
    Bench {
        rt,
        sim: Some(sim),
        url: format!("opc.tcp://127.0.0.1:{ua}/"),
        dir,
        station,
        db,
        gem_port,
    }
}

impl Bench {
    /// A client signed in as `user`: its certificate trusted first if the server
    /// rejects it (the refusal and `opcua trust` themselves are the first test's).
    fn trusted_client(&self, user: (&str, &str)) -> Peer {
        let mut c = Peer::start("opcua_client.py");
        let first = wait_for("the OPC UA server answers", 60, || {
            let v = c.call(self.connect(Some(user), "en-US"));
            let e = v["error"].as_str().unwrap_or_default();
            (v["ok"] == true || e.contains("BadCertificateUntrusted")).then_some(v)
        });
        if first["ok"] != true {
            let pki = self.dir.path().join("opcua-pki");
            for f in std::fs::read_dir(pki.join("rejected")).unwrap() {
                bonder_opcua::pki::trust(&pki, &f.unwrap().path()).unwrap();
            }
            c.ok(self.connect(Some(user), "en-US"));
        }
        c
    }

    fn connect(&self, user: Option<(&str, &str)>, locale: &str) -> Value {
        json!({
            "op": "connect", "url": self.url, "dir": self.dir.path().join("client"),
            "user": user.map(|u| u.0), "password": user.map(|u| u.1), "locale": locale,
        })
    }

    /// Audit rows (action, user, object, new value) of OPC UA, oldest first.
    fn audit(&self) -> Vec<(String, String, String, String)> {
        let c = Connection::open(&self.db).unwrap();
        let mut st = c
            .prepare(
                "SELECT action, user, object, COALESCE(new_value, '') FROM audit \
                 WHERE reason = 'OPC UA' OR object LIKE 'opcua:%' OR new_value LIKE '%opcua%' \
                 ORDER BY id",
            )
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    fn wait_audit(&self, what: &str, f: impl Fn(&(String, String, String, String)) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.audit().iter().any(&f) {
            assert!(
                Instant::now() < deadline,
                "no audit row: {what}; have {:#?}",
                self.audit()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn wait_for<T>(what: &str, secs: u64, f: impl FnMut() -> Option<T>) -> T {
    procs::poll(what, secs, f)
}

fn read(p: &mut Peer, path: &[&str]) -> Value {
    p.ok(json!({"op": "read", "path": path}))
}

#[test]
fn an_asyncua_client_reads_subscribes_and_commands_the_bonder() {
    let mut b = bench(SimConfig::default().wire_rate);
    let mut c = Peer::start("opcua_client.py");
    // Endpoints: the two policies, Sign and SignAndEncrypt, never None.
    let eps = wait_for("the OPC UA server answers GetEndpoints", 60, || {
        let v = c.call(json!({"op": "endpoints", "url": b.url}));
        (v["ok"] == true).then_some(v)
    });
    let mut eps: Vec<String> = eps["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{}/{}", e[0].as_str().unwrap(), e[1].as_str().unwrap()))
        .collect();
    eps.sort();
    assert_eq!(
        eps,
        [
            "Aes256_Sha256_RsaPss/Sign",
            "Aes256_Sha256_RsaPss/SignAndEncrypt",
            "Basic256Sha256/Sign",
            "Basic256Sha256/SignAndEncrypt"
        ]
    );

    // An untrusted client certificate is refused and lands in rejected/.
    let v = c.call(b.connect(Some(("TE1", "246810")), "en-US"));
    assert_eq!(v["ok"], false, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("BadCertificateUntrusted"),
        "{v}"
    );
    let pki = b.dir.path().join("opcua-pki");
    let rejected: Vec<PathBuf> = std::fs::read_dir(pki.join("rejected"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    // `opcua trust` (audited) lets it in.
    let out = station_cmd(b.dir.path())
        .args(["opcua", "trust", "--db"])
        .arg(&b.db)
        .arg("--opcua-pki")
        .arg(&pki)
        .arg(&rejected[0])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!rejected[0].exists(), "out of rejected/");
    b.wait_audit("trust", |r| {
        r.0 == "trust" && r.2.starts_with("opcua:cert:")
    });

    // Anonymous is refused; a wrong PIN is refused and audited.
    let v = c.call(b.connect(None, "en-US"));
    assert_eq!(v["ok"], false, "anonymous: {v}");
    let v = c.call(b.connect(Some(("TE1", "999999")), "en-US"));
    assert_eq!(v["ok"], false, "wrong PIN: {v}");
    assert!(
        v["error"].as_str().unwrap().contains("BadUserAccessDenied"),
        "{v}"
    );
    b.wait_audit("wrong PIN", |r| {
        r.0 == "refused" && r.1 == "TE1" && r.3.contains("opcua")
    });

    // A technician, in Chinese.
    c.ok(b.connect(Some(("TE1", "246810")), "zh-CN"));
    b.wait_audit("session opened", |r| {
        r.0 == "login" && r.1 == "TE1" && r.2 == "opcua:session" && r.3.contains("asyncua-client")
    });
    let kids = c.ok(json!({"op": "browse", "path": []}));
    assert_eq!(
        kids["children"],
        json!([
            "Bonder",
            "Identification",
            "MachineryItemState",
            "MachineryOperationMode"
        ])
    );
    assert_eq!(
        read(&mut c, &["Identification", "SerialNumber"])["value"],
        "sz1/assembly/l1/wb-16"
    );
    assert_eq!(
        read(&mut c, &["Identification", "Model"])["value"]["text"],
        "WB-HMI"
    );
    let bonder = c.ok(json!({"op": "browse", "path": ["Bonder"]}));
    for n in [
        "WiresBonded",
        "LastBond",
        "Start",
        "SubmitRecipe",
        "ActiveAlarmText",
    ] {
        assert!(
            bonder["children"].as_array().unwrap().contains(&json!(n)),
            "{n}: {bonder}"
        );
    }
    wait_for("running", 20, || {
        (read(&mut c, &["Bonder", "State"])["value"] == "running").then_some(())
    });
    assert_eq!(
        read(&mut c, &["MachineryItemState", "CurrentState"])["value"]["text"],
        "Executing"
    );
    assert_eq!(
        read(&mut c, &["MachineryOperationMode", "CurrentState"])["value"]["text"],
        "Processing"
    );

    // A 100 ms subscription to every variable and the station's events.
    let paths = every_variable();
    c.ok(json!({"op": "subscribe", "paths": paths, "ms": 100, "events": true}));
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(5));
    let ch = c.ok(json!({"op": "changes"}));
    let secs = t0.elapsed().as_secs_f64();
    let changes = ch["changes"].as_array().unwrap().clone();
    let wires: Vec<u64> = changes
        .iter()
        .filter(|c| c[0] == "Bonder.WiresBonded")
        .map(|c| c[1].as_u64().unwrap())
        .collect();
    assert!(
        wires.len() >= 3,
        "WiresBonded rises in the subscription: {wires:?}"
    );
    assert!(wires.windows(2).all(|w| w[1] >= w[0]) && wires.last() > wires.first());
    let mut lat_ms: Vec<f64> = changes
        .iter()
        .filter(|c| c[0] == "Bonder.LastBond.Seq")
        .filter_map(|c| Some((c[3].as_f64()? - c[2].as_f64()?) * 1000.0))
        .collect();
    println!(
        "figures: {} monitored-item notifications in {secs:.1} s to one client over {} items = {:.0}/s; \
         LastBond.Seq source timestamp → client p50 {:.2} ms p99 {:.2} ms over {} bonds",
        changes.len(),
        paths.len(),
        changes.len() as f64 / secs,
        percentile(&mut lat_ms, 0.5),
        percentile(&mut lat_ms, 0.99),
        lat_ms.len()
    );

    // An alarm: ActiveAlarmText and the event in Chinese for this zh-CN session.
    b.sim
        .as_ref()
        .unwrap()
        .raise_alarm(bonder_core::AlarmCode::WireBroken);
    let (text, ev) = wait_for("the alarm, as a value and an event", 20, || {
        let ch = c.ok(json!({"op": "changes"}));
        let text = ch["changes"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|c| c[0] == "Bonder.ActiveAlarmText" && c[1]["text"] != "")
            .map(|c| c[1].clone());
        let ev = ch["events"].as_array().unwrap().first().cloned();
        text.zip(ev)
    });
    assert_eq!(text["locale"], "zh-CN", "{text}");
    let zh = text["text"].as_str().unwrap();
    assert!(
        zh.chars().any(|ch| ('\u{4e00}'..='\u{9fff}').contains(&ch)),
        "{zh}"
    );
    assert_eq!(ev["severity"], 800, "{ev}");
    assert_eq!(ev["source"], "wb-16", "{ev}");
    assert!(
        ev["message"]["text"].as_str().unwrap().contains("报警"),
        "{ev}"
    );
    assert_eq!(
        read(&mut c, &["MachineryItemState", "CurrentState"])["value"]["text"],
        "OutOfService"
    );
    c.ok(json!({"op": "call", "method": "ResetAlarm"}));
    wait_for("alarm reset", 20, || {
        (read(&mut c, &["Bonder", "ActiveAlarm"])["value"] == 0).then_some(())
    });

    // Stop and Start change the machine state.
    let _ = c.call(json!({"op": "call", "method": "Start"}));
    wait_for("running again", 20, || {
        (read(&mut c, &["Bonder", "State"])["value"] == "running").then_some(())
    });
    c.ok(json!({"op": "call", "method": "Stop"}));
    wait_for("stopped", 20, || {
        (read(&mut c, &["Bonder", "State"])["value"] == "idle").then_some(())
    });
    assert_eq!(
        read(&mut c, &["MachineryItemState", "CurrentState"])["value"]["text"],
        "NotExecuting"
    );
    c.ok(json!({"op": "call", "method": "Start"}));
    wait_for("started", 20, || {
        (read(&mut c, &["Bonder", "State"])["value"] == "running").then_some(())
    });
    b.wait_audit("Stop audited", |r| {
        r.0 == "command" && r.1 == "TE1" && r.2 == "opcua:method:Stop" && r.3.contains("asyncua")
    });

    // A technician may not submit recipes.
    let v = c.call(json!({"op": "call", "method": "SubmitRecipe", "args": ["{}"]}));
    assert!(
        v["error"]
            .as_str()
            .unwrap_or("")
            .contains("BadUserAccessDenied"),
        "{v}"
    );

    // LOCAL (set by the GEM host): BadInvalidState, nothing changes.
    let mut host = Peer::start("secsgem_host.py");
    let v = host.call(json!({"cmd": "connect", "port": b.gem_port, "timeout": 20}));
    assert_eq!(v["communicating"], true, "{v}");
    let ec = |val: u8| json!([{"ECID": {"$": "U4", "v": 3007}, "ECV": {"$": "U1", "v": val}}]);
    let v = host.call(json!({"cmd": "req", "s": 2, "f": 15, "data": ec(4), "w": false}));
    assert_eq!(v["reply"], json!(0), "{v}");
    let v = c.call(json!({"op": "call", "method": "Stop"}));
    assert!(
        v["error"]
            .as_str()
            .unwrap_or("")
            .contains("BadInvalidState"),
        "{v}"
    );
    assert_eq!(read(&mut c, &["Bonder", "State"])["value"], "running");
    let v = host.call(json!({"cmd": "req", "s": 2, "f": 15, "data": ec(5), "w": false}));
    assert_eq!(v["reply"], json!(0), "{v}");

    // An operator's Stop: BadUserAccessDenied, audited.
    let mut op = Peer::start("opcua_client.py");
    op.ok(b.connect(Some(("OP1", "135790")), "en-US"));
    let v = op.call(json!({"op": "call", "method": "Stop"}));
    assert!(
        v["error"]
            .as_str()
            .unwrap_or("")
            .contains("BadUserAccessDenied"),
        "{v}"
    );
    assert_eq!(read(&mut op, &["Bonder", "State"])["value"], "running");
    b.wait_audit("operator refused", |r| {
        r.0 == "refused" && r.1 == "OP1" && r.2 == "opcua:method:Stop"
    });

    // An engineer submits a recipe: valid → a draft; invalid → Ok = false, nothing written.
    let mut en = Peer::start("opcua_client.py");
    en.ok(b.connect(Some(("EN1", "engineer-pass-1")), "en-US"));
    let mut doc = bonder_core::recipe::Recipe::default_cu();
    doc.name = "OPCUA-CU20".into();
    let r = en.ok(json!({"op": "call", "method": "SubmitRecipe", "args": [doc.to_json()]}));
    assert_eq!(r["result"][0], true, "{r}");
    let count = |name: &str| -> i64 {
        Connection::open(&b.db)
            .unwrap()
            .query_row(
                "SELECT COUNT(*) FROM recipe_versions WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_eq!(count("OPCUA-CU20"), 1);
    // A document with the name but nothing else.
    let bad = json!({"v": 1, "name": "OPCUA-BAD"}).to_string();
    let r = en.ok(json!({"op": "call", "method": "SubmitRecipe", "args": [bad]}));
    assert_eq!(r["result"][0], false, "{r}");
    assert!(!r["result"][1].as_str().unwrap().is_empty(), "{r}");
    assert_eq!(count("OPCUA-BAD"), 0, "nothing written");

    // A client that vanishes mid-subscription: the others keep being served.
    c.ok(json!({"op": "vanish"}));
    let w1 = read(&mut op, &["Bonder", "WiresBonded"])["value"]
        .as_u64()
        .unwrap();
    wait_for("still served after a client vanished", 20, || {
        let w = read(&mut op, &["Bonder", "WiresBonded"])["value"]
            .as_u64()
            .unwrap();
        (w > w1).then_some(())
    });

    // The controller goes away: the server keeps serving, offline / NotAvailable.
    let sim = b.sim.take().unwrap();
    b.rt.block_on(sim.shutdown());
    wait_for("offline", 30, || {
        (read(&mut op, &["Bonder", "State"])["value"] == "offline").then_some(())
    });
    assert_eq!(
        read(&mut op, &["MachineryItemState", "CurrentState"])["value"]["text"],
        "NotAvailable"
    );
    let heater = read(&mut op, &["Bonder", "HeaterTempC"]);
    assert_eq!(heater["status"], "UncertainLastUsableValue", "{heater}");
    en.ok(json!({"op": "disconnect"}));
    b.wait_audit("session closed", |r| r.0 == "logout" && r.1 == "EN1");
}

/// Every variable of the contract's `Bonder` object (its `LastBond` among them) and the
/// machine state.
fn every_variable() -> Vec<Vec<&'static str>> {
    let mut p: Vec<Vec<&str>> = [
        "State",
        "Recipe",
        "WiresBonded",
        "BondsRejected",
        "YieldPct",
        "WireRatePerMin",
        "CapillaryTouchdowns",
        "HeaterTempC",
        "Operator",
        "WorkOrder",
        "ActiveAlarm",
        "ActiveAlarmText",
    ]
    .into_iter()
    .map(|v| vec!["Bonder", v])
    .collect();
    for v in [
        "Seq",
        "Kind",
        "Verdict",
        "BallDiameterUm",
        "PlacementDxUm",
        "PlacementDyUm",
        "PeakForceGf",
        "UsEnergyMj",
        "DeformUm",
    ] {
        p.push(vec!["Bonder", "LastBond", v]);
    }
    p.push(vec!["MachineryItemState", "CurrentState"]);
    p
}

/// Load scenario, figures printed (nothing timed is asserted): the simulator at 500
/// wires/s (1 000 bonds/s, 25 times a production bonder), one `asyncua` client subscribed
/// to every variable with a 100-value queue per item, then 20 more sessions.
/// - monitored-item notifications per second the client receives, and the station's CPU
///   meanwhile (the station also judges, stores and publishes every bond);
/// - from a bond's arrival at the station (the `LastBond` source timestamp is the time
///   the runtime read its frame) to the `LastBond.Seq` data change at the client,
///   p50/p99, at the contract's 100 ms publishing interval and at the server's 50 ms;
/// - resident memory per session (20 sessions opened, then closed).
#[test]
fn load_every_variable_to_one_client_and_memory_per_session() {
    let b = bench(WireRate::PerSecond(500.0));
    let mut c = b.trusted_client(("TE1", "246810"));
    let paths = every_variable();
    let pid = b.station.id();
    for ms in [100u64, 50] {
        if ms != 100 {
            c.ok(json!({"op": "disconnect"}));
            c = b.trusted_client(("TE1", "246810"));
        }
        c.ok(json!({
            "op": "subscribe", "paths": paths, "ms": ms, "sampling_ms": 0,
            "queue": 100, "count_only": true,
        }));
        // Warm-up until notifications flow, then a 10 s window.
        wait_for("notifications flow", 30, || {
            (c.ok(json!({"op": "stats"}))["n"].as_u64() > Some(0)).then_some(())
        });
        let (cpu0, t0) = (procs::cpu_seconds(pid), Instant::now());
        let (mut n, mut lat) = (0u64, Vec::new());
        while t0.elapsed() < Duration::from_secs(10) {
            c.ok(json!({"op": "sleep", "s": 0.5}));
            let s = c.ok(json!({"op": "stats"}));
            n += s["n"].as_u64().unwrap();
            lat.extend(
                s["lat_ms"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(Value::as_f64),
            );
        }
        let secs = t0.elapsed().as_secs_f64();
        let cpu = (procs::cpu_seconds(pid) - cpu0) / secs * 100.0;
        assert!(
            n > 0 && !lat.is_empty(),
            "notifications and LastBond changes arrive"
        );
        println!(
            "figures (publishing {ms} ms): {n} notifications in {secs:.1} s over {} items = {:.0}/s \
             to one client; station CPU {cpu:.0} % of one core meanwhile (it also judges, stores \
             and publishes 1 000 bonds/s); bond arrival at the station → LastBond.Seq at the \
             client p50 {:.1} ms p99 {:.1} ms over {} bonds",
            paths.len(),
            n as f64 / secs,
            percentile(&mut lat, 0.5),
            percentile(&mut lat, 0.99),
            lat.len(),
        );
    }

    // Memory per session: 20 more sessions (signed in, no subscription).
    let rss0 = b.station.rss_kib();
    let mut connect = b.connect(Some(("TE1", "246810")), "en-US");
    connect["op"] = json!("sessions");
    connect["n"] = json!(20);
    connect["timeout"] = json!(120);
    assert_eq!(c.ok(connect)["open"], 20);
    // The station lists (and audits) sessions every 250 ms: all 22 seen (the first
    // phase's client among them), then the memory is read.
    wait_for("the 20 sessions listed", 30, || {
        let opened = b
            .audit()
            .iter()
            .filter(|r| r.0 == "login" && r.2 == "opcua:session")
            .count();
        (opened >= 22).then_some(())
    });
    let rss20 = b.station.rss_kib();
    c.ok(json!({"op": "close_sessions"}));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rows = b.audit();
        let closed = rows
            .iter()
            .filter(|r| r.0 == "logout" && r.1 == "TE1")
            .count();
        if closed >= 21 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "21 sessions closed: {closed}; {rows:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let rss_after = b.station.rss_kib();
    println!(
        "figures: station RSS {rss0} KiB with 1 session, {rss20} KiB with 21 \
         ≈ {:.0} KiB per session; {rss_after} KiB after closing the 20",
        rss20.saturating_sub(rss0) as f64 / 20.0
    );
}
