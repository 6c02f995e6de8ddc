//! The station's side of the gateway: the outbox over the SQLite store, the status feed
//! from the runtime's snapshot, and the commands the gateway brings.

use crate::backfill::Backfiller;
use bonder_gateway::payload::{BondMsg, StatusMsg, V2, WorkOrderCmd, r1, r2, ts};
use bonder_gateway::{
    CommandLedger, CommandRecord, CommandRequest, GatewayCommand, Outbox, OutboxError,
    QueuedMessage, Topic,
};
use bonder_runtime::{LinkState, Snapshot, Station};
use bonder_store::{
    Actor, AuditAction, AuditRecord, BondRecord, Reader, Role, Store, TimelineEvent, WriteOp,
    WriterHandle,
};
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
    fn epoch(&mut self) -> Result<Option<String>, OutboxError> {
        Ok(Some(self.store.epoch()?))
    }
}

/// The gateway commands' nonces and audit rows, in the station's store.
#[derive(Debug)]
pub struct StoreLedger {
    store: Arc<Store>,
}

impl StoreLedger {
    /// A ledger over the store.
    pub fn new(store: Arc<Store>) -> StoreLedger {
        StoreLedger { store }
    }
}

/// The audit row of a gateway command: the signer as user and role (`gateway`/none for
/// one that was not signed), `command` when carried out, `refused` otherwise; the object
/// names topic and request id, the new value the key id, code and outcome.
pub fn command_audit(rec: &CommandRecord) -> AuditRecord {
    let (user, role) = match &rec.signer {
        Some(s) => (s.by.clone(), Some(s.role)),
        None => ("gateway".to_string(), None),
    };
    let value = serde_json::json!({
        "kid": rec.signer.as_ref().map(|s| s.kid.as_str()),
        "code": rec.code.map(|c| c.code()),
        "ok": rec.outcome.is_ok(),
        "count": rec.count,
    });
    AuditRecord {
        time: OffsetDateTime::now_utc(),
        user,
        role,
        action: if rec.outcome.is_ok() {
            AuditAction::Command
        } else {
            AuditAction::Refused
        },
        object: format!(
            "gateway:{}#{}",
            rec.topic.suffix(),
            rec.request_id.as_deref().unwrap_or("-")
        ),
        old_value: None,
        new_value: Some(value.to_string()),
        reason: rec.outcome.clone().err(),
    }
}

impl CommandLedger for StoreLedger {
    fn claim_nonce(&self, nonce: &str, until_s: i64, now_s: i64) -> Result<bool, OutboxError> {
        Ok(self.store.claim_nonce(nonce, until_s, now_s)?)
    }
    fn record(&self, rec: &CommandRecord) -> Result<(), OutboxError> {
        self.store.append_audit(&command_audit(rec))?;
        Ok(())
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
        v: V2,
        epoch: None,
        audit_head: None,
        simulated: false,
        gem_control: None,
        gem_communicating: None,
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

/// Keeps the status feed fresh (once a second); with a store, the status carries its
/// epoch (read once: it never changes while the store is open) and its audit head (read
/// each second on one kept reader; contract v2); `simulated` marks the built-in
/// simulator's production.
pub async fn feed_status(
    station: Arc<Station>,
    operator: bonder_station_ui::OperatorName,
    tx: watch::Sender<StatusMsg>,
    store: Option<Arc<Store>>,
    simulated: bool,
    gem: Option<bonder_gem::GemHandle>,
) {
    let (epoch, reader) = match &store {
        Some(st) => {
            let st = st.clone();
            tokio::task::spawn_blocking(move || (st.epoch().ok(), st.reader().ok()))
                .await
                .unwrap_or_default()
        }
        None => (None, None),
    };
    let reader = reader.map(|r| Arc::new(std::sync::Mutex::new(r)));
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let audit_head = match &reader {
            Some(r) => {
                let r = r.clone();
                tokio::task::spawn_blocking(move || {
                    r.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .audit_head()
                        .ok()
                        .flatten()
                })
                .await
                .unwrap_or_default()
            }
            None => None,
        };
        let msg = {
            let s = station.snapshot();
            let op = operator.lock().ok().and_then(|o| o.clone());
            StatusMsg {
                epoch: epoch.clone(),
                audit_head,
                simulated,
                gem_control: gem
                    .as_ref()
                    .map(|g| g.status().borrow().control.name().to_string()),
                gem_communicating: gem
                    .as_ref()
                    .map(|g| g.status().borrow().comm == bonder_gem::CommState::Communicating),
                ..status_msg(&s, &s.recipe_id, op.as_deref())
            }
        };
        if tx.send(msg).is_err() {
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

/// Carries out the gateway's commands (each already checked and signed, see
/// [`bonder_gateway::CommandGuard`]): a recipe becomes a new draft version awaiting an
/// engineer's release, recorded under its signer (never sent to the machine by this
/// alone); a work order becomes the operator's next job; a backfill is handed to the
/// [`Backfiller`] (which answers when it is done, without holding up this loop).
pub async fn serve_commands(
    mut rx: mpsc::Receiver<CommandRequest>,
    store: Arc<Store>,
    writer: WriterHandle,
    next_job: NextJob,
    backfill: Option<Backfiller>,
) {
    while let Some(req) = rx.recv().await {
        let CommandRequest {
            command,
            signer,
            reply,
        } = req;
        let result = match &command {
            GatewayCommand::Recipe { request_id, recipe } => {
                let store = store.clone();
                let json = recipe.to_json();
                let (actor, reason) = match &signer {
                    Some(s) => (
                        Actor::new(s.by.clone(), s.role),
                        format!(
                            "received from the gateway (request {request_id}, signed with key {})",
                            s.kid
                        ),
                    ),
                    None => (
                        Actor::new("gateway", Role::System),
                        format!("received from the gateway unsigned (request {request_id})"),
                    ),
                };
                tokio::task::spawn_blocking(move || {
                    store
                        .recipes()
                        .import_json(&json, &actor, &reason)
                        .map(|v| tracing::info!("gateway recipe stored as draft {}", v.id()))
                        .map_err(|e| e.to_string())
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string()))
            }
            GatewayCommand::WorkOrder(w) => {
                let by = signer.as_ref().map_or("gateway", |s| s.by.as_str());
                let text = format!(
                    "{} {} {} x{} (by {by})",
                    w.work_order, w.device, w.recipe, w.quantity
                );
                let _ = writer.send(WriteOp::Event(TimelineEvent {
                    time: OffsetDateTime::now_utc(),
                    kind: "work_order".into(),
                    text,
                }));
                *next_job.lock().unwrap_or_else(|p| p.into_inner()) = work_order_text(w);
                Ok(())
            }
            GatewayCommand::Backfill {
                from_seq, to_seq, ..
            } => {
                let Some(b) = &backfill else {
                    let _ = reply.send(Err("backfill is not available on this station".into()));
                    continue;
                };
                let requester = signer
                    .as_ref()
                    .map_or_else(|| "unsigned".to_string(), |s| format!("{}@{}", s.by, s.kid));
                b.serve(requester, *from_seq, *to_seq, reply);
                continue;
            }
        };
        let _ = reply.send(result);
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
        tokio::spawn(feed_status(
            station.clone(),
            operator.clone(),
            tx,
            None,
            false,
            None,
        ));
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
            None,
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
            signer: None,
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
            signer: Some(bonder_gateway::Signer {
                by: "E7".into(),
                role: Role::Engineer,
                kid: "sv".into(),
            }),
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
