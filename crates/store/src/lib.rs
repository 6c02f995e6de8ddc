//! The station's local store: one SQLite file with everything a plant needs to explain
//! a yield swing.
//!
//! * [`Store::open`] creates or migrates the file ([`SCHEMA_VERSION`]) and refuses a
//!   file from a newer build without touching it.
//! * [`Store::spawn_writer`]: the one writer thread, fed through a [`WriterHandle`] that
//!   never blocks; it batches bonds (with curves: every reject, a sample of good ones,
//!   compressed), alarms, shifts, notes, events, E10 states and changeovers.
//! * [`Store::reader`]: read-only connections for the UI, reports and the gateway.
//! * [`Store::recipes`]: versioned recipes with diffs, release rules and JSON
//!   import/export.
//! * [`audit`]: the hash-chained, append-only audit trail; [`Store::verify_audit`].
//! * [`retention`], [`Store::backup_to`], CSV/XLSX exports ([`EXPORT_KEYS`]).
//!
//! **Durability.** The file runs in WAL mode with `synchronous = NORMAL`. A commit
//! appends the transaction's pages and a commit frame to the `-wal` file with
//! `write(2)` before `COMMIT` returns; NORMAL only skips the `fsync` at commit (it
//! syncs at checkpoints). Data that `write` has handed to the kernel survives the
//! process being killed (`kill -9`, a panic, an abort): the next open replays every
//! committed frame of the WAL. Only an OS crash or power loss can lose the last
//! commits since the last sync, and even then the file stays consistent (WAL frames
//! carry checksums; a torn tail is ignored). A flushed bond is therefore safe from
//! any crash of the station itself.

#![warn(missing_docs)]

pub mod audit;
mod codes;
mod curve;
mod error;
mod export;
pub mod gem;
mod reader;
pub mod recipes;
mod records;
pub mod retention;
mod schema;
pub mod shift;
mod shift_rows;
pub mod tests_results;
pub mod timefmt;
mod users;
pub mod window;
mod writer;

pub use audit::{AuditAction, AuditEntry, AuditRecord, AuditReport};
pub use error::StoreError;
pub use export::EXPORT_KEYS;
pub use reader::Reader;
pub use recipes::{
    Actor, ParamChange, Permission, RecipeRepo, RecipeVersionInfo, RecipeVisionRow, Role,
    recipe_diff,
};
pub use records::{
    AlarmAck, AlarmEntry, AlarmRecord, BondPrediction, BondRecord, Changeover, ChangeoverEnd,
    ChangeoverProgress, ChangeoverStart, ChangeoverStep, E10State, FirstArticle, Shift, ShiftNote,
    ShiftStart, StateChange, TimelineEvent, VisionInspection,
};
pub use retention::{RetentionPolicy, RetentionReport};
pub use schema::{BUSY_TIMEOUT, JOURNAL_SIZE_LIMIT_BYTES, SCHEMA_VERSION};
pub use shift::{DEFAULT_IDEAL_WIRES_PER_HOUR, E10Minutes, ShiftSummary};
pub use tests_results::{ImportOutcome, StoredModel, StoredTestResult, TrainingRow};
pub use users::{AccountChange, NewUser, SignIn, UserRow, UserSummary};
pub use writer::{
    CommitInfo, DEFAULT_MAX_QUEUED, DEFAULT_MIN_FREE_BYTES, StorageFault, StoreHealth, WriteOp,
    WriterConfig, WriterHandle, free_bytes,
};

use rusqlite::Connection;
use rusqlite::OptionalExtension as _;
use rusqlite::backup::{Backup, StepResult};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use time::OffsetDateTime;

/// An open store file. `Send + Sync`: share it (e.g. in an `Arc`) between the parts of
/// the station; the writer and each reader have connections of their own.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    /// Connection for recipes, cursors and maintenance.
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens (creating if missing) and migrates a store file. WAL mode,
    /// `synchronous = NORMAL` (see the crate docs for why that keeps every commit
    /// across a kill), foreign keys on, a [`BUSY_TIMEOUT`]. A file whose schema is
    /// newer than [`SCHEMA_VERSION`] is refused with [`StoreError::NewerSchema`] before
    /// anything is written to it.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        // Owner-only: PIN hashes, the audit trail and production data live here.
        bonder_credentials::private_files::private_file(&path)?;
        let mut conn = Connection::open(&path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        schema::refuse_newer(&conn, SCHEMA_VERSION)?;
        let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        if pages == 0 {
            // Only possible before the first table exists (retention.rs says why).
            conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL;")?;
        }
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(mode, "store could not switch to WAL mode");
        }
        schema::configure(&conn)?;
        schema::migrate(&mut conn)?;
        tracing::info!(path = %path.display(), version = SCHEMA_VERSION, "store open");
        Ok(Store {
            path,
            conn: Mutex::new(conn),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock rolled back any open transaction (dropped
        // `Transaction`); the connection is still fine to use.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Removes a gateway message the broker acknowledged.
    pub fn ack_outbox_message(&self, id: i64) -> Result<(), StoreError> {
        self.lock()
            .prepare_cached("DELETE FROM outbox_messages WHERE id = ?1")?
            .execute([id])?;
        Ok(())
    }

    /// Starts the writer thread on a connection of its own.
    pub fn spawn_writer(&self, cfg: WriterConfig) -> Result<WriterHandle, StoreError> {
        writer::spawn(schema::open_rw(&self.path)?, cfg)
    }

    /// A reader on a new read-only connection.
    pub fn reader(&self) -> Result<Reader, StoreError> {
        Ok(Reader::new(schema::open_ro(&self.path)?))
    }

    /// The recipe repository (writes synchronously, on this store's connection).
    pub fn recipes(&self) -> RecipeRepo<'_> {
        RecipeRepo::new(self)
    }

    /// Checks the audit trail's hash chain of a store file (opened read-only, any
    /// schema version): the number of rows when intact, [`StoreError::AuditBroken`]
    /// naming the first bad row otherwise.
    pub fn verify_audit(path: impl AsRef<Path>) -> Result<AuditReport, StoreError> {
        audit::verify(&schema::open_ro(path.as_ref())?)
    }

    /// Applies a retention policy now (the writer also applies one periodically when
    /// its config has one).
    pub fn apply_retention(&self, policy: &RetentionPolicy) -> Result<RetentionReport, StoreError> {
        retention::apply(&mut self.lock(), policy, OffsetDateTime::now_utc())
    }

    /// The last seq published on a gateway topic (`None` before the first).
    pub fn get_cursor(&self, topic: &str) -> Result<Option<u64>, StoreError> {
        use rusqlite::OptionalExtension;
        let v: Option<i64> = self
            .lock()
            .query_row(
                "SELECT last_seq FROM outbox_cursor WHERE topic = ?1",
                [topic],
                |r| r.get(0),
            )
            .optional()?;
        Ok(v.and_then(|s| u64::try_from(s).ok()))
    }

    /// Records the last seq published on a gateway topic.
    pub fn set_cursor(&self, topic: &str, seq: u64) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT INTO outbox_cursor (topic, last_seq) VALUES (?1, ?2)
             ON CONFLICT (topic) DO UPDATE SET last_seq = excluded.last_seq",
            rusqlite::params![topic, codes::seq_sql(seq)],
        )?;
        Ok(())
    }

    /// The store's epoch (gateway contract v2): 16 hex digits drawn when the store was
    /// created. Bond `seq` restarts only with a new epoch.
    pub fn epoch(&self) -> Result<String, StoreError> {
        Ok(self.lock().query_row(
            "SELECT value FROM store_meta WHERE key = 'epoch'",
            [],
            |r| r.get(0),
        )?)
    }

    /// The installation's MQTT client-id suffix: 8 random hex digits drawn the first
    /// time it is asked for and kept in `store_meta` (gateway contract v2, "Transport").
    pub fn client_suffix(&self) -> Result<String, StoreError> {
        let conn = self.lock();
        conn.execute(
            "INSERT INTO store_meta (key, value) VALUES ('client_suffix', lower(hex(randomblob(4))))
             ON CONFLICT (key) DO NOTHING",
            [],
        )?;
        Ok(conn.query_row(
            "SELECT value FROM store_meta WHERE key = 'client_suffix'",
            [],
            |r| r.get(0),
        )?)
    }

    /// Records the recipe (`name@version`) the machine runs now: after a changeover's
    /// download, at start. A restart takes it from here — never re-derived from
    /// changeover dates, which a wrong clock would mislead.
    pub fn set_running_recipe(&self, recipe_id: &str) -> Result<(), StoreError> {
        self.lock()
            .prepare_cached(
                "INSERT INTO store_meta (key, value) VALUES ('running_recipe', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?
            .execute([recipe_id])?;
        Ok(())
    }

    /// The recipe recorded by [`Store::set_running_recipe`], if any.
    pub fn running_recipe(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT value FROM store_meta WHERE key = 'running_recipe'",
                [],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Remembers a signed command's nonce until `expires_s` (Unix seconds) and forgets
    /// those that expired before `now_s`. `false` when the nonce was already known (a
    /// replay); the check and the insert are one statement, so two copies of a command
    /// arriving together cannot both pass.
    pub fn claim_nonce(&self, nonce: &str, expires_s: i64, now_s: i64) -> Result<bool, StoreError> {
        let conn = self.lock();
        conn.prepare_cached("DELETE FROM command_nonces WHERE expires_s < ?1")?
            .execute([now_s])?;
        let n = conn
            .prepare_cached(
                "INSERT INTO command_nonces (nonce, expires_s) VALUES (?1, ?2)
                 ON CONFLICT (nonce) DO NOTHING",
            )?
            .execute(rusqlite::params![nonce, expires_s])?;
        Ok(n == 1)
    }

    /// Appends an audit row now, on this store's connection (for rows that must be in
    /// the file before the station answers, e.g. a refused gateway command). Returns
    /// the row's id.
    pub fn append_audit(&self, rec: &AuditRecord) -> Result<i64, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let id = audit::append(&tx, rec)?;
        tx.commit()?;
        Ok(id)
    }

    /// Copies the database, consistent as of one moment, to `dest` with SQLite's online
    /// backup API while the station keeps running. The copy is made in one step under
    /// a read transaction (in WAL mode the writer carries on meanwhile; a stepwise copy
    /// would restart on every commit) into `dest` + `.tmp`, then renamed over `dest`.
    /// Restore: README.md.
    pub fn backup_to(&self, dest: impl AsRef<Path>) -> Result<(), StoreError> {
        let dest = dest.as_ref();
        let mut tmp = dest.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let copy = || -> Result<(), StoreError> {
            let src = schema::open_ro(&self.path)?;
            let mut dst = Connection::open(&tmp)?;
            let backup = Backup::new(&src, &mut dst)?;
            // More, Busy, Locked: try again shortly.
            while backup.step(-1)? != StepResult::Done {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Ok(())
        };
        if let Err(e) = copy() {
            // Best effort: a half-written copy is useless.
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        std::fs::rename(&tmp, dest)?;
        tracing::info!(dest = %dest.display(), "store backed up");
        Ok(())
    }
}
