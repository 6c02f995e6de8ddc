//! The station's users: badge id, name, role, secret hash (argon2id PHC string), the
//! language the UI switches to when they sign in, and whether the account is disabled;
//! sign-in with the login policy's lockout; account administration.
//!
//! Every sign-in outcome and every account change writes its audit row in the same
//! transaction as the change (a lock, a failure count, a new role), so no front end —
//! touch panel, command line, SECS/GEM terminal, OPC UA — can forget one. Changes are
//! checked against [`Permission::ManageUsers`]; the first administrator of an empty
//! store is the only user created without one.
//!
//! Hashing and verifying cost tens of milliseconds by design and run outside the
//! connection's lock: call these off a UI thread.

use crate::audit::{self, AuditAction, AuditRecord};
use crate::recipes::Actor;
use crate::timefmt::unix_ms;
use crate::{Store, StoreError};
use bonder_core::login::{Attempt, FailureState, LoginPolicy};
use bonder_core::permissions::{self, Permission, Role};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use time::OffsetDateTime;

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// What the badge scanner types.
    pub badge: String,
    /// Display name.
    pub name: String,
    /// What the user may do.
    pub role: Role,
    /// `$argon2id$…`; the secret itself is never stored.
    pub pin_hash: String,
    /// Language code (`en-US`, `zh-CN`).
    pub lang: String,
    /// Disabled accounts cannot sign in anywhere.
    pub disabled: bool,
}

/// A user as listed for administration (no hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    /// Badge id.
    pub badge: String,
    /// Display name.
    pub name: String,
    /// What the user may do.
    pub role: Role,
    /// Language code.
    pub lang: String,
    /// Disabled accounts cannot sign in anywhere.
    pub disabled: bool,
    /// Unix ms until which the badge is locked, if it is.
    pub locked_until_ms: Option<i64>,
}

/// A new user, as an administrator (or the first-run set-up) enters them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// What the badge scanner types.
    pub badge: String,
    /// Display name.
    pub name: String,
    /// What the user may do.
    pub role: Role,
    /// Language code (`en-US`, `zh-CN`).
    pub lang: String,
}

/// What a sign-in attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    /// The policy's verdict.
    pub attempt: Attempt,
    /// The user, when [`Attempt::Accepted`].
    pub user: Option<UserRow>,
}

/// One change to an account (for [`Store::change_user`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountChange {
    /// A new role.
    Role(Role),
    /// A new PIN or password (clears a lock).
    Secret(String),
    /// Disable (`true`) or enable the account.
    Disabled(bool),
}

impl AccountChange {
    fn name(&self) -> &'static str {
        match self {
            AccountChange::Role(_) => "role",
            AccountChange::Secret(_) => "secret",
            AccountChange::Disabled(true) => "disable",
            AccountChange::Disabled(false) => "enable",
        }
    }
}

fn read_user(conn: &Connection, badge: &str) -> Result<Option<UserRow>, StoreError> {
    let row = conn
        .query_row(
            "SELECT badge, name, role, pin_hash, lang, disabled_ms FROM users WHERE badge = ?1",
            [badge],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                ))
            },
        )
        .optional()?;
    row.map(|(badge, name, role, pin_hash, lang, disabled_ms)| {
        // A role this build does not know (or `system`) is refused, never read as an
        // operator.
        let role = Role::person_from_name(&role).ok_or(StoreError::UnknownRole {
            badge: badge.clone(),
            role,
        })?;
        Ok(UserRow {
            badge,
            name,
            role,
            pin_hash,
            lang,
            disabled: disabled_ms.is_some(),
        })
    })
    .transpose()
}

fn read_failures(conn: &Connection, badge: &str) -> Result<FailureState, StoreError> {
    Ok(conn
        .query_row(
            "SELECT failures, locked_until_ms FROM login_failures WHERE badge = ?1",
            [badge],
            |r| {
                Ok(FailureState {
                    failures: u32::try_from(r.get::<_, i64>(0)?).unwrap_or(u32::MAX),
                    locked_until_ms: r.get(1)?,
                })
            },
        )
        .optional()?
        .unwrap_or_default())
}

fn write_failures(conn: &Connection, badge: &str, s: FailureState) -> Result<(), StoreError> {
    if s == FailureState::default() {
        conn.execute("DELETE FROM login_failures WHERE badge = ?1", [badge])?;
    } else {
        conn.execute(
            "INSERT INTO login_failures (badge, failures, locked_until_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (badge) DO UPDATE SET failures = ?2, locked_until_ms = ?3",
            params![badge, i64::from(s.failures), s.locked_until_ms],
        )?;
    }
    Ok(())
}

/// Enabled administrators other than `except`.
fn other_admins(conn: &Connection, except: &str) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled_ms IS NULL AND badge <> ?1",
        [except],
        |r| r.get(0),
    )?)
}

fn ms_text(ms: i64) -> String {
    crate::timefmt::rfc3339_ms(crate::timefmt::from_unix_ms(ms))
}

impl Store {
    /// Number of users.
    pub fn user_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .lock()
            .query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The user with a badge id.
    pub fn find_user(&self, badge: &str) -> Result<Option<UserRow>, StoreError> {
        read_user(&self.lock(), badge)
    }

    /// Every user, by badge, with their lock.
    pub fn list_users(&self, now: OffsetDateTime) -> Result<Vec<UserSummary>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT u.badge, u.name, u.role, u.lang, u.disabled_ms, f.locked_until_ms
             FROM users u LEFT JOIN login_failures f ON f.badge = u.badge
             ORDER BY u.badge",
        )?;
        let now_ms = unix_ms(now);
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<i64>>(4)?,
                r.get::<_, Option<i64>>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (badge, name, role, lang, disabled_ms, locked) = row?;
            let role = Role::person_from_name(&role).ok_or(StoreError::UnknownRole {
                badge: badge.clone(),
                role,
            })?;
            out.push(UserSummary {
                badge,
                name,
                role,
                lang,
                disabled: disabled_ms.is_some(),
                locked_until_ms: locked.filter(|&t| t > now_ms),
            });
        }
        Ok(out)
    }

    /// One sign-in attempt with `badge` and `secret` at `now`, through `via` (`panel`,
    /// `cli`, `secs`, `opcua`: written into the audit row). The secret is verified
    /// whether the badge exists, is locked or not, so every answer takes the time of
    /// one argon2 verification. The failure count, the lock and the audit row (login,
    /// refused, or lockout) are written in one transaction.
    pub fn sign_in(
        &self,
        badge: &str,
        secret: &str,
        policy: &LoginPolicy,
        now: OffsetDateTime,
        via: &str,
    ) -> Result<SignIn, StoreError> {
        let found = self.find_user(badge)?;
        // Outside the lock: tens of ms.
        let matched =
            bonder_credentials::verify_user(secret, found.as_ref().map(|u| u.pin_hash.as_str()));
        let now_ms = unix_ms(now);
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let before = read_failures(&tx, badge)?;
        let disabled = found.as_ref().is_some_and(|u| u.disabled);
        let (after, attempt) = policy.judge(before, now_ms, matched && found.is_some(), disabled);
        if after != before {
            write_failures(&tx, badge, after)?;
        }
        let role = found.as_ref().map(|u| u.role);
        let (action, object, value) = match attempt {
            Attempt::Accepted => (AuditAction::Login, format!("user:{badge}"), None),
            Attempt::Disabled => (
                AuditAction::Refused,
                format!("login:{badge}"),
                Some("disabled".to_string()),
            ),
            Attempt::Wrong { left } => (
                AuditAction::Refused,
                format!("login:{badge}"),
                Some(format!("wrong badge or secret, {left} attempts left")),
            ),
            Attempt::LockedNow { until_ms } => (
                AuditAction::Lockout,
                format!("login:{badge}"),
                Some(format!(
                    "{} failures in a row, locked until {}",
                    policy.max_failures,
                    ms_text(until_ms)
                )),
            ),
            Attempt::Locked { until_ms } => (
                AuditAction::Refused,
                format!("login:{badge}"),
                Some(format!("locked until {}", ms_text(until_ms))),
            ),
        };
        audit::append(
            &tx,
            &AuditRecord {
                time: now,
                user: badge.to_string(),
                // The role is named only for a successful sign-in: a refused attempt
                // acts as nobody.
                role: role.filter(|_| attempt == Attempt::Accepted),
                action,
                object,
                old_value: None,
                new_value: Some(format!(r#"{{"via":{}}}"#, serde_json::json!(via))),
                reason: value,
            },
        )?;
        tx.commit()?;
        Ok(SignIn {
            user: found.filter(|_| attempt == Attempt::Accepted),
            attempt,
        })
    }

    /// Adds a user whose secret the login policy accepts, by `by` (who needs
    /// [`Permission::ManageUsers`]); `by = None` only for the first user of an empty
    /// store, who must be an administrator. Audited.
    pub fn create_user(
        &self,
        user: &NewUser,
        secret: &str,
        policy: &LoginPolicy,
        by: Option<&Actor>,
    ) -> Result<(), StoreError> {
        if !user.role.is_person() {
            return Err(StoreError::UnknownRole {
                badge: user.badge.clone(),
                role: user.role.name().into(),
            });
        }
        if let Some(by) = by {
            permissions::check(by.role, Permission::ManageUsers)?;
        }
        policy
            .check_new_secret(user.role, secret)
            .map_err(StoreError::WeakSecret)?;
        let hash = bonder_credentials::hash(secret)?;
        let now = OffsetDateTime::now_utc();
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if by.is_none() {
            let n: i64 = tx.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?;
            if n > 0 || user.role != Role::Admin {
                return Err(StoreError::Forbidden(bonder_core::Forbidden {
                    permission: Permission::ManageUsers,
                    role: user.role,
                }));
            }
        }
        let n = tx.execute(
            "INSERT OR IGNORE INTO users (badge, name, role, pin_hash, lang, created_ms, updated_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            params![
                user.badge,
                user.name,
                user.role.name(),
                hash,
                user.lang,
                unix_ms(now)
            ],
        )?;
        if n != 1 {
            return Err(StoreError::UserExists(user.badge.clone()));
        }
        let (actor, role) = match by {
            Some(a) => (a.user.clone(), Some(a.role)),
            None => (user.badge.clone(), Some(Role::Admin)),
        };
        audit::append(
            &tx,
            &AuditRecord {
                time: now,
                user: actor,
                role,
                action: AuditAction::Create,
                object: format!("user:{}", user.badge),
                old_value: None,
                new_value: Some(
                    serde_json::json!({"name": user.name, "role": user.role.name()}).to_string(),
                ),
                reason: by.is_none().then(|| "first administrator".to_string()),
            },
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Changes an account, by `by` ([`Permission::ManageUsers`]). A new secret is
    /// checked against the policy and clears the badge's lock; the last enabled
    /// administrator can be neither disabled nor given another role. Audited (never
    /// with the secret).
    pub fn change_user(
        &self,
        badge: &str,
        change: &AccountChange,
        policy: &LoginPolicy,
        by: &Actor,
    ) -> Result<(), StoreError> {
        permissions::check(by.role, Permission::ManageUsers)?;
        let current = self
            .find_user(badge)?
            .ok_or_else(|| StoreError::UserNotFound(badge.to_string()))?;
        let hash = match change {
            AccountChange::Secret(s) => {
                policy
                    .check_new_secret(current.role, s)
                    .map_err(StoreError::WeakSecret)?;
                Some(bonder_credentials::hash(s)?)
            }
            AccountChange::Role(r) if !r.is_person() => {
                return Err(StoreError::UnknownRole {
                    badge: badge.to_string(),
                    role: r.name().into(),
                });
            }
            _ => None,
        };
        let now = OffsetDateTime::now_utc();
        let now_ms = unix_ms(now);
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let leaves_no_admin = match change {
            AccountChange::Role(r) => current.role == Role::Admin && *r != Role::Admin,
            AccountChange::Disabled(true) => current.role == Role::Admin,
            _ => false,
        };
        if leaves_no_admin && !current.disabled && other_admins(&tx, badge)? == 0 {
            return Err(StoreError::LastAdmin);
        }
        let (old, new) = match change {
            AccountChange::Role(r) => {
                tx.execute(
                    "UPDATE users SET role = ?2, updated_ms = ?3 WHERE badge = ?1",
                    params![badge, r.name(), now_ms],
                )?;
                (
                    Some(current.role.name().to_string()),
                    Some(r.name().to_string()),
                )
            }
            AccountChange::Secret(_) => {
                tx.execute(
                    "UPDATE users SET pin_hash = ?2, updated_ms = ?3 WHERE badge = ?1",
                    params![badge, hash, now_ms],
                )?;
                write_failures(&tx, badge, FailureState::default())?;
                (None, None)
            }
            AccountChange::Disabled(d) => {
                tx.execute(
                    "UPDATE users SET disabled_ms = ?2, updated_ms = ?3 WHERE badge = ?1",
                    params![badge, d.then_some(now_ms), now_ms],
                )?;
                (
                    Some(
                        if current.disabled {
                            "disabled"
                        } else {
                            "enabled"
                        }
                        .to_string(),
                    ),
                    Some(if *d { "disabled" } else { "enabled" }.to_string()),
                )
            }
        };
        audit::append(
            &tx,
            &AuditRecord {
                time: now,
                user: by.user.clone(),
                role: Some(by.role),
                action: AuditAction::Modify,
                object: format!("user:{badge}#{}", change.name()),
                old_value: old,
                new_value: new,
                reason: None,
            },
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Remembers a user's language; `false` for an unknown badge.
    pub fn set_user_language(&self, badge: &str, lang: &str) -> Result<bool, StoreError> {
        let n = self
            .lock()
            .execute("UPDATE users SET lang = ?2 WHERE badge = ?1", [badge, lang])?;
        Ok(n == 1)
    }
}
