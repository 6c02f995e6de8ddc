//! A whole guided changeover against bondersim (Au 25 µm → Cu 20 µm), through the real
//! Modbus link, a real SQLite file and a real mosquitto: a wrong wire spool is refused,
//! a CRC mismatch injected by the simulator stops the download, a failing pull value
//! blocks sign-off, an operator may not sign off, and then a clean pass. Plus: a restart
//! in the middle resumes at the same step; abandoning rolls back to the previous recipe.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bonder_changeover::model::{Material, Step};
use bonder_changeover::{ChangeoverError, ChangeoverService, ServiceConfig};
use bonder_core::recipe::Recipe;
use bonder_core::state::MachineState;
use bonder_e2e::{Mosquitto, subscribe};
use bonder_gateway::payload::{ChangeoverMsg, StatusMsg};
use bonder_gateway::{Gateway, GatewayConfig};
use bonder_link::block_crc;
use bonder_runtime::{RuntimeConfig, Station};
use bonder_store::{Actor, Role, Store, WriterConfig, WriterHandle};
use bondersim::{SimConfig, Simulator, WireRate};
use tokio::sync::{mpsc, watch};

const STATION: &str = "sz1/assembly/l1/wb-11";

/// Polls `pred` every 50 ms until it holds, or panics after `within`.
async fn wait_for(what: &str, within: Duration, pred: impl Fn() -> bool) {
    let end = Instant::now() + within;
    while !pred() {
        assert!(Instant::now() < end, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

struct Rig {
    sim: Simulator,
    station: Arc<Station>,
    store: Arc<Store>,
    writer: WriterHandle,
    _dir: tempfile::TempDir,
}

fn released(store: &Store, r: &Recipe) -> (String, u32) {
    let repo = store.recipes();
    repo.create(r, &Actor::new("E7", Role::Engineer), "test recipe")
        .unwrap();
    let v = repo.versions(&r.name).unwrap().last().unwrap().version;
    repo.release(&r.name, v, &Actor::new("E7", Role::Engineer), "qualified")
        .unwrap();
    (r.name.clone(), v)
}

async fn rig() -> Rig {
    let sim = Simulator::start(SimConfig {
        wire_rate: WireRate::PerSecond(20.0),
        autostart: true,
        heater_tau_s: 0.5,
        defect_rate: 0.0,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path().join("station.sqlite")).unwrap());
    let writer = store.spawn_writer(WriterConfig::default()).unwrap();
    let mut cfg = RuntimeConfig::new(sim.modbus_addr);
    cfg.recipe = Recipe::default_au();
    cfg.start = true;
    let station = Arc::new(Station::start(cfg));
    wait_for("machine running", Duration::from_secs(10), || {
        station.snapshot().machine_state == Some(MachineState::Running)
    })
    .await;
    Rig {
        sim,
        station,
        store,
        writer,
        _dir: dir,
    }
}

fn service(r: &Rig) -> ChangeoverService {
    let mut cfg = ServiceConfig::new(STATION);
    cfg.settle_hold = Duration::from_millis(500);
    cfg.settle_timeout = Duration::from_secs(20);
    cfg.first_article_timeout = Duration::from_secs(20);
    ChangeoverService::new(r.station.clone(), r.store.clone(), r.writer.clone(), cfg).unwrap()
}

fn cu_scans(cu: &Recipe) -> [(Material, String); 3] {
    [
        (
            Material::Wire,
            format!("WS:Cu:{}:L2311-07", cu.wire.diameter_um.0),
        ),
        (Material::Capillary, format!("CAP:{}:C88", cu.capillary)),
        (Material::LeadFrame, format!("LF:{}:F1203", cu.device)),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_changeover_au_to_cu_with_every_refusal_then_a_clean_pass() {
    let broker = Mosquitto::start();
    let mut sub = subscribe(broker.port, "co-sub", &format!("{STATION}/changeovers")).await;
    let r = rig().await;
    let au = Recipe::default_au();
    released(&r.store, &au);
    let cu = Recipe::default_cu();
    let (cu_name, cu_v) = released(&r.store, &cu);
    let (_status_tx, status_rx) =
        watch::channel(StatusMsg::offline(time::OffsetDateTime::now_utc()));
    let (cmd_tx, _cmd_rx) = mpsc::channel(4);
    let mut gcfg = GatewayConfig::new(broker.url(), STATION.parse().unwrap());
    gcfg.publish_interval = Duration::from_millis(50);
    // The station's own store-backed outbox: what the changeover queues is published.
    let outbox = bonder_station::gateway_link::StoreOutbox::new(r.store.clone()).unwrap();
    let guard = bonder_gateway::CommandGuard::new(
        bonder_gateway::CommandPolicy::default(),
        Arc::new(bonder_station::gateway_link::StoreLedger::new(
            r.store.clone(),
        )),
    );
    let gateway = Gateway::start(gcfg, outbox, status_rx, cmd_tx, guard).unwrap();

    let svc = service(&r);
    let t0 = Instant::now();
    // 1. Select: a draft cannot be chosen; the released Cu version can.
    let draft = r
        .store
        .recipes()
        .edit(
            cu_v,
            &{
                let mut d = cu.clone();
                d.ball.force_gf.0 += 1.0;
                d
            },
            &Actor::new("E7", Role::Engineer),
            "try",
        )
        .unwrap()
        .version;
    let e = svc.start(&cu_name, draft, None, "T3").await.unwrap_err();
    assert!(matches!(e, ChangeoverError::NotReleased(_)), "{e}");
    let v = svc
        .start(&cu_name, cu_v, Some("WO-1".into()), "T3")
        .await
        .unwrap();
    assert!(
        v.diff.iter().any(|d| d.key == "wire.material"),
        "{:?}",
        v.diff
    );
    svc.confirm_select("T3").await.unwrap();

    // 2. Setup: the last strip must be confirmed out.
    let e = svc.setup("T3", false).await.unwrap_err();
    assert!(matches!(e, ChangeoverError::StripNotConfirmed));
    assert_eq!(svc.view().unwrap().last_error.unwrap().key, "co-err-strip");
    svc.setup("T3", true).await.unwrap();
    assert_eq!(r.sim.state(), MachineState::Setup);

    // 3. Materials: a gold spool on the copper recipe is refused.
    let e = svc
        .scan(Material::Wire, "WS:Au:25.4:L77")
        .await
        .unwrap_err();
    assert_eq!(e.key(), "co-scan-wire-material", "{e}");
    assert!(svc.view().unwrap().changeover.scans.is_empty());
    assert!(svc.materials_done("T3").await.is_err());
    for (m, label) in cu_scans(&cu) {
        svc.scan(m, &label).await.unwrap();
    }
    svc.materials_done("T3").await.unwrap();

    // 4. Kit checklist.
    assert!(svc.kit_done("T3").await.is_err());
    for k in bonder_changeover::model::KIT {
        svc.tick_kit(k.name, true).await.unwrap();
    }
    svc.kit_done("T3").await.unwrap();

    // 5. Download: the simulator corrupts the applied block once → stopped with the
    // reason, still at the download step; the retry verifies.
    r.sim.corrupt_next_apply();
    let e = svc.download("T3").await.unwrap_err();
    assert!(matches!(e, ChangeoverError::Crc { .. }), "{e}");
    assert_eq!(svc.view().unwrap().changeover.step, Some(Step::Download));
    let td = Instant::now();
    svc.download("T3").await.unwrap();
    let download_s = td.elapsed().as_secs_f64();
    assert_eq!(r.station.recipe().id(), format!("{cu_name}@{cu_v}"));

    // 6. Settle: heater to the Cu set point, forming gas on.
    let ts = Instant::now();
    svc.settle("T3").await.unwrap();
    let settle_s = ts.elapsed().as_secs_f64();

    // 7. PR verify (confirm step until vision lands).
    let tp = Instant::now();
    svc.pr_done("T3", "pads found").await.unwrap();
    let pr_s = tp.elapsed().as_secs_f64();

    // 8. First article: one unit bonded with the new recipe; a failing pull blocks.
    let tf = Instant::now();
    let bonds = svc.bond_first_article().await.unwrap();
    let fa_s = tf.elapsed().as_secs_f64();
    assert_eq!(bonds.len(), usize::from(cu.wires_per_unit) * 2);
    let e = svc
        .first_article_results("T3", vec![3.1, 2.9, 0.8, 3.3, 3.0], vec![20.0, 21.0, 19.5])
        .await
        .unwrap_err();
    assert_eq!(e.key(), "co-fa-pull", "{e}");
    let e = svc.sign_off("E7", Role::Engineer).await.unwrap_err();
    assert!(matches!(e, ChangeoverError::WrongStep { .. }), "{e}");
    svc.first_article_results("T3", vec![3.1, 2.9, 3.4, 3.3, 3.0], vec![20.0, 21.0, 19.5])
        .await
        .unwrap();

    // 9. Sign-off: an operator may not; a technician may; the machine runs again.
    let e = svc.sign_off("OP1", Role::Operator).await.unwrap_err();
    assert!(
        matches!(e, ChangeoverError::Forbidden(f) if f.role == Role::Operator),
        "{e}"
    );
    let done = svc.sign_off("T3", Role::Technician).await.unwrap();
    assert!(done.changeover.finished());
    assert!(svc.view().is_none());
    wait_for("running again", Duration::from_secs(5), || {
        r.sim.state() == MachineState::Running
    })
    .await;
    let total_s = t0.elapsed().as_secs_f64();
    println!(
        "software-driven steps: download+verify {:.0} ms, settle {settle_s:.2} s, \
         PR {pr_s:.2} s, first article {fa_s:.2} s; whole test changeover {total_s:.1} s; \
         planned total {:.0} min",
        download_s * 1000.0,
        bonder_changeover::model::planned_minutes()
    );

    // The record in SQLite: every step with its outcome, first article, completed.
    let reader = r.store.reader().unwrap();
    let cos = reader
        .changeovers(
            time::OffsetDateTime::UNIX_EPOCH,
            time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        )
        .unwrap();
    assert_eq!(cos.len(), 1);
    let c = &cos[0];
    assert_eq!(c.outcome.as_deref(), Some("completed"));
    assert_eq!(c.to_recipe, format!("{cu_name}@{cu_v}"));
    let names: Vec<&str> = c.steps.iter().map(|s| s.name.as_str()).collect();
    let all: Vec<&str> = Step::ALL.iter().map(|s| s.name()).collect();
    assert_eq!(names, all);
    assert!(c.steps[4].outcome.starts_with("crc 0x"), "{:?}", c.steps[4]);
    assert!(c.first_article.unwrap().passed);
    assert!(reader.open_changeover().unwrap().is_none());
    // The report covers it: nine steps, slowest first, exportable as CSV.
    let (n, stats) = bonder_changeover::step_report(&r.store, 20).unwrap();
    assert_eq!((n, stats.len()), (1, 9));
    assert!(stats.windows(2).all(|w| w[0].median_min >= w[1].median_min));
    let mut csv = Vec::new();
    bonder_changeover::write_report_csv(&stats, &mut csv, &|k| k.to_string()).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert_eq!(csv.lines().count(), 10, "{csv}");
    assert!(csv.starts_with("co-report-step,"), "{csv}");

    // … and on MQTT.
    let (topic, json, _) = tokio::time::timeout(Duration::from_secs(10), sub.recv())
        .await
        .expect("changeover record on MQTT")
        .unwrap();
    assert_eq!(topic, format!("{STATION}/changeovers"));
    let msg: ChangeoverMsg = serde_json::from_value(json).unwrap();
    assert_eq!(
        msg.steps
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        all
    );
    assert!(msg.first_article.passed);
    assert_eq!(msg.first_article.pull_gf_min, 2.9);
    assert_eq!(msg.from_recipe.as_deref(), Some(au.id().as_str()));
    assert!(msg.minutes >= 0.0 && msg.minutes < 5.0);
    gateway.shutdown().await;
    r.station.shutdown().await;
    r.sim.shutdown().await;
}

/// Select, setup and the three matching scans, by a technician.
async fn through_materials(svc: &ChangeoverService, cu: &Recipe) {
    svc.confirm_select("T3").await.unwrap();
    svc.setup("T3", true).await.unwrap();
    for (m, label) in cu_scans(cu) {
        svc.scan(m, &label).await.unwrap();
    }
    svc.materials_done("T3").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_the_middle_resumes_at_the_same_step() {
    let r = rig().await;
    released(&r.store, &Recipe::default_au());
    let cu = Recipe::default_cu();
    let (n, v) = released(&r.store, &cu);
    {
        let svc = service(&r);
        svc.start(&n, v, None, "T3").await.unwrap();
        through_materials(&svc, &cu).await;
        svc.tick_kit("capillary", true).await.unwrap();
        // The service goes away as with a crash: nothing is closed or flushed here.
    }
    let svc = service(&r);
    let v = svc.view().expect("resumed");
    assert_eq!(v.changeover.step, Some(Step::Kit));
    assert_eq!(v.changeover.done.len(), 3);
    assert_eq!(v.changeover.scans.len(), 3);
    assert_eq!(v.changeover.kit_done, vec!["capillary".to_string()]);
    assert_eq!(v.target.id(), format!("{n}@{v}", v = v.target.version));
    for k in bonder_changeover::model::KIT {
        svc.tick_kit(k.name, true).await.unwrap();
    }
    svc.kit_done("T3").await.unwrap();
    assert_eq!(svc.view().unwrap().changeover.step, Some(Step::Download));
    r.station.shutdown().await;
    r.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoning_rolls_back_to_the_previous_recipe_verified_by_crc() {
    let r = rig().await;
    let au = Recipe::default_au();
    released(&r.store, &au);
    let cu = Recipe::default_cu();
    let (n, v) = released(&r.store, &cu);
    let svc = service(&r);
    svc.start(&n, v, None, "T3").await.unwrap();
    through_materials(&svc, &cu).await;
    for k in bonder_changeover::model::KIT {
        svc.tick_kit(k.name, true).await.unwrap();
    }
    svc.kit_done("T3").await.unwrap();
    svc.download("T3").await.unwrap();
    let cu_crc = block_crc(&cu.to_block());
    wait_for("machine runs the Cu block", Duration::from_secs(5), || {
        r.station
            .snapshot()
            .status
            .is_some_and(|s| s.recipe_crc == cu_crc)
    })
    .await;
    svc.abandon("T3", Role::Technician).await.unwrap();
    assert!(svc.view().is_none());
    let au_crc = block_crc(&au.to_block());
    wait_for(
        "machine back on the Au block",
        Duration::from_secs(5),
        || {
            r.station
                .snapshot()
                .status
                .is_some_and(|s| s.recipe_crc == au_crc)
        },
    )
    .await;
    assert_eq!(r.station.recipe().id(), au.id());
    assert_eq!(r.sim.state(), MachineState::Idle);
    let c = r
        .store
        .reader()
        .unwrap()
        .changeovers(
            time::OffsetDateTime::UNIX_EPOCH,
            time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        )
        .unwrap();
    assert_eq!(c[0].outcome.as_deref(), Some("abandoned"));
    assert_eq!(c[0].steps.len(), 5);
    r.station.shutdown().await;
    r.sim.shutdown().await;
}
