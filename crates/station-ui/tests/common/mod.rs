//! Shared set-up of the UI tests: a simulator, a station and a UI with two users.
#![allow(dead_code)]

use bonder_core::recipe::Recipe;
use bonder_i18n::Lang;
use bonder_runtime::camera_feed::{CameraFeed, CameraSettings, Recorder};
use bonder_runtime::{RuntimeConfig, Station};
use bonder_station_ui::store::{Actor, RecipeLibrary, Role, UserDirectory, UserRecord};
use bonder_station_ui::{MainWindow, SessionAdapter, StationUi, UiOptions, UiStores};
use bonder_vision::VisionSetup;
use bondersim::{SimConfig, Simulator, WireRate};
use i_slint_backend_testing::{AccessibleRole, ElementHandle, ElementRoot};
use slint::ComponentHandle;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub mod fakes;
use fakes::{MemAuditLog, MemInspectionLog, MemRecipeLibrary, MemShiftLog, MemUserDirectory};

pub const OPERATOR: (&str, &str) = ("100", "111111");
pub const ENGINEER: (&str, &str) = ("200", "engineer-2222");
pub const ADMIN: (&str, &str) = ("900", "admin-password-9");

/// A running simulator, station and UI (the runtime must outlive them).
#[allow(missing_debug_implementations)]
pub struct Rig {
    pub ui: StationUi,
    pub users: Arc<MemUserDirectory>,
    pub sim: Arc<Simulator>,
    pub station: Arc<Station>,
    pub recipes: Arc<MemRecipeLibrary>,
    pub audit: Arc<MemAuditLog>,
    pub changeover: Arc<bonder_changeover::ChangeoverService>,
    /// The camera feed's bond inspections (with [`rig_with_camera`]).
    pub inspections: Arc<MemInspectionLog>,
    /// The camera feed (with [`rig_with_camera`]).
    pub camera: Option<Arc<CameraFeed>>,
    pub rt: tokio::runtime::Runtime,
    pub _dir: tempfile::TempDir,
}

impl Rig {
    /// The camera feed; panics without one.
    pub fn feed(&self) -> Arc<CameraFeed> {
        self.camera.clone().expect("a rig with a camera")
    }
}

/// Starts everything on the testing backend (no event loop, no pixels).
pub fn rig() -> Rig {
    rig_with(false, None, None, None)
}

/// [`rig`] with the simulator's camera feeding the camera page.
pub fn rig_with_camera() -> Rig {
    rig_with(true, None, None, None)
}

/// [`rig_with_camera`] with a vision setup stored for the recipe before the UI starts
/// (the feed itself starts untaught).
pub fn rig_with_stored_vision(setup: VisionSetup) -> Rig {
    rig_with(true, Some(setup), None, None)
}

/// A rig whose Process health page reads `health`.
#[allow(dead_code)] // not every test binary uses every rig
pub fn rig_with_health(health: bonder_station_ui::ProcessHealth) -> Rig {
    rig_with(false, None, Some(health), None)
}

/// A rig whose Process window page reads `window`.
#[allow(dead_code)] // not every test binary uses every rig
pub fn rig_with_window(window: bonder_station_ui::WindowSearchView) -> Rig {
    rig_with(false, None, None, Some(window))
}

fn rig_with(
    camera: bool,
    stored: Option<VisionSetup>,
    health: Option<bonder_station_ui::ProcessHealth>,
    window: Option<bonder_station_ui::WindowSearchView>,
) -> Rig {
    i_slint_backend_testing::init_no_event_loop();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sim = rt
        .block_on(Simulator::start(SimConfig {
            autostart: true,
            wire_rate: WireRate::PerSecond(50.0),
            heater_tau_s: 0.3,
            ..SimConfig::default()
        }))
        .unwrap();
    let recipe = Recipe::default_au();
    let mut cfg = RuntimeConfig::new(sim.modbus_addr);
    cfg.recipe = recipe.clone();
    let station = {
        let _g = rt.enter();
        Arc::new(Station::start(cfg))
    };
    let users = Arc::new(MemUserDirectory::default());
    for ((badge, pin), name, role) in [
        (ADMIN, "Zhao Min", Role::Admin),
        (OPERATOR, "Wang Fang", Role::Operator),
        (ENGINEER, "Li Wei", Role::Engineer),
    ] {
        users
            .add(
                UserRecord {
                    badge: badge.into(),
                    name: name.into(),
                    role,
                    lang: Lang::EnUs,
                },
                pin,
                (role != Role::Admin)
                    .then(|| Actor::new(ADMIN.0, Role::Admin))
                    .as_ref(),
            )
            .unwrap();
    }
    let recipes = Arc::new(MemRecipeLibrary::new([recipe.clone()]));
    if let Some(setup) = stored {
        recipes
            .save_vision(&recipe, &setup, &Actor::new(ENGINEER.0, Role::Engineer))
            .unwrap();
    }
    let audit = Arc::new(MemAuditLog::default());
    // The changeover runs over a real SQLite file with the Au and Cu recipes released.
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(bonder_store::Store::open(dir.path().join("station.sqlite")).unwrap());
    let eng = bonder_store::Actor::new("200", bonder_store::Role::Engineer);
    for r in [recipe.clone(), Recipe::default_cu()] {
        store.recipes().create(&r, &eng, "test").unwrap();
        store.recipes().release(&r.name, 1, &eng, "test").unwrap();
    }
    let writer = {
        let _g = rt.enter();
        store
            .spawn_writer(bonder_store::WriterConfig::default())
            .unwrap()
    };
    let mut co_cfg = bonder_changeover::ServiceConfig::new("sz1/assembly/l1/wb-03");
    co_cfg.settle_hold = Duration::from_millis(300);
    co_cfg.settle_timeout = Duration::from_secs(20);
    let changeover = Arc::new(
        bonder_changeover::ChangeoverService::new(station.clone(), store, writer, co_cfg).unwrap(),
    );
    let mut opts = UiOptions::new(
        recipe,
        UiStores {
            recipes: recipes.clone(),
            users: users.clone(),
            shifts: Arc::new(MemShiftLog::default()),
            audit: audit.clone(),
        },
    );
    opts.changeover = Some(changeover.clone());
    opts.health = health;
    opts.window = window;
    let inspections = Arc::new(MemInspectionLog::default());
    if camera {
        let feed = CameraFeed::start(
            Box::new(bonder_camera::SimCamera::new(sim.camera_addr().unwrap())),
            CameraSettings::for_recipe(&opts.recipe),
            Some(Recorder {
                events: station.subscribe(),
                log: inspections.clone(),
            }),
        )
        .unwrap();
        opts.camera = Some(Arc::new(feed));
    }
    let camera_feed = opts.camera.clone();
    let ui = StationUi::new(station.clone(), rt.handle().clone(), opts).unwrap();
    ui.window().show().unwrap();
    Rig {
        ui,
        users,
        sim: Arc::new(sim),
        station,
        recipes,
        audit,
        changeover,
        inspections,
        camera: camera_feed,
        rt,
        _dir: dir,
    }
}

/// Waits (up to 5 s) until the station's snapshot satisfies `f`, then lets the UI catch up.
pub fn wait_for(rig: &Rig, f: impl Fn(&bonder_runtime::Snapshot) -> bool) {
    for _ in 0..100 {
        if f(&rig.station.snapshot()) {
            rig.ui.refresh_now();
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("station never reached the expected state");
}

/// The enabled buttons labelled `label`.
pub fn buttons(app: &MainWindow, label: &str) -> Vec<ElementHandle> {
    ElementHandle::find_by_accessible_label(app, label)
        .filter(|e| e.accessible_role() == Some(AccessibleRole::Button))
        .collect()
}

/// Presses the (first) button labelled `label`.
pub fn click(app: &MainWindow, label: &str) {
    let found = buttons(app, label);
    assert!(!found.is_empty(), "no button labelled {label:?}");
    found[0].invoke_accessible_default_action();
}

/// Logs in through the login page.
pub fn log_in(rig: &Rig, (badge, pin): (&str, &str)) {
    let app = rig.ui.window();
    let s = app.global::<SessionAdapter>();
    s.set_badge(badge.into());
    s.set_pin(pin.into());
    click(app, &bonder_i18n::tr(rig.ui.lang(), "login-button"));
    // The PIN is checked off the UI thread; its answer arrives on a later beat.
    let logged_in = wait_ui(rig, Duration::from_secs(10), || {
        app.global::<bonder_station_ui::AppAdapter>()
            .get_logged_in()
            || !s.get_error().is_empty()
    });
    assert!(
        logged_in && s.get_error().is_empty(),
        "login of {badge} failed: {}",
        s.get_error()
    );
}

/// Beats the UI until `done` holds or `within` passes; whether it held.
pub fn wait_ui(rig: &Rig, within: Duration, done: impl Fn() -> bool) -> bool {
    let end = Instant::now() + within;
    loop {
        rig.ui.refresh_now();
        if done() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Every accessible label in the window now.
pub fn visible_labels(app: &MainWindow) -> Vec<String> {
    app.root_element()
        .query_descendants()
        .find_all()
        .into_iter()
        .filter_map(|e| e.accessible_label())
        .map(|l| l.to_string())
        .filter(|l| !l.trim().is_empty())
        .collect()
}
