//! Connections and schema migrations.
//!
//! The migrator is our own, keyed on SQLite's `user_version`: `rusqlite_migration` (2.6,
//! the newest) depends on rusqlite 0.40, and two rusqlite versions cannot be linked
//! into one build (both bundle `libsqlite3-sys`, which declares `links = "sqlite3"`).
//! Each migration runs in one `IMMEDIATE` transaction together with the `user_version`
//! bump, so a migration is applied entirely or not at all, and two processes opening
//! the same file never apply one twice.

use crate::StoreError;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::path::Path;
use std::time::Duration;

/// Migrations in order: `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`.
/// Never edit one that has shipped; add a new one (and keep a fixture of the old version
/// in `tests/fixtures/`).
const MIGRATIONS: &[&str] = &[
    include_str!("schema/v1.sql"),
    include_str!("schema/v2.sql"),
    include_str!("schema/v3.sql"),
    include_str!("schema/v4.sql"),
    include_str!("schema/v5.sql"),
    include_str!("schema/v6.sql"),
    include_str!("schema/v7.sql"),
    include_str!("schema/v8.sql"),
    include_str!("schema/v9.sql"),
    include_str!("schema/v10.sql"),
    include_str!("schema/v11.sql"),
    include_str!("schema/v12.sql"),
    include_str!("schema/v13.sql"),
];

/// The schema version this build creates and reads.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// How long a connection waits for another's write lock before failing with `BUSY`.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The `-wal` file is truncated to this size after a checkpoint (it grows past it only
/// while a single transaction or a long reader holds the checkpoint back).
pub const JOURNAL_SIZE_LIMIT_BYTES: u64 = 4 * 1024 * 1024;

/// The file's schema version (`PRAGMA user_version`); reading it writes nothing.
pub(crate) fn user_version(conn: &Connection) -> Result<u32, StoreError> {
    let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    Ok(u32::try_from(v).unwrap_or(u32::MAX))
}

/// Per-connection settings of every read-write connection.
pub(crate) fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = ON;
         PRAGMA synchronous = NORMAL;
         PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT_BYTES};"
    ))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// A read-write connection to an existing store file.
pub(crate) fn open_rw(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure(&conn)?;
    Ok(conn)
}

/// A read-only connection.
pub(crate) fn open_ro(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Refuses a file newer than `supported`; touches nothing.
pub(crate) fn refuse_newer(conn: &Connection, supported: u32) -> Result<(), StoreError> {
    let found = user_version(conn)?;
    if found > supported {
        return Err(StoreError::NewerSchema { found, supported });
    }
    Ok(())
}

/// Brings the schema up to `SCHEMA_VERSION`.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    migrate_with(conn, MIGRATIONS)
}

fn migrate_with(conn: &mut Connection, migrations: &[&str]) -> Result<(), StoreError> {
    let supported = u32::try_from(migrations.len()).unwrap_or(u32::MAX);
    for (to, sql) in (1..=supported).zip(migrations) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let found = user_version(&tx)?;
        if found > supported {
            return Err(StoreError::NewerSchema { found, supported });
        }
        if found >= to {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", to)?;
        tx.commit()?;
        tracing::info!(from = to - 1, to, "store schema migrated");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEPS: &[&str] = &[
        "CREATE TABLE a (x INTEGER); INSERT INTO a VALUES (1);",
        "ALTER TABLE a ADD COLUMN y TEXT DEFAULT 'two';",
    ];

    fn memory() -> Connection {
        Connection::open_in_memory().unwrap()
    }

    #[test]
    fn applies_each_pending_step_once() {
        let mut c = memory();
        migrate_with(&mut c, &STEPS[..1]).unwrap();
        assert_eq!(user_version(&c).unwrap(), 1);
        migrate_with(&mut c, STEPS).unwrap();
        migrate_with(&mut c, STEPS).unwrap();
        assert_eq!(user_version(&c).unwrap(), 2);
        let (x, y): (i64, String) = c
            .query_row("SELECT x, y FROM a", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert_eq!((x, y.as_str()), (1, "two"));
    }

    #[test]
    fn a_failing_step_leaves_the_previous_version() {
        let mut c = memory();
        migrate_with(&mut c, &STEPS[..1]).unwrap();
        let broken = [
            STEPS[0],
            "ALTER TABLE a ADD COLUMN z; SELECT * FROM nowhere;",
        ];
        assert!(migrate_with(&mut c, &broken).is_err());
        assert_eq!(user_version(&c).unwrap(), 1);
        let cols: i64 = c
            .query_row("SELECT COUNT(*) FROM pragma_table_info('a')", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(cols, 1, "the half-applied step was rolled back");
    }

    #[test]
    fn refuses_a_newer_file() {
        let mut c = memory();
        c.pragma_update(None, "user_version", 3).unwrap();
        assert!(matches!(
            migrate_with(&mut c, STEPS),
            Err(StoreError::NewerSchema {
                found: 3,
                supported: 2
            })
        ));
        assert!(matches!(
            refuse_newer(&c, 2),
            Err(StoreError::NewerSchema {
                found: 3,
                supported: 2
            })
        ));
    }
}
