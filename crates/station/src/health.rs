//! Process health on the station: every wire (its ball and stitch features, its predicted
//! strength, the heater reading and the capillary's touchdowns) goes through the core's
//! [`Monitor`] from the store's sink, in order and without a channel that could drop
//! bonds; what it raises becomes the station alarms 910/911/912 and a `{S}/health`
//! message (through the store's outbox, so it survives a broker outage and a restart).
//!
//! The heater reading and the touchdowns come from the controller's status poll; between
//! two polls the touchdowns are counted on (two per wire). A new recipe (a changeover)
//! starts a new monitor: a new product has its own baseline.

use bonder_core::health::{HealthConfig, HealthEvent, Kind, Monitor, WireObs};
use bonder_core::{Defect, Recipe, Verdict};
use bonder_gateway::Topic;
use bonder_gateway::payload::{HealthCause, HealthMsg};
use bonder_i18n::{Lang, tr, tr_args};
use bonder_runtime::{JudgedBond, Station};
use bonder_station_ui::tr::Texts;
use bonder_station_ui::{HealthPanel, HealthTrend, TestedStrength};
use bonder_store::{BondPrediction, Store, WriteOp, WriterHandle};
use std::sync::{Arc, Mutex, MutexGuard};
use time::OffsetDateTime;
use tokio::sync::mpsc;

/// Blocks of chart history kept for the Process health page.
const HISTORY: usize = 240;

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
    inputs: Mutex<Inputs>,
    view: Mutex<HealthPanel>,
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
            inputs: Mutex::new(Inputs::default()),
            view: Mutex::new(HealthPanel {
                yield_limit_pct,
                ..HealthPanel::default()
            }),
            events: tx,
            yield_limit_pct,
        };
        (Arc::new(a), rx)
    }

    /// What the pages show now.
    pub fn panel(&self) -> HealthPanel {
        lock(&self.view).clone()
    }

    /// The pages' source.
    pub fn process_health(self: &Arc<Self>) -> bonder_station_ui::ProcessHealth {
        let me = self.clone();
        bonder_station_ui::ProcessHealth::new(move || me.panel())
    }

    /// The newest test results (read from the store by [`run`]).
    pub fn set_tested(&self, tested: TestedStrength) {
        lock(&self.view).tested = tested;
    }

    /// A new recipe: a new baseline.
    pub fn recipe_changed(&self, recipe: &Recipe) {
        *lock(&self.monitor) = Monitor::new(config_for(recipe, self.yield_limit_pct));
        let mut v = lock(&self.view);
        let tested = v.tested;
        *v = HealthPanel {
            yield_limit_pct: self.yield_limit_pct,
            tested,
            ..HealthPanel::default()
        };
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

    /// Takes a wire — its ball and stitch bonds, paired by the store's sink — and its
    /// predicted strength.
    pub fn on_wire(
        &self,
        ball: &JudgedBond,
        stitch: &JudgedBond,
        prediction: Option<&BondPrediction>,
    ) {
        let rejected = |b: &JudgedBond| matches!(b.judgement.verdict, Verdict::Reject(_));
        let (heater, touchdowns) = {
            let wires = lock(&self.monitor).wires();
            let i = lock(&self.inputs);
            let since = wires.saturating_sub(i.wires_at_poll);
            (i.heater_offset_c, i.polled_touchdowns + 2 * since)
        };
        let obs = WireObs {
            time_us: ball.event.time_us,
            curve: bonder_core::health::curve(&ball.judgement.features, &stitch.judgement.features),
            heater_offset_c: heater,
            touchdowns,
            non_stick: ball.judgement.verdict == Verdict::Reject(Defect::Nsop),
            rejected: rejected(ball) || rejected(stitch),
            shear: prediction.and_then(|p| p.shear).map(|s| (s.0, s.1)),
            pull: prediction.and_then(|p| p.pull).map(|s| (s.0, s.1)),
        };
        self.feed(&obs);
    }

    /// Takes one wire as the station saw it (from [`Analytics::on_wire`]; the
    /// screenshots feed simulated wires straight in).
    pub fn feed(&self, obs: &WireObs) {
        let mut m = lock(&self.monitor);
        let events = m.push(obs);
        // The pages read a copy, refreshed every block and at every decision.
        let mut v = lock(&self.view);
        if m.wires() % 1000 == 0 || !events.is_empty() {
            v.wires = m.wires();
            v.baseline_wires = m.baseline_wires();
            v.baselined = m.baselined();
            let charts = m.charts();
            if v.charts.len() != charts.len() {
                v.charts = charts
                    .iter()
                    .map(|(s, _, _)| HealthTrend {
                        signal: s.name(),
                        history: Vec::new(),
                    })
                    .collect();
            }
            if m.wires() % 1000 == 0 && m.baselined() {
                for (t, (_, z, limit)) in v.charts.iter_mut().zip(charts) {
                    t.history.push(if limit > 0.0 { z / limit } else { 0.0 });
                    if t.history.len() > HISTORY {
                        t.history.remove(0);
                    }
                }
            }
            v.warnings = m.active();
            v.capillary_left = m.capillary_eta;
            v.capillary_forecast = m.capillary_forecast_due();
            v.yield_eta = m.yield_eta;
        }
        if obs.shear.is_some() || obs.pull.is_some() {
            v.shear = obs.shear;
            v.pull = obs.pull;
        }
        drop(v);
        drop(m);
        for e in events {
            let _ = self.events.send(e);
        }
    }
}

/// The mean of the newest 20 results of each test, and how many are stored.
fn tested(store: &Store) -> Result<TestedStrength, bonder_store::StoreError> {
    use bonder_core::pull_test::TestKind;
    let (n_shear, shear_gf) = store.test_summary(TestKind::Shear, 20)?;
    let (n_pull, pull_gf) = store.test_summary(TestKind::Pull, 20)?;
    Ok(TestedStrength {
        shear_gf,
        pull_gf,
        results: n_shear + n_pull,
    })
}

/// The `{S}/health` message of a decision.
pub fn message(e: &HealthEvent, yield_limit_pct: f64, now: OffsetDateTime) -> HealthMsg {
    let text = |lang: Lang| match e {
        HealthEvent::Raised(w) => {
            bonder_station_ui::adapters::health::warning_title(Texts(lang), w, yield_limit_pct)
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
            w.eta_wires(),
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

/// Acts on what the analytics decide: the station alarm, and the `{S}/health` message
/// to the outbox. Also feeds the analytics the status poll and recipe changes.
pub async fn run(
    analytics: Arc<Analytics>,
    mut events: mpsc::UnboundedReceiver<HealthEvent>,
    station: Arc<Station>,
    writer: WriterHandle,
    store: Arc<Store>,
) {
    // The newest test results, every 10 s, off the UI thread.
    {
        let a = analytics.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
            loop {
                tick.tick().await;
                let s = store.clone();
                match tokio::task::spawn_blocking(move || tested(&s)).await {
                    Ok(Ok(t)) => a.set_tested(t),
                    Ok(Err(e)) => tracing::warn!("test results not read: {e}"),
                    Err(_) => return,
                }
            }
        });
    }
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
