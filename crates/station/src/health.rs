//! Process health on the station: every wire (its ball and stitch features, its predicted
//! strength, the heater reading and the capillary's touchdowns) goes through the core's
//! [`Monitor`] from the store's sink, in order and without a channel that could drop
//! bonds; what it raises becomes the station alarms 910/911/912 and a `{S}/health`
//! message (through the store's outbox, so it survives a broker outage and a restart).
//!
//! The heater reading and the touchdowns come from the controller's status poll; between
//! two polls the touchdowns are counted on (two per wire). A new recipe (a changeover)
//! starts a new monitor: a new product has its own baseline.

use bonder_core::health::{HealthConfig, HealthEvent, Kind, Monitor, Warning, WireObs};
use bonder_core::{BondKind, Defect, Recipe, Verdict};
use bonder_gateway::Topic;
use bonder_gateway::payload::{HealthCause, HealthMsg};
use bonder_i18n::{Lang, tr, tr_args};
use bonder_runtime::{JudgedBond, Station};
use bonder_store::{BondPrediction, WriteOp, WriterHandle};
use std::sync::{Arc, Mutex, MutexGuard};
use time::OffsetDateTime;
use tokio::sync::mpsc;

/// What the Process health page and the production page show.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HealthView {
    /// Wires seen by the monitor since it started (this recipe).
    pub wires: u64,
    pub baselined: bool,
    /// (signal, EWMA statistic, limit) of each chart.
    pub charts: Vec<(&'static str, f64, f64)>,
    pub active: Vec<Warning>,
    /// Touchdowns left on the capillary (the forecast or its counted life, the earlier).
    pub capillary_left: Option<u64>,
    /// Wires until the yield is forecast under its limit.
    pub yield_eta: Option<u64>,
    /// The newest wire's predicted shear and pull (gf, sd).
    pub shear: Option<(f64, f64)>,
    pub pull: Option<(f64, f64)>,
}

#[derive(Debug, Clone, Copy)]
struct Ball {
    unit: u32,
    wire: u16,
    time_us: u64,
    curve: [f64; 3],
    non_stick: bool,
    rejected: bool,
}

#[derive(Debug, Default)]
struct Inputs {
    heater_offset_c: Option<f64>,
    polled_touchdowns: u64,
    wires_at_poll: u64,
}

/// The station's process-health analytics.
#[derive(Debug)]
pub struct Analytics {
    monitor: Mutex<Monitor>,
    ball: Mutex<Option<Ball>>,
    inputs: Mutex<Inputs>,
    view: Mutex<HealthView>,
    events: mpsc::UnboundedSender<HealthEvent>,
    yield_limit_pct: f64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The monitor's settings for a recipe.
pub fn config_for(recipe: &Recipe, yield_limit_pct: f64) -> HealthConfig {
    let mut c = HealthConfig::new(
        recipe.limits.shear_min_gf.0,
        recipe.limits.pull_min_gf.0,
        u64::from(recipe.capillary_life_touchdowns),
    );
    c.yield_limit_pct = yield_limit_pct;
    c
}

impl Analytics {
    /// The analytics and the receiver of what they raise (for [`run`]).
    pub fn new(
        recipe: &Recipe,
        yield_limit_pct: f64,
    ) -> (Arc<Analytics>, mpsc::UnboundedReceiver<HealthEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let a = Analytics {
            monitor: Mutex::new(Monitor::new(config_for(recipe, yield_limit_pct))),
            ball: Mutex::new(None),
            inputs: Mutex::new(Inputs::default()),
            view: Mutex::new(HealthView::default()),
            events: tx,
            yield_limit_pct,
        };
        (Arc::new(a), rx)
    }

    /// What the pages show now.
    pub fn view(&self) -> HealthView {
        lock(&self.view).clone()
    }

    /// A new recipe: a new baseline.
    pub fn recipe_changed(&self, recipe: &Recipe) {
        *lock(&self.monitor) = Monitor::new(config_for(recipe, self.yield_limit_pct));
        *lock(&self.view) = HealthView::default();
    }

    /// The controller's status poll: the heater reading (against the recipe's set point)
    /// and the capillary's touchdowns.
    pub fn status(&self, heater_c: f64, set_c: f64, touchdowns: u64) {
        let wires = lock(&self.monitor).wires();
        let mut i = lock(&self.inputs);
        i.heater_offset_c = Some(heater_c - set_c);
        if touchdowns != i.polled_touchdowns {
            i.polled_touchdowns = touchdowns;
            i.wires_at_poll = wires;
        }
    }

    /// A lead-frame lot scanned in.
    pub fn lot_scan(&self) {
        lock(&self.monitor).lot_scan();
    }

    /// Takes a judged bond (from the store's sink) and, at a stitch, its wire's
    /// predicted strength.
    pub fn on_bond(&self, b: &JudgedBond, prediction: Option<&BondPrediction>) {
        let ev = &b.event;
        let f = &b.judgement.features;
        let rejected = matches!(b.judgement.verdict, Verdict::Reject(_));
        if ev.kind == BondKind::Ball {
            *lock(&self.ball) = Some(Ball {
                unit: ev.unit_no,
                wire: ev.wire_no,
                time_us: ev.time_us,
                curve: [
                    f64::from(f.us_energy_mj),
                    f64::from(f.deform_um),
                    f64::from(f.impedance_drop_pct),
                ],
                non_stick: b.judgement.verdict == Verdict::Reject(Defect::Nsop),
                rejected,
            });
            return;
        }
        let Some(ball) = lock(&self.ball)
            .take()
            .filter(|x| x.unit == ev.unit_no && x.wire == ev.wire_no)
        else {
            return;
        };
        let mut m = lock(&self.monitor);
        let (heater, touchdowns) = {
            let i = lock(&self.inputs);
            let since = m.wires().saturating_sub(i.wires_at_poll);
            (i.heater_offset_c, i.polled_touchdowns + 2 * since)
        };
        let obs = WireObs {
            time_us: ball.time_us,
            curve: [
                ball.curve[0],
                ball.curve[1],
                ball.curve[2],
                f64::from(f.deform_um),
                f64::from(f.impedance_drop_pct),
            ],
            heater_offset_c: heater,
            touchdowns,
            non_stick: ball.non_stick,
            rejected: ball.rejected || rejected,
            shear: prediction.and_then(|p| p.shear).map(|s| (s.0, s.1)),
            pull: prediction.and_then(|p| p.pull).map(|s| (s.0, s.1)),
        };
        let events = m.push(&obs);
        // The pages read a copy, refreshed every block and at every decision.
        if m.wires() % 1000 == 0 || !events.is_empty() {
            let v = HealthView {
                wires: m.wires(),
                baselined: m.baselined(),
                charts: m
                    .charts()
                    .into_iter()
                    .map(|(s, z, l)| (s.name(), z, l))
                    .collect(),
                active: m.active(),
                capillary_left: m.capillary_eta,
                yield_eta: m.yield_eta,
                shear: obs.shear,
                pull: obs.pull,
            };
            *lock(&self.view) = v;
        } else if obs.shear.is_some() || obs.pull.is_some() {
            let mut v = lock(&self.view);
            v.shear = obs.shear;
            v.pull = obs.pull;
        }
        drop(m);
        for e in events {
            let _ = self.events.send(e);
        }
    }
}

/// The `{S}/health` message of a decision.
pub fn message(e: &HealthEvent, yield_limit_pct: f64, now: OffsetDateTime) -> HealthMsg {
    let text = |lang: Lang| match e {
        HealthEvent::Raised(w) => {
            let (cause, weight) = w
                .causes
                .first()
                .copied()
                .unwrap_or((bonder_core::cause::Cause::Unknown, 1.0));
            let eta = w.eta.map(|e| wires_of(w.kind, e)).unwrap_or_default();
            tr_args(
                lang,
                &format!("health-{}", w.kind.name()),
                &[
                    (
                        "feature",
                        tr(lang, &format!("health-feature-{}", w.signal.name())),
                    ),
                    (
                        "direction",
                        tr(lang, &format!("health-dir-{}", w.direction.name())),
                    ),
                    ("cause", tr(lang, &format!("health-cause-{}", cause.name()))),
                    ("weight", format!("{:.0}", weight * 100.0)),
                    ("eta", eta.to_string()),
                    ("limit", format!("{yield_limit_pct}")),
                ],
            )
        }
        HealthEvent::Cleared { kind, .. } => tr_args(
            lang,
            "health-cleared",
            &[("what", tr(lang, &format!("health-kind-{}", kind.name())))],
        ),
    };
    let (kind, feature, direction, at_time_us, eta_wires, causes) = match e {
        HealthEvent::Raised(w) => (
            w.kind.name(),
            (w.kind == Kind::Drift).then(|| w.signal.name().to_string()),
            (w.kind == Kind::Drift).then(|| w.direction.name().to_string()),
            w.at_time_us,
            w.eta.map(|e| wires_of(w.kind, e)),
            w.causes
                .iter()
                .map(|(c, wt)| HealthCause {
                    cause: c.name().into(),
                    weight: (wt * 1000.0).round() / 1000.0,
                })
                .collect(),
        ),
        // A clearing names what cleared in `feature`.
        HealthEvent::Cleared { kind, at_time_us } => (
            "cleared",
            Some(kind.name().to_string()),
            None,
            *at_time_us,
            None,
            Vec::new(),
        ),
    };
    HealthMsg {
        v: 1,
        ts: bonder_gateway::payload::ts(now),
        kind: kind.into(),
        feature,
        direction,
        at_time_us,
        eta_wires,
        causes,
        text_en: text(Lang::EnUs),
        text_zh: text(Lang::ZhCn),
    }
}

/// A forecast's distance in wires (the capillary's is in touchdowns, two per wire).
fn wires_of(kind: Kind, eta: u64) -> u64 {
    if kind == Kind::Capillary {
        eta / 2
    } else {
        eta
    }
}

/// Acts on what the analytics decide: the station alarm, and the `{S}/health` message
/// to the outbox. Also feeds the analytics the status poll and recipe changes.
pub async fn run(
    analytics: Arc<Analytics>,
    mut events: mpsc::UnboundedReceiver<HealthEvent>,
    station: Arc<Station>,
    writer: WriterHandle,
) {
    {
        let (a, station) = (analytics.clone(), station.clone());
        tokio::spawn(async move {
            let mut rx = station.watch();
            let mut recipe_id = rx.borrow().recipe_id.clone();
            while rx.changed().await.is_ok() {
                let (status, id) = {
                    let s = rx.borrow_and_update();
                    (s.status, s.recipe_id.clone())
                };
                let recipe = station.recipe();
                if id != recipe_id {
                    a.recipe_changed(&recipe);
                    recipe_id = id;
                }
                if let Some(st) = status {
                    a.status(
                        f64::from(st.heater_temp_c),
                        recipe.heater_temp_c.0,
                        u64::from(st.capillary_touchdowns),
                    );
                }
            }
        });
    }
    let limit = analytics.yield_limit_pct;
    while let Some(e) = events.recv().await {
        let now = OffsetDateTime::now_utc();
        let msg = message(&e, limit, now);
        match &e {
            HealthEvent::Raised(w) => {
                tracing::warn!(
                    kind = w.kind.name(),
                    feature = w.signal.name(),
                    at_wire = w.at_wire,
                    eta = w.eta,
                    cause = w.causes.first().map(|c| c.0.name()),
                    "{}",
                    msg.text_en
                );
                station.station_alarm(w.kind.alarm(), true);
            }
            HealthEvent::Cleared { kind, .. } => {
                tracing::info!(kind = kind.name(), "{}", msg.text_en);
                station.station_alarm(kind.alarm(), false);
            }
        }
        let queued = writer.send(WriteOp::Outbox {
            time: now,
            topic: Topic::Health.suffix().into(),
            payload: serde_json::to_string(&msg).unwrap_or_default(),
        });
        if let Err(e) = queued {
            tracing::error!("process health not queued for the gateway: {e}");
        }
    }
}
