//! The process-window search on the machine (issue 19): an engineer, the machine in
//! setup, picks parameters, bounds, a method (Bayesian optimisation or the central
//! composite design) and a budget of test units. For every candidate the session
//! downloads the recipe through the controller link (CRC read back), waits for the
//! heater, bonds a few units, stops, goes back to setup, and measures the run from the
//! station's own records: its verdicts (NSOP/NSOL), the ball diameter PR measured, and
//! the strength — pull and shear test results where the bench tester's files came in
//! (`--tests DIR`, imported as the watched folder does), else the station's predicted
//! strength. Every run is stored as it ends (`window_runs`), so a restart continues
//! after the last one. At the end the estimated window becomes a **draft** recipe
//! version (released only by an engineer, as any) and the recipe the machine ran before
//! is downloaded back and its CRC checked; abandoning does the same without a draft.
//!
//! Front ends: `bonder-station window-search` (headless, badge and PIN on stdin); the
//! maths is `bonder_core::window` and `bonder_core::window_session`.

use bonder_core::MachineState;
use bonder_core::permissions::{self, Permission};
use bonder_core::pull_test::TestKind;
use bonder_core::recipe::{Param, Recipe, WireMaterial};
use bonder_core::state::Command;
use bonder_core::window::{self, Limits, Run};
use bonder_core::window_session::{Plan, Stat, WireSeen, predicted_cpk, run_stats};
use bonder_link::{StreamEndpoint, block_crc};
use bonder_runtime::{CommandError, JudgedBond, RuntimeConfig, Station, StationEvent};
use bonder_store::window::{NewWindowSession, WindowRun};
use bonder_store::{Actor, AuditAction, AuditRecord, Store, StoreError, WriterHandle};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// Why a session did not start or did not finish (each in both languages).
#[derive(Debug, thiserror::Error)]
pub enum WindowSearchError {
    #[error(
        "a {role} may not search a process window: an engineer's sign-in is needed / \
         {role} 无权进行工艺窗口搜索：需要工程师登录"
    )]
    NotAllowed { role: String },
    #[error(
        "the machine is {state}, not in setup: put it in setup first (a window search bonds \
         test units only from setup) / 机器处于 {state}，不在设置模式：请先进入设置模式"
    )]
    NotInSetup { state: String },
    #[error("the controller at {0} did not come online within 15 s / 控制器 {0} 在 15 秒内未上线")]
    Offline(SocketAddr),
    #[error(
        "the controller runs a recipe with CRC {crc:08X} that the station has not recorded: run \
         a changeover first, so the session knows what to restore / 控制器运行的配方 \
         (CRC {crc:08X}) 未被本站记录：请先完成换型"
    )]
    UnknownRecipe { crc: u32 },
    #[error(
        "process-window search #{id} for {wire} is still open with another plan: resume it with \
         its own parameters or abandon it (--abandon) / 工艺窗口搜索 #{id}（{wire}）尚未结束且计划不同：\
         请按原参数继续或放弃"
    )]
    OtherSessionOpen { id: i64, wire: String },
    #[error("no process-window search is open / 没有进行中的工艺窗口搜索")]
    NothingOpen,
    #[error("{what}: {source} / {what} 失败")]
    Command {
        what: String,
        #[source]
        source: CommandError,
    },
    #[error(
        "heater did not settle at {set_c} °C ± {band_c} °C within {secs} s (last {last_c:.1} °C) \
         / 加热器未在 {secs} 秒内稳定在 {set_c} °C ± {band_c} °C（当前 {last_c:.1} °C）"
    )]
    HeaterNotSettled {
        set_c: f64,
        band_c: f64,
        secs: u64,
        last_c: f64,
    },
    #[error(
        "run {run}: {got} of {want} wires bonded within {secs} s / 第 {run} 轮：{secs} 秒内只焊了 \
         {got}/{want} 根线"
    )]
    TooFewBonds {
        run: usize,
        got: usize,
        want: usize,
        secs: u64,
    },
    #[error(
        "run {0}: no strength for its wires — no pull/shear results came in (--tests DIR) and \
         the station has no strength model yet (`bonder-station strength fit`) / 第 {0} 轮：\
         没有强度数据（无拉力/推力测试结果，也没有强度模型）"
    )]
    NoStrength(usize),
    #[error("no window could be estimated from the runs / 无法根据试验估计工艺窗口")]
    NoEstimate,
    #[error(
        "the previous recipe {recipe} went back with CRC {got:08X}, expected {want:08X}: check \
         the machine before production / 恢复原配方 {recipe} 的 CRC 为 {got:08X}，应为 {want:08X}"
    )]
    RestoreFailed { recipe: String, got: u32, want: u32 },
    #[error(transparent)]
    Bounds(#[from] window::BoundsError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn command(what: impl Into<String>) -> impl FnOnce(CommandError) -> WindowSearchError {
    let what = what.into();
    move |source| WindowSearchError::Command { what, source }
}

/// How a session drives the machine.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The heater must be within this of a candidate's set point …
    pub heater_band_c: f64,
    /// … for this long before its units are bonded …
    pub settle_hold: Duration,
    /// … and gets at most this long.
    pub settle_timeout: Duration,
    /// Longest wait for a run's wires.
    pub run_timeout: Duration,
    /// The bench tester's export folder (its files are imported as they come in).
    pub tests_dir: Option<PathBuf>,
    /// Longest wait for a run's test results once its units are bonded.
    pub tests_timeout: Duration,
}

impl Default for SessionConfig {
    /// ± 3 °C held 1 s within 5 min; 5 min per run; 2 min for test results.
    fn default() -> SessionConfig {
        SessionConfig {
            heater_band_c: 3.0,
            settle_hold: Duration::from_secs(1),
            settle_timeout: Duration::from_secs(300),
            run_timeout: Duration::from_secs(300),
            tests_dir: None,
            tests_timeout: Duration::from_secs(120),
        }
    }
}

/// The station's parts a session uses: the store (and its writer, which records every
/// test bond), the runtime on the controller link, the strength predictor.
#[allow(missing_debug_implementations)] // handles
pub struct Rig {
    pub store: Arc<Store>,
    pub writer: WriterHandle,
    pub station: Arc<Station>,
    pub predictor: Arc<crate::strength::Predictor>,
}

impl Rig {
    /// Opens the link to the controller with the station's own sink (every test bond is
    /// judged and stored as in production) and the recipe the station last ran.
    pub fn start(
        store: Arc<Store>,
        controller: SocketAddr,
        stream: Option<StreamEndpoint>,
    ) -> Result<Rig, StoreError> {
        let writer = store.spawn_writer(bonder_store::WriterConfig::default())?;
        let predictor = Arc::new(crate::strength::Predictor::default());
        predictor.reload(&store)?;
        let shift = crate::wiring::current_shift(&store, &writer)?;
        let mut cfg = RuntimeConfig::new(controller);
        cfg.stream = stream;
        cfg.recipe = crate::ui_store::running_recipe(&store)?.unwrap_or_else(Recipe::default_au);
        cfg.download_recipe = false;
        cfg.start = false;
        cfg.last_seq = store.reader()?.max_bond_seq()?.unwrap_or(0);
        cfg.sink = Some(crate::persist::sink(
            writer.clone(),
            Arc::new(std::sync::atomic::AtomicI64::new(shift)),
            Some(predictor.clone()),
            None,
        ));
        Ok(Rig {
            store,
            writer,
            station: Arc::new(Station::start(cfg)),
            predictor,
        })
    }

    /// Stops the link and writes what is queued.
    pub async fn close(self) -> Result<(), StoreError> {
        self.station.shutdown().await;
        self.writer.close().await.map(|_| ())
    }
}

/// What a finished session gives (the command's JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub session: i64,
    pub method: &'static str,
    pub units_used: u32,
    pub wires_used: u64,
    pub runs: usize,
    /// `(param key, value)` of the recommended centre (register-exact).
    pub centre: Vec<(&'static str, f64)>,
    /// `(param key, [lo, hi])` of the estimated window.
    pub bbox: Vec<(&'static str, [f64; 2])>,
    /// The modelled margin of every characteristic at the centre.
    pub margins: Vec<(&'static str, f64)>,
    /// Predicted Cpk of shear, pull, ball diameter at the centre.
    pub cpk: Vec<(&'static str, Option<f64>)>,
    /// `name@version` of the draft.
    pub draft: String,
}

fn round4(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}

impl Outcome {
    /// `{"method", "units_used", "wires_used", "centre", "box", "draft", …}`.
    pub fn to_json(&self) -> Value {
        let map = |v: &[(&str, f64)]| {
            v.iter()
                .map(|(k, x)| ((*k).to_string(), json!(round4(*x))))
                .collect::<serde_json::Map<_, _>>()
        };
        json!({
            "method": self.method,
            "units_used": self.units_used,
            "wires_used": self.wires_used,
            "centre": map(&self.centre),
            "box": self.bbox.iter()
                .map(|(k, [a, b])| ((*k).to_string(), json!([round4(*a), round4(*b)])))
                .collect::<serde_json::Map<_, _>>(),
            "draft": self.draft,
            "session": self.session,
            "runs": self.runs,
            "margin_at_centre": map(&self.margins),
            "predicted_cpk": self.cpk.iter()
                .map(|(k, c)| ((*k).to_string(), json!(c.map(|x| (x * 100.0).round() / 100.0))))
                .collect::<serde_json::Map<_, _>>(),
        })
    }
}

/// Progress as a front end shows it, after every run.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub session: i64,
    pub run: usize,
    pub units_used: u32,
    pub budget_units: u32,
    /// `(param key, value)` of the run's candidate.
    pub candidate: Vec<(&'static str, f64)>,
    pub margins: Vec<f64>,
    /// Where the strength came from: `tests`, `predicted`, `tests+predicted`.
    pub strength_from: &'static str,
}

/// An engineer's session on the rig.
#[allow(missing_debug_implementations)]
pub struct Session<'a> {
    rig: &'a Rig,
    cfg: SessionConfig,
    by: Actor,
    id: i64,
    plan: Plan,
    start: Recipe,
    previous: Recipe,
    previous_crc: u32,
    lim: Limits,
    runs: Vec<Run>,
    stats: Vec<(Vec<f64>, [Option<Stat>; 3])>,
    units_used: u32,
    wires_used: u64,
}

/// The wire key of a recipe (`Au:25.4`).
pub fn wire_key(material: WireMaterial, diameter_um: f64) -> String {
    format!("{material}:{diameter_um}")
}

/// The starting recipe for a wire: the newest released library recipe for it, else the
/// built-in default recipe.
pub fn starting_recipe(
    store: &Store,
    material: WireMaterial,
    diameter_um: f64,
) -> Result<Recipe, StoreError> {
    let repo = store.recipes();
    let mut best: Option<(OffsetDateTime, Recipe)> = None;
    for name in repo.names()? {
        for v in repo.versions(&name)? {
            if v.state != bonder_core::recipe::RecipeState::Released {
                continue;
            }
            let r = repo.get(&name, v.version)?;
            let same =
                r.wire.material == material && (r.wire.diameter_um.0 - diameter_um).abs() <= 1.0;
            if same && best.as_ref().is_none_or(|(t, _)| v.created > *t) {
                best = Some((v.created, r));
            }
        }
    }
    Ok(best.map_or_else(|| window::built_in(material, diameter_um), |(_, r)| r))
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// A refused start or abandon: one audit row, then the error.
fn refuse(store: &Store, by: &Actor, e: WindowSearchError) -> WindowSearchError {
    let rec = AuditRecord {
        time: now(),
        user: by.user.clone(),
        role: Some(by.role),
        action: AuditAction::Refused,
        object: "window_search".into(),
        old_value: None,
        new_value: None,
        reason: Some(e.to_string()),
    };
    if let Err(a) = store.append_audit(&rec) {
        tracing::error!("audit row of a refused window search not written: {a}");
    }
    e
}

async fn wait_online(rig: &Rig, addr: SocketAddr) -> Result<(), WindowSearchError> {
    let mut rx = rig.station.watch();
    let ok = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            {
                let s = rx.borrow_and_update();
                if s.link == bonder_runtime::LinkState::Online
                    && s.machine_state.is_some()
                    && s.status.is_some()
                {
                    return;
                }
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    })
    .await;
    ok.map_err(|_| WindowSearchError::Offline(addr))
}

fn state_name(s: Option<MachineState>) -> String {
    s.map_or_else(
        || "unknown".to_string(),
        |s| format!("{s:?}").to_lowercase(),
    )
}

/// Brings a machine left running or idle by an interrupted session back to setup.
async fn back_to_setup(station: &Station) -> Result<(), WindowSearchError> {
    let mut rx = station.watch();
    let state = rx.borrow().machine_state;
    if state == Some(MachineState::Running) || state == Some(MachineState::Paused) {
        station
            .command(Command::Stop)
            .await
            .map_err(command("stop"))?;
        wait_state(station, &mut rx, |s| s == MachineState::Idle).await;
    }
    if station.snapshot().machine_state == Some(MachineState::Idle) {
        station
            .command(Command::EnterSetup)
            .await
            .map_err(command("enter setup"))?;
        wait_state(station, &mut rx, |s| s == MachineState::Setup).await;
    }
    Ok(())
}

/// Waits (at most 10 s) for the runtime to report a state.
async fn wait_state(
    _station: &Station,
    rx: &mut tokio::sync::watch::Receiver<bonder_runtime::Snapshot>,
    want: impl Fn(MachineState) -> bool,
) {
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if rx.borrow_and_update().machine_state.is_some_and(&want) {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    })
    .await;
}

impl<'a> Session<'a> {
    /// Starts a new session, or resumes the open one with the same wire and plan. The
    /// engineer's right and the machine's setup state are checked first; a refusal
    /// leaves an audit row and changes nothing.
    pub async fn begin(
        rig: &'a Rig,
        cfg: SessionConfig,
        by: Actor,
        controller: SocketAddr,
        material: WireMaterial,
        diameter_um: f64,
        plan: Plan,
    ) -> Result<Session<'a>, WindowSearchError> {
        let store = &rig.store;
        if permissions::check(by.role, Permission::SearchProcessWindow).is_err() {
            let e = WindowSearchError::NotAllowed {
                role: by.role.name().into(),
            };
            return Err(refuse(store, &by, e));
        }
        window::check_bounds(&plan.params, &plan.bounds)?;
        wait_online(rig, controller).await?;
        let wire = wire_key(material, diameter_um);
        let open = store.open_window_session()?;
        let resuming = match &open {
            Some(s) if s.wire == wire && Plan::from_json(&s.plan).as_ref() == Some(&plan) => true,
            Some(s) => {
                return Err(WindowSearchError::OtherSessionOpen {
                    id: s.id,
                    wire: s.wire.clone(),
                });
            }
            None => false,
        };
        if resuming {
            // An interrupted session may have left the machine bonding its candidate.
            back_to_setup(&rig.station).await?;
        }
        let snap = rig.station.snapshot();
        if snap.machine_state != Some(MachineState::Setup) {
            let e = WindowSearchError::NotInSetup {
                state: state_name(snap.machine_state),
            };
            return Err(refuse(store, &by, e));
        }
        let mut s = match open {
            Some(o) => {
                let stored = store.window_runs(o.id)?;
                store.resume_window_session(o.id, stored.len(), &by, now())?;
                tracing::info!(
                    session = o.id,
                    runs = stored.len(),
                    "resuming the window search"
                );
                let mut s = Session::new(
                    rig,
                    cfg,
                    by,
                    o.id,
                    plan,
                    o.start_recipe,
                    o.previous_recipe,
                    o.previous_crc,
                );
                for r in stored {
                    s.units_used += r.units;
                    s.wires_used += r.wires;
                    s.stats.push((r.at.clone(), stats_of_json(&r.stats)));
                    s.runs.push(Run {
                        at: r.at,
                        margins: r.margins,
                    });
                }
                s
            }
            None => {
                let crc = snap.status.as_ref().map_or(0, |st| st.recipe_crc);
                let previous = crate::ui_store::running_recipe(store)?
                    .filter(|r| block_crc(&r.to_block()) == crc)
                    .ok_or_else(|| refuse(store, &by, WindowSearchError::UnknownRecipe { crc }))?;
                let start = starting_recipe(store, material, diameter_um)?;
                let new = NewWindowSession {
                    wire,
                    plan: plan.to_json(),
                    start_recipe: start.clone(),
                    previous_recipe: previous.clone(),
                    previous_crc: crc,
                };
                let id = store.start_window_session(&new, &by, now())?;
                tracing::info!(session = id, start = %start.id(), "window search started");
                Session::new(rig, cfg, by, id, plan, start, previous, crc)
            }
        };
        s.lim = window::limits_of(&s.start);
        Ok(s)
    }

    #[allow(clippy::too_many_arguments)]
    fn new(
        rig: &'a Rig,
        cfg: SessionConfig,
        by: Actor,
        id: i64,
        plan: Plan,
        start: Recipe,
        previous: Recipe,
        previous_crc: u32,
    ) -> Session<'a> {
        Session {
            rig,
            cfg,
            by,
            id,
            lim: window::limits_of(&start),
            plan,
            start,
            previous,
            previous_crc,
            runs: Vec::new(),
            stats: Vec::new(),
            units_used: 0,
            wires_used: 0,
        }
    }

    pub fn id(&self) -> i64 {
        self.id
    }

    /// Runs done so far.
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    /// Bonds and measures runs until the budget is used, calling `progress` after each;
    /// then the estimate, the draft and the previous recipe back on the machine.
    pub async fn run_to_end(
        mut self,
        mut progress: impl FnMut(&Progress),
    ) -> Result<Outcome, WindowSearchError> {
        let budget_runs = self.plan.budget_runs();
        let dim = self.plan.params.len();
        while self.runs.len() < budget_runs {
            let points = window::next_points(self.plan.method, dim, &self.runs, self.plan.seed);
            if points.is_empty() {
                break;
            }
            for at in points.into_iter().take(budget_runs - self.runs.len()) {
                let p = self.one_run(at).await?;
                progress(&p);
            }
        }
        self.finish().await
    }

    /// One candidate: download, settle, bond, measure, store.
    async fn one_run(&mut self, at: Vec<f64>) -> Result<Progress, WindowSearchError> {
        let idx = self.runs.len();
        let cand = self.plan.candidate(&self.start, &at);
        let station = &self.rig.station;
        let crc = station
            .download(&cand)
            .await
            .map_err(command(format!("download of run {idx}'s candidate")))?;
        station.set_recipe(cand.clone());
        self.settle(cand.heater_temp_c.0).await?;
        let want = (self.plan.units_per_run * u32::from(cand.wires_per_unit.max(1))) as usize;
        let bonded = self.bond(idx, want).await?;
        // The test bonds are in the file before their tests are joined to them.
        let last_seq = bonded.iter().map(|b| b.seq).max().unwrap_or(0);
        let first_seq = bonded.iter().map(|b| b.seq).min().unwrap_or(0);
        wait_committed(&self.rig.writer, last_seq).await;
        let tests = self.tests_of(&bonded, first_seq, last_seq).await?;
        let (wires, from) = self.wires_seen(&bonded, &tests);
        if !wires
            .iter()
            .any(|w| w.pull_gf.is_some() || w.shear_gf.is_some())
        {
            return Err(WindowSearchError::NoStrength(idx));
        }
        let samples: Vec<_> = wires.iter().map(WireSeen::sample).collect();
        let margins = window::measured_margins(&samples, &self.lim).to_vec();
        let st = run_stats(&samples);
        // Units bonded with the candidate (what the stop let through included).
        let units = bonded_units(&bonded)
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len() as u32;
        let candidate: Vec<(&'static str, f64)> = self
            .plan
            .params
            .iter()
            .map(|p| (p.spec().key, window::get(&cand, *p)))
            .collect();
        let run = WindowRun {
            idx,
            at: at.clone(),
            candidate: candidate
                .iter()
                .map(|(k, v)| ((*k).to_string(), json!(v)))
                .collect::<serde_json::Map<_, _>>()
                .into(),
            margins: margins.clone(),
            stats: stats_json(&st),
            units,
            wires: (bonded.len() / 2) as u64,
            first_seq: Some(first_seq),
            last_seq: Some(last_seq),
            recipe_crc: crc,
            ended: bonder_store::timefmt::rfc3339_ms(now()),
        };
        self.rig.store.add_window_run(self.id, &run)?;
        self.units_used += units;
        self.wires_used += run.wires;
        self.stats.push((at.clone(), st));
        self.runs.push(Run {
            at,
            margins: margins.clone(),
        });
        Ok(Progress {
            session: self.id,
            run: idx,
            units_used: self.units_used,
            budget_units: self.plan.budget_units,
            candidate,
            margins,
            strength_from: from,
        })
    }

    /// Waits for the heater to hold the set point.
    async fn settle(&self, set_c: f64) -> Result<(), WindowSearchError> {
        let band = self.cfg.heater_band_c;
        let mut rx = self.rig.station.watch();
        let started = Instant::now();
        let mut since: Option<Instant> = None;
        let mut last = f64::NAN;
        loop {
            {
                let s = rx.borrow_and_update();
                if let Some(st) = &s.status {
                    last = f64::from(st.heater_temp_c);
                    if (last - set_c).abs() <= band {
                        let t = *since.get_or_insert_with(Instant::now);
                        if t.elapsed() >= self.cfg.settle_hold {
                            return Ok(());
                        }
                    } else {
                        since = None;
                    }
                }
            }
            let left = self.cfg.settle_timeout.saturating_sub(started.elapsed());
            if left.is_zero() || tokio::time::timeout(left, rx.changed()).await.is_err() {
                return Err(WindowSearchError::HeaterNotSettled {
                    set_c,
                    band_c: band,
                    secs: self.cfg.settle_timeout.as_secs(),
                    last_c: last,
                });
            }
        }
    }

    /// Leaves setup, bonds until `want` wires are complete, stops, and goes back to
    /// setup; returns every bond made with the candidate (what the stop let through
    /// included). A stopping alarm is reset and bonding goes on (three times at most).
    async fn bond(
        &self,
        idx: usize,
        want: usize,
    ) -> Result<Vec<Arc<JudgedBond>>, WindowSearchError> {
        let station = &self.rig.station;
        let mut events = station.subscribe();
        let mut rx = station.watch();
        idle_then_start(station, &mut rx, Command::LeaveSetup, "leave setup").await?;
        let mut bonds: Vec<Arc<JudgedBond>> = Vec::new();
        let mut stitches = 0usize;
        let mut resets = 0;
        let deadline = tokio::time::Instant::now() + self.cfg.run_timeout;
        let mut timed_out = false;
        while stitches < want {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Err(_) => {
                    timed_out = true;
                    break;
                }
                Ok(Ok(StationEvent::Bond(b))) => {
                    if b.event.kind == bonder_core::BondKind::Stitch {
                        stitches += 1;
                    }
                    bonds.push(b);
                }
                Ok(Ok(StationEvent::State(MachineState::Alarm))) if resets < 3 => {
                    resets += 1;
                    tracing::warn!(
                        run = idx,
                        "machine alarm during a test run: reset, bonding on"
                    );
                    idle_then_start(station, &mut rx, Command::ResetAlarm, "reset alarm").await?;
                }
                Ok(Ok(_)) => {}
                Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(n))) => {
                    tracing::warn!(run = idx, lagged = n, "test bonds missed by the session");
                }
                Ok(Err(_)) => break,
            }
        }
        if let Err(e) = station.command(Command::Stop).await {
            tracing::warn!("stop after run {idx}: {e}");
        }
        // What was bonded before the stop took effect arrives before the state frame.
        let _ = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match events.recv().await {
                    Ok(StationEvent::Bond(b)) => bonds.push(b),
                    Ok(StationEvent::State(s)) if s != MachineState::Running => return,
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(_) => return,
                }
            }
        })
        .await;
        wait_state(station, &mut rx, |s| s != MachineState::Running).await;
        station
            .command(Command::EnterSetup)
            .await
            .map_err(command("enter setup"))?;
        wait_state(station, &mut rx, |s| s == MachineState::Setup).await;
        if timed_out {
            return Err(WindowSearchError::TooFewBonds {
                run: idx,
                got: stitches,
                want,
                secs: self.cfg.run_timeout.as_secs(),
            });
        }
        Ok(bonds)
    }

    /// The run's test results: the tester's files are imported (as the watched folder
    /// does) until every bonded unit has results or the wait is over.
    async fn tests_of(
        &self,
        bonded: &[Arc<JudgedBond>],
        first: u64,
        last: u64,
    ) -> Result<Vec<bonder_store::tests_results::StoredTestResult>, WindowSearchError> {
        let Some(dir) = self.cfg.tests_dir.clone() else {
            return Ok(Vec::new());
        };
        let units: std::collections::BTreeSet<u32> =
            bonded.iter().map(|b| b.event.unit_no).collect();
        let started = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tick.tick().await;
            let (store, d) = (self.rig.store.clone(), dir.clone());
            let _ = tokio::task::spawn_blocking(move || crate::pull_tests::sweep(&store, &d)).await;
            let got = self.rig.store.test_results_of_bonds(first, last)?;
            let tested: std::collections::BTreeSet<u32> = got.iter().map(|t| t.unit).collect();
            if units.iter().all(|u| tested.contains(u))
                || started.elapsed() >= self.cfg.tests_timeout
            {
                if let Err(e) =
                    crate::strength::refit(&self.rig.store, crate::strength::REFIT_AFTER)
                        .and_then(|_| self.rig.predictor.reload(&self.rig.store))
                {
                    tracing::error!("strength models not refitted: {e}");
                }
                return Ok(got);
            }
        }
    }

    /// Every complete wire of the run as the station knows it, and where its strength
    /// came from.
    fn wires_seen(
        &self,
        bonded: &[Arc<JudgedBond>],
        tests: &[bonder_store::tests_results::StoredTestResult],
    ) -> (Vec<WireSeen>, &'static str) {
        let mut by_seq: BTreeMap<u64, Vec<&bonder_store::tests_results::StoredTestResult>> =
            BTreeMap::new();
        for t in tests {
            if let Some(s) = t.bond_seq {
                by_seq.entry(s).or_default().push(t);
            }
        }
        let (mut tested, mut predicted) = (false, false);
        let mut out = Vec::new();
        let mut ball: Option<&Arc<JudgedBond>> = None;
        for b in bonded {
            match b.event.kind {
                bonder_core::BondKind::Ball => ball = Some(b),
                bonder_core::BondKind::Stitch => {
                    let Some(first) = ball.take().filter(|x| {
                        x.event.unit_no == b.event.unit_no && x.event.wire_no == b.event.wire_no
                    }) else {
                        continue;
                    };
                    let mut w = WireSeen {
                        ball: Some(first.judgement.verdict),
                        stitch: Some(b.judgement.verdict),
                        ball_um: first.event.ball_diameter_um.map(f64::from),
                        ..WireSeen::default()
                    };
                    for t in by_seq.get(&first.seq).into_iter().flatten() {
                        match t.test {
                            TestKind::Pull => w.pull_gf = Some(t.force_gf),
                            TestKind::Shear => w.shear_gf = Some(t.force_gf),
                        }
                        w.cratered |= t.mode == "cratering";
                        tested = true;
                    }
                    if w.pull_gf.is_none() && w.shear_gf.is_none() {
                        if let Some(p) = self.rig.predictor.predict(first, b) {
                            w.pull_gf = p.pull.map(|x| x.0);
                            w.shear_gf = p.shear.map(|x| x.0);
                            predicted |= p.pull.is_some() || p.shear.is_some();
                        }
                    }
                    out.push(w);
                }
            }
        }
        let from = match (tested, predicted) {
            (true, true) => "tests+predicted",
            (true, false) => "tests",
            (false, true) => "predicted",
            (false, false) => "none",
        };
        (out, from)
    }

    /// The estimate, the draft, the previous recipe back.
    async fn finish(self) -> Result<Outcome, WindowSearchError> {
        let e =
            window::estimate(self.plan.method, &self.runs).ok_or(WindowSearchError::NoEstimate)?;
        let draft = self.plan.candidate(&self.start, &e.centre);
        let keys: Vec<&'static str> = self.plan.params.iter().map(|p| p.spec().key).collect();
        let ub = e.unit_box();
        let lo = self
            .plan
            .bounds
            .from_unit(&ub.iter().map(|x| x[0]).collect::<Vec<_>>());
        let hi = self
            .plan
            .bounds
            .from_unit(&ub.iter().map(|x| x[1]).collect::<Vec<_>>());
        let cpk = predicted_cpk(&e, &self.stats, &self.lim);
        let reason = format!(
            "process-window search #{} ({}, {} units): centre of the estimated window / 工艺窗口搜索 #{} 的窗口中心",
            self.id,
            self.plan.method.name(),
            self.units_used,
            self.id
        );
        let repo = self.rig.store.recipes();
        let versions = repo.versions(&self.start.name)?;
        let info = if versions.is_empty() {
            repo.create(&draft, &self.by, &reason)?
        } else {
            let base = if versions.iter().any(|v| v.version == self.start.version) {
                self.start.version
            } else {
                versions.iter().map(|v| v.version).max().unwrap_or(1)
            };
            repo.edit(base, &draft, &self.by, &reason)?
        };
        let draft_id = format!("{}@{}", info.name, info.version);
        restore(self.rig, &self.previous, self.previous_crc).await?;
        let out = Outcome {
            session: self.id,
            method: self.plan.method.name(),
            units_used: self.units_used,
            wires_used: self.wires_used,
            runs: self.runs.len(),
            centre: keys
                .iter()
                .zip(&self.plan.params)
                .map(|(k, p)| (*k, window::get(&draft, *p)))
                .collect(),
            bbox: keys
                .iter()
                .zip(lo.iter().zip(&hi))
                .map(|(k, (a, b))| (*k, [*a, *b]))
                .collect(),
            margins: window::CHARACTERISTICS
                .iter()
                .zip(&e.at_centre)
                .map(|(k, m)| (*k, m.0))
                .collect(),
            cpk: ["shear", "pull", "ball_diameter"]
                .into_iter()
                .zip(cpk)
                .collect(),
            draft: draft_id.clone(),
        };
        self.rig.store.finish_window_session(
            self.id,
            &out.to_json(),
            &draft_id,
            &self.by,
            now(),
        )?;
        tracing::info!(session = self.id, draft = %draft_id, "window search finished");
        Ok(out)
    }
}

/// Downloads `previous` back and checks its CRC.
async fn restore(rig: &Rig, previous: &Recipe, want: u32) -> Result<(), WindowSearchError> {
    let got = rig
        .station
        .download(previous)
        .await
        .map_err(command(format!("download of {} back", previous.id())))?;
    if got != want {
        return Err(WindowSearchError::RestoreFailed {
            recipe: previous.id(),
            got,
            want,
        });
    }
    rig.station.set_recipe(previous.clone());
    Ok(())
}

/// Abandons the open session: the machine back in setup, the previous recipe downloaded
/// (CRC checked), the session closed with `why`; audited. Returns the session's id and
/// the restored recipe.
pub async fn abandon(
    rig: &Rig,
    by: &Actor,
    controller: SocketAddr,
    why: &str,
) -> Result<(i64, String), WindowSearchError> {
    if permissions::check(by.role, Permission::SearchProcessWindow).is_err() {
        let e = WindowSearchError::NotAllowed {
            role: by.role.name().into(),
        };
        return Err(refuse(&rig.store, by, e));
    }
    let s = rig
        .store
        .open_window_session()?
        .ok_or(WindowSearchError::NothingOpen)?;
    wait_online(rig, controller).await?;
    back_to_setup(&rig.station).await?;
    restore(rig, &s.previous_recipe, s.previous_crc).await?;
    rig.store.abandon_window_session(s.id, why, by, now())?;
    tracing::info!(session = s.id, restored = %s.previous_recipe.id(), "window search abandoned");
    Ok((s.id, s.previous_recipe.id()))
}

/// `first` (leaving setup, resetting an alarm), then, once the machine is idle, Start.
async fn idle_then_start(
    station: &Station,
    rx: &mut tokio::sync::watch::Receiver<bonder_runtime::Snapshot>,
    first: Command,
    what: &str,
) -> Result<(), WindowSearchError> {
    station.command(first).await.map_err(command(what))?;
    wait_state(station, rx, |s| s == MachineState::Idle).await;
    station
        .command(Command::Start)
        .await
        .map_err(command("start"))
}

fn bonded_units(bonded: &[Arc<JudgedBond>]) -> Vec<u32> {
    bonded
        .iter()
        .filter(|b| b.event.kind == bonder_core::BondKind::Stitch)
        .map(|b| b.event.unit_no)
        .collect()
}

async fn wait_committed(writer: &WriterHandle, seq: u64) {
    let mut rx = writer.subscribe();
    let _ = tokio::time::timeout(Duration::from_secs(30), async {
        while writer.committed_seq() < seq {
            if rx.changed().await.is_err() {
                return;
            }
        }
    })
    .await;
}

pub(crate) fn stats_json(st: &[Option<Stat>; 3]) -> Value {
    let one = |s: &Option<Stat>| s.map_or(Value::Null, |s| json!([s.mean, s.sd, s.n]));
    json!({"shear": one(&st[0]), "pull": one(&st[1]), "ball_um": one(&st[2])})
}

fn stats_of_json(v: &Value) -> [Option<Stat>; 3] {
    let one = |k: &str| {
        let a = v[k].as_array()?;
        Some(Stat {
            mean: a.first()?.as_f64()?,
            sd: a.get(1)?.as_f64()?,
            n: usize::try_from(a.get(2)?.as_u64()?).ok()?,
        })
    };
    [one("shear"), one("pull"), one("ball_um")]
}

/// The parameters of `--params` (`.` or `_` alike).
pub fn parse_params(v: &[String]) -> Result<Vec<Param>, window::WindowArgError> {
    window::parse_params(v)
}

/// The Process window page's view of the newest session: its runs and, once the
/// surrogate can be fitted, the estimate (the GP fit is made once per stored run, not
/// per UI refresh).
pub fn window_view(store: Arc<Store>) -> bonder_station_ui::WindowSearchView {
    type Cached = (i64, usize, String, Option<bonder_station_ui::WindowPanel>);
    let cache: std::sync::Mutex<Option<Cached>> = std::sync::Mutex::new(None);
    bonder_station_ui::WindowSearchView::new(move || {
        let s = match store.latest_window_session() {
            Ok(s) => s?,
            Err(e) => {
                tracing::warn!("process window page: {e}");
                return None;
            }
        };
        let runs = match store.window_runs(s.id) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("process window page: {e}");
                return None;
            }
        };
        let mut c = cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((id, n, state, panel)) = c.as_ref() {
            if *id == s.id && *n == runs.len() && *state == s.state {
                return panel.clone();
            }
        }
        let panel = panel_of(&s, &runs);
        *c = Some((s.id, runs.len(), s.state.clone(), panel.clone()));
        panel
    })
}

/// The page's panel of a session and its runs (`None` if its plan cannot be read).
pub fn panel_of(
    s: &bonder_store::window::WindowSession,
    runs: &[WindowRun],
) -> Option<bonder_station_ui::WindowPanel> {
    let plan = Plan::from_json(&s.plan)?;
    let lim = window::limits_of(&s.start_recipe);
    let wruns: Vec<Run> = runs
        .iter()
        .map(|r| Run {
            at: r.at.clone(),
            margins: r.margins.clone(),
        })
        .collect();
    let stats: Vec<_> = runs
        .iter()
        .map(|r| (r.at.clone(), stats_of_json(&r.stats)))
        .collect();
    let estimate = (wruns.len() >= window::initial_runs(plan.method, plan.params.len()))
        .then(|| window::estimate(plan.method, &wruns))
        .flatten()
        .map(|e| {
            let ub = e.unit_box();
            let lo = plan
                .bounds
                .from_unit(&ub.iter().map(|x| x[0]).collect::<Vec<_>>());
            let hi = plan
                .bounds
                .from_unit(&ub.iter().map(|x| x[1]).collect::<Vec<_>>());
            let draft = plan.candidate(&s.start_recipe, &e.centre);
            bonder_station_ui::WindowEstimateView {
                centre: plan
                    .params
                    .iter()
                    .map(|p| window::get(&draft, *p))
                    .collect(),
                bbox: lo.into_iter().zip(hi).map(|(a, b)| [a, b]).collect(),
                cpk: predicted_cpk(&e, &stats, &lim),
                margin: e.margin,
                centre_unit: e.centre,
                box_unit: ub,
            }
        });
    Some(bonder_station_ui::WindowPanel {
        session: s.id,
        wire: s.wire.clone(),
        method: plan.method.name().to_string(),
        by: s.by_user.clone(),
        state: s.state.clone(),
        units_used: runs.iter().map(|r| r.units).sum(),
        budget_units: plan.budget_units,
        wires_used: runs.iter().map(|r| r.wires).sum(),
        runs: runs.len(),
        budget_runs: plan.budget_runs(),
        params: plan
            .params
            .iter()
            .zip(&plan.bounds.0)
            .map(|(p, b)| (p.spec().key.to_string(), *b))
            .collect(),
        points: runs
            .iter()
            .map(|r| (r.at.clone(), r.margins.iter().all(|m| *m >= 0.0)))
            .collect(),
        estimate,
        draft: s.draft.clone(),
    })
}
