//! Shift handovers over the store, and the `{S}/shift` report they queue.

use bonder_station_ui::store::StoreError as UiError;
use bonder_store::{Store, StoreError, WriteOp, WriterHandle};
use std::sync::Arc;
use std::time::SystemTime;
use time::OffsetDateTime;

/// The shift the station records bonds under; the sink reads it for every bond.
pub type CurrentShift = Arc<std::sync::atomic::AtomicI64>;

/// The `{S}/shift` message of a closed shift, from the store's summary.
pub fn shift_msg(s: &bonder_store::ShiftSummary) -> bonder_gateway::payload::ShiftMsg {
    use bonder_gateway::payload::{V, r1, r2, ts};
    bonder_gateway::payload::ShiftMsg {
        v: V,
        shift_id: s.shift.id.to_string(),
        started: ts(s.shift.started),
        ended: ts(s.until),
        operator: (!s.shift.operator.is_empty()).then(|| s.shift.operator.clone()),
        wires_bonded: s.wires,
        rejects: s.rejected_wires,
        yield_pct: r2(s.yield_pct),
        oee_pct: r2(s.oee_pct),
        uph: r1(s.uph),
        alarms_count: s.alarms,
        downtime_min: r1(s.minutes.downtime_min()),
        notes: s
            .notes
            .iter()
            .map(|n| n.text.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// Shift handovers in the store: closing a shift ends it, starts the next one, and
/// queues its report for the gateway (`{S}/shift`).
#[derive(Debug)]
pub struct StoreShifts {
    pub store: Arc<Store>,
    pub writer: WriterHandle,
    pub current: CurrentShift,
    pub rt: tokio::runtime::Handle,
}

impl bonder_station_ui::store::ShiftLog for StoreShifts {
    fn previous(
        &self,
        limit: usize,
    ) -> Result<Vec<bonder_station_ui::store::ShiftRecord>, UiError> {
        let backend = |e: StoreError| UiError::Backend(e.to_string());
        let reader = self.store.reader().map_err(backend)?;
        let now = OffsetDateTime::now_utc();
        let mut shifts = reader
            .shifts(OffsetDateTime::UNIX_EPOCH, now)
            .map_err(backend)?;
        shifts.retain(|s| s.ended.is_some());
        shifts.reverse();
        shifts
            .into_iter()
            .take(limit)
            .map(|s| {
                let sum = reader
                    .shift_summary(s.id, now, bonder_store::DEFAULT_IDEAL_WIRES_PER_HOUR)
                    .map_err(backend)?;
                Ok(bonder_station_ui::store::ShiftRecord {
                    started_at: SystemTime::from(s.started),
                    ended_at: SystemTime::from(sum.until),
                    started_by: s.operator.clone(),
                    ended_by: s.operator.clone(),
                    counters: bonder_core::CounterSnapshot {
                        bonds: sum.bonds,
                        wires: sum.wires,
                        rejected_wires: sum.rejected_wires,
                        rejects: sum.rejects,
                        units: sum.units,
                        yield_pct: sum.yield_pct,
                        wire_rate_per_min: 0.0,
                        uph: sum.uph,
                    },
                    notes: sum
                        .notes
                        .iter()
                        .map(|n| n.text.as_str())
                        .collect::<Vec<_>>()
                        .join("\n"),
                })
            })
            .collect()
    }

    fn close(&self, shift: bonder_station_ui::store::ShiftRecord) -> Result<(), UiError> {
        use std::sync::atomic::Ordering;
        let send = |op: WriteOp| {
            self.writer
                .send(op)
                .map_err(|e| UiError::Backend(e.to_string()))
        };
        let id = self.current.load(Ordering::SeqCst);
        let ended = OffsetDateTime::from(shift.ended_at);
        if !shift.notes.trim().is_empty() {
            send(WriteOp::ShiftNote(bonder_store::ShiftNote {
                shift_id: id,
                time: ended,
                author: shift.ended_by.clone(),
                text: shift.notes.clone(),
            }))?;
        }
        send(WriteOp::ShiftEnd { id, time: ended })?;
        send(WriteOp::ShiftStart(bonder_store::ShiftStart {
            id: id + 1,
            time: ended,
            operator: shift.ended_by.clone(),
            team: String::new(),
        }))?;
        self.current.store(id + 1, Ordering::SeqCst);
        // The report needs the shift's records committed: build it off the UI thread.
        let (store, writer) = (self.store.clone(), self.writer.clone());
        self.rt.spawn(async move {
            if let Err(e) = queue_shift_report(&store, &writer, id).await {
                tracing::error!("shift {id} report not queued for the gateway: {e}");
            }
        });
        Ok(())
    }
}

/// Queues the `{S}/shift` report of a closed shift in the store's outbox.
pub async fn queue_shift_report(
    store: &Store,
    writer: &WriterHandle,
    id: i64,
) -> Result<(), StoreError> {
    writer.flush().await?;
    let sum = store.reader()?.shift_summary(
        id,
        OffsetDateTime::now_utc(),
        bonder_store::DEFAULT_IDEAL_WIRES_PER_HOUR,
    )?;
    writer.send(WriteOp::Outbox {
        time: OffsetDateTime::now_utc(),
        topic: bonder_gateway::Topic::Shift.suffix().into(),
        payload: serde_json::to_string(&shift_msg(&sum)).unwrap_or_default(),
    })
}

#[cfg(test)]
mod shift_tests {
    use super::*;
    use bonder_station_ui::store::{ShiftLog, ShiftRecord};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn closing_a_shift_ends_it_starts_the_next_and_queues_its_report() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path().join("s.sqlite")).unwrap());
        let writer = store
            .spawn_writer(bonder_store::WriterConfig::default())
            .unwrap();
        let t0 = OffsetDateTime::now_utc() - time::Duration::hours(8);
        writer
            .send(WriteOp::ShiftStart(bonder_store::ShiftStart {
                id: 1,
                time: t0,
                operator: "OP1".into(),
                team: "A".into(),
            }))
            .unwrap();
        let current: CurrentShift = Arc::new(std::sync::atomic::AtomicI64::new(1));
        let log = StoreShifts {
            store: store.clone(),
            writer: writer.clone(),
            current: current.clone(),
            rt: tokio::runtime::Handle::current(),
        };
        log.close(ShiftRecord {
            started_at: SystemTime::from(t0),
            ended_at: SystemTime::now(),
            started_by: "OP1".into(),
            ended_by: "OP2".into(),
            counters: Default::default(),
            notes: "夜班交接：二号机劈刀已换".into(),
        })
        .unwrap();
        assert_eq!(current.load(std::sync::atomic::Ordering::SeqCst), 2);
        // The report is queued in the outbox once the shift's records are committed.
        let reader = store.reader().unwrap();
        let mut queued = Vec::new();
        for _ in 0..50 {
            writer.flush().await.unwrap();
            queued = reader.outbox_messages(10).unwrap();
            if !queued.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].1, "shift");
        let msg: serde_json::Value = serde_json::from_str(&queued[0].2).unwrap();
        assert_eq!(
            (msg["v"].as_u64(), msg["shift_id"].as_str()),
            (Some(1), Some("1"))
        );
        assert!(msg["notes"].as_str().unwrap().contains("劈刀"));
        for k in [
            "started",
            "ended",
            "operator",
            "wires_bonded",
            "rejects",
            "yield_pct",
            "oee_pct",
            "uph",
            "alarms_count",
            "downtime_min",
        ] {
            assert!(msg.get(k).is_some(), "{k} missing: {msg}");
        }
        let prev = log.previous(5).unwrap();
        assert_eq!(prev.len(), 1);
        assert!(prev[0].notes.contains("劈刀"));
        assert!(
            reader
                .shift(2)
                .unwrap()
                .is_some_and(|s| s.ended.is_none() && s.operator == "OP2")
        );
    }
}
