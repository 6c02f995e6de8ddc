//! Local users of the supervisor app: the station's roles, argon2id password hashes.

use crate::FleetError;
use crate::history::{History, UserRow};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::Serialize;

/// Roles, least to most authority (the station's names).
pub const ROLES: [&str; 5] = ["operator", "technician", "engineer", "supervisor", "admin"];

/// Rank of a role (operator 0 … admin 4); unknown roles rank below operator.
pub fn rank(role: &str) -> i32 {
    ROLES
        .iter()
        .position(|r| *r == role)
        .map_or(-1, |p| p as i32)
}

/// Whether a role may send recipes to stations: engineers and above.
pub fn can_send_recipes(role: &str) -> bool {
    rank(role) >= rank("engineer")
}

/// Whether a role may send work orders: technicians and above.
pub fn can_send_work_orders(role: &str) -> bool {
    rank(role) >= rank("technician")
}

/// A signed-in user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    pub user: String,
    pub role: String,
}

fn salt() -> Result<SaltString, FleetError> {
    // 16 bytes from the OS; the clock and pid only if it cannot be read.
    let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    let mut b = (nanos ^ (i128::from(std::process::id()) << 96)).to_le_bytes();
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut b);
    }
    SaltString::encode_b64(&b).map_err(|e| FleetError::Invalid(e.to_string()))
}

fn hash(password: &str) -> Result<String, FleetError> {
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt()?)
        .map_err(|e| FleetError::Invalid(e.to_string()))?
        .to_string())
}

/// Adds or replaces a user.
pub fn set_user(
    db: &mut History,
    name: &str,
    role: &str,
    password: &str,
) -> Result<(), FleetError> {
    if rank(role) < 0 {
        return Err(FleetError::Invalid(format!("unknown role {role:?}")));
    }
    if name.trim().is_empty() || password.len() < 4 {
        return Err(FleetError::Invalid(
            "a user needs a name and a password of 4 characters or more".into(),
        ));
    }
    db.put_user(&UserRow {
        name: name.into(),
        role: role.into(),
        phc: hash(password)?,
    })
}

/// Checks a password; the session on success.
pub fn login(db: &History, name: &str, password: &str) -> Result<Option<Session>, FleetError> {
    let Some(u) = db.user(name)? else {
        return Ok(None);
    };
    let Ok(h) = PasswordHash::new(&u.phc) else {
        return Ok(None);
    };
    Ok(Argon2::default()
        .verify_password(password.as_bytes(), &h)
        .is_ok()
        .then_some(Session {
            user: u.name,
            role: u.role,
        }))
}

/// Fewest characters (not bytes) of the first administrator's password.
pub const ADMIN_PASSWORD_MIN: usize = 8;

/// Why [`first_admin`] created no one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstAdminRefused {
    /// There is a user already: first start is over, sign in instead.
    UsersExist,
    /// The user name is empty (or only spaces).
    NameMissing,
    /// The password has fewer than [`ADMIN_PASSWORD_MIN`] characters.
    PasswordTooShort,
}

/// Whether the history has no user yet, so the app must ask for its administrator (no
/// user is ever created with a default password).
pub fn first_start_needed(db: &History) -> Result<bool, FleetError> {
    Ok(db.user_count()? == 0)
}

/// First start: creates the administrator `name` (trimmed) with `password`, only while
/// no user exists; their session on success.
pub fn first_admin(
    db: &mut History,
    name: &str,
    password: &str,
) -> Result<Result<Session, FirstAdminRefused>, FleetError> {
    if !first_start_needed(db)? {
        return Ok(Err(FirstAdminRefused::UsersExist));
    }
    let name = name.trim();
    if name.is_empty() {
        return Ok(Err(FirstAdminRefused::NameMissing));
    }
    if password.chars().count() < ADMIN_PASSWORD_MIN {
        return Ok(Err(FirstAdminRefused::PasswordTooShort));
    }
    let row = UserRow {
        name: name.into(),
        role: "admin".into(),
        phc: hash(password)?,
    };
    if !db.put_first_user(&row)? {
        return Ok(Err(FirstAdminRefused::UsersExist));
    }
    Ok(Ok(Session {
        user: row.name,
        role: row.role,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn roles_and_passwords() {
        let mut db = History::open_in_memory().unwrap();
        set_user(&mut db, "li", "engineer", "secret").unwrap();
        set_user(&mut db, "wang", "operator", "secret").unwrap();
        assert!(login(&db, "li", "wrong").unwrap().is_none());
        let s = login(&db, "li", "secret").unwrap().unwrap();
        assert!(can_send_recipes(&s.role));
        let s = login(&db, "wang", "secret").unwrap().unwrap();
        assert!(!can_send_recipes(&s.role));
        assert!(set_user(&mut db, "x", "king", "secret").is_err());
    }

    #[test]
    fn first_admin_only_on_an_empty_history() {
        let mut db = History::open_in_memory().unwrap();
        // Nobody is created by default: no `admin`/`admin`.
        assert_eq!(db.user_count().unwrap(), 0);
        assert!(first_start_needed(&db).unwrap());
        assert!(login(&db, "admin", "admin").unwrap().is_none());
        assert_eq!(
            first_admin(&mut db, "  ", "long enough").unwrap(),
            Err(FirstAdminRefused::NameMissing)
        );
        assert_eq!(
            first_admin(&mut db, "zhao", "7chars!").unwrap(),
            Err(FirstAdminRefused::PasswordTooShort)
        );
        // Characters, not bytes: 8 Chinese characters are enough, 7 are not.
        assert_eq!(
            first_admin(&mut db, "zhao", "一二三四五六七").unwrap(),
            Err(FirstAdminRefused::PasswordTooShort)
        );
        assert!(first_start_needed(&db).unwrap());
        let s = first_admin(&mut db, " zhao ", "一二三四五六七八")
            .unwrap()
            .unwrap();
        assert_eq!(
            s,
            Session {
                user: "zhao".into(),
                role: "admin".into()
            }
        );
        assert!(!first_start_needed(&db).unwrap());
        assert_eq!(login(&db, "zhao", "一二三四五六七八").unwrap(), Some(s));
        // A second first start is refused, whoever asks, and changes nothing.
        assert_eq!(
            first_admin(&mut db, "intruder", "long enough").unwrap(),
            Err(FirstAdminRefused::UsersExist)
        );
        assert!(login(&db, "intruder", "long enough").unwrap().is_none());
        assert_eq!(db.user_count().unwrap(), 1);
        // The statement itself refuses too (a race between two first starts).
        let row = UserRow {
            name: "late".into(),
            role: "admin".into(),
            phc: "x".into(),
        };
        assert!(!db.put_first_user(&row).unwrap());
        assert_eq!(db.user_count().unwrap(), 1);
    }
}
