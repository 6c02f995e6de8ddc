//! Retention: keeps the file within an age and a size.
//!
//! Age first: bonds (and their curves) older than `max_age_days` go. Then size: while
//! the pages in use exceed `max_bytes`, the oldest curves go, in chunks sized from the
//! excess; only when no curve is left do the oldest bond summaries go. Nothing else is
//! ever deleted (alarms, shifts, recipes are small), least of all the audit trail.
//!
//! Deleted rows only put pages on SQLite's free list; the first migration sets
//! `auto_vacuum = INCREMENTAL` (possible only before the first table exists), so
//! `PRAGMA incremental_vacuum` can then move those pages to the end of the file and
//! truncate it, without the full rewrite (and the double disk space) a `VACUUM` needs.
//! A passive checkpoint afterwards carries the truncation from the WAL into the file.

use crate::StoreError;
use crate::timefmt::unix_ms;
use rusqlite::{Connection, TransactionBehavior};
use time::{Duration, OffsetDateTime};

/// How much to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetentionPolicy {
    /// Bond records (with their curves) older than this many days are deleted.
    pub max_age_days: Option<u32>,
    /// Database pages in use are kept at or below this many bytes (the `-wal` file
    /// adds up to [`JOURNAL_SIZE_LIMIT_BYTES`](crate::JOURNAL_SIZE_LIMIT_BYTES)).
    pub max_bytes: Option<u64>,
}

/// What one application of the policy did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetentionReport {
    /// Curves deleted (by age or for size).
    pub curves_deleted: u64,
    /// Bond summaries deleted (with their curves).
    pub bonds_deleted: u64,
    /// Bytes of database pages in use afterwards.
    pub used_bytes: u64,
}

/// Rough bytes freed per deleted bond row (row plus its index entries); only sizes
/// the deletion chunks.
const BOND_ROW_BYTES: u64 = 60;
const MIN_CHUNK_ROWS: u64 = 64;
const MAX_CHUNK_ROWS: u64 = 100_000;

/// Bytes of the pages in use (not on the free list).
pub(crate) fn used_bytes(conn: &Connection) -> Result<u64, StoreError> {
    let pragma = |name: &str| -> Result<u64, StoreError> {
        let v: i64 = conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))?;
        Ok(u64::try_from(v).unwrap_or(0))
    };
    let pages = pragma("page_count")?.saturating_sub(pragma("freelist_count")?);
    Ok(pages * pragma("page_size")?)
}

fn chunk_rows(excess_bytes: u64, row_bytes: u64) -> i64 {
    let rows = (excess_bytes / row_bytes.max(1) + 1).clamp(MIN_CHUNK_ROWS, MAX_CHUNK_ROWS);
    i64::try_from(rows).unwrap_or(i64::MAX)
}

fn changes(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Applies a policy on a read-write connection.
pub(crate) fn apply(
    conn: &mut Connection,
    policy: &RetentionPolicy,
    now: OffsetDateTime,
) -> Result<RetentionReport, StoreError> {
    let mut report = RetentionReport::default();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if let Some(days) = policy.max_age_days {
        let cutoff_ms = unix_ms(now - Duration::days(i64::from(days)));
        report.curves_deleted += changes(tx.execute(
            "DELETE FROM curves WHERE seq IN (SELECT seq FROM bonds WHERE time_ms < ?1)",
            [cutoff_ms],
        )?);
        report.bonds_deleted +=
            changes(tx.execute("DELETE FROM bonds WHERE time_ms < ?1", [cutoff_ms])?);
    }
    if let Some(max_bytes) = policy.max_bytes {
        loop {
            let used = used_bytes(&tx)?;
            if used <= max_bytes {
                break;
            }
            let excess = used - max_bytes;
            let curve_bytes: Option<f64> = tx.query_row(
                "SELECT AVG(LENGTH(data)) FROM (SELECT data FROM curves ORDER BY seq LIMIT 256)",
                [],
                |r| r.get(0),
            )?;
            if let Some(avg) = curve_bytes {
                // Row header and cell overhead on top of the blob.
                let row_bytes = avg as u64 + 16;
                report.curves_deleted += changes(tx.execute(
                    "DELETE FROM curves WHERE seq IN (SELECT seq FROM curves ORDER BY seq LIMIT ?1)",
                    [chunk_rows(excess, row_bytes)],
                )?);
                continue;
            }
            let n = changes(tx.execute(
                "DELETE FROM bonds WHERE seq IN (SELECT seq FROM bonds ORDER BY seq LIMIT ?1)",
                [chunk_rows(excess, BOND_ROW_BYTES)],
            )?);
            if n == 0 {
                tracing::warn!(
                    used,
                    max_bytes,
                    "retention: nothing left to delete, still over size"
                );
                break;
            }
            report.bonds_deleted += n;
        }
    }
    if report.bonds_deleted > 0 {
        // Predictions go with their bonds (keyed by the ball's seq, older than any kept).
        tx.execute(
            "DELETE FROM bond_predictions WHERE seq < (SELECT COALESCE(MIN(seq), 9223372036854775807) FROM bonds)",
            [],
        )?;
    }
    tx.commit()?;
    if report.curves_deleted + report.bonds_deleted > 0 {
        {
            // Frees one page per result row: step it to the end.
            let mut vacuum = conn.prepare("PRAGMA incremental_vacuum")?;
            let mut rows = vacuum.query([])?;
            while rows.next()?.is_some() {}
        }
        // Passive: never waits for readers; a later checkpoint finishes the job.
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
    }
    report.used_bytes = used_bytes(conn)?;
    Ok(report)
}
