//! Demo drivers over the built-in simulator: every page in both languages to PNG
//! (`bonder-station screenshots`), and the camera page under load. They live here, not
//! in the UI crate, so that only the station (and tests) depend on `bondersim`.
//!
//! The station's recipes, users, audit trail and shifts are a real SQLite file in a
//! temporary directory, opened and wired exactly as a running station does.

use anyhow::Context;
use bonder_core::AlarmCode;
use bonder_core::recipe::Recipe;
use bonder_runtime::camera_feed::{CameraFeed, CameraSettings};
use bonder_runtime::{RuntimeConfig, Station};
use bonder_station_ui::{CameraPageFigures, ScreenshotRun, UiOptions};
use bonder_store::{Actor, Role, Store, WriterConfig, WriterHandle};
use bondersim::{SimConfig, Simulator, WireRate};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A simulator, a station on the Au demo recipe, and a store in a temp dir with the
/// Au and Cu demo recipes released.
struct Demo {
    rt: tokio::runtime::Runtime,
    sim: Arc<Simulator>,
    station: Arc<Station>,
    recipe: Recipe,
    store: Arc<Store>,
    writer: WriterHandle,
    _dir: tempfile::TempDir,
}

impl Demo {
    fn start(sim_cfg: SimConfig) -> anyhow::Result<Demo> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let sim = rt
            .block_on(Simulator::start(sim_cfg))
            .context("cannot start the built-in simulator")?;
        let recipe = Recipe::default_au();
        let mut cfg = RuntimeConfig::new(sim.modbus_addr);
        cfg.recipe = recipe.clone();
        let station = {
            let _g = rt.enter();
            Arc::new(Station::start(cfg))
        };
        let dir = tempfile::tempdir().context("temp dir for the demo store")?;
        let store = Arc::new(Store::open(dir.path().join("station.sqlite"))?);
        let engineer = Actor::new("demo", Role::Engineer);
        for r in [recipe.clone(), Recipe::default_cu()] {
            let repo = store.recipes();
            repo.create(&r, &engineer, "demo recipe")?;
            repo.release(&r.name, 1, &engineer, "demo recipe")?;
        }
        seed_users(&store)?;
        let writer = {
            let _g = rt.enter();
            store.spawn_writer(WriterConfig::default())?
        };
        Ok(Demo {
            rt,
            sim: Arc::new(sim),
            station,
            recipe,
            store,
            writer,
            _dir: dir,
        })
    }

    /// The UI's options over the demo's store, with the simulator's camera if asked.
    fn options(&self, camera: bool) -> anyhow::Result<UiOptions> {
        let stores = crate::wiring::ui_stores_over(
            &self.store,
            &self.writer,
            &Arc::new(std::sync::atomic::AtomicI64::new(1)),
            bonder_core::login::LoginPolicy::default(),
            self.rt.handle(),
        );
        let mut opts = UiOptions::new(self.recipe.clone(), stores);
        if camera {
            let addr = self
                .sim
                .camera_addr()
                .context("the simulator has no camera")?;
            let feed = CameraFeed::start(
                Box::new(bonder_camera::SimCamera::new(addr)),
                CameraSettings::for_recipe(&self.recipe),
                None,
            )?;
            opts.camera = Some(Arc::new(feed));
        }
        Ok(opts)
    }

    fn changeover(&self) -> anyhow::Result<Arc<bonder_changeover::ChangeoverService>> {
        let mut cfg = bonder_changeover::ServiceConfig::new("sz1/assembly/l1/wb-01");
        cfg.settle_hold = Duration::from_millis(500);
        cfg.settle_timeout = Duration::from_secs(30);
        Ok(Arc::new(bonder_changeover::ChangeoverService::new(
            self.station.clone(),
            self.store.clone(),
            self.writer.clone(),
            cfg,
        )?))
    }

    fn shutdown(self) {
        let Demo {
            rt, sim, station, ..
        } = self;
        rt.block_on(station.shutdown());
        if let Ok(sim) = Arc::try_unwrap(sim) {
            rt.block_on(sim.shutdown());
        }
    }
}

/// The demo's users: an administrator, an engineer, an operator who is disabled and
/// one whose badge is locked after five wrong PINs (so the user page shows both states).
fn seed_users(store: &Store) -> anyhow::Result<()> {
    use bonder_core::login::LoginPolicy;
    use bonder_store::NewUser;
    let policy = LoginPolicy::default();
    let user = |badge: &str, name: &str, role: Role| NewUser {
        badge: badge.into(),
        name: name.into(),
        role,
        lang: "zh-CN".into(),
    };
    store.create_user(
        &user("A1", "Zhao Min", Role::Admin),
        "demo-admin-pass",
        &policy,
        None,
    )?;
    let by = Actor::new("A1", Role::Admin);
    for (badge, name, role, secret) in [
        ("E2", "Li Wei", Role::Engineer, "demo-engineer-pass"),
        ("OP7", "Wang Fang", Role::Operator, "246813"),
        ("OP9", "Chen Jing", Role::Operator, "135792"),
    ] {
        store.create_user(&user(badge, name, role), secret, &policy, Some(&by))?;
    }
    store.change_user(
        "OP7",
        &bonder_store::AccountChange::Disabled(true),
        &policy,
        &by,
    )?;
    for _ in 0..policy.max_failures {
        store.sign_in(
            "OP9",
            "000000",
            &policy,
            time::OffsetDateTime::now_utc(),
            "panel",
        )?;
    }
    Ok(())
}

/// Starts an in-process simulator (200 wires/s, 2 % defects) and a station against it,
/// lets them run for `run.fill`, raises a wire-break alarm so the banner and the alarm
/// page have something to show (or, with `station_alarm`, that station alarm), and
/// renders the screenshots (`bonder-station screenshots --out DIR`).
pub fn render_screenshots_with_simulator(
    out_dir: &Path,
    run: &ScreenshotRun,
    station_alarm: Option<u16>,
    host_message: Option<&str>,
    opcua_sessions: &[String],
) -> anyhow::Result<Vec<PathBuf>> {
    let demo = Demo::start(SimConfig {
        autostart: true,
        wire_rate: WireRate::PerSecond(200.0),
        defect_rate: 0.02,
        heater_tau_s: 1.0,
        ..SimConfig::default()
    })?;
    let mut opts = demo.options(demo.sim.camera_addr().is_some())?;
    opts.changeover = Some(demo.changeover()?);
    *opts.work_order.lock().unwrap_or_else(|p| p.into_inner()) = "WO-2024-0815".into();
    // The GEM page has something to show: a host that subscribed to completed units.
    let _host = demo
        .rt
        .block_on(demo_host(&demo, &mut opts, host_message))?;
    opts.host_sessions = demo_opcua_sessions(opcua_sessions)?;
    opts.health = Some(demo_health(&demo.recipe)?);
    demo_window_search(&demo.store, &demo.recipe)?;
    opts.window = Some(crate::window_search::window_view(demo.store.clone()));
    // Raise the alarm shortly before the pictures are taken.
    let alarm_after = run.fill.saturating_sub(Duration::from_millis(800));
    let sim = demo.sim.clone();
    let station = demo.station.clone();
    demo.rt.spawn(async move {
        tokio::time::sleep(alarm_after).await;
        match station_alarm {
            Some(code) => {
                station.station_alarm(code, true);
                if code == 902 {
                    // As the disk guard does: the store failing interlocks production.
                    station
                        .set_interlock(Some("data storage failing (alarm 902): screenshot".into()));
                }
            }
            None => sim.raise_alarm(AlarmCode::WireBroken),
        }
    });
    let result = bonder_station_ui::render_screenshots(
        out_dir,
        run,
        demo.station.clone(),
        demo.rt.handle().clone(),
        opts,
    );
    demo.shutdown();
    Ok(result?)
}

/// The OPC UA sessions given as `USER=CLIENT_URI`, connected 20 minutes ago with
/// Basic256Sha256/SignAndEncrypt (none given: OPC UA is off, as the page then says).
fn demo_opcua_sessions(
    given: &[String],
) -> anyhow::Result<Option<bonder_station_ui::HostSessions>> {
    if given.is_empty() {
        return Ok(None);
    }
    let since = std::time::SystemTime::now() - Duration::from_secs(20 * 60);
    let rows = given
        .iter()
        .map(|g| {
            let (user, client) = g
                .split_once('=')
                .with_context(|| format!("--opcua-session {g}: expected USER=CLIENT_URI"))?;
            Ok(bonder_station_ui::HostSession {
                user: user.to_string(),
                client: client.to_string(),
                since,
                security: "Basic256Sha256/SignAndEncrypt".into(),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Some(bonder_station_ui::HostSessions::new(move || {
        Some(rows.clone())
    })))
}

/// SECS/GEM on the demo station (an ephemeral port) and a host on it that establishes
/// communication, reads some variables, subscribes to completed units and, with
/// `message`, sends a terminal message. The host session lives as long as the result.
async fn demo_host(
    demo: &Demo,
    opts: &mut UiOptions,
    message: Option<&str>,
) -> anyhow::Result<bonder_secs::Session> {
    use bonder_secs::{Event, HsmsConfig, Item, Message, Session};
    let settings = crate::config::GemInput {
        listen: Some("127.0.0.1:0".into()),
        ..Default::default()
    }
    .settings()
    .map_err(anyhow::Error::msg)?;
    let eq = crate::gem_link::StationEquipment {
        station: demo.station.clone(),
        store: demo.store.clone(),
        writer: demo.writer.clone(),
        operator: opts.operator.clone(),
        next_job: opts.work_order.clone(),
    };
    let gem = crate::gem_link::start(&settings, eq).await?;
    let addr = gem
        .session()
        .local_addr()
        .context("the GEM session has no address")?;
    opts.gem = Some(gem);
    let (host, mut ev) = Session::start(HsmsConfig::active(addr)).await?;
    let answer = host.clone();
    tokio::spawn(async move {
        while let Some(e) = ev.recv().await {
            if let Event::Primary(p) = e {
                let (s, f) = (p.message.stream, p.message.function);
                let reply = if (s, f) == (1, 13) {
                    Item::list([Item::binary(0), Item::list([])])
                } else {
                    Item::binary(0)
                };
                answer.reply(&p.token, Message::reply(s, f + 1, reply));
            }
        }
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while host
        .request(Message::request(1, 13, Item::list([])))
        .await
        .is_err()
    {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the demo host could not reach GEM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ids = |v: &[u32]| Item::list(v.iter().map(|&i| Item::u4(i)));
    let steps = [
        Message::request(1, 3, ids(&[1002, 1003, 1005, 1006])),
        Message::request(2, 13, ids(&[3001, 3003])),
        Message::request(
            2,
            33,
            Item::list([
                Item::u4(1),
                Item::list([Item::list([Item::u4(10), ids(&[2001, 2002, 2003])])]),
            ]),
        ),
        Message::request(
            2,
            35,
            Item::list([
                Item::u4(2),
                Item::list([Item::list([Item::u4(106), ids(&[10])])]),
            ]),
        ),
        Message::request(2, 37, Item::list([Item::boolean(true), ids(&[106])])),
    ];
    for m in steps {
        host.request(m).await?;
    }
    if let Some(text) = message {
        host.request(Message::request(
            10,
            3,
            Item::list([Item::binary(0), Item::ascii(text)]),
        ))
        .await?;
    }
    Ok(host)
}

/// The camera page of a station on the built-in simulator (20 wires/s, 30 fps camera)
/// for `seconds`, measured by [`bonder_station_ui::measure_camera_page`].
pub fn measure_camera_page(size_px: (u32, u32), seconds: f64) -> anyhow::Result<CameraPageFigures> {
    let demo = Demo::start(SimConfig {
        autostart: true,
        wire_rate: WireRate::PerSecond(20.0),
        ..SimConfig::default()
    })?;
    let opts = demo.options(true)?;
    let figures = bonder_station_ui::measure_camera_page(
        size_px,
        seconds,
        demo.station.clone(),
        demo.rt.handle().clone(),
        opts,
    );
    demo.shutdown();
    Ok(figures?)
}

/// The Process health page's demo: the live demo bonds would take hours to show an
/// excursion, so the monitor is fed 150 000 simulated wires of a generator failing from
/// wire 20 000 (`bondersim::observed`: the bond model with the station's feature
/// extraction and strength models fitted on a tested sample), and the "tested" figures
/// are the truth of the newest sampled wires.
/// A process-window search part-way through for the Process window page: Bayesian
/// optimisation over ball US power and force, 14 of its 20 runs measured on the
/// simulator's bond model (bonded and tested offline, as `window_figures` does) and
/// stored as the station stores a session's runs.
fn demo_window_search(store: &Store, recipe: &Recipe) -> anyhow::Result<()> {
    use bonder_core::recipe::Param;
    use bonder_core::window::{self, Bounds, Method, Run};
    use bonder_core::window_session::{Plan, run_stats};
    let plan = Plan {
        method: Method::Bo,
        params: vec![Param::BallUsPower, Param::BallForce],
        bounds: Bounds::new(vec![[30.0, 100.0], [15.0, 70.0]]),
        budget_units: 80,
        units_per_run: 4,
        seed: 3,
    };
    let engineer = Actor::new("EN1", Role::Engineer);
    let now = time::OffsetDateTime::now_utc();
    let id = store.start_window_session(
        &bonder_store::window::NewWindowSession {
            wire: "Au:25.4".into(),
            plan: plan.to_json(),
            start_recipe: recipe.clone(),
            previous_recipe: recipe.clone(),
            previous_crc: bonder_link::block_crc(&recipe.to_block()),
        },
        &engineer,
        now,
    )?;
    let lim = window::limits_of(recipe);
    let mut bench = bondersim::window::Bench::new(plan.seed);
    let mut runs: Vec<Run> = Vec::new();
    while runs.len() < 14 {
        for at in window::next_points(plan.method, 2, &runs, plan.seed) {
            if runs.len() >= 14 {
                break;
            }
            let cand = plan.candidate(recipe, &at);
            let before = bench.wires;
            let samples = bench.run(&cand, plan.units_per_run);
            let margins = window::measured_margins(&samples, &lim).to_vec();
            store.add_window_run(
                id,
                &bonder_store::window::WindowRun {
                    idx: runs.len(),
                    at: at.clone(),
                    candidate: plan
                        .params
                        .iter()
                        .map(|p| (p.spec().key.to_string(), window::get(&cand, *p).into()))
                        .collect::<serde_json::Map<_, _>>()
                        .into(),
                    margins: margins.clone(),
                    stats: crate::window_search::stats_json(&run_stats(&samples)),
                    units: plan.units_per_run,
                    wires: bench.wires - before,
                    first_seq: None,
                    last_seq: None,
                    recipe_crc: bonder_link::block_crc(&cand.to_block()),
                    ended: bonder_store::timefmt::rfc3339_ms(now),
                },
            )?;
            runs.push(Run { at, margins });
        }
    }
    Ok(())
}

fn demo_health(recipe: &Recipe) -> anyhow::Result<bonder_station_ui::ProcessHealth> {
    let (health, _events) = crate::health::Analytics::new(recipe, 98.0);
    let scenarios = vec!["us-drift:start=20000,pct_per_100k=5".parse()?];
    let mut sim = bondersim::observed::Observed::new(recipe, scenarios, 1_000_000, 5, 20_000)
        .context("the demo recipe's block")?;
    let mut tested: std::collections::VecDeque<(f64, f64)> = Default::default();
    let mut results = 0u64;
    for i in 0..150_000u64 {
        let (obs, w) = sim.next_wire();
        health.feed(&obs);
        if i % 500 == 0 {
            tested.push_back((w.truth.strength.shear_gf, w.truth.strength.pull_gf));
            results += 2;
            if tested.len() > 20 {
                tested.pop_front();
            }
        }
    }
    let n = tested.len().max(1) as f64;
    health.set_tested(bonder_station_ui::TestedStrength {
        shear_gf: Some(tested.iter().map(|t| t.0).sum::<f64>() / n),
        pull_gf: Some(tested.iter().map(|t| t.1).sum::<f64>() / n),
        results,
    });
    Ok(health.process_health())
}
