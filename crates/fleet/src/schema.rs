//! The supervisor history's schema, in versions: `schema/v<N>.sql` takes a file from
//! version N−1 to N, each in one transaction that also sets `PRAGMA user_version = N`.
//! Migrations are never edited once released; `tests/fixtures/v<N>.sqlite` holds a file
//! of every version and `tests/migrations.rs` opens each of them.
//!
//! Files written before the history carried a version (`user_version` 0 with tables in
//! it) are recognised by their columns: without `users.disabled` they are version 1,
//! with it version 2.

use crate::FleetError;
use rusqlite::{Connection, OptionalExtension};

/// The migrations, in order: index 0 makes version 1.
const MIGRATIONS: [&str; 4] = [
    include_str!("schema/v1.sql"),
    include_str!("schema/v2.sql"),
    include_str!("schema/v3.sql"),
    include_str!("schema/v4.sql"),
];

/// The newest schema this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

fn user_version(conn: &Connection) -> Result<u32, FleetError> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get::<_, u32>(0))?)
}

/// The version of a file that does not say (0: empty).
fn unversioned(conn: &Connection) -> Result<u32, FleetError> {
    let tables: Option<String> = conn
        .query_row(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'bond_samples'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if tables.is_none() {
        return Ok(0);
    }
    let disabled: i64 = conn.query_row(
        "SELECT COUNT(*) FROM pragma_table_info('users') WHERE name = 'disabled'",
        [],
        |r| r.get(0),
    )?;
    Ok(if disabled > 0 { 2 } else { 1 })
}

/// Brings the file up to [`SCHEMA_VERSION`]; refuses (and leaves untouched) a file of a
/// newer build.
pub fn migrate(conn: &mut Connection) -> Result<u32, FleetError> {
    let mut version = match user_version(conn)? {
        0 => unversioned(conn)?,
        v => v,
    };
    if version > SCHEMA_VERSION {
        return Err(FleetError::NewerSchema {
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    let from = version;
    while version < SCHEMA_VERSION {
        let tx = conn.transaction()?;
        tx.execute_batch(MIGRATIONS[version as usize])?;
        version += 1;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
    }
    // A pre-versioning file that was already current still gets its number written.
    if user_version(conn)? != version {
        conn.pragma_update(None, "user_version", version)?;
    }
    if from != version {
        tracing::info!(from, to = version, "supervisor history migrated");
    }
    Ok(version)
}
