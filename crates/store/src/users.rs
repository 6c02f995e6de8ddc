//! The station's users: badge id, name, role, PIN hash (argon2 PHC string, made by the
//! UI) and the language the UI switches to when they log in.

use crate::timefmt::unix_ms;
use crate::{Store, StoreError};
use bonder_core::permissions::Role;
use rusqlite::OptionalExtension;
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
    /// `$argon2id$…`; the PIN itself is never stored.
    pub pin_hash: String,
    /// Language code (`en-US`, `zh-CN`).
    pub lang: String,
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
        let conn = self.lock();
        let row = conn
            .query_row(
                "SELECT badge, name, role, pin_hash, lang FROM users WHERE badge = ?1",
                [badge],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                },
            )
            .optional()?;
        row.map(|(badge, name, role, pin_hash, lang)| {
            // A role this build does not know (or `system`) is refused, never read as
            // an operator.
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
            })
        })
        .transpose()
    }

    /// Adds a user; `false` when the badge id is taken (nothing changed).
    pub fn add_user(&self, u: &UserRow) -> Result<bool, StoreError> {
        if !u.role.is_person() {
            return Err(StoreError::UnknownRole {
                badge: u.badge.clone(),
                role: u.role.name().into(),
            });
        }
        let n = self.lock().execute(
            "INSERT OR IGNORE INTO users (badge, name, role, pin_hash, lang, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![
                u.badge,
                u.name,
                u.role.name(),
                u.pin_hash,
                u.lang,
                unix_ms(OffsetDateTime::now_utc())
            ],
        )?;
        Ok(n == 1)
    }

    /// Remembers a user's language; `false` for an unknown badge.
    pub fn set_user_language(&self, badge: &str, lang: &str) -> Result<bool, StoreError> {
        let n = self
            .lock()
            .execute("UPDATE users SET lang = ?2 WHERE badge = ?1", [badge, lang])?;
        Ok(n == 1)
    }
}
