//! The writer: one OS thread with its own connection that commits everything the
//! station records, in batches.
//!
//! Senders never wait on disk: [`WriterHandle::send`] puts the operation on a channel
//! (`std::sync::mpsc`) and returns. The writer commits ≥ 100 000 bond rows/s while a
//! fast bonder makes well under 100/s, so the queue only grows while the disk itself
//! stalls or fails. It is **bounded** in operations ([`WriterConfig::max_queued`]):
//! past the bound, bulk operations (bonds, inspections, outbox messages) are refused,
//! counted in [`StoreHealth::dropped_ops`] and the health says so — never blocking the
//! link's task, never growing until memory runs out. What people do (audit rows, alarm
//! acknowledgements, shifts, changeovers) is never refused for the bound: it is rare.
//! [`WriterHandle::queued`] tells how many are waiting.
//!
//! **Health** ([`WriterHandle::health`]): a failed commit, free space on the file's
//! file system under [`WriterConfig::min_free_bytes`] (checked every
//! [`WriterConfig::space_check_interval`]) or a refused operation makes the store
//! *failing* until a commit succeeds with space enough again. The station raises alarm
//! 902 and interlocks production on it. A failed batch is retried every
//! [`WriterConfig::retry_interval`].
//!
//! A batch is committed (one `IMMEDIATE` transaction) when it holds
//! [`WriterConfig::commit_rows`] operations, when the oldest has waited
//! [`WriterConfig::commit_interval`], or at once on [`WriterHandle::flush`]. An
//! operation that violates a constraint (a duplicate bond `seq`, a note for an unknown
//! shift) is logged and skipped, never poisoning its batch; any other failure rolls
//! the batch back and keeps it for the next attempt.

use crate::audit::{self, AuditAction, AuditRecord};
use crate::codes::{
    BP_PER_PCT, MGF_PER_GF, NM_PER_UM, UJ_PER_MJ, kind_code, seq_sql, to_fixed, verdict_code,
};
use crate::records::{
    AlarmAck, AlarmRecord, BondRecord, ChangeoverEnd, ChangeoverProgress, ChangeoverStart,
    ChangeoverStep, ShiftNote, ShiftStart, StateChange, TimelineEvent, VisionInspection,
};
use crate::retention::{self, RetentionPolicy};
use crate::timefmt::unix_ms;
use crate::{StoreError, curve};
use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tokio::sync::{oneshot, watch};

/// How the writer batches and what it keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct WriterConfig {
    /// Longest time an operation waits before its batch is committed.
    pub commit_interval: Duration,
    /// A batch is committed as soon as it holds this many operations.
    pub commit_rows: usize,
    /// Keep the curve of one in this many good bonds (every rejected bond's curve is
    /// kept). 0 keeps no good curves, 1 keeps all.
    pub good_curve_every: u32,
    /// Applied after a commit when `retention_interval` has passed since the last time.
    pub retention: Option<RetentionPolicy>,
    /// How often retention is applied (0: after every commit).
    pub retention_interval: Duration,
    /// Operations held at most (sent, not yet committed); bulk ones past it are refused.
    pub max_queued: usize,
    /// Free bytes on the file system under which the store is failing (0: no check).
    pub min_free_bytes: u64,
    /// How often free space is checked.
    pub space_check_interval: Duration,
    /// Wait after a failed commit before the batch is tried again.
    pub retry_interval: Duration,
}

/// Default operation bound: a quarter of an hour of the fastest bonder's bonds, some
/// 100 MB of records with their curves.
pub const DEFAULT_MAX_QUEUED: usize = 50_000;

/// Default free-space floor: 1 GiB (of a 64 GB panel SSD).
pub const DEFAULT_MIN_FREE_BYTES: u64 = 1 << 30;

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            commit_interval: Duration::from_millis(50),
            commit_rows: 1000,
            good_curve_every: 100,
            retention: None,
            retention_interval: Duration::from_secs(60),
            max_queued: DEFAULT_MAX_QUEUED,
            min_free_bytes: DEFAULT_MIN_FREE_BYTES,
            space_check_interval: Duration::from_secs(5),
            retry_interval: Duration::from_secs(1),
        }
    }
}

/// Something to record.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOp {
    /// A bond (boxed: it is by far the largest operation; `From<BondRecord>` boxes it,
    /// so `writer.send(record)` works).
    Bond(Box<BondRecord>),
    /// An alarm raised or cleared.
    Alarm(AlarmRecord),
    /// An alarm acknowledged; also appends an audit row.
    AlarmAck(AlarmAck),
    /// A shift starts (with the caller's id).
    ShiftStart(ShiftStart),
    /// A shift ends.
    ShiftEnd {
        /// The shift's id.
        id: i64,
        /// End time.
        time: OffsetDateTime,
    },
    /// A handover note.
    ShiftNote(ShiftNote),
    /// An entry of the events timeline.
    Event(TimelineEvent),
    /// The equipment entered a SEMI E10 state.
    StateChange(StateChange),
    /// A changeover starts (with the caller's id).
    ChangeoverStart(ChangeoverStart),
    /// A changeover step was done.
    ChangeoverStep(ChangeoverStep),
    /// A changeover ends; also appends an audit row and drops its progress row.
    ChangeoverEnd(ChangeoverEnd),
    /// The wizard's state of an open changeover (replaces the previous one).
    ChangeoverProgress(ChangeoverProgress),
    /// An audited action that is not one of the above (login, logout, a deletion).
    Audit(AuditRecord),
    /// The vision's inspection of a bond already sent (a second one for the same bond
    /// is ignored; one for an unknown bond is rejected).
    VisionInspection(VisionInspection),
    /// A wire's predicted strength (replaces an earlier one of the same ball bond).
    Prediction(crate::records::BondPrediction),
    /// A message for the gateway (topic suffix below the station, JSON payload), kept
    /// until the broker acknowledges it.
    Outbox {
        /// When it was queued.
        time: OffsetDateTime,
        /// Topic suffix below the station (`alarms`, `changeovers`, `shift`).
        topic: String,
        /// The JSON payload.
        payload: String,
    },
}

impl WriteOp {
    /// Bulk operations: made by the machine at its rate, refused past the queue bound.
    fn is_bulk(&self) -> bool {
        matches!(
            self,
            WriteOp::Bond(_)
                | WriteOp::VisionInspection(_)
                | WriteOp::Prediction(_)
                | WriteOp::Outbox { .. }
        )
    }
}

/// Why the store is failing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageFault {
    /// A batch could not be committed (disk full, I/O error, read-only file system).
    CommitFailed(String),
    /// Free space on the file's file system is under the floor.
    LowSpace {
        /// Bytes free (for an unprivileged process).
        free_bytes: u64,
        /// The floor.
        min_bytes: u64,
    },
    /// Operations were refused: the queue reached its bound.
    QueueFull {
        /// The bound.
        max_queued: usize,
    },
}

impl std::fmt::Display for StorageFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StorageFault::CommitFailed(e) => write!(f, "commit failed: {e} / 提交失败：{e}"),
            StorageFault::LowSpace {
                free_bytes,
                min_bytes,
            } => {
                let (free, min) = (free_bytes >> 20, min_bytes >> 20);
                write!(
                    f,
                    "only {free} MiB free, under the floor of {min} MiB / 可用空间仅 {free} MiB，低于下限 {min} MiB"
                )
            }
            StorageFault::QueueFull { max_queued } => write!(
                f,
                "{max_queued} operations waiting: new records are refused / {max_queued} 项待写入：新记录被拒绝"
            ),
        }
    }
}

/// The store's health, as the writer sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreHealth {
    /// Why the store is failing now; `None` while it works.
    pub failing: Option<StorageFault>,
    /// Free bytes at the last check (`None` before it or when it cannot be read).
    pub free_bytes: Option<u64>,
    /// Operations refused since the writer started (queue bound).
    pub dropped_ops: u64,
    /// Commits that failed since the writer started (each retried).
    pub failed_commits: u64,
}

impl From<BondRecord> for WriteOp {
    fn from(b: BondRecord) -> Self {
        WriteOp::Bond(Box::new(b))
    }
}

/// What the writer has committed so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CommitInfo {
    /// Highest bond `seq` in the file (0 before the first bond).
    pub max_bond_seq: u64,
    /// Operations committed since the writer started.
    pub ops: u64,
    /// Operations skipped because they violated a constraint (logged).
    pub rejected_ops: u64,
}

type Reply = oneshot::Sender<Result<CommitInfo, StoreError>>;

enum Msg {
    Op(WriteOp),
    Flush(Reply),
    Close(Reply),
}

/// Cheap, cloneable handle on the writer thread.
#[derive(Debug, Clone)]
pub struct WriterHandle {
    tx: mpsc::Sender<Msg>,
    queued: Arc<AtomicUsize>,
    max_queued: usize,
    committed: watch::Receiver<CommitInfo>,
    health: Arc<watch::Sender<StoreHealth>>,
}

impl WriterHandle {
    /// Queues an operation; never blocks. Fails when the writer has stopped, or with
    /// [`StoreError::QueueFull`] for a bulk operation past the queue bound (counted in
    /// the health's `dropped_ops`).
    pub fn send(&self, op: impl Into<WriteOp>) -> Result<(), StoreError> {
        let op = op.into();
        let before = self.queued.fetch_add(1, Ordering::Relaxed);
        if op.is_bulk() && before >= self.max_queued {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            let max_queued = self.max_queued;
            self.health.send_modify(|h| {
                h.dropped_ops += 1;
                if h.failing.is_none() {
                    h.failing = Some(StorageFault::QueueFull { max_queued });
                }
            });
            return Err(StoreError::QueueFull(max_queued));
        }
        self.tx.send(Msg::Op(op)).map_err(|_| {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            StoreError::WriterStopped
        })
    }

    /// A watch of the store's health (failing or not, free space, refused operations).
    pub fn health(&self) -> watch::Receiver<StoreHealth> {
        self.health.subscribe()
    }

    /// Waits until everything sent before this call is committed.
    pub async fn flush(&self) -> Result<CommitInfo, StoreError> {
        self.request(Msg::Flush).await
    }

    /// Commits everything sent so far and stops the writer thread; later sends (from
    /// clones) fail with [`StoreError::WriterStopped`].
    pub async fn close(self) -> Result<CommitInfo, StoreError> {
        self.request(Msg::Close).await
    }

    async fn request(&self, msg: fn(Reply) -> Msg) -> Result<CommitInfo, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(msg(tx))
            .map_err(|_| StoreError::WriterStopped)?;
        rx.await.map_err(|_| StoreError::WriterStopped)?
    }

    /// Highest committed bond `seq` (0 before the first).
    pub fn committed_seq(&self) -> u64 {
        self.committed.borrow().max_bond_seq
    }

    /// A watch of the commits, to await progress (e.g. the gateway's outbox).
    pub fn subscribe(&self) -> watch::Receiver<CommitInfo> {
        self.committed.clone()
    }

    /// Operations sent and not yet committed.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }
}

/// Starts the writer thread on its own connection.
pub(crate) fn spawn(mut conn: Connection, cfg: WriterConfig) -> Result<WriterHandle, StoreError> {
    let max_seq: Option<i64> = conn.query_row("SELECT MAX(seq) FROM bonds", [], |r| r.get(0))?;
    let info = CommitInfo {
        max_bond_seq: max_seq.map_or(0, |s| u64::try_from(s).unwrap_or(0)),
        ..CommitInfo::default()
    };
    let (tx, rx) = mpsc::channel();
    let (committed_tx, committed) = watch::channel(info);
    let queued = Arc::new(AtomicUsize::new(0));
    let q = Arc::clone(&queued);
    let health = Arc::new(watch::Sender::new(StoreHealth::default()));
    let h = Arc::clone(&health);
    let max_queued = cfg.max_queued;
    // Free space is measured on the directory holding the file (and its -wal).
    let dir = conn
        .path()
        .map(std::path::Path::new)
        .and_then(std::path::Path::parent)
        .map(std::path::Path::to_path_buf);
    std::thread::Builder::new()
        .name("store-writer".into())
        .spawn(move || {
            let mut w = Writer {
                cfg,
                labels: HashMap::new(),
                good_seen: 0,
                info,
                committed: committed_tx,
                queued: q,
                last_retention: Instant::now(),
                health: h,
                dir,
                last_space_check: None,
                commit_error: None,
            };
            let (closers, last) = w.run(&mut conn, &rx);
            // Close the connection (its checkpoint included) before `close()` returns,
            // so a caller that then reads or copies the file sees everything.
            drop(conn);
            for c in closers {
                let _ = c.send(last.clone().map_err(StoreError::CommitFailed));
            }
        })?;
    Ok(WriterHandle {
        tx,
        queued,
        max_queued,
        committed,
        health,
    })
}

struct Writer {
    cfg: WriterConfig,
    /// `recipe_labels` ids by label.
    labels: HashMap<String, i64>,
    good_seen: u64,
    info: CommitInfo,
    committed: watch::Sender<CommitInfo>,
    queued: Arc<AtomicUsize>,
    last_retention: Instant,
    health: Arc<watch::Sender<StoreHealth>>,
    /// Directory of the file, for the free-space check.
    dir: Option<std::path::PathBuf>,
    last_space_check: Option<Instant>,
    /// The last commit's failure, until one succeeds.
    commit_error: Option<String>,
}

/// Bytes available to an unprivileged process on the file system holding `dir`.
pub fn free_bytes(dir: &std::path::Path) -> std::io::Result<u64> {
    let st = rustix::fs::statvfs(dir)?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

/// How long the writer sleeps when it has nothing to do.
const IDLE_WAIT: Duration = Duration::from_secs(1);

impl Writer {
    /// Runs until closed or every handle is gone; returns the `close()` callers to
    /// answer once the connection is closed, and the last commit's result.
    fn run(
        &mut self,
        conn: &mut Connection,
        rx: &mpsc::Receiver<Msg>,
    ) -> (Vec<Reply>, Result<CommitInfo, String>) {
        let mut pending: Vec<WriteOp> = Vec::with_capacity(self.cfg.commit_rows);
        let mut waiters: Vec<Reply> = Vec::new();
        let mut closers: Vec<Reply> = Vec::new();
        let mut last: Result<CommitInfo, String> = Ok(self.info);
        let mut batch_started: Option<Instant> = None;
        let mut stop = false;
        while !stop {
            let interval = if self.commit_error.is_some() {
                self.cfg.retry_interval
            } else {
                self.cfg.commit_interval
            };
            let wait = batch_started
                .map_or(IDLE_WAIT, |t| interval.saturating_sub(t.elapsed()))
                .min(self.cfg.space_check_interval);
            let mut next = match rx.recv_timeout(wait) {
                Ok(m) => Some(m),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    stop = true;
                    None
                }
            };
            while let Some(msg) = next.take() {
                match msg {
                    Msg::Op(op) => {
                        pending.push(op);
                        batch_started.get_or_insert_with(Instant::now);
                    }
                    Msg::Flush(reply) => waiters.push(reply),
                    Msg::Close(reply) => {
                        closers.push(reply);
                        stop = true;
                    }
                }
                if !stop && pending.len() < self.cfg.commit_rows {
                    next = rx.try_recv().ok();
                }
            }
            self.check_space(false);
            let due = (pending.len() >= self.cfg.commit_rows && self.commit_error.is_none())
                || batch_started.is_some_and(|t| t.elapsed() >= interval)
                || !waiters.is_empty()
                || stop;
            if !due {
                self.maybe_retain(conn);
                continue;
            }
            let result = if pending.is_empty() {
                Ok(self.info)
            } else {
                self.commit(conn, &mut pending)
            };
            batch_started = if pending.is_empty() {
                None
            } else {
                Some(Instant::now())
            };
            self.maybe_retain(conn);
            last = result.as_ref().map(|i| *i).map_err(|e| e.to_string());
            for w in waiters.drain(..) {
                let reply = match &result {
                    Ok(info) => Ok(*info),
                    Err(e) => Err(StoreError::CommitFailed(e.to_string())),
                };
                // A waiter that gave up is no error of ours.
                let _ = w.send(reply);
            }
        }
        if !pending.is_empty() {
            tracing::error!(
                ops = pending.len(),
                "store writer stopped with uncommitted operations"
            );
        }
        tracing::debug!("store writer stopped");
        (closers, last)
    }

    /// Measures free space when it is time (or `now`), and publishes the health.
    fn check_space(&mut self, now: bool) {
        let due = now
            || self
                .last_space_check
                .is_none_or(|t| t.elapsed() >= self.cfg.space_check_interval);
        if !due {
            return;
        }
        self.last_space_check = Some(Instant::now());
        let free = self.dir.as_deref().and_then(|d| match free_bytes(d) {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::warn!("free space of {}: {e}", d.display());
                None
            }
        });
        self.publish_health(free);
    }

    /// Publishes the health from the last commit's outcome, free space and the queue.
    fn publish_health(&self, free: Option<u64>) {
        let min = self.cfg.min_free_bytes;
        let queued = self.queued.load(Ordering::Relaxed);
        let max_queued = self.cfg.max_queued;
        self.health.send_if_modified(|h| {
            let before = h.clone();
            if free.is_some() {
                h.free_bytes = free;
            }
            h.failing = if let Some(e) = &self.commit_error {
                Some(StorageFault::CommitFailed(e.clone()))
            } else if let Some(f) = h.free_bytes.filter(|f| min > 0 && *f < min) {
                Some(StorageFault::LowSpace {
                    free_bytes: f,
                    min_bytes: min,
                })
            } else if matches!(h.failing, Some(StorageFault::QueueFull { .. }))
                && queued >= max_queued
            {
                // Still full: stays failing until the queue has room again.
                h.failing.clone()
            } else {
                None
            };
            if h.failing != before.failing {
                match &h.failing {
                    Some(f) => tracing::error!("store failing: {f}"),
                    None => tracing::info!("store works again"),
                }
            }
            *h != before
        });
    }

    fn maybe_retain(&mut self, conn: &mut Connection) {
        let Some(policy) = &self.cfg.retention else {
            return;
        };
        if self.last_retention.elapsed() < self.cfg.retention_interval {
            return;
        }
        self.last_retention = Instant::now();
        match retention::apply(conn, policy, OffsetDateTime::now_utc()) {
            Ok(r) if r.curves_deleted + r.bonds_deleted > 0 => {
                tracing::info!(
                    curves = r.curves_deleted,
                    bonds = r.bonds_deleted,
                    used_bytes = r.used_bytes,
                    "retention deleted old records"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("retention failed: {e}"),
        }
    }

    /// Commits `pending` in one transaction; on success it is emptied.
    fn commit(
        &mut self,
        conn: &mut Connection,
        pending: &mut Vec<WriteOp>,
    ) -> Result<CommitInfo, StoreError> {
        let result = self.try_commit(conn, pending);
        match &result {
            Ok(info) => {
                self.queued.fetch_sub(pending.len(), Ordering::Relaxed);
                pending.clear();
                self.info = *info;
                self.committed.send_replace(*info);
                if self.commit_error.take().is_some() {
                    tracing::info!("store commit succeeded again");
                    // Space may have come back with it: measure now.
                    self.check_space(true);
                }
            }
            Err(e) => {
                // Label ids assigned inside the rolled-back transaction are gone.
                self.labels.clear();
                tracing::error!(ops = pending.len(), "store commit failed, will retry: {e}");
                self.health.send_modify(|h| h.failed_commits += 1);
                self.commit_error = Some(e.to_string());
                self.check_space(true);
            }
        }
        result
    }

    fn try_commit(
        &mut self,
        conn: &mut Connection,
        pending: &[WriteOp],
    ) -> Result<CommitInfo, StoreError> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut info = self.info;
        for op in pending {
            match self.apply(&tx, op, &mut info) {
                Ok(()) => info.ops += 1,
                Err(StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, msg)))
                    if e.code == ErrorCode::ConstraintViolation =>
                {
                    info.rejected_ops += 1;
                    tracing::error!(
                        op = op_name(op),
                        "store refused an operation: {}",
                        msg.unwrap_or_default()
                    );
                }
                Err(e) => return Err(e),
            }
        }
        tx.commit()?;
        Ok(info)
    }

    fn label_id(&mut self, conn: &Connection, label: &str) -> Result<i64, StoreError> {
        if let Some(&id) = self.labels.get(label) {
            return Ok(id);
        }
        conn.execute(
            "INSERT INTO recipe_labels (label) VALUES (?1) ON CONFLICT (label) DO NOTHING",
            [label],
        )?;
        let id = conn.query_row(
            "SELECT id FROM recipe_labels WHERE label = ?1",
            [label],
            |r| r.get(0),
        )?;
        self.labels.insert(label.to_owned(), id);
        Ok(id)
    }

    fn keep_curve(&mut self, b: &BondRecord) -> bool {
        if !b.verdict.is_ok() {
            return true;
        }
        let every = u64::from(self.cfg.good_curve_every);
        let keep = every > 0 && self.good_seen % every == 0;
        self.good_seen += 1;
        keep
    }

    fn apply(
        &mut self,
        conn: &Connection,
        op: &WriteOp,
        info: &mut CommitInfo,
    ) -> Result<(), StoreError> {
        match op {
            WriteOp::Bond(b) => self.insert_bond(conn, b, info)?,
            WriteOp::Alarm(a) => alarm(conn, a)?,
            WriteOp::AlarmAck(a) => alarm_ack(conn, a)?,
            WriteOp::ShiftStart(s) => {
                conn.prepare_cached(
                    "INSERT INTO shifts (id, started_ms, operator, team) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![s.id, unix_ms(s.time), s.operator, s.team])?;
            }
            WriteOp::ShiftEnd { id, time } => {
                let n = conn
                    .prepare_cached("UPDATE shifts SET ended_ms = ?2 WHERE id = ?1")?
                    .execute(params![id, unix_ms(*time)])?;
                if n == 0 {
                    tracing::warn!(shift = id, "end of an unknown shift ignored");
                }
            }
            WriteOp::ShiftNote(n) => {
                conn.prepare_cached(
                    "INSERT INTO shift_notes (shift_id, time_ms, author, text)
                     VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![
                    n.shift_id,
                    unix_ms(n.time),
                    n.author,
                    n.text
                ])?;
            }
            WriteOp::Event(e) => {
                conn.prepare_cached(
                    "INSERT INTO events (time_ms, kind, text) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![unix_ms(e.time), e.kind, e.text])?;
            }
            WriteOp::StateChange(s) => {
                conn.prepare_cached("INSERT INTO state_changes (time_ms, state) VALUES (?1, ?2)")?
                    .execute(params![unix_ms(s.time), s.state.name()])?;
            }
            WriteOp::ChangeoverStart(c) => {
                conn.prepare_cached(
                    "INSERT INTO changeovers (id, from_recipe, to_recipe, started_ms, started_by)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![
                    c.id,
                    c.from_recipe,
                    c.to_recipe,
                    unix_ms(c.time),
                    c.user
                ])?;
            }
            WriteOp::ChangeoverStep(s) => {
                conn.prepare_cached(
                    "INSERT INTO changeover_steps (changeover_id, name, started_ms, ended_ms, by_user, outcome)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![
                    s.changeover_id,
                    s.name,
                    unix_ms(s.started),
                    unix_ms(s.ended),
                    s.by,
                    s.outcome
                ])?;
            }
            WriteOp::ChangeoverProgress(p) => {
                conn.prepare_cached(
                    "INSERT INTO changeover_progress (changeover_id, updated_ms, state_json)
                     VALUES (?1, ?2, ?3)
                     ON CONFLICT (changeover_id) DO UPDATE
                     SET updated_ms = excluded.updated_ms, state_json = excluded.state_json",
                )?
                .execute(params![p.id, unix_ms(p.time), p.state_json])?;
            }
            WriteOp::ChangeoverEnd(c) => changeover_end(conn, c)?,
            WriteOp::Audit(a) => {
                audit::append(conn, a)?;
            }
            WriteOp::VisionInspection(v) => {
                conn.prepare_cached(
                    "INSERT INTO vision_inspections
                     (seq, time_ms, frame_no, verdict, confidence, ball_um, dx_um, dy_um, pad_score)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT (seq) DO NOTHING",
                )?
                .execute(params![
                    crate::codes::seq_sql(v.seq),
                    unix_ms(v.time),
                    v.frame_no,
                    v.verdict,
                    f64::from(v.confidence),
                    v.ball_um,
                    v.dx_um,
                    v.dy_um,
                    v.pad_score.map(f64::from)
                ])?;
            }
            WriteOp::Prediction(p) => {
                let mgf = |v: f64| (v * crate::codes::MGF_PER_GF).round() as i64;
                conn.prepare_cached(
                    "INSERT OR REPLACE INTO bond_predictions
                     (seq, shear_mgf, shear_sd_mgf, pull_mgf, pull_sd_mgf, shear_model, pull_model)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![
                    crate::codes::seq_sql(p.seq),
                    p.shear.map(|s| mgf(s.0)),
                    p.shear.map(|s| mgf(s.1)),
                    p.pull.map(|s| mgf(s.0)),
                    p.pull.map(|s| mgf(s.1)),
                    p.shear.map(|s| s.2),
                    p.pull.map(|s| s.2),
                ])?;
            }
            WriteOp::Outbox {
                time,
                topic,
                payload,
            } => {
                conn.prepare_cached(
                    "INSERT INTO outbox_messages (created_ms, topic, payload) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![unix_ms(*time), topic, payload])?;
            }
        }
        Ok(())
    }

    fn insert_bond(
        &mut self,
        conn: &Connection,
        b: &BondRecord,
        info: &mut CommitInfo,
    ) -> Result<(), StoreError> {
        let label = self.label_id(conn, &b.recipe)?;
        let seq = seq_sql(b.seq);
        conn.prepare_cached(
            "INSERT INTO bonds (seq, time_ms, unit, wire, kind, verdict, ctrl_verdict, dx_nm,
                                dy_nm, ball_nm, peak_force_mgf, us_energy_uj, deform_nm,
                                impedance_drop_bp, tail_nm, recipe_label, shift_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        )?
        .execute(params![
            seq,
            unix_ms(b.time),
            b.unit,
            b.wire,
            kind_code(b.kind),
            verdict_code(b.verdict),
            b.ctrl_verdict,
            to_fixed(b.dx_um, NM_PER_UM),
            to_fixed(b.dy_um, NM_PER_UM),
            b.ball_um.and_then(|v| to_fixed(v, NM_PER_UM)),
            to_fixed(b.peak_force_gf, MGF_PER_GF),
            to_fixed(b.us_energy_mj, UJ_PER_MJ),
            to_fixed(b.deform_um, NM_PER_UM),
            to_fixed(b.impedance_drop_pct, BP_PER_PCT),
            b.tail_um.and_then(|v| to_fixed(v, NM_PER_UM)),
            label,
            b.shift_id
        ])?;
        let kept = match &b.curve {
            Some(c) if self.keep_curve(b) => Some(c),
            _ => None,
        };
        if let Some(c) = kept {
            conn.prepare_cached(
                "INSERT INTO curves (seq, sample_rate_hz, format, data) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                seq,
                c.sample_rate_hz,
                curve::FORMAT_DELTA_PLANES_ZSTD,
                curve::encode(c)?
            ])?;
        }
        info.max_bond_seq = info.max_bond_seq.max(b.seq);
        Ok(())
    }
}

fn op_name(op: &WriteOp) -> &'static str {
    match op {
        WriteOp::Bond(_) => "bond",
        WriteOp::Alarm(_) => "alarm",
        WriteOp::AlarmAck(_) => "alarm_ack",
        WriteOp::ShiftStart(_) => "shift_start",
        WriteOp::ShiftEnd { .. } => "shift_end",
        WriteOp::ShiftNote(_) => "shift_note",
        WriteOp::Event(_) => "event",
        WriteOp::StateChange(_) => "state_change",
        WriteOp::ChangeoverStart(_) => "changeover_start",
        WriteOp::ChangeoverStep(_) => "changeover_step",
        WriteOp::ChangeoverEnd(_) => "changeover_end",
        WriteOp::ChangeoverProgress(_) => "changeover_progress",
        WriteOp::Audit(_) => "audit",
        WriteOp::VisionInspection(_) => "vision_inspection",
        WriteOp::Prediction(_) => "prediction",
        WriteOp::Outbox { .. } => "outbox",
    }
}

fn alarm(conn: &Connection, a: &AlarmRecord) -> Result<(), StoreError> {
    let code = a.code.code();
    if a.raised {
        conn.prepare_cached("INSERT INTO alarms (code, raised_ms) VALUES (?1, ?2)")?
            .execute(params![code, unix_ms(a.time)])?;
        return Ok(());
    }
    let n = conn
        .prepare_cached(
            "UPDATE alarms SET cleared_ms = ?2 WHERE id =
               (SELECT id FROM alarms WHERE code = ?1 AND cleared_ms IS NULL
                ORDER BY id DESC LIMIT 1)",
        )?
        .execute(params![code, unix_ms(a.time)])?;
    if n == 0 {
        tracing::warn!(code, "clear of an alarm that is not open ignored");
    }
    Ok(())
}

fn alarm_ack(conn: &Connection, a: &AlarmAck) -> Result<(), StoreError> {
    let code = a.code.code();
    let id: Option<i64> = conn
        .prepare_cached(
            "UPDATE alarms SET acked_ms = ?2, acked_by = ?3 WHERE id =
               (SELECT id FROM alarms WHERE code = ?1 AND acked_ms IS NULL
                ORDER BY id DESC LIMIT 1)
             RETURNING id",
        )?
        .query_row(params![code, unix_ms(a.time), a.user], |r| r.get(0))
        .optional()?;
    let Some(id) = id else {
        tracing::warn!(code, user = %a.user, "acknowledgement of no unacknowledged alarm ignored");
        return Ok(());
    };
    audit::append(
        conn,
        &AuditRecord {
            time: a.time,
            user: a.user.clone(),
            role: Some(a.role),
            action: AuditAction::AlarmAck,
            object: format!("alarm:{code}#{id}"),
            old_value: None,
            new_value: Some(a.code.name().into()),
            reason: None,
        },
    )?;
    Ok(())
}

fn changeover_end(conn: &Connection, c: &ChangeoverEnd) -> Result<(), StoreError> {
    let fa = c.first_article;
    let recipes: Option<(Option<String>, String)> = conn
        .prepare_cached(
            "UPDATE changeovers SET ended_ms = ?2, ended_by = ?3, fa_passed = ?4,
                    fa_pull_min_gf = ?5, fa_shear_min_gf = ?6, outcome = ?7
             WHERE id = ?1 RETURNING from_recipe, to_recipe",
        )?
        .query_row(
            params![
                c.id,
                unix_ms(c.time),
                c.user,
                fa.map(|f| f.passed),
                fa.map(|f| f.pull_gf_min),
                fa.map(|f| f.shear_gf_min),
                if c.abandoned {
                    "abandoned"
                } else {
                    "completed"
                }
            ],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((from, to)) = recipes else {
        tracing::warn!(changeover = c.id, "end of an unknown changeover ignored");
        return Ok(());
    };
    conn.prepare_cached("DELETE FROM changeover_progress WHERE changeover_id = ?1")?
        .execute(params![c.id])?;
    audit::append(
        conn,
        &AuditRecord {
            time: c.time,
            user: c.user.clone(),
            role: Some(c.role),
            action: AuditAction::Changeover,
            object: format!("changeover:{}", c.id),
            old_value: from,
            new_value: Some(to),
            reason: c.abandoned.then(|| "abandoned".to_string()),
        },
    )?;
    Ok(())
}
