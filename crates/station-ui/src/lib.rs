//! `bonder-station-ui`: the operator's touch UI of a bonder station, in Slint.
//!
//! * [`run`] shows the window and blocks on Slint's event loop; the runtime keeps running
//!   on its Tokio runtime, the UI pulls its snapshot on a timer and drains its bond events
//!   without ever waiting on the link.
//! * [`render_screenshots`] renders every page in both languages to PNG with the software
//!   renderer (no display needed).
//! * [`store`] has the traits the station's store implements (recipes, users, shifts,
//!   audit); [`UiOptions::new`] takes them, there is no in-memory default.
//!
//! Layout: `ui/station/` (pages, widgets, globals with the theme and one adapter global
//! per page) compiled by `build.rs`; one Rust module per adapter under [`adapters`].
//!
//! **Architecture invariant:** the UI talks to the machine only through
//! [`bonder_runtime::Station`]; all texts come from `bonder-i18n`.

pub mod adapters;
mod app;
pub mod camera_view;
pub mod fonts;
mod headless;
pub mod plot;
pub mod ring;
pub mod store;
pub mod tr;
pub mod users;

pub use users::SessionUser;

/// The code that slint-build generates from `ui/station/main.slint`.
#[allow(
    missing_debug_implementations,
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::todo
)]
mod ui {
    slint::include_modules!();
}

pub use app::{FRAME_INTERVAL, STATUS_INTERVAL, StationUi};
pub use headless::{
    CameraPageFigures, SCREENSHOT_PAGES, ScreenshotRun, measure_camera_page, render_screenshots,
};
pub use ui::{
    AlarmsAdapter, AppAdapter, CameraAdapter, ChangeoverAdapter, CurvesAdapter, GemAdapter,
    HealthAdapter, MainWindow, Page, ProductionAdapter, RecipesAdapter, SessionAdapter,
    ShiftAdapter, Tr, WindowAdapter,
};

use bonder_core::recipe::Recipe;
use bonder_i18n::Lang;
use bonder_runtime::Station;
use slint::ComponentHandle;
use std::sync::Arc;
use store::{AuditLog, RecipeLibrary, ShiftLog, UserDirectory};

/// Why the UI could not run.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error("cannot create the window: {0}")]
    Platform(#[from] slint::PlatformError),
    #[error("cannot write {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot encode PNG: {0}")]
    Png(#[from] png::EncodingError),
    #[error("nothing was rendered for {0}")]
    NothingRendered(String),
    #[error("camera: {0}")]
    Camera(String),
    #[error("changeover: {0}")]
    Changeover(#[source] bonder_changeover::ChangeoverError),
    #[error("screenshots: {0}")]
    Demo(String),
}

/// Settings of the UI and the stores it uses.
#[derive(Debug, Clone)]
pub struct UiOptions {
    /// Full screen (panels) instead of a window.
    pub fullscreen: bool,
    /// The recipe the station runs (the runtime gives only its id).
    pub recipe: Recipe,
    /// Work order shown on the production page as the operator's next job; the station
    /// updates it when the gateway sends one (`{S}/cmd/workorder`).
    pub work_order: WorkOrderText,
    /// Who is logged in (name), for the gateway's `{S}/status` `operator`; the UI keeps it
    /// current.
    pub operator: OperatorName,
    /// Language before anybody logs in.
    pub lang: Lang,
    /// Minutes without a touch after which the UI logs the user out.
    pub auto_lock_mins: u64,
    /// Heater band around the recipe's temperature, ± °C.
    pub heater_band_c: f64,
    /// Forming gas below this fraction of the recipe's flow is low.
    pub forming_gas_min_fraction: f64,
    pub recipes: Arc<dyn RecipeLibrary>,
    pub users: Arc<dyn UserDirectory>,
    pub shifts: Arc<dyn ShiftLog>,
    pub audit: Arc<dyn AuditLog>,
    /// The guided changeover (none: the page only says so).
    pub changeover: Option<Arc<bonder_changeover::ChangeoverService>>,
    /// The camera and its vision (none: the camera page says so).
    pub camera: Option<Arc<bonder_runtime::camera_feed::CameraFeed>>,
    /// The SECS/GEM equipment, for the GEM page and the host's terminal messages.
    pub gem: Option<bonder_gem::GemHandle>,
    /// Who is connected to the OPC UA server (none: OPC UA is off), for the GEM page.
    pub host_sessions: Option<HostSessions>,
    /// The process-health analytics, for the Process health page and the production
    /// page's strength (none: the page says so).
    pub health: Option<ProcessHealth>,
    /// The newest process-window search, for the Process window page (none: the page
    /// says no search was made).
    pub window: Option<WindowSearchView>,
}

/// One chart of the Process health page: its statistic over the last blocks of 1 000
/// wires, scaled so that ±1 are its control limits.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthTrend {
    /// The `{S}/health` feature word (`ball_us_energy_mj` …).
    pub signal: &'static str,
    pub history: Vec<f64>,
}

/// The newest test results, for "predicted against tested".
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TestedStrength {
    /// Mean of the newest results of each test, gf.
    pub shear_gf: Option<f64>,
    pub pull_gf: Option<f64>,
    /// Results stored.
    pub results: u64,
}

/// What the process-health analytics show now.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HealthPanel {
    /// Wires seen since the recipe started; the baseline needs `baseline_wires`.
    pub wires: u64,
    pub baseline_wires: u64,
    pub baselined: bool,
    pub charts: Vec<HealthTrend>,
    pub warnings: Vec<bonder_core::health::Warning>,
    /// Touchdowns left on the capillary, and whether that is the forecast (earlier than
    /// its counted life).
    pub capillary_left: Option<u64>,
    pub capillary_forecast: bool,
    /// Wires until the yield is forecast under its limit.
    pub yield_eta: Option<u64>,
    pub yield_limit_pct: f64,
    /// The newest wire's predicted shear and pull (gf, sd).
    pub shear: Option<(f64, f64)>,
    pub pull: Option<(f64, f64)>,
    pub tested: TestedStrength,
}

/// Where the pages read the process health from.
#[derive(Clone)]
pub struct ProcessHealth(Arc<dyn Fn() -> HealthPanel + Send + Sync>);

impl ProcessHealth {
    pub fn new(f: impl Fn() -> HealthPanel + Send + Sync + 'static) -> Self {
        ProcessHealth(Arc::new(f))
    }

    pub fn panel(&self) -> HealthPanel {
        (self.0)()
    }
}

impl std::fmt::Debug for ProcessHealth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ProcessHealth").field(&self.panel()).finish()
    }
}

/// The newest process-window search as the Process window page shows it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WindowPanel {
    pub session: i64,
    /// `Au:25.4`.
    pub wire: String,
    /// `bo` or `ccd`.
    pub method: String,
    pub by: String,
    /// `open`, `done` or `abandoned`.
    pub state: String,
    pub units_used: u32,
    pub budget_units: u32,
    pub wires_used: u64,
    pub runs: usize,
    pub budget_runs: usize,
    /// Every varied parameter: its recipe key and bounds (the slice shows the first two).
    pub params: Vec<(String, [f64; 2])>,
    /// Each run's point (unit coordinates of every varied parameter) and whether every
    /// margin was ≥ 0.
    pub points: Vec<(Vec<f64>, bool)>,
    pub estimate: Option<WindowEstimateView>,
    /// `name@version` of the draft, once made.
    pub draft: Option<String>,
}

/// A window estimate, in the units of the parameters and in unit coordinates.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WindowEstimateView {
    /// Unit coordinates of the centre and the box (`[lo, hi]` per parameter).
    pub centre_unit: Vec<f64>,
    pub box_unit: Vec<[f64; 2]>,
    /// The same in parameter units.
    pub centre: Vec<f64>,
    pub bbox: Vec<[f64; 2]>,
    /// The smallest modelled margin at the centre.
    pub margin: f64,
    /// Predicted Cpk of shear, pull and ball diameter.
    pub cpk: [Option<f64>; 3],
}

/// Where the Process window page reads the newest search from.
#[derive(Clone)]
pub struct WindowSearchView(Arc<dyn Fn() -> Option<WindowPanel> + Send + Sync>);

impl WindowSearchView {
    pub fn new(f: impl Fn() -> Option<WindowPanel> + Send + Sync + 'static) -> Self {
        WindowSearchView(Arc::new(f))
    }

    pub fn panel(&self) -> Option<WindowPanel> {
        (self.0)()
    }
}

impl std::fmt::Debug for WindowSearchView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("WindowSearchView").finish_non_exhaustive()
    }
}

/// A client connected to one of the station's host interfaces (an OPC UA session).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSession {
    /// The badge it signed in with, or `anonymous`.
    pub user: String,
    /// The client's application URI.
    pub client: String,
    /// When the station saw it activated.
    pub since: std::time::SystemTime,
    /// `Basic256Sha256/SignAndEncrypt` …
    pub security: String,
}

/// Where the GEM page reads the OPC UA sessions from: a function returning the current
/// list, or `None` while the server is not (yet) running.
#[derive(Clone)]
pub struct HostSessions(Arc<dyn Fn() -> Option<Vec<HostSession>> + Send + Sync>);

impl HostSessions {
    pub fn new(f: impl Fn() -> Option<Vec<HostSession>> + Send + Sync + 'static) -> Self {
        HostSessions(Arc::new(f))
    }

    /// The sessions now (`None`: the server is not running).
    pub fn list(&self) -> Option<Vec<HostSession>> {
        (self.0)()
    }
}

impl std::fmt::Debug for HostSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("HostSessions").field(&self.list()).finish()
    }
}

/// The storage the UI works on (every field required: nothing is silently in memory).
#[derive(Debug, Clone)]
pub struct UiStores {
    pub recipes: Arc<dyn RecipeLibrary>,
    pub users: Arc<dyn UserDirectory>,
    pub shifts: Arc<dyn ShiftLog>,
    pub audit: Arc<dyn AuditLog>,
}

/// Shared text of the next work order (empty: none).
pub type WorkOrderText = Arc<std::sync::Mutex<String>>;

/// Shared name of the logged-in user (`None`: nobody).
pub type OperatorName = Arc<std::sync::Mutex<Option<String>>>;

impl UiOptions {
    /// Defaults for a recipe over the given stores (there is no default store: the
    /// station passes its SQLite adapters, tests their doubles).
    pub fn new(recipe: Recipe, stores: UiStores) -> UiOptions {
        UiOptions {
            fullscreen: false,
            recipes: stores.recipes,
            users: stores.users,
            shifts: stores.shifts,
            audit: stores.audit,
            recipe,
            work_order: WorkOrderText::default(),
            operator: OperatorName::default(),
            lang: Lang::EnUs,
            auto_lock_mins: 10,
            heater_band_c: 5.0,
            forming_gas_min_fraction: 0.8,
            changeover: None,
            camera: None,
            gem: None,
            host_sessions: None,
            health: None,
            window: None,
        }
    }
}

static PROCESS_START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// Logs the system time zone the UI shows times in. Times follow the system's zone and
/// its daylight-saving changes without a restart (see `app::clock`).
pub fn init_local_time() {
    let tz = jiff::tz::TimeZone::system();
    tracing::info!(
        zone = tz
            .iana_name()
            .unwrap_or("unnamed (from /etc/localtime or TZ)"),
        "showing local times"
    );
}

/// Notes when the process started (call first thing in `main`): the UI logs how long after
/// it the first frame was drawn.
pub fn mark_process_start() {
    let _ = PROCESS_START.set(std::time::Instant::now());
}

fn log_first_frame(what: &str) {
    static DONE: std::sync::Once = std::sync::Once::new();
    DONE.call_once(|| {
        let ms = PROCESS_START
            .get()
            .map_or(f64::NAN, |t| t.elapsed().as_secs_f64() * 1e3);
        tracing::info!(start_to_first_frame_ms = ms, "first frame ({what})");
    });
}

/// Shows the station window (full screen if asked) and runs Slint's event loop until the
/// window closes. Must be called on the main thread; `station` runs on `rt`.
pub fn run(
    station: Arc<Station>,
    rt: tokio::runtime::Handle,
    opts: UiOptions,
) -> Result<(), UiError> {
    let fullscreen = opts.fullscreen;
    let ui = StationUi::new(station, rt, opts)?;
    ui.window().window().set_fullscreen(fullscreen);
    ui.start_timer();
    tracing::info!("station UI shown");
    // The renderer tells when a frame was drawn where it can; else the first beat of the
    // event loop (which follows the first paint of a newly shown window).
    let notified = ui
        .window()
        .window()
        .set_rendering_notifier(|state, _| {
            if matches!(state, slint::RenderingState::AfterRendering) {
                log_first_frame("rendered");
            }
        })
        .is_ok();
    if !notified {
        slint::Timer::single_shot(std::time::Duration::ZERO, || {
            log_first_frame("first event-loop beat after show");
        });
    }
    ui.window().run()?;
    Ok(())
}
