//! The audit trail: an append-only, hash-chained table (21 CFR 11.10(e)-style).
//!
//! Every row carries the hash of the row before it (`prev_hash`; 64 `'0'`s for the
//! first row) and its own `hash`:
//!
//! ```text
//! hash = lowercase hex of SHA-256( prev_hash as 64 ASCII hex characters
//!                                  || field(id) || field(ts) || field(user) || field(role)
//!                                  || field(action) || field(object)
//!                                  || field(old_value) || field(new_value) || field(reason) )
//! field(NULL) = 0x00
//! field(text) = 0x01 || byte length as u32 big-endian || the UTF-8 bytes
//! ```
//!
//! `id` is written as its decimal text, `ts` is RFC 3339 UTC with milliseconds. The
//! length prefix makes the encoding unambiguous (no field can bleed into the next).
//!
//! Triggers refuse `UPDATE` and `DELETE` on `audit`, so no statement of the station
//! can change a row. Someone with a hex editor or a SQLite shell that drops the
//! triggers still can: [`Store::verify_audit`](crate::Store::verify_audit) then names the first row whose hash, chain link or
//! id sequence is wrong. (Truncating the newest rows is not detectable from the file
//! alone; a copy of the last hash kept elsewhere, e.g. published, would detect it.)

use crate::StoreError;
use crate::timefmt::rfc3339_ms;
use bonder_core::permissions::Role;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// `prev_hash` of the first row.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What an audited action did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    /// A new object (a recipe's first version).
    Create,
    /// A change (a new recipe version).
    Modify,
    /// A deletion.
    Delete,
    /// A recipe version released.
    Release,
    /// A recipe version retired.
    Retire,
    /// A user logged in.
    Login,
    /// A user logged out.
    Logout,
    /// A changeover finished.
    Changeover,
    /// An alarm acknowledged.
    AlarmAck,
    /// A command to the machine (start, stop, …) by a user.
    Command,
    /// A gated action that was refused (wrong PIN, missing role, invalid value).
    Refused,
    /// A badge locked after too many failed sign-ins.
    Lockout,
    /// The station started (with the hash of the configuration it loaded).
    Start,
    /// The station stopped.
    Stop,
    /// Data left the station: an export, a backup, an audit export.
    Export,
    /// A recipe downloaded to the controller (by a changeover or the runtime), and why.
    Download,
    /// The wall clock jumped against the monotonic clock (old and new time).
    ClockJump,
    /// A key or certificate trusted (an OPC UA client certificate, `opcua trust`).
    Trust,
    /// Data taken in from outside: pull/shear test results.
    Import,
    /// A process-window search started, resumed, finished or abandoned.
    WindowSearch,
}

impl AuditAction {
    /// Every action.
    pub const ALL: [AuditAction; 20] = [
        Self::Create,
        Self::Modify,
        Self::Delete,
        Self::Release,
        Self::Retire,
        Self::Login,
        Self::Logout,
        Self::Changeover,
        Self::AlarmAck,
        Self::Command,
        Self::Refused,
        Self::Lockout,
        Self::Start,
        Self::Stop,
        Self::Export,
        Self::Download,
        Self::ClockJump,
        Self::Trust,
        Self::Import,
        Self::WindowSearch,
    ];

    /// The stored name (`audit.action`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Modify => "modify",
            Self::Delete => "delete",
            Self::Release => "release",
            Self::Retire => "retire",
            Self::Login => "login",
            Self::Logout => "logout",
            Self::Changeover => "changeover",
            Self::AlarmAck => "alarm_ack",
            Self::Command => "command",
            Self::Refused => "refused",
            Self::Lockout => "lockout",
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Export => "export",
            Self::Download => "download",
            Self::ClockJump => "clock_jump",
            Self::Trust => "trust",
            Self::Import => "import",
            Self::WindowSearch => "window_search",
        }
    }

    /// The action of a stored name.
    pub fn from_name(s: &str) -> Option<AuditAction> {
        Self::ALL.into_iter().find(|a| a.name() == s)
    }
}

/// The stored role of an audit row made while nobody was logged in.
pub const NO_ROLE: &str = "none";

impl AuditRecord {
    /// The role's stored name ([`NO_ROLE`] for nobody).
    pub fn role_name(&self) -> &'static str {
        self.role.map_or(NO_ROLE, Role::name)
    }
}

/// An audited action, to be appended (directly by the recipe repository, or through
/// the writer with [`WriteOp::Audit`](crate::WriteOp::Audit) for logins and the like).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// When it happened.
    pub time: OffsetDateTime,
    /// Who did it.
    pub user: String,
    /// In which role; `None` when nobody was logged in (a refused login), stored as
    /// [`NO_ROLE`].
    pub role: Option<Role>,
    /// What was done.
    pub action: AuditAction,
    /// What was acted on, e.g. `recipe:SOT23-AU25@8`, `alarm:102#17`, `user:OP1042`.
    pub object: String,
    /// The value before (JSON for several fields).
    pub old_value: Option<String>,
    /// The value after (JSON for several fields).
    pub new_value: Option<String>,
    /// Why, as the user gave it.
    pub reason: Option<String>,
}

/// A stored audit row, as it is in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Row number: 1, 2, 3… without gaps.
    pub id: i64,
    /// RFC 3339 UTC with milliseconds.
    pub ts: String,
    /// User id.
    pub user: String,
    /// Role name ([`Role::name`]).
    pub role: String,
    /// Action name ([`AuditAction::name`]).
    pub action: String,
    /// What was acted on.
    pub object: String,
    /// The value before.
    pub old_value: Option<String>,
    /// The value after.
    pub new_value: Option<String>,
    /// Why.
    pub reason: Option<String>,
    /// `hash` of the row before (64 zeros for the first).
    pub prev_hash: String,
    /// SHA-256 of this row (module docs), lowercase hex.
    pub hash: String,
}

/// Result of a successful [`Store::verify_audit`](crate::Store::verify_audit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditReport {
    /// Rows checked (all of them).
    pub rows: u64,
}

fn field(h: &mut Sha256, v: Option<&str>) {
    match v {
        None => h.update([0u8]),
        Some(s) => {
            h.update([1u8]);
            // Texts longer than 4 GiB cannot be stored by SQLite (1 GB limit).
            h.update(u32::try_from(s.len()).unwrap_or(u32::MAX).to_be_bytes());
            h.update(s.as_bytes());
        }
    }
}

/// Lowercase hex SHA-256 of `bytes` (a configuration file's hash in the start's row).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// The hash of a row in the canonical encoding (module docs). `fields` are, in order:
/// ts, user, role, action, object, old_value, new_value, reason.
pub fn row_hash(prev_hash: &str, id: i64, fields: [Option<&str>; 8]) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    field(&mut h, Some(&id.to_string()));
    for f in fields {
        field(&mut h, f);
    }
    hex(&h.finalize())
}

/// Appends a row. Call inside an `IMMEDIATE` transaction so that the last row read
/// here is still the last row when this one is inserted.
pub(crate) fn append(conn: &Connection, rec: &AuditRecord) -> Result<i64, StoreError> {
    let last: Option<(i64, String)> = conn
        .prepare_cached("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (id, prev_hash) = match last {
        Some((id, hash)) => (id + 1, hash),
        None => (1, GENESIS_HASH.to_owned()),
    };
    let ts = rfc3339_ms(rec.time);
    let hash = row_hash(
        &prev_hash,
        id,
        [
            Some(&ts),
            Some(&rec.user),
            Some(rec.role_name()),
            Some(rec.action.name()),
            Some(&rec.object),
            rec.old_value.as_deref(),
            rec.new_value.as_deref(),
            rec.reason.as_deref(),
        ],
    );
    conn.prepare_cached(
        "INSERT INTO audit (id, ts, user, role, action, object, old_value, new_value, reason,
                            prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        id,
        ts,
        rec.user,
        rec.role_name(),
        rec.action.name(),
        rec.object,
        rec.old_value,
        rec.new_value,
        rec.reason,
        prev_hash,
        hash
    ])?;
    Ok(id)
}

pub(crate) const SELECT_ENTRY: &str = "SELECT id, ts, user, role, action, object, old_value, new_value, reason, \
     prev_hash, hash FROM audit";

pub(crate) fn entry_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        id: r.get(0)?,
        ts: r.get(1)?,
        user: r.get(2)?,
        role: r.get(3)?,
        action: r.get(4)?,
        object: r.get(5)?,
        old_value: r.get(6)?,
        new_value: r.get(7)?,
        reason: r.get(8)?,
        prev_hash: r.get(9)?,
        hash: r.get(10)?,
    })
}

/// Checks the whole chain: ids 1, 2, 3… without gaps, each `prev_hash` equal to the
/// previous row's `hash`, each `hash` equal to the hash of the row's fields.
pub(crate) fn verify(conn: &Connection) -> Result<AuditReport, StoreError> {
    let mut stmt = conn.prepare(&format!("{SELECT_ENTRY} ORDER BY id"))?;
    let mut rows = stmt.query([])?;
    let mut prev_id = 0i64;
    let mut prev_hash = GENESIS_HASH.to_owned();
    let mut n = 0u64;
    while let Some(row) = rows.next()? {
        let row_id: i64 = row.get(0)?;
        let broken = |reason: String| StoreError::AuditBroken { row_id, reason };
        let e = entry_from_row(row).map_err(|e| broken(format!("unreadable row: {e}")))?;
        if e.id != prev_id + 1 {
            return Err(broken(format!(
                "rows {}..{} are missing",
                prev_id + 1,
                e.id - 1
            )));
        }
        if e.prev_hash != prev_hash {
            return Err(broken("prev_hash is not the previous row's hash".into()));
        }
        let hash = row_hash(
            &e.prev_hash,
            e.id,
            [
                Some(&e.ts),
                Some(&e.user),
                Some(&e.role),
                Some(&e.action),
                Some(&e.object),
                e.old_value.as_deref(),
                e.new_value.as_deref(),
                e.reason.as_deref(),
            ],
        );
        if hash != e.hash {
            return Err(broken("hash does not match the row's contents".into()));
        }
        prev_id = e.id;
        prev_hash = e.hash;
        n += 1;
    }
    Ok(AuditReport { rows: n })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canonical_encoding_is_pinned() {
        // Changing the encoding breaks every stored chain: this vector must not change.
        let h = row_hash(
            GENESIS_HASH,
            1,
            [
                Some("2026-11-23T08:15:02.230Z"),
                Some("E7"),
                Some("engineer"),
                Some("release"),
                Some("recipe:SOT23-AU25@8"),
                Some("draft"),
                Some("released"),
                None,
            ],
        );
        let mut manual = Sha256::new();
        manual.update(GENESIS_HASH.as_bytes());
        for f in [
            "1",
            "2026-11-23T08:15:02.230Z",
            "E7",
            "engineer",
            "release",
            "recipe:SOT23-AU25@8",
            "draft",
            "released",
        ] {
            manual.update([1u8]);
            manual.update((f.len() as u32).to_be_bytes());
            manual.update(f.as_bytes());
        }
        manual.update([0u8]);
        assert_eq!(h, hex(&manual.finalize()));
        assert_eq!(
            h,
            "f4757619f01d292d0a8153ebadfe2dcc7c4ef29af2990ca1d93a70bc6364a7e3"
        );
    }

    #[test]
    fn null_and_empty_hash_differently() {
        let with = |v| {
            row_hash(
                GENESIS_HASH,
                1,
                [
                    Some("t"),
                    Some("u"),
                    Some("r"),
                    Some("a"),
                    Some("o"),
                    v,
                    None,
                    None,
                ],
            )
        };
        assert_ne!(with(None), with(Some("")));
    }

    #[test]
    fn action_names_round_trip() {
        for a in AuditAction::ALL {
            assert_eq!(AuditAction::from_name(a.name()), Some(a));
        }
    }
}
