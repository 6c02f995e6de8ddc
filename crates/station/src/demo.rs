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
