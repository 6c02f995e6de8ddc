//! The changeover service: the steps against the controller, persisted after every
//! change.

use std::sync::Arc;
use std::time::Duration;

use bonder_core::changeover::{Changeover, FirstArticle, Material, ScanOk, Step, StepRecord};
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

use crate::model;
use crate::{ChangeoverError, step_report};

/// Steps 1–9 of the wizard and abandoning it (a second `impl` of the service).
mod steps;

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
}
