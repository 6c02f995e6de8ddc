//! The station's store: every judged bond, alarm and state change goes to the SQLite
//! writer (batched, never blocking the link), in order, through the runtime's sink; and
//! each wire's predicted strength after its stitch (`crate::strength::Predictor`), and
//! every wire to the process-health analytics (`crate::health`).

use bonder_core::{AlarmCode, MachineState};
use bonder_gateway::Topic;
use bonder_gateway::payload::AlarmMsg;
use bonder_runtime::{EventSink, StationEvent};
use bonder_store::{AlarmRecord, BondRecord, E10State, StateChange, WriteOp, WriterHandle};
use std::sync::Arc;
use time::OffsetDateTime;

/// Builds the runtime's sink: bonds, alarms and E10 state changes to the writer; alarms
/// also to the gateway's outbox.
pub fn sink(
    writer: WriterHandle,
    shift: crate::ui_store::CurrentShift,
    predictor: Option<Arc<crate::strength::Predictor>>,
    health: Option<Arc<crate::health::Analytics>>,
) -> EventSink {
    // The ball of the wire in progress: its stitch completes the wire for the prediction
    // and the process-health analytics.
    let ball: std::sync::Mutex<Option<Arc<bonder_runtime::JudgedBond>>> = Default::default();
    Arc::new(move |ev: &StationEvent| {
        let now = OffsetDateTime::now_utc();
        let op = match ev {
            StationEvent::Bond(b) => {
                let op = WriteOp::from(BondRecord::from_judged(
                    b.seq,
                    &b.event,
                    &b.judgement,
                    &b.recipe_id,
                    Some(shift.load(std::sync::atomic::Ordering::Relaxed)),
                    now,
                ));
                // The wire's predicted strength follows its stitch into the store; the
                // process-health analytics see every wire, in order.
                let mut pending = ball.lock().unwrap_or_else(|p| p.into_inner());
                let wire = if b.event.kind == bonder_core::BondKind::Ball {
                    *pending = Some(b.clone());
                    None
                } else {
                    pending.take().filter(|x| {
                        x.event.unit_no == b.event.unit_no && x.event.wire_no == b.event.wire_no
                    })
                };
                drop(pending);
                let mut prediction = None;
                if let Some(first) = &wire {
                    prediction = predictor.as_ref().and_then(|p| p.predict(first, b));
                    if let Some(h) = &health {
                        h.on_wire(first, b, prediction.as_ref());
                    }
                }
                if let Some(p) = prediction {
                    if let Err(e) = writer.send(op) {
                        tracing::error!("store writer: {e}");
                    }
                    WriteOp::Prediction(p)
                } else {
                    op
                }
            }
            StationEvent::Alarm { code, raised, .. } => {
                let msg = AlarmMsg::new(now, *code, *raised);
                let queued = writer.send(WriteOp::Outbox {
                    time: now,
                    topic: Topic::Alarms.suffix().into(),
                    payload: serde_json::to_string(&msg).unwrap_or_default(),
                });
                if let Err(e) = queued {
                    tracing::error!("alarm {code} not queued for the gateway: {e}");
                }
                WriteOp::Alarm(AlarmRecord {
                    code: AlarmCode::from_code(*code).unwrap_or(AlarmCode::Other(*code)),
                    raised: *raised,
                    time: now,
                })
            }
            StationEvent::State(s) => state_op(*s, now),
            StationEvent::Link(_) => return,
            // Never a download to the machine without an audit row naming why.
            StationEvent::RecipeDownloaded { recipe_id, why, ok } => {
                WriteOp::Audit(bonder_store::AuditRecord {
                    time: now,
                    user: "station".into(),
                    role: Some(bonder_store::Role::System),
                    action: bonder_store::AuditAction::Download,
                    object: format!("recipe:{recipe_id}"),
                    old_value: None,
                    new_value: Some(serde_json::json!({ "ok": ok }).to_string()),
                    reason: Some(why.clone()),
                })
            }
        };
        if let Err(e) = writer.send(op) {
            tracing::error!("store writer: {e}");
        }
    })
}

/// The E10 state change for a machine state.
pub fn state_op(s: MachineState, time: OffsetDateTime) -> WriteOp {
    WriteOp::StateChange(StateChange {
        time,
        state: E10State::from_machine(s),
    })
}
