//! The station's guided recipe changeover (issue 7).
//!
//! [`ChangeoverService`] drives the steps of [`bonder_core::changeover`] against the
//! real controller through the station runtime (stop and enter setup, download with CRC
//! read-back, wait for the heater and forming gas to settle, bond the first unit, back
//! to production) and persists the wizard's state to the store after **every** change
//! (flushed before the call returns), so a station restart resumes at the same step.
//! When a changeover is signed off, its record goes to the store (steps with their
//! outcome, first-article results, an audit row) and to the gateway's outbox as
//! `{S}/changeovers`. Abandoning one rolls the machine back to the previous recipe,
//! verified by CRC.
//!
//! Front ends read [`ChangeoverService::view`] (a cheap clone of the latest state) and
//! show errors from [`ChangeoverError::key`]/[`ChangeoverError::args`] through Fluent.

use std::sync::Arc;
use std::time::Duration;

use bonder_core::changeover::{
    Blocked, Changeover, FirstArticle, FirstArticleFault, Material, ScanError, ScanOk, Step,
    StepRecord,
};
use bonder_core::recipe::Recipe;
use bonder_core::state::{Command, MachineState};
use bonder_core::{BondKind, Verdict};
use bonder_gateway::payload::{ChangeoverMsg, ChangeoverStepMsg, FirstArticleMsg, ts};
use bonder_link::DownloadFault;
use bonder_runtime::{CommandError, Station, StationEvent};
use bonder_store::{
    ChangeoverEnd, ChangeoverProgress, ChangeoverStart, ParamChange, Permission, Role, Store,
    StoreError, WriteOp, WriterHandle, recipe_diff,
};
use time::OffsetDateTime;
use tokio::sync::{Mutex, watch};

pub use bonder_core::changeover as model;

/// Why a changeover action was refused. Nothing changes when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum ChangeoverError {
    #[error("changeover #{0} is already open")]
    AlreadyOpen(i64),
    #[error("no changeover is open")]
    NotOpen,
    #[error("the wizard is at step {at}, not {}", expected.name())]
    WrongStep { expected: Step, at: String },
    #[error("recipe {0} is not a released version")]
    NotReleased(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Blocked(#[from] Blocked),
    #[error("{0}")]
    Scan(#[from] ScanError),
    #[error("confirm that the last strip is out of the machine first")]
    StripNotConfirmed,
    #[error("controller refused or did not answer: {0}")]
    Controller(String),
    #[error("recipe download stopped: CRC read back {actual:#010x}, block sent {expected:#010x}")]
    Crc { expected: u32, actual: u32 },
    #[error("recipe download stopped: {0}")]
    Download(String),
    #[error(
        "not settled after {secs} s: heater {heater:.1} °C (target {heater_target:.1} ± {heater_band:.1}), forming gas {gas:.2} L/min (target {gas_target:.2})"
    )]
    NotSettled {
        secs: u64,
        heater: f64,
        heater_target: f64,
        heater_band: f64,
        gas: f64,
        gas_target: f64,
    },
    #[error("the machine bonded no first article within {0} s")]
    NoFirstArticle(u64),
    #[error("first article: {0}")]
    FirstArticle(FirstArticleFault),
    /// The permission table refuses the role (sign-off, abandon).
    #[error(transparent)]
    Forbidden(#[from] bonder_core::Forbidden),
    #[error("rollback to the previous recipe failed: {0}")]
    Rollback(String),
}

impl ChangeoverError {
    /// Fluent key of the message (`co-err-*`, or the core's `co-scan-*`/`co-fa-*`).
    pub fn key(&self) -> &'static str {
        match self {
            Self::AlreadyOpen(_) => "co-err-already-open",
            Self::NotOpen => "co-err-not-open",
            Self::WrongStep { .. } => "co-err-wrong-step",
            Self::NotReleased(_) => "co-err-not-released",
            Self::Store(_) => "co-err-store",
            Self::Blocked(Blocked::Scan(_)) => "co-err-scan-missing",
            Self::Blocked(Blocked::Kit(_)) => "co-err-kit-missing",
            Self::Blocked(Blocked::NotDownloaded) => "co-err-not-downloaded",
            Self::Blocked(Blocked::FirstArticle(f)) | Self::FirstArticle(f) => f.key(),
            Self::Blocked(Blocked::NoFirstArticle) => "co-err-no-results",
            Self::Blocked(Blocked::Finished) => "co-err-not-open",
            Self::Scan(s) => s.key(),
            Self::StripNotConfirmed => "co-err-strip",
            Self::Controller(_) => "co-err-controller",
            Self::Crc { .. } => "co-err-crc",
            Self::Download(_) => "co-err-download",
            Self::NotSettled { .. } => "co-err-not-settled",
            Self::NoFirstArticle(_) => "co-err-no-first-article",
            Self::Forbidden(_) => "co-err-role",
            Self::Rollback(_) => "co-err-rollback",
        }
    }

    /// Fluent arguments of the message.
    pub fn args(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::AlreadyOpen(id) => vec![("id", id.to_string())],
            Self::WrongStep { expected, at } => {
                vec![("expected", expected.name().into()), ("at", at.clone())]
            }
            Self::NotReleased(r) => vec![("recipe", r.clone())],
            Self::Store(e) => vec![("detail", e.to_string())],
            Self::Blocked(Blocked::Scan(m)) => vec![("material", m.name().into())],
            Self::Blocked(Blocked::Kit(k)) => vec![("item", (*k).into())],
            Self::Blocked(Blocked::FirstArticle(f)) | Self::FirstArticle(f) => f.args(),
            Self::Scan(s) => s.args(),
            Self::Controller(d) | Self::Download(d) | Self::Rollback(d) => {
                vec![("detail", d.clone())]
            }
            Self::Crc { expected, actual } => vec![
                ("expected", format!("{expected:#010x}")),
                ("actual", format!("{actual:#010x}")),
            ],
            Self::NotSettled {
                secs,
                heater,
                heater_target,
                heater_band,
                gas,
                gas_target,
            } => vec![
                ("secs", secs.to_string()),
                ("heater", format!("{heater:.1}")),
                ("heater_target", format!("{heater_target:.1}")),
                ("heater_band", format!("{heater_band:.1}")),
                ("gas", format!("{gas:.2}")),
                ("gas_target", format!("{gas_target:.2}")),
            ],
            Self::NoFirstArticle(s) => vec![("secs", s.to_string())],
            Self::Forbidden(f) => vec![("role", f.role.name().into())],
            _ => vec![],
        }
    }
}

/// Settings of the service.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The station's id (the published changeover id is `<station>-co-<n>`).
    pub station_id: String,
    /// Heater band around the recipe's set point, °C.
    pub heater_band_c: f64,
    /// Forming-gas band around the recipe's set point, L/min (copper wire only).
    pub gas_band_l_min: f64,
    /// How long both must stay in band before the settle step passes.
    pub settle_hold: Duration,
    /// Longest wait for settling before the step reports what is out of band.
    pub settle_timeout: Duration,
    /// Longest wait for the first article's bonds.
    pub first_article_timeout: Duration,
}

impl ServiceConfig {
    /// Plant defaults: heater ± 5 °C, forming gas ± 0.1 L/min, held 2 s, 5 min
    /// timeout; first article within 2 min.
    pub fn new(station_id: impl Into<String>) -> ServiceConfig {
        ServiceConfig {
            station_id: station_id.into(),
            heater_band_c: 5.0,
            gas_band_l_min: 0.1,
            settle_hold: Duration::from_secs(2),
            settle_timeout: Duration::from_secs(300),
            first_article_timeout: Duration::from_secs(120),
        }
    }
}

/// Bonds of the first article as the station judged them.
#[derive(Debug, Clone, PartialEq)]
pub struct FirstArticleBond {
    pub seq: u64,
    pub kind: BondKind,
    pub verdict: Verdict,
}

/// A refusal as front ends show it.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// Fluent key.
    pub key: String,
    /// Fluent arguments.
    pub args: Vec<(&'static str, String)>,
    /// English text (logs).
    pub text: String,
}

/// What a front end shows.
#[derive(Debug, Clone)]
pub struct View {
    /// The wizard's state.
    pub changeover: Changeover,
    /// The recipe being changed to.
    pub target: Recipe,
    /// What changes (previous → target), when the previous recipe is known.
    pub diff: Vec<ParamChange>,
    /// The operator confirmed the last strip is out.
    pub strip_out: bool,
    /// Bonds of the first article.
    pub first_article_bonds: Vec<FirstArticleBond>,
    /// The latest refusal, cleared by the next successful action.
    pub last_error: Option<Refusal>,
}

struct Open {
    view: View,
    previous: Option<Recipe>,
}

/// Drives changeovers on one station.
pub struct ChangeoverService {
    station: Arc<Station>,
    store: Arc<Store>,
    writer: WriterHandle,
    cfg: ServiceConfig,
    open: Mutex<Option<Open>>,
    view: watch::Sender<Option<View>>,
}

impl std::fmt::Debug for ChangeoverService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeoverService")
            .field("station_id", &self.cfg.station_id)
            .finish_non_exhaustive()
    }
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn unix_ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn parse_id(id: &str) -> Option<(&str, u32)> {
    let (name, v) = id.rsplit_once('@')?;
    Some((name, v.parse().ok()?))
}

fn command_error(e: CommandError) -> ChangeoverError {
    match e {
        CommandError::Download(DownloadFault::CrcMismatch { expected, actual }) => {
            ChangeoverError::Crc { expected, actual }
        }
        CommandError::Download(f) => ChangeoverError::Download(f.to_string()),
        e => ChangeoverError::Controller(e.to_string()),
    }
}

impl ChangeoverService {
    /// Creates the service and resumes a changeover left open in the store (after a
    /// restart or a crash) at the step it was on.
    pub fn new(
        station: Arc<Station>,
        store: Arc<Store>,
        writer: WriterHandle,
        cfg: ServiceConfig,
    ) -> Result<ChangeoverService, ChangeoverError> {
        let mut open = None;
        if let Some((id, json)) = store.reader()?.open_changeover()? {
            match serde_json::from_str::<Changeover>(&json) {
                Ok(co) => {
                    let target = parse_id(&co.to_recipe)
                        .and_then(|(n, v)| store.recipes().get(n, v).ok())
                        .ok_or_else(|| ChangeoverError::NotReleased(co.to_recipe.clone()))?;
                    let previous = co
                        .from_recipe
                        .as_deref()
                        .and_then(parse_id)
                        .and_then(|(n, v)| store.recipes().get(n, v).ok());
                    tracing::info!(
                        changeover = id,
                        step = co.step.map_or("done", Step::name),
                        "resuming the open changeover"
                    );
                    if co.downloaded_crc.is_some() {
                        // Judge against the recipe the machine was given.
                        station.set_recipe(target.clone());
                    }
                    let diff = previous
                        .as_ref()
                        .map(|p| recipe_diff(p, &target))
                        .unwrap_or_default();
                    open = Some(Open {
                        view: View {
                            changeover: co,
                            target,
                            diff,
                            strip_out: false,
                            first_article_bonds: Vec::new(),
                            last_error: None,
                        },
                        previous,
                    });
                }
                Err(e) => tracing::error!(changeover = id, "open changeover unreadable: {e}"),
            }
        }
        let (view, _) = watch::channel(open.as_ref().map(|o: &Open| o.view.clone()));
        Ok(ChangeoverService {
            station,
            store,
            writer,
            cfg,
            open: Mutex::new(open),
            view,
        })
    }

    /// The open changeover, if any (cheap clone of the latest state).
    pub fn view(&self) -> Option<View> {
        self.view.borrow().clone()
    }

    /// A receiver that sees every change.
    pub fn watch(&self) -> watch::Receiver<Option<View>> {
        self.view.subscribe()
    }

    /// The report over the last `last` completed changeovers ([`step_report`]).
    pub fn report(&self, last: usize) -> Result<(usize, Vec<model::StepStat>), ChangeoverError> {
        step_report(&self.store, last)
    }

    /// Released versions a changeover may go to, as `(name, version)`.
    pub fn released(&self) -> Result<Vec<(String, u32)>, ChangeoverError> {
        let repo = self.store.recipes();
        let mut out = Vec::new();
        for name in repo.names()? {
            for v in repo.versions(&name)? {
                if v.state == bonder_core::recipe::RecipeState::Released {
                    out.push((name.clone(), v.version));
                }
            }
        }
        Ok(out)
    }

    /// Opens a changeover to a released recipe version (step 1, select: the view shows
    /// the diff; [`ChangeoverService::confirm_select`] finishes the step).
    pub async fn start(
        &self,
        name: &str,
        version: u32,
        work_order: Option<String>,
        by: &str,
    ) -> Result<View, ChangeoverError> {
        let mut guard = self.open.lock().await;
        if let Some(o) = guard.as_ref() {
            return Err(ChangeoverError::AlreadyOpen(o.view.changeover.id));
        }
        let target = self
            .store
            .recipes()
            .sendable(name, version)
            .map_err(|e| match e {
                StoreError::NotReleased { recipe, .. } => ChangeoverError::NotReleased(recipe),
                e => ChangeoverError::Store(e),
            })?;
        let previous = (*self.station.recipe()).clone();
        let id = self.store.reader()?.max_changeover_id()?.unwrap_or(0) + 1;
        let t = now();
        let co = Changeover::new(
            id,
            Some(previous.id()),
            target.id(),
            work_order,
            by,
            unix_ms(t),
        );
        self.writer.send(WriteOp::ChangeoverStart(ChangeoverStart {
            id,
            time: t,
            from_recipe: co.from_recipe.clone(),
            to_recipe: co.to_recipe.clone(),
            user: by.to_string(),
        }))?;
        tracing::info!(changeover = id, from = %previous.id(), to = %target.id(), by, "changeover started");
        let open = Open {
            view: View {
                diff: recipe_diff(&previous, &target),
                changeover: co,
                target,
                strip_out: false,
                first_article_bonds: Vec::new(),
                last_error: None,
            },
            previous: Some(previous),
        };
        *guard = Some(open);
        self.persist(&mut guard, None).await
    }

    async fn persist(
        &self,
        guard: &mut Option<Open>,
        step: Option<StepRecord>,
    ) -> Result<View, ChangeoverError> {
        let open = guard.as_mut().ok_or(ChangeoverError::NotOpen)?;
        let co = &open.view.changeover;
        if let Some(s) = step {
            self.writer
                .send(WriteOp::ChangeoverStep(bonder_store::ChangeoverStep {
                    changeover_id: co.id,
                    name: s.step.name().to_string(),
                    started: from_ms(s.started_ms),
                    ended: from_ms(s.ended_ms),
                    by: s.by,
                    outcome: s.outcome,
                }))?;
        }
        let json = serde_json::to_string(co)
            .map_err(|e| ChangeoverError::Store(StoreError::Corrupt(e.to_string())))?;
        self.writer
            .send(WriteOp::ChangeoverProgress(ChangeoverProgress {
                id: co.id,
                time: now(),
                state_json: json,
            }))?;
        self.writer.flush().await?;
        open.view.last_error = None;
        let v = open.view.clone();
        self.view.send_replace(Some(v.clone()));
        Ok(v)
    }

    /// Records a refusal in the view (so every front end shows it) and returns it.
    async fn refuse<T>(&self, e: ChangeoverError) -> Result<T, ChangeoverError> {
        tracing::warn!("changeover: {e}");
        let mut guard = self.open.lock().await;
        if let Some(o) = guard.as_mut() {
            o.view.last_error = Some(Refusal {
                key: e.key().to_string(),
                args: e.args(),
                text: e.to_string(),
            });
            self.view.send_replace(Some(o.view.clone()));
        }
        Err(e)
    }

    async fn run<T>(&self, r: Result<T, ChangeoverError>) -> Result<T, ChangeoverError> {
        match r {
            Ok(v) => Ok(v),
            Err(e) => self.refuse(e).await,
        }
    }

    fn expect(guard: &Option<Open>, step: Step) -> Result<&Open, ChangeoverError> {
        let o = guard.as_ref().ok_or(ChangeoverError::NotOpen)?;
        if o.view.changeover.step != Some(step) {
            return Err(ChangeoverError::WrongStep {
                expected: step,
                at: o
                    .view
                    .changeover
                    .step
                    .map_or("done", Step::name)
                    .to_string(),
            });
        }
        Ok(o)
    }

    async fn complete(
        &self,
        step: Step,
        by: &str,
        outcome: String,
        edit: impl FnOnce(&mut View),
    ) -> Result<View, ChangeoverError> {
        let mut guard = self.open.lock().await;
        Self::expect(&guard, step)?;
        let open = guard.as_mut().ok_or(ChangeoverError::NotOpen)?;
        // Staged on a copy: a refused step changes nothing.
        let mut staged = open.view.clone();
        edit(&mut staged);
        staged
            .changeover
            .complete_step(unix_ms(now()), by, outcome)?;
        open.view = staged;
        let rec = open.view.changeover.done.last().cloned();
        tracing::info!(step = step.name(), by, "changeover step done");
        self.persist(&mut guard, rec).await
    }

    /// Step 1 done: the target and its diff were seen.
    pub async fn confirm_select(&self, by: &str) -> Result<View, ChangeoverError> {
        let r = async {
            let target = {
                let g = self.open.lock().await;
                Self::expect(&g, Step::Select)?.view.target.id()
            };
            self.complete(Step::Select, by, format!("target {target}"), |_| {})
                .await
        }
        .await;
        self.run(r).await
    }

    /// Step 2: stop the machine and enter setup; the operator confirms the last strip
    /// is out.
    pub async fn setup(&self, by: &str, strip_out: bool) -> Result<View, ChangeoverError> {
        let r = async {
            {
                let g = self.open.lock().await;
                Self::expect(&g, Step::Setup)?;
            }
            if !strip_out {
                return Err(ChangeoverError::StripNotConfirmed);
            }
            if self.station.snapshot().machine_state != Some(MachineState::Setup) {
                self.tolerant(Command::Stop).await?;
                self.tolerant(Command::EnterSetup).await?;
            }
            self.wait_state(MachineState::Setup, Duration::from_secs(5))
                .await?;
            self.complete(
                Step::Setup,
                by,
                "machine in setup, last strip out".into(),
                |v| {
                    v.strip_out = true;
                },
            )
            .await
        }
        .await;
        self.run(r).await
    }

    async fn tolerant(&self, cmd: Command) -> Result<(), ChangeoverError> {
        match self.station.command(cmd).await {
            Ok(()) => Ok(()),
            Err(CommandError::Refused(bonder_core::state::CommandRefusal::WrongState)) => Ok(()),
            Err(e) => Err(command_error(e)),
        }
    }

    async fn wait_state(
        &self,
        want: MachineState,
        within: Duration,
    ) -> Result<(), ChangeoverError> {
        let mut rx = self.station.watch();
        let ok = tokio::time::timeout(within, async {
            loop {
                if rx.borrow_and_update().machine_state == Some(want) {
                    return;
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
        if ok.is_err() || self.station.snapshot().machine_state != Some(want) {
            return Err(ChangeoverError::Controller(format!(
                "machine not in state {want:?} (is {:?})",
                self.station.snapshot().machine_state
            )));
        }
        Ok(())
    }

    /// Step 3: a scanned label. A refused label changes nothing and is shown.
    pub async fn scan(&self, material: Material, label: &str) -> Result<ScanOk, ChangeoverError> {
        let r = async {
            let mut guard = self.open.lock().await;
            Self::expect(&guard, Step::Materials)?;
            let open = guard.as_mut().ok_or(ChangeoverError::NotOpen)?;
            let target = open.view.target.clone();
            let ok = open.view.changeover.scan(material, label, &target)?.clone();
            self.persist(&mut guard, None).await?;
            Ok(ok)
        }
        .await;
        self.run(r).await
    }

    /// Step 3 done (every material scanned and matching).
    pub async fn materials_done(&self, by: &str) -> Result<View, ChangeoverError> {
        let r = async {
            let outcome = {
                let g = self.open.lock().await;
                let o = Self::expect(&g, Step::Materials)?;
                o.view
                    .changeover
                    .scans
                    .values()
                    .map(|s| s.label.clone())
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            self.complete(Step::Materials, by, outcome, |_| {}).await
        }
        .await;
        self.run(r).await
    }

    /// Step 4: tick a kit checklist item.
    pub async fn tick_kit(&self, item: &str, done: bool) -> Result<View, ChangeoverError> {
        let r = async {
            let mut guard = self.open.lock().await;
            Self::expect(&guard, Step::Kit)?;
            if let Some(o) = guard.as_mut() {
                o.view.changeover.tick_kit(item, done);
            }
            self.persist(&mut guard, None).await
        }
        .await;
        self.run(r).await
    }

    /// Step 4 done (every item ticked).
    pub async fn kit_done(&self, by: &str) -> Result<View, ChangeoverError> {
        let r = self
            .complete(Step::Kit, by, "kit changed".into(), |_| {})
            .await;
        self.run(r).await
    }

    /// Step 5: write the block, apply it, read back the CRC and compare. A mismatch stops
    /// the wizard at this step with the reason (retry, or abandon to roll back).
    pub async fn download(&self, by: &str) -> Result<View, ChangeoverError> {
        let r = async {
            let target = {
                let g = self.open.lock().await;
                Self::expect(&g, Step::Download)?.view.target.clone()
            };
            let crc = self
                .station
                .download(&target)
                .await
                .map_err(command_error)?;
            self.station.set_recipe(target.clone());
            tracing::info!(recipe = %target.id(), "changeover download verified, CRC {crc:#010x}");
            self.complete(Step::Download, by, format!("crc {crc:#010x}"), |v| {
                v.changeover.downloaded_crc = Some(crc);
            })
            .await
        }
        .await;
        self.run(r).await
    }

    /// The heater and (for copper) forming-gas readings against the target's bands:
    /// `(heater °C, in band, gas L/min, in band)`, `None` before the first status poll.
    pub fn conditions(&self) -> Option<(f64, bool, f64, bool)> {
        let target = self.view()?.target;
        let st = self.station.snapshot().status?;
        Some(self.in_band(&target, &st))
    }

    fn in_band(&self, target: &Recipe, st: &bonder_link::Status) -> (f64, bool, f64, bool) {
        let h = f64::from(st.heater_temp_c);
        let g = f64::from(st.forming_gas_l_min);
        let h_ok = (h - target.heater_temp_c.0).abs() <= self.cfg.heater_band_c;
        let g_ok = !target.wire.material.needs_forming_gas()
            || (g - target.forming_gas_l_min.0).abs() <= self.cfg.gas_band_l_min;
        (h, h_ok, g, g_ok)
    }

    /// Step 6: waits until the heater (and forming gas for copper) stay in band for
    /// the hold time; on timeout reports what is out of band and stays at the step.
    pub async fn settle(&self, by: &str) -> Result<View, ChangeoverError> {
        let r = async {
            let target = {
                let g = self.open.lock().await;
                Self::expect(&g, Step::Settle)?.view.target.clone()
            };
            let started = tokio::time::Instant::now();
            let mut since: Option<tokio::time::Instant> = None;
            let mut rx = self.station.watch();
            loop {
                let snap = rx.borrow_and_update().clone();
                if let Some(st) = snap.status {
                    let (h, h_ok, g, g_ok) = self.in_band(&target, &st);
                    if h_ok && g_ok {
                        let s = *since.get_or_insert_with(tokio::time::Instant::now);
                        if s.elapsed() >= self.cfg.settle_hold {
                            let secs = started.elapsed().as_secs_f64();
                            return self
                                .complete(
                                    Step::Settle,
                                    by,
                                    format!("heater {h:.1} °C, gas {g:.2} L/min after {secs:.1} s"),
                                    |_| {},
                                )
                                .await;
                        }
                    } else {
                        since = None;
                    }
                    if started.elapsed() >= self.cfg.settle_timeout {
                        return Err(ChangeoverError::NotSettled {
                            secs: self.cfg.settle_timeout.as_secs(),
                            heater: h,
                            heater_target: target.heater_temp_c.0,
                            heater_band: self.cfg.heater_band_c,
                            gas: g,
                            gas_target: target.forming_gas_l_min.0,
                        });
                    }
                }
                let _ = tokio::time::timeout(Duration::from_millis(250), rx.changed()).await;
            }
        }
        .await;
        self.run(r).await
    }

    /// Step 7: pattern recognition teach / verify confirmed (by the vision crate when
    /// present; a confirm step otherwise).
    pub async fn pr_done(&self, by: &str, outcome: &str) -> Result<View, ChangeoverError> {
        let r = self
            .complete(Step::PrTeach, by, outcome.to_string(), |_| {})
            .await;
        self.run(r).await
    }

    /// Step 8a: leave setup, bond one unit (`wires_per_unit` wires: a ball and a stitch
    /// each) with the new recipe, stop; the view lists the bonds and their verdicts.
    pub async fn bond_first_article(&self) -> Result<Vec<FirstArticleBond>, ChangeoverError> {
        let r = async {
            let target = {
                let g = self.open.lock().await;
                Self::expect(&g, Step::FirstArticle)?.view.target.clone()
            };
            let want = usize::from(target.wires_per_unit) * 2;
            let mut events = self.station.subscribe();
            self.tolerant(Command::LeaveSetup).await?;
            self.station
                .command(Command::Start)
                .await
                .map_err(command_error)?;
            let mut bonds = Vec::new();
            let wait = self.cfg.first_article_timeout;
            let got = tokio::time::timeout(wait, async {
                while bonds.len() < want {
                    match events.recv().await {
                        Ok(StationEvent::Bond(b)) => bonds.push(FirstArticleBond {
                            seq: b.seq,
                            kind: b.event.kind,
                            verdict: b.judgement.verdict,
                        }),
                        Ok(_) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(_) => break,
                    }
                }
            })
            .await;
            // Stop after the unit whichever way it went.
            if let Err(e) = self.station.command(Command::Stop).await {
                tracing::warn!("stop after the first article: {e}");
            }
            if got.is_err() || bonds.len() < want {
                return Err(ChangeoverError::NoFirstArticle(wait.as_secs()));
            }
            let mut guard = self.open.lock().await;
            if let Some(o) = guard.as_mut() {
                o.view.first_article_bonds = bonds.clone();
            }
            self.persist(&mut guard, None).await?;
            Ok(bonds)
        }
        .await;
        self.run(r).await
    }

    /// Step 8b: pull and shear results. Failing values are kept (shown) and block the
    /// step; passing ones finish it.
    pub async fn first_article_results(
        &self,
        by: &str,
        pulls_gf: Vec<f64>,
        shears_gf: Vec<f64>,
    ) -> Result<View, ChangeoverError> {
        let r = async {
            let fa = {
                let mut guard = self.open.lock().await;
                Self::expect(&guard, Step::FirstArticle)?;
                let open = guard.as_mut().ok_or(ChangeoverError::NotOpen)?;
                let fa = FirstArticle::new(&open.view.target, pulls_gf, shears_gf);
                open.view.changeover.first_article = Some(fa.clone());
                self.persist(&mut guard, None).await?;
                fa
            };
            fa.verdict().map_err(ChangeoverError::FirstArticle)?;
            let outcome = format!(
                "pull min {:.2} gf (≥ {:.2}), shear min {:.2} gf (≥ {:.2}), {} bonds",
                fa.pull_min(),
                fa.pull_required_gf,
                fa.shear_min(),
                fa.shear_required_gf,
                self.view().map_or(0, |v| v.first_article_bonds.len())
            );
            self.complete(Step::FirstArticle, by, outcome, |_| {}).await
        }
        .await;
        self.run(r).await
    }

    /// Step 9: sign-off by a technician or an engineer; the machine goes back to
    /// production, the record goes to the store and the gateway.
    pub async fn sign_off(&self, by: &str, role: Role) -> Result<View, ChangeoverError> {
        let r = async {
            {
                let g = self.open.lock().await;
                Self::expect(&g, Step::SignOff)?;
            }
            bonder_core::permissions::check(role, Permission::SignOffChangeover)?;
            // Commands are idempotent here: a refusal "wrong state" means the machine
            // is already past that point; the state it ends in is what is checked.
            self.tolerant(Command::LeaveSetup).await?;
            self.tolerant(Command::Start).await?;
            self.wait_state(MachineState::Running, Duration::from_secs(5))
                .await?;
            let view = self
                .complete(
                    Step::SignOff,
                    by,
                    format!("signed off ({})", role.name()),
                    |_| {},
                )
                .await?;
            let co = &view.changeover;
            let t = now();
            let fa = co.first_article.as_ref();
            self.writer.send(WriteOp::ChangeoverEnd(ChangeoverEnd {
                id: co.id,
                time: t,
                user: by.to_string(),
                role,
                first_article: fa.map(|f| bonder_store::FirstArticle {
                    passed: f.verdict().is_ok(),
                    pull_gf_min: f.pull_min() as f32,
                    shear_gf_min: f.shear_min() as f32,
                }),
                abandoned: false,
            }))?;
            let msg = self.record(co, t);
            let payload = serde_json::to_string(&msg)
                .map_err(|e| ChangeoverError::Store(StoreError::Corrupt(e.to_string())))?;
            self.writer.send(WriteOp::Outbox {
                time: t,
                topic: "changeovers".into(),
                payload,
            })?;
            self.writer.flush().await?;
            tracing::info!(
                changeover = co.id,
                minutes = msg.minutes,
                "changeover signed off"
            );
            *self.open.lock().await = None;
            self.view.send_replace(None);
            Ok(view)
        }
        .await;
        self.run(r).await
    }

    /// The `{S}/changeovers` record of a finished changeover.
    pub fn record(&self, co: &Changeover, ended: OffsetDateTime) -> ChangeoverMsg {
        let fa = co.first_article.as_ref();
        ChangeoverMsg {
            v: 1,
            id: format!("{}-co-{}", self.cfg.station_id, co.id),
            from_recipe: co.from_recipe.clone(),
            to_recipe: co.to_recipe.clone(),
            started: ts(from_ms(co.started_ms)),
            ended: ts(ended),
            minutes: ((unix_ms(ended) - co.started_ms) as f64 / 60_000.0 * 100.0).round() / 100.0,
            steps: co
                .done
                .iter()
                .map(|s| ChangeoverStepMsg {
                    name: s.step.name().to_string(),
                    started: ts(from_ms(s.started_ms)),
                    ended: ts(from_ms(s.ended_ms)),
                    by: s.by.clone(),
                })
                .collect(),
            first_article: FirstArticleMsg {
                passed: fa.is_some_and(|f| f.verdict().is_ok()),
                pull_gf_min: fa.map_or(0.0, FirstArticle::pull_min),
                shear_gf_min: fa.map_or(0.0, FirstArticle::shear_min),
            },
        }
    }

    /// Abandons the open changeover: the machine goes back to the previous recipe
    /// (downloaded again and verified by CRC when the new one had been downloaded),
    /// leaves setup, and the changeover is closed as `abandoned`.
    pub async fn abandon(&self, by: &str, role: Role) -> Result<(), ChangeoverError> {
        let r = async {
            bonder_core::permissions::check(role, Permission::RunChangeover)?;
            let (co, previous) = {
                let g = self.open.lock().await;
                let o = g.as_ref().ok_or(ChangeoverError::NotOpen)?;
                (o.view.changeover.clone(), o.previous.clone())
            };
            // Stop (if running or paused) and be in setup or idle for the download.
            self.tolerant(Command::Stop).await?;
            if let Some(prev) = previous {
                // Whether or not the new block reached the machine, make sure the old one
                // is what runs: download it and compare the CRC.
                let crc = self
                    .station
                    .download(&prev)
                    .await
                    .map_err(|e| ChangeoverError::Rollback(e.to_string()))?;
                self.station.set_recipe(prev.clone());
                tracing::info!(recipe = %prev.id(), "rolled back, CRC {crc:#010x}");
            }
            self.tolerant(Command::LeaveSetup).await?;
            self.writer.send(WriteOp::ChangeoverEnd(ChangeoverEnd {
                id: co.id,
                time: now(),
                user: by.to_string(),
                role,
                first_article: None,
                abandoned: true,
            }))?;
            self.writer.flush().await?;
            *self.open.lock().await = None;
            self.view.send_replace(None);
            Ok(())
        }
        .await;
        self.run(r).await
    }
}

/// The changeover report: per-step median and p90 minutes over the last `last` completed
/// changeovers in the store, slowest step first, with how many changeovers it covers.
pub fn step_report(
    store: &Store,
    last: usize,
) -> Result<(usize, Vec<model::StepStat>), ChangeoverError> {
    let all = store.reader()?.changeovers(
        OffsetDateTime::UNIX_EPOCH,
        OffsetDateTime::now_utc() + time::Duration::days(1),
    )?;
    let done: Vec<Vec<(String, f64)>> = all
        .iter()
        .filter(|c| c.outcome.as_deref() == Some("completed"))
        .rev()
        .take(last)
        .map(|c| {
            c.steps
                .iter()
                .map(|s| {
                    let min = (s.ended - s.started).as_seconds_f64() / 60.0;
                    (s.name.clone(), min)
                })
                .collect()
        })
        .collect();
    let stats = model::step_report(done.iter().map(Vec::as_slice));
    Ok((done.len(), stats))
}

/// Writes the report as CSV; `tr` translates the header keys (`co-report-*`) and the step
/// names (`co-step-*`).
pub fn write_report_csv(
    stats: &[model::StepStat],
    out: &mut dyn std::io::Write,
    tr: &dyn Fn(&str) -> String,
) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    let header = [
        "co-report-step",
        "co-report-count",
        "co-report-median",
        "co-report-p90",
        "co-report-standard",
    ]
    .map(tr);
    w.write_record(&header)?;
    for s in stats {
        w.write_record([
            tr(&format!("co-step-{}", s.name)),
            s.count.to_string(),
            format!("{:.2}", s.median_min),
            format!("{:.2}", s.p90_min),
            format!("{:.0}", s.standard_min),
        ])?;
    }
    w.flush()
}
