//! The gateway link against a real mosquitto: topic names and payload shapes of the
//! contract, store-and-forward across a broker outage, last will, commands.
//!
//! The outbox here is a small in-memory one so these tests isolate the MQTT side; the
//! station-level tests (`station_gateway.rs`) run the same link over the real SQLite store.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use bonder_e2e::{Mosquitto, wait_until};
use bonder_gateway::payload::{BondMsg, StatusMsg};
use bonder_gateway::{
    CommandGuard, CommandLedger, CommandPolicy, CommandRecord, CommandRequest, Gateway,
    GatewayCommand, GatewayConfig, Outbox, OutboxError, QueuedMessage, Topic,
};
use rumqttc::{AsyncClient, MqttOptions, QoS};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

const STATION: &str = "sz1/assembly/l1/wb-07";

/// Nonces and audit records in memory (the station's is its SQLite store:
/// `crates/station/tests/signed_commands.rs`).
#[derive(Default)]
struct MemLedger {
    nonces: Mutex<BTreeSet<String>>,
    records: Mutex<Vec<CommandRecord>>,
}

impl CommandLedger for MemLedger {
    fn claim_nonce(&self, nonce: &str, _until: i64, _now: i64) -> Result<bool, OutboxError> {
        Ok(self.nonces.lock().unwrap().insert(nonce.to_string()))
    }
    fn record(&self, rec: &CommandRecord) -> Result<(), OutboxError> {
        self.records.lock().unwrap().push(rec.clone());
        Ok(())
    }
}

/// These tests send version-1 commands: the migration switch is on.
fn guard(ledger: Arc<MemLedger>) -> Arc<CommandGuard> {
    CommandGuard::new(
        CommandPolicy {
            accept_unsigned: true,
            ..CommandPolicy::default()
        },
        ledger,
    )
}

#[derive(Default)]
struct Mem {
    bonds: Vec<BondMsg>,
    cursor: u64,
    messages: Vec<QueuedMessage>,
}

#[derive(Clone, Default)]
struct MemOutbox(Arc<Mutex<Mem>>);

impl MemOutbox {
    fn add_bonds(&self, n: u64) {
        let mut m = self.0.lock().unwrap();
        for _ in 0..n {
            let seq = m.bonds.len() as u64 + 1;
            m.bonds.push(BondMsg {
                seq,
                ts: "2026-11-23T08:15:02.201Z".into(),
                unit: (seq / 4) as u32,
                wire: (seq % 2) as u16 + 1,
                kind: if seq % 2 == 1 { "ball" } else { "stitch" }.into(),
                verdict: "ok".into(),
                dx_um: -0.8,
                dy_um: 1.1,
                ball_um: (seq % 2 == 1).then_some(48.3),
                peak_force_gf: 31.2,
                us_energy_mj: 0.84,
                deform_um: 6.9,
            });
        }
    }
}

impl Outbox for MemOutbox {
    fn bond_cursor(&mut self) -> Result<u64, OutboxError> {
        Ok(self.0.lock().unwrap().cursor)
    }
    fn set_bond_cursor(&mut self, seq: u64) -> Result<(), OutboxError> {
        self.0.lock().unwrap().cursor = seq;
        Ok(())
    }
    fn max_bond_seq(&mut self) -> Result<u64, OutboxError> {
        Ok(self.0.lock().unwrap().bonds.len() as u64)
    }
    fn bonds(&mut self, after: u64, upto: u64, limit: usize) -> Result<Vec<BondMsg>, OutboxError> {
        let m = self.0.lock().unwrap();
        Ok(m.bonds
            .iter()
            .filter(|b| b.seq > after && b.seq <= upto)
            .take(limit)
            .cloned()
            .collect())
    }
    fn messages(&mut self, limit: usize) -> Result<Vec<QueuedMessage>, OutboxError> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .messages
            .iter()
            .take(limit)
            .cloned()
            .collect())
    }
    fn ack_message(&mut self, id: i64) -> Result<(), OutboxError> {
        self.0.lock().unwrap().messages.retain(|m| m.id != id);
        Ok(())
    }
}

fn status(state: &str) -> StatusMsg {
    StatusMsg {
        v: 1,
        ts: String::new(),
        state: state.into(),
        recipe: Some("SOT23-AU25@7".into()),
        operator: None,
        wires_bonded: 10,
        wire_rate_per_min: 600.0,
        yield_pct: 99.5,
        alarm: None,
        ..StatusMsg::offline(time::OffsetDateTime::now_utc())
    }
}

async fn subscriber(port: u16, id: &str) -> mpsc::UnboundedReceiver<bonder_e2e::Received> {
    bonder_e2e::subscribe(port, id, &format!("{STATION}/#")).await
}

async fn next_on(
    rx: &mut mpsc::UnboundedReceiver<(String, Value, bool)>,
    topic: &str,
    secs: u64,
) -> (Value, bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some((t, v, r))) if t == topic => return (v, r),
            Ok(Some(_)) => {}
            _ => panic!("nothing on {topic} within {secs}s"),
        }
    }
}

fn cfg(url: String) -> GatewayConfig {
    let mut c = GatewayConfig::new(url, STATION.parse().unwrap());
    c.keep_alive = Duration::from_secs(5);
    c
}

fn is_ts(v: &Value) -> bool {
    v.as_str()
        .and_then(bonder_gateway::payload::parse_ts)
        .is_some()
        && v.as_str().unwrap().ends_with('Z')
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_and_payloads_follow_the_contract_and_commands_are_answered() {
    let broker = Mosquitto::start();
    let mut rx = subscriber(broker.port, "contract-sub").await;
    let outbox = MemOutbox::default();
    outbox.add_bonds(30);
    outbox.0.lock().unwrap().messages.push(QueuedMessage {
        id: 1,
        topic: Topic::Alarms,
        payload: serde_json::to_string(&bonder_gateway::payload::AlarmMsg::new(
            time::OffsetDateTime::now_utc(),
            102,
            true,
        ))
        .unwrap(),
    });
    let (_status_tx, status_rx) = watch::channel(status("running"));
    let (cmd_tx, mut cmd_rx) = mpsc::channel::<CommandRequest>(8);
    let ledger = Arc::new(MemLedger::default());
    let gw = Gateway::start(
        cfg(broker.url()),
        outbox.clone(),
        status_rx,
        cmd_tx,
        guard(ledger.clone()),
    )
    .unwrap();

    // {S}/status: documented keys; the station's state (a will from a dropped and
    // re-made connection may come first on a loaded machine).
    let st = loop {
        let (st, _) = next_on(&mut rx, &format!("{STATION}/status"), 10).await;
        if st["state"] == "running" {
            break st;
        }
    };
    serde_json::from_value::<StatusMsg>(st.clone()).unwrap();

    // {S}/bonds: a batch with first/last seq and documented bond keys and units.
    let (b, _) = next_on(&mut rx, &format!("{STATION}/bonds"), 10).await;
    assert_eq!(b["v"], 1);
    assert!(is_ts(&b["ts"]));
    let bonds = b["bonds"].as_array().unwrap();
    assert_eq!(b["first_seq"], bonds[0]["seq"]);
    assert_eq!(b["last_seq"], bonds[bonds.len() - 1]["seq"]);
    for bond in bonds {
        for k in [
            "seq",
            "ts",
            "unit",
            "wire",
            "kind",
            "verdict",
            "dx_um",
            "dy_um",
            "ball_um",
            "peak_force_gf",
            "us_energy_mj",
            "deform_um",
        ] {
            assert!(bond.get(k).is_some(), "bond lacks {k}: {bond}");
        }
        assert!(["ball", "stitch"].contains(&bond["kind"].as_str().unwrap()));
        assert_eq!(bond["ball_um"].is_null(), bond["kind"] == "stitch");
    }

    // {S}/alarms from the outbox; acknowledged messages leave it.
    let (a, _) = next_on(&mut rx, &format!("{STATION}/alarms"), 10).await;
    assert_eq!(
        (
            a["code"].as_u64(),
            a["name"].as_str(),
            a["raised"].as_bool()
        ),
        (Some(102), Some("nsol"), Some(true))
    );
    assert!(a["text_zh"].as_str().unwrap().contains("未粘"));
    for _ in 0..50 {
        if outbox.0.lock().unwrap().messages.is_empty() && gw.state().acked_seq == 30 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(outbox.0.lock().unwrap().messages.is_empty());
    assert_eq!(
        outbox.0.lock().unwrap().cursor,
        30,
        "cursor saved after the broker's acks"
    );

    // Commands: a valid recipe reaches the station, bad ones are answered ok:false.
    let cmd = AsyncClient::new(MqttOptions::new("mes", "127.0.0.1", broker.port), 10);
    let (mes, mut mes_ev) = cmd;
    tokio::spawn(async move { while mes_ev.poll().await.is_ok() {} });
    let recipe = bonder_core::recipe::Recipe::default_cu();
    let good = format!(
        r#"{{"v":1,"request_id":"req-1","recipe":{}}}"#,
        recipe.to_json()
    );
    mes.publish(
        format!("{STATION}/cmd/recipe"),
        QoS::AtLeastOnce,
        false,
        good,
    )
    .await
    .unwrap();
    let req = tokio::time::timeout(Duration::from_secs(10), cmd_rx.recv())
        .await
        .unwrap()
        .unwrap();
    match &req.command {
        GatewayCommand::Recipe {
            request_id,
            recipe: r,
        } => assert_eq!((request_id.as_str(), &**r), ("req-1", &recipe)),
        other => panic!("{other:?}"),
    }
    req.reply.send(Ok(())).unwrap();
    let (res, _) = next_on(&mut rx, &format!("{STATION}/cmd/result"), 10).await;
    assert_eq!(
        (res["request_id"].as_str(), res["ok"].as_bool()),
        (Some("req-1"), Some(true))
    );

    for (payload, needle) in [
        ("{oops".to_string(), "unsigned: not a JWS (malformed JSON"),
        (
            r#"{"v":9,"request_id":"req-2"}"#.to_string(),
            "unsigned: not a JWS",
        ),
        (
            format!(
                r#"{{"v":1,"request_id":"req-3","recipe":{}}}"#,
                recipe
                    .to_json()
                    .replace("\"forming_gas_l_min\":0.6", "\"forming_gas_l_min\":12.5")
            ),
            "forming_gas_l_min 12.5 is outside 0..10",
        ),
    ] {
        mes.publish(
            format!("{STATION}/cmd/recipe"),
            QoS::AtLeastOnce,
            false,
            payload,
        )
        .await
        .unwrap();
        let (res, _) = next_on(&mut rx, &format!("{STATION}/cmd/result"), 10).await;
        assert_eq!(res["ok"], false, "{res}");
        assert!(res["error"].as_str().unwrap().contains(needle), "{res}");
    }
    assert!(
        cmd_rx.try_recv().is_err(),
        "refused commands never reach the station"
    );
    // One audit record per outcome: the accepted one and the three refusals.
    let records = ledger.records.lock().unwrap().clone();
    let outcomes: Vec<(Option<&str>, bool)> = records
        .iter()
        .map(|r| (r.request_id.as_deref(), r.outcome.is_ok()))
        .collect();
    assert_eq!(
        outcomes,
        [
            (Some("req-1"), true),
            (None, false),
            (Some("req-2"), false),
            (Some("req-3"), false)
        ]
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_outage_loses_no_seq_and_last_will_says_offline() {
    let mut broker = Mosquitto::start();
    let mut rx = subscriber(broker.port, "outage-sub").await;
    let outbox = MemOutbox::default();
    let (_status_tx, status_rx) = watch::channel(status("running"));
    let (cmd_tx, _cmd_rx) = mpsc::channel(8);
    let gw = Gateway::start(
        cfg(broker.url()),
        outbox.clone(),
        status_rx,
        cmd_tx,
        guard(Arc::default()),
    )
    .unwrap();
    let producer = {
        let outbox = outbox.clone();
        tokio::spawn(async move {
            // 40 bonds/s (a 20 wires/s bonder) for 14 s.
            for _ in 0..140 {
                outbox.add_bonds(4);
                // Deliberate: the pace of a running bonder, so bonds keep coming
                // before, during and after the outage.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    // The outage starts mid-stream: once the broker has acknowledged some bonds.
    wait_until(
        "the first bonds acknowledged before the outage",
        Duration::from_secs(15),
        || {
            let st = gw.state();
            st.connects >= 1 && st.acked_seq > 0
        },
    )
    .await;
    broker.stop();
    // Deliberate: an outage of a given length (10 s of bonds to store and forward).
    tokio::time::sleep(Duration::from_secs(10)).await;
    broker.restart();
    producer.await.unwrap();
    let total = outbox.0.lock().unwrap().bonds.len() as u64;
    let mut seen = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while seen.len() < total as usize {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some((t, v, _))) if t.ends_with("/bonds") => {
                for b in v["bonds"].as_array().unwrap() {
                    seen.insert(b["seq"].as_u64().unwrap());
                }
            }
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    let missing: Vec<u64> = (1..=total).filter(|s| !seen.contains(s)).collect();
    assert!(
        missing.is_empty(),
        "{} of {total} seqs missing, first {:?}; gateway {:?}",
        missing.len(),
        &missing[..missing.len().min(10)],
        gw.state()
    );
    assert!(gw.state().connects >= 2);

    // The station dies: the broker publishes the retained last will.
    gw.shutdown().await;
    let mut rx2 = subscriber(broker.port, "will-sub").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (v, _) = tokio::time::timeout_at(deadline, async {
            next_on(&mut rx2, &format!("{STATION}/status"), 15).await
        })
        .await
        .expect("status");
        if v["state"] == "offline" {
            break;
        }
    }
    // Retained: a subscriber that comes later gets `offline` at once.
    let mut rx3 = subscriber(broker.port, "late-sub").await;
    let (v, retained) = next_on(&mut rx3, &format!("{STATION}/status"), 10).await;
    assert!(
        retained && v["state"] == "offline",
        "retained={retained} {v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtts_with_the_plants_ca_connects_and_a_wrong_ca_is_refused() {
    let broker = Mosquitto::start_with_tls();
    let tls_port = broker.tls_port.unwrap();
    let mut rx = subscriber(broker.port, "tls-sub").await;
    let outbox = MemOutbox::default();
    outbox.add_bonds(3);
    let (_status_tx, status_rx) = watch::channel(status("running"));
    let (cmd_tx, _cmd_rx) = mpsc::channel(8);
    let mut c = cfg(format!("mqtts://127.0.0.1:{tls_port}"));
    c.ca_file = Some(broker.pki().ca_cert);
    let gw = Gateway::start(
        c,
        outbox.clone(),
        status_rx.clone(),
        cmd_tx.clone(),
        guard(Arc::default()),
    )
    .unwrap();
    let (b, _) = next_on(&mut rx, &format!("{STATION}/bonds"), 15).await;
    assert_eq!(
        b["last_seq"], 3,
        "bonds published over TLS reach a plain subscriber"
    );
    gw.shutdown().await;

    // A CA the broker's certificate was not signed by: no connection, a clear error.
    let other = tempfile::tempdir().unwrap();
    let wrong = bonder_e2e::TestPki::create(other.path());
    let mut c = cfg(format!("mqtts://127.0.0.1:{tls_port}"));
    c.ca_file = Some(wrong.ca_cert);
    let gw = Gateway::start(c, outbox, status_rx, cmd_tx, guard(Arc::default())).unwrap();
    wait_until("the TLS handshake to fail", Duration::from_secs(15), || {
        gw.state().last_error.is_some()
    })
    .await;
    let st = gw.state();
    assert!(!st.connected && st.connects == 0, "{st:?}");
    let err = st.last_error.unwrap_or_default().to_lowercase();
    assert!(err.contains("certificate") || err.contains("tls"), "{err}");
    gw.shutdown().await;

    // A CA file that does not exist is refused before any connection.
    let mut c = cfg(format!("mqtts://127.0.0.1:{tls_port}"));
    c.ca_file = Some("/nonexistent/ca.pem".into());
    let (_s, srx) = watch::channel(status("idle"));
    let (ctx, _crx) = mpsc::channel(1);
    let e = Gateway::start(c, MemOutbox::default(), srx, ctx, guard(Arc::default()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("/nonexistent/ca.pem"), "{e}");
}
