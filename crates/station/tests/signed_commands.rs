//! Gateway contract v2 end to end: the station binary with its real SQLite store and a
//! real mosquitto takes only commands signed by a trusted key, fresh, never seen before
//! (also across a restart) and from a role the permission table allows; every refusal is
//! answered with its code, changes nothing and leaves an audit row. The supervisor's own
//! signed send (bonder-fleet) passes the same checks. Status and bonds carry the epoch.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use base64::Engine as _;
use bonder_core::permissions::Role;
use bonder_e2e::Mosquitto;
use bonder_gateway::signed::{self, DEFAULT_LIFETIME_S};
use bonder_store::Store;
use bondersim::{SimConfig, Simulator};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePublicKey;
use rumqttc::{AsyncClient, MqttOptions, QoS};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const STATION: &str = "sz1/assembly/l1/wb-14";

fn station(db: &Path, controller: std::net::SocketAddr, gateway: &str, keys: &[PathBuf]) -> Child {
    station_on(db, Some(controller), gateway, keys)
}

/// The station on a controller, or (`None`) on `--simulate`.
fn station_on(
    db: &Path,
    controller: Option<std::net::SocketAddr>,
    gateway: &str,
    keys: &[PathBuf],
) -> Child {
    let home = db.parent().unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_bonder-station"));
    c.args(["--headless", "--log", "warn", "--station-id", STATION])
        .args(["--opcua-listen", "none"])
        .args(["--gateway", gateway])
        .args(["--camera", "none"])
        .arg("--db")
        .arg(db);
    match controller {
        Some(a) => c.arg("--controller").arg(a.to_string()),
        None => c.arg("--simulate"),
    };
    for k in keys {
        c.arg("--trusted-key").arg(k);
    }
    c.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn key_file(dir: &Path, kid: &str, key: &SigningKey) -> PathBuf {
    let path = dir.join(format!("{kid}.pem"));
    let pem = key
        .verifying_key()
        .to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .unwrap();
    std::fs::write(&path, pem).unwrap();
    path
}

fn random_key() -> SigningKey {
    SigningKey::from_bytes(&rand::random())
}

fn now_s() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn recipe_cmd(request_id: &str) -> Value {
    let doc: Value =
        serde_json::from_str(&bonder_core::recipe::Recipe::default_cu().to_json()).unwrap();
    json!({"request_id": request_id, "recipe": doc})
}

fn workorder_cmd(request_id: &str) -> Value {
    json!({"request_id": request_id, "work_order": "WO-1", "device": "SOT23-3L",
           "recipe": "SOT23-CU20@1", "quantity": 100})
}

fn signed_as(key: &SigningKey, kid: &str, cmd: Value, by: &str, role: Role, iat: i64) -> String {
    signed::sign(
        key,
        kid,
        &signed::with_claims(cmd, by, role, iat, DEFAULT_LIFETIME_S),
    )
}

struct Mes {
    client: AsyncClient,
    rx: mpsc::UnboundedReceiver<bonder_e2e::Received>,
}

impl Mes {
    async fn new(port: u16, id: &str) -> Mes {
        let rx = bonder_e2e::subscribe(port, &format!("{id}-sub"), &format!("{STATION}/#")).await;
        let mut o = MqttOptions::new(id, "127.0.0.1", port);
        // Room for the oversized command (rumqttc's default limit is 10 KiB).
        o.set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut ev) = AsyncClient::new(o, 100);
        tokio::spawn(async move { while ev.poll().await.is_ok() {} });
        Mes { client, rx }
    }

    async fn publish(&self, suffix: &str, payload: impl Into<Vec<u8>>) {
        self.client
            .publish(
                format!("{STATION}/{suffix}"),
                QoS::AtLeastOnce,
                false,
                payload.into(),
            )
            .await
            .unwrap();
    }

    /// The next message on a topic suffix.
    async fn next(&mut self, suffix: &str, secs: u64) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some((t, v, _))) if t == format!("{STATION}/{suffix}") => return v,
                Ok(Some(_)) => {}
                _ => panic!("nothing on {suffix} within {secs} s"),
            }
        }
    }

    /// Sends and returns the answer (the next `cmd/result`).
    async fn ask(&mut self, suffix: &str, payload: impl Into<Vec<u8>>) -> Value {
        self.publish(suffix, payload).await;
        self.next("cmd/result", 15).await
    }

    /// Waits for a status from the station (it is connected and subscribed then).
    async fn online(&mut self) -> Value {
        loop {
            let s = self.next("status", 30).await;
            if s["state"] != "offline" {
                return s;
            }
        }
    }
}

fn refused_with(res: &Value, code: &str) {
    assert_eq!(res["ok"], false, "{res}");
    let e = res["error"].as_str().unwrap_or_default();
    assert!(
        e.starts_with(&format!("{code}: ")),
        "expected {code}: {res}"
    );
}

fn audit_rows(db: &Path) -> Vec<bonder_store::AuditEntry> {
    Store::open(db)
        .unwrap()
        .reader()
        .unwrap()
        .audit(0, 100_000)
        .unwrap()
}

/// `--simulate` marks the status, and the start's audit row names the configuration
/// (its hash) and that it was simulated; a stop writes its row too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulating_station_says_so_and_audits_its_start() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("station.sqlite");
    let mut mes = Mes::new(broker.port, "mes-sim").await;
    let mut child = station_on(&db, None, &broker.url(), &[]);
    let status = mes.online().await;
    assert_eq!(status["simulated"], true, "{status}");
    child.kill().unwrap();
    child.wait().unwrap();
    let rows = audit_rows(&db);
    let start = rows
        .iter()
        .find(|r| r.action == "start")
        .expect("a start row");
    let v: Value = serde_json::from_str(start.new_value.as_deref().unwrap()).unwrap();
    assert_eq!(v["settings"]["simulated"], true, "{v}");
    assert_eq!(v["settings_sha256"].as_str().map(str::len), Some(64), "{v}");
    assert_eq!(v["settings"]["login"]["pin_min"], 6, "{v}");
}

/// The runtime's own recipe download (on connect, the controller idle with another
/// recipe) leaves an audit row naming why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_automatic_recipe_download_is_audited_with_its_reason() {
    let broker = Mosquitto::start();
    let sim = Simulator::start(SimConfig {
        autostart: false,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("station.sqlite");
    let mut mes = Mes::new(broker.port, "mes-dl").await;
    let mut child = station(&db, sim.modbus_addr, &broker.url(), &[]);
    mes.online().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let row = loop {
        if let Some(r) = audit_rows(&db).into_iter().find(|r| r.action == "download") {
            break r;
        }
        assert!(Instant::now() < deadline, "no download row");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(row.object, "recipe:SOT23-AU25@1", "{row:?}");
    // The start's row comes first: it names the configuration the download ran under.
    let start = audit_rows(&db)
        .into_iter()
        .find(|r| r.action == "start")
        .expect("a start row");
    assert!(
        start.id < row.id,
        "start {} after download {}",
        start.id,
        row.id
    );
    assert_eq!(
        (row.user.as_str(), row.role.as_str()),
        ("station", "system")
    );
    let why = row.reason.unwrap();
    assert!(
        why.contains("on connect") && why.contains("not SOT23-AU25@1"),
        "{why}"
    );
    assert_eq!(row.new_value.as_deref(), Some(r#"{"ok":true}"#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_fresh_commands_signed_by_a_trusted_allowed_person_are_taken() {
    let broker = Mosquitto::start();
    let sim_cfg = SimConfig {
        autostart: true,
        ..SimConfig::default()
    };
    println!("seed {}", sim_cfg.seed);
    let sim = Simulator::start(sim_cfg).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("station.sqlite");
    let (plant, stranger) = (random_key(), random_key());
    let trusted = key_file(dir.path(), "plant-sv", &plant);
    let mut mes = Mes::new(broker.port, "mes").await;
    let mut child = station(
        &db,
        sim.modbus_addr,
        &broker.url(),
        std::slice::from_ref(&trusted),
    );

    // Status v2 carries the store's epoch and audit head; bonds v2 the epoch.
    let status = mes.online().await;
    let bonds = mes.next("bonds", 30).await;
    assert_eq!(status["v"], 2, "{status}");
    let epoch = status["epoch"].as_str().unwrap().to_string();
    assert_eq!(epoch.len(), 16, "{status}");
    assert_eq!(bonds["v"], 2);
    assert_eq!(bonds["epoch"], epoch.as_str());
    assert_eq!(
        status["audit_head"].as_str().map(str::len),
        Some(64),
        "{status}"
    );
    // A station on a controller is not simulated (the key is there only when it is).
    assert!(status.get("simulated").is_none(), "{status}");

    let before = audit_rows(&db).len();
    let now = now_s();
    let v1 = json!({"v": 1, "request_id": "u-1", "recipe": recipe_cmd("x")["recipe"]});
    refused_with(&mes.ask("cmd/recipe", v1.to_string()).await, "unsigned");
    let res = mes
        .ask(
            "cmd/recipe",
            signed_as(
                &stranger,
                "plant-sv-2",
                recipe_cmd("k-1"),
                "E7",
                Role::Engineer,
                now,
            ),
        )
        .await;
    refused_with(&res, "unknown_key");
    assert_eq!(res["request_id"], "k-1", "the request id is echoed");
    // Signed by another key under the trusted key id.
    let forged = signed_as(
        &stranger,
        "plant-sv",
        recipe_cmd("f-1"),
        "E7",
        Role::Engineer,
        now,
    );
    refused_with(&mes.ask("cmd/recipe", forged).await, "bad_signature");
    // Tampered after signing: an operator's signed work order turned into an engineer's.
    let genuine = signed_as(
        &plant,
        "plant-sv",
        workorder_cmd("t-1"),
        "OP1",
        Role::Operator,
        now,
    );
    let mut env: Value = serde_json::from_str(&genuine).unwrap();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut claims: Value =
        serde_json::from_slice(&b64.decode(env["payload"].as_str().unwrap()).unwrap()).unwrap();
    claims["role"] = json!("engineer");
    env["payload"] = json!(b64.encode(claims.to_string()));
    refused_with(
        &mes.ask("cmd/workorder", env.to_string()).await,
        "bad_signature",
    );
    let stale = signed_as(
        &plant,
        "plant-sv",
        recipe_cmd("e-1"),
        "E7",
        Role::Engineer,
        now - 400,
    );
    refused_with(&mes.ask("cmd/recipe", stale).await, "expired");
    let operator = signed_as(
        &plant,
        "plant-sv",
        recipe_cmd("o-1"),
        "OP1",
        Role::Operator,
        now,
    );
    let res = mes.ask("cmd/recipe", operator).await;
    refused_with(&res, "forbidden");
    let big = vec![b' '; 300 * 1024];
    let res = mes.ask("cmd/recipe", big).await;
    refused_with(&res, "too_large");
    assert_eq!(res["request_id"], Value::Null, "not parsed");
    let store = Store::open(&db).unwrap();
    assert!(
        store.recipes().versions("SOT23-CU20").unwrap().is_empty(),
        "no refused command changed the library"
    );
    drop(store);

    // A correctly signed engineer's recipe becomes a draft under the signer's name.
    let good = signed_as(
        &plant,
        "plant-sv",
        recipe_cmd("ok-1"),
        "E7",
        Role::Engineer,
        now_s(),
    );
    let res = mes.ask("cmd/recipe", good.clone()).await;
    assert_eq!(
        (res["request_id"].as_str(), res["ok"].as_bool()),
        (Some("ok-1"), Some(true)),
        "{res}"
    );
    refused_with(&mes.ask("cmd/recipe", good.clone()).await, "replayed");

    // More than 10 commands a second: the rest are answered rate_limited.
    let burst = 25;
    for i in 0..burst {
        let wo = signed_as(
            &plant,
            "plant-sv",
            workorder_cmd(&format!("b-{i}")),
            "T3",
            Role::Technician,
            now_s(),
        );
        mes.publish("cmd/workorder", wo).await;
    }
    let (mut ok, mut limited) = (0, 0);
    for _ in 0..burst {
        let r = mes.next("cmd/result", 15).await;
        match (r["ok"].as_bool(), r["error"].as_str()) {
            (Some(true), _) => ok += 1,
            (_, Some(e)) if e.starts_with("rate_limited: ") => limited += 1,
            _ => panic!("unexpected answer in the burst: {r}"),
        }
    }
    println!("burst of {burst}: {ok} taken, {limited} rate limited");
    assert!(
        ok <= 10 && limited >= burst - 10,
        "{ok} taken, {limited} limited"
    );

    // Nonces survive a restart (kill -9: nothing is flushed on the way out).
    child.kill().unwrap();
    child.wait().unwrap();
    // A command sent while the station is away waits in its persistent session (contract
    // v2, "Transport") and is carried out when it returns.
    let away = signed_as(
        &plant,
        "plant-sv",
        workorder_cmd("away-1"),
        "T3",
        Role::Technician,
        now_s(),
    );
    mes.publish("cmd/workorder", away).await;
    let mut child = station(
        &db,
        sim.modbus_addr,
        &broker.url(),
        std::slice::from_ref(&trusted),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let res = loop {
        let r = mes.next("cmd/result", 30).await;
        if r["request_id"] == "away-1" {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "no answer to the command sent while away"
        );
    };
    assert_eq!(res["ok"], true, "{res}");
    refused_with(&mes.ask("cmd/recipe", good).await, "replayed");
    child.kill().unwrap();
    child.wait().unwrap();

    let store = Store::open(&db).unwrap();
    let versions = store.recipes().versions("SOT23-CU20").unwrap();
    assert_eq!(
        versions.len(),
        1,
        "exactly the accepted recipe: {versions:?}"
    );
    assert_eq!(versions[0].state, bonder_core::recipe::RecipeState::Draft);
    let rows = audit_rows(&db);
    let new = &rows[before..];
    let create = new
        .iter()
        .find(|r| r.action == "create" && r.object.starts_with("recipe:SOT23-CU20"))
        .expect("the draft's audit row");
    assert_eq!(
        (create.user.as_str(), create.role.as_str()),
        ("E7", "engineer")
    );
    assert!(
        create.reason.as_deref().unwrap().contains("plant-sv"),
        "{create:?}"
    );
    let accepted = new
        .iter()
        .find(|r| r.action == "command" && r.object == "gateway:cmd/recipe#ok-1")
        .expect("the accepted command's audit row");
    assert_eq!(
        (accepted.user.as_str(), accepted.role.as_str()),
        ("E7", "engineer")
    );
    assert!(
        accepted
            .new_value
            .as_deref()
            .unwrap()
            .contains(r#""kid":"plant-sv""#)
    );
    let refused: Vec<&str> = new
        .iter()
        .filter(|r| r.action == "refused" && r.object.starts_with("gateway:"))
        .filter_map(|r| r.reason.as_deref())
        .map(|e| e.split(':').next().unwrap())
        .collect();
    for code in [
        "unsigned",
        "unknown_key",
        "bad_signature",
        "expired",
        "forbidden",
        "too_large",
    ] {
        assert_eq!(
            refused.iter().filter(|c| **c == code).count(),
            if code == "bad_signature" { 2 } else { 1 },
            "{code}: {refused:?}"
        );
    }
    assert_eq!(
        refused.iter().filter(|c| **c == "replayed").count(),
        2,
        "{refused:?}"
    );
    assert!(refused.contains(&"rate_limited"), "{refused:?}");
    assert!(Store::verify_audit(&db).is_ok());
    // Owner-only files: the store (and its WAL), and the log directory.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&db), 0o600);
        let logs = dir.path().join("data/bonder-station/logs");
        assert_eq!(mode(&logs), 0o700, "{}", logs.display());
        // The log files themselves (the process's umask is 077).
        let files: Vec<_> = std::fs::read_dir(&logs)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(!files.is_empty(), "a log file in {}", logs.display());
        for f in files {
            assert_eq!(mode(&f), 0o600, "{}", f.display());
        }
    }
    sim.shutdown().await;
}

/// A broker, a simulator, a station trusting a supervisor installation's key, and that
/// supervisor's core connected to the broker.
struct SupervisedStation {
    broker: Mosquitto,
    sim: Simulator,
    dir: tempfile::TempDir,
    db: PathBuf,
    sv: bonder_fleet::service::Supervisor,
    child: Child,
}

async fn supervised_station() -> SupervisedStation {
    let broker = Mosquitto::start();
    let sim = Simulator::start(SimConfig {
        autostart: true,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sv_dir = dir.path().join("supervisor");
    std::fs::create_dir_all(&sv_dir).unwrap();
    let sv = bonder_fleet::service::Supervisor::open(&sv_dir.join("history.sqlite")).unwrap();
    let exported = sv.key().export_public(dir.path()).unwrap();
    let db = dir.path().join("station.sqlite");
    let mut mes = Mes::new(broker.port, "watch").await;
    let child = station(&db, sim.modbus_addr, &broker.url(), &[exported]);
    mes.online().await;
    sv.connect(
        &tokio::runtime::Handle::current(),
        bonder_fleet::service::GatewaySettings::new(broker.url()),
    )
    .unwrap();
    let mut link = sv.link_state();
    while !link.borrow_and_update().connected {
        link.changed().await.unwrap();
    }
    SupervisedStation {
        broker,
        sim,
        dir,
        db,
        sv,
        child,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_supervisors_signed_send_passes_the_stations_checks() {
    let SupervisedStation {
        broker: _broker,
        sim,
        dir: _dir,
        db,
        sv,
        mut child,
    } = supervised_station().await;
    let mut results = sv.results();
    let doc = bonder_core::recipe::Recipe::default_cu().to_json();
    // An operator may not send recipes: refused before anything is signed or published.
    let operator = bonder_fleet::users::Session {
        user: "OP1".into(),
        role: Role::Operator,
    };
    let e = sv.send_recipe(STATION, &doc, &operator).unwrap_err();
    assert!(matches!(e, bonder_fleet::FleetError::Forbidden(_)), "{e}");
    let engineer = bonder_fleet::users::Session {
        user: "E7".into(),
        role: Role::Engineer,
    };
    let t0 = Instant::now();
    let id = sv.send_recipe(STATION, &doc, &engineer).unwrap();
    let answer = loop {
        let r = tokio::time::timeout(Duration::from_secs(15), results.recv())
            .await
            .expect("the station's answer")
            .unwrap();
        if r.request_id.as_deref() == Some(id.as_str()) {
            break r;
        }
    };
    println!("signed recipe send → cmd/result: {:?}", t0.elapsed());
    assert!(answer.ok, "{answer:?}");
    child.kill().unwrap();
    child.wait().unwrap();
    let rows = audit_rows(&db);
    let row = rows
        .iter()
        .find(|r| r.object == format!("gateway:cmd/recipe#{id}"))
        .unwrap();
    assert_eq!((row.user.as_str(), row.role.as_str()), ("E7", "engineer"));
    assert!(row.new_value.as_deref().unwrap().contains(sv.key().kid()));
    sim.shutdown().await;
}

/// Load scenario (ignored in CI; `cargo test -p bonder-station --test signed_commands
/// -- --ignored --nocapture signed_send_latency`): the supervisor core's signed recipe
/// send until the station's `cmd/result`, 20 times with the one station alone on the
/// broker, then 20 times with 49 synthetic stations (10 wires/s each) publishing status
/// and bonds beside it and the supervisor ingesting all of them. Prints p50/p90/max of
/// both, side by side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "load scenario: prints figures"]
async fn signed_send_latency_with_50_stations_on_the_broker() {
    let SupervisedStation {
        broker,
        sim,
        dir: _dir,
        db: _db,
        sv,
        mut child,
    } = supervised_station().await;
    let engineer = bonder_fleet::users::Session {
        user: "E7".into(),
        role: Role::Engineer,
    };
    let mut results = sv.results();
    let alone = send_round(&sv, &engineer, &mut results, 20).await;
    let until = Instant::now() + Duration::from_secs(120);
    let publishers: Vec<_> = (0..49)
        .map(|i| {
            tokio::spawn(bonder_fleet::synth::run_station(
                "127.0.0.1".into(),
                broker.port,
                i,
                10,
                until,
            ))
        })
        .collect();
    // Until the supervisor has heard every synthetic station.
    let deadline = Instant::now() + Duration::from_secs(60);
    while sv.tiles().len() < 50 {
        assert!(Instant::now() < deadline, "{} tiles", sv.tiles().len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let loaded = send_round(&sv, &engineer, &mut results, 20).await;
    let pct = |t: &[Duration], p: usize| t[(t.len() * p / 100).min(t.len() - 1)];
    for (what, t) in [("1 station ", &alone), ("50 stations", &loaded)] {
        println!(
            "signed recipe send → cmd/result, {what}: p50 {:?}, p90 {:?}, max {:?} (n = {})",
            pct(t, 50),
            pct(t, 90),
            t[t.len() - 1],
            t.len()
        );
    }
    for p in publishers {
        p.abort();
    }
    child.kill().unwrap();
    child.wait().unwrap();
    sim.shutdown().await;
}

/// `n` signed recipe sends, one after the other, each timed until its `cmd/result`;
/// sorted.
async fn send_round(
    sv: &bonder_fleet::service::Supervisor,
    who: &bonder_fleet::users::Session,
    results: &mut tokio::sync::broadcast::Receiver<bonder_fleet::service::ResultEvent>,
    n: usize,
) -> Vec<Duration> {
    let mut t = Vec::with_capacity(n);
    for i in 0..n {
        let mut r = bonder_core::recipe::Recipe::default_cu();
        r.ball.force_gf.0 = 20.0 + i as f64 * 0.1;
        let t0 = Instant::now();
        let id = sv.send_recipe(STATION, &r.to_json(), who).unwrap();
        loop {
            let a = tokio::time::timeout(Duration::from_secs(15), results.recv())
                .await
                .expect("the station's answer")
                .unwrap();
            if a.request_id.as_deref() == Some(id.as_str()) {
                break;
            }
        }
        t.push(t0.elapsed());
        // Stay under the station's 10 commands a second.
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    t.sort();
    t
}
