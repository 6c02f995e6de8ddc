//! The station's side of the gateway: the outbox over the SQLite store, the status feed
//! from the runtime's snapshot, and the commands the gateway brings.

use bonder_gateway::payload::{BondMsg, StatusMsg, V, WorkOrderCmd, r1, r2, ts};
use bonder_gateway::{CommandRequest, GatewayCommand, Outbox, OutboxError, QueuedMessage, Topic};
use bonder_runtime::{LinkState, Snapshot, Station};
use bonder_store::{Actor, BondRecord, Reader, Role, Store, TimelineEvent, WriteOp, WriterHandle};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::{mpsc, watch};

/// Topic name of the bond cursor in the store.
const BONDS_CURSOR: &str = "bonds";

/// Store and forward over the station's SQLite file.
#[allow(missing_debug_implementations)] // holds a SQLite reader; nothing to print
pub struct StoreOutbox {
    store: Arc<Store>,
    reader: Reader,
}

impl StoreOutbox {
    /// An outbox with its own read connection.
    pub fn new(store: Arc<Store>) -> Result<StoreOutbox, bonder_store::StoreError> {
        let reader = store.reader()?;
        Ok(StoreOutbox { store, reader })
    }
}

pub(crate) fn bond_msg(b: &BondRecord) -> BondMsg {
    BondMsg {
        seq: b.seq,
        ts: ts(b.time),
        unit: b.unit,
        wire: b.wire,
        kind: b.kind.name().into(),
        verdict: b.verdict.name().into(),
        dx_um: r1(f64::from(b.dx_um)),
        dy_um: r1(f64::from(b.dy_um)),
        ball_um: b.ball_um.map(|d| r1(f64::from(d))),
        peak_force_gf: r1(f64::from(b.peak_force_gf)),
        us_energy_mj: r2(f64::from(b.us_energy_mj)),
        deform_um: r1(f64::from(b.deform_um)),
    }
}

impl Outbox for StoreOutbox {
    fn bond_cursor(&mut self) -> Result<u64, OutboxError> {
        Ok(self.store.get_cursor(BONDS_CURSOR)?.unwrap_or(0))
    }
    fn set_bond_cursor(&mut self, seq: u64) -> Result<(), OutboxError> {
        Ok(self.store.set_cursor(BONDS_CURSOR, seq)?)
    }
    fn max_bond_seq(&mut self) -> Result<u64, OutboxError> {
        Ok(self.reader.max_bond_seq()?.unwrap_or(0))
    }
    fn bonds(&mut self, after: u64, upto: u64, limit: usize) -> Result<Vec<BondMsg>, OutboxError> {
        let rows = self.reader.bonds_after(after, limit)?;
        Ok(rows
            .iter()
            .take_while(|b| b.seq <= upto)
            .map(bond_msg)
            .collect())
    }
    fn messages(&mut self, limit: usize) -> Result<Vec<QueuedMessage>, OutboxError> {
        Ok(self
            .reader
            .outbox_messages(limit)?
            .into_iter()
            .filter_map(|(id, topic, payload)| {
                Some(QueuedMessage {
                    id,
                    topic: Topic::from_suffix(&topic)?,
                    payload,
                })
            })
            .collect())
    }
    fn ack_message(&mut self, id: i64) -> Result<(), OutboxError> {
        Ok(self.store.ack_outbox_message(id)?)
    }
}

/// The status the gateway publishes, from a runtime snapshot.
pub fn status_msg(s: &Snapshot, recipe_id: &str, operator: Option<&str>) -> StatusMsg {
    let state = match (s.link, s.machine_state) {
        (LinkState::Online, Some(m)) => m.name(),
        // The controller is away: the station cannot vouch for the machine.
        _ => "offline",
    };
    StatusMsg {
        v: V,
        ts: ts(OffsetDateTime::now_utc()),
        state: state.into(),
        recipe: Some(recipe_id.to_string()),
        operator: operator.map(str::to_string),
        wires_bonded: s.counters.wires,
        wire_rate_per_min: r1(s.counters.wire_rate_per_min),
        yield_pct: r2(s.counters.yield_pct),
        alarm: s.active_alarms.last().copied(),
    }
}

/// Keeps the status feed fresh (once a second).
pub async fn feed_status(
    station: Arc<Station>,
    operator: bonder_station_ui::OperatorName,
    tx: watch::Sender<StatusMsg>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        if tx
            .send({
                let s = station.snapshot();
                let op = operator.lock().ok().and_then(|o| o.clone());
                status_msg(&s, &s.recipe_id, op.as_deref())
            })
            .is_err()
        {
            return;
        }
    }
}

/// The work order the gateway sent last, as the UI shows it (the operator's next job).
pub type NextJob = bonder_station_ui::WorkOrderText;

/// How a work order reads on the production page.
pub fn work_order_text(w: &WorkOrderCmd) -> String {
    format!(
        "{} · {} · {} · {}",
        w.work_order, w.device, w.recipe, w.quantity
    )
}

/// Carries out the gateway's commands: a recipe becomes a new draft version awaiting an
/// engineer's release (never sent to the machine by this alone); a work order becomes
/// the operator's next job.
pub async fn serve_commands(
    mut rx: mpsc::Receiver<CommandRequest>,
    store: Arc<Store>,
    writer: WriterHandle,
    next_job: NextJob,
) {
    while let Some(req) = rx.recv().await {
        let result = match &req.command {
            GatewayCommand::Recipe { request_id, recipe } => {
                let store = store.clone();
                let json = recipe.to_json();
                let reason = format!("received from the gateway (request {request_id})");
                tokio::task::spawn_blocking(move || {
                    store
                        .recipes()
                        .import_json(&json, &Actor::new("gateway", Role::System), &reason)
                        .map(|v| tracing::info!("gateway recipe stored as draft {}", v.id()))
                        .map_err(|e| e.to_string())
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string()))
            }
            GatewayCommand::WorkOrder(w) => {
                let text = format!("{} {} {} x{}", w.work_order, w.device, w.recipe, w.quantity);
                let _ = writer.send(WriteOp::Event(TimelineEvent {
                    time: OffsetDateTime::now_utc(),
                    kind: "work_order".into(),
                    text,
                }));
                *next_job.lock().unwrap_or_else(|p| p.into_inner()) = work_order_text(w);
                Ok(())
            }
        };
        let _ = req.reply.send(result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_status_names_the_logged_in_operator() {
        // No controller listens there: the status says offline, and still who is logged in.
        let station = Arc::new(Station::start(bonder_runtime::RuntimeConfig::new(
            "127.0.0.1:9".parse().unwrap(),
        )));
        let operator = bonder_station_ui::OperatorName::default();
        let (tx, mut rx) = watch::channel(status_msg(&station.snapshot(), "r@1", None));
        tokio::spawn(feed_status(station.clone(), operator.clone(), tx));
        rx.changed().await.unwrap();
        assert_eq!(rx.borrow_and_update().operator, None);
        *operator.lock().unwrap() = Some("Li Wei".into());
        rx.changed().await.unwrap();
        assert_eq!(rx.borrow().operator.as_deref(), Some("Li Wei"));
        assert_eq!(rx.borrow().state, "offline");
        station.shutdown().await;
    }

    #[tokio::test]
    async fn a_work_order_becomes_the_next_job_and_a_recipe_a_draft() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path().join("s.sqlite")).unwrap());
        let writer = store
            .spawn_writer(bonder_store::WriterConfig::default())
            .unwrap();
        let next_job = NextJob::default();
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(serve_commands(
            rx,
            store.clone(),
            writer.clone(),
            next_job.clone(),
        ));
        let w = WorkOrderCmd {
            v: 1,
            request_id: "w1".into(),
            work_order: "WO-7".into(),
            device: "SOT23-3L".into(),
            recipe: "SOT23-CU20@3".into(),
            quantity: 5000,
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        tx.send(CommandRequest {
            command: GatewayCommand::WorkOrder(w),
            reply,
        })
        .await
        .unwrap();
        assert_eq!(answer.await.unwrap(), Ok(()));
        assert_eq!(
            *next_job.lock().unwrap(),
            "WO-7 · SOT23-3L · SOT23-CU20@3 · 5000"
        );

        let (reply, answer) = tokio::sync::oneshot::channel();
        let recipe = Box::new(bonder_core::recipe::Recipe::default_cu());
        tx.send(CommandRequest {
            command: GatewayCommand::Recipe {
                request_id: "r1".into(),
                recipe,
            },
            reply,
        })
        .await
        .unwrap();
        assert_eq!(answer.await.unwrap(), Ok(()));
        let v = store.recipes().versions("SOT23-CU20").unwrap();
        assert_eq!(
            (v.len(), v[0].state),
            (1, bonder_core::recipe::RecipeState::Draft)
        );
    }
}
