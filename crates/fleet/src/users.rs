//! Local users of the supervisor app: the product's roles (`bonder_core::permissions`),
//! password hashes by `bonder-credentials` (argon2id, the same parameters as the
//! station's PINs), the login policy of `bonder_core::login` (every supervisor user
//! signs in with a password of at least [`PASSWORD_MIN`] characters; 5 failures in a
//! row lock the name for 5 minutes), and the audit rows of sign-ins and user changes.

use crate::FleetError;
use crate::history::{AuditRow, History, UserInfo, UserRow, now_ms};
use bonder_core::login::{Attempt, LoginPolicy};
pub use bonder_core::permissions::{Forbidden, Permission, Role, check};
use serde::Serialize;

/// A signed-in user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    pub user: String,
    pub role: Role,
}

impl Session {
    /// Whether the permission table lets this user do `p`.
    pub fn may(&self, p: Permission) -> bool {
        p.allows(self.role)
    }
}

fn hash(password: &str) -> Result<String, FleetError> {
    bonder_credentials::hash(password).map_err(|e| FleetError::Invalid(e.to_string()))
}

/// The role of a name a front end sent: a person's role, or refused.
fn person_role(role: &str) -> Result<Role, UserRefused> {
    Role::person_from_name(role).ok_or(UserRefused::UnknownRole)
}

/// Fewest characters of every supervisor password (the login policy's password rule:
/// the supervisor has no keypad PINs).
pub const PASSWORD_MIN: usize = LoginPolicy::PASSWORD_MIN;

/// Fewest characters of a password an administrator gives a user.
pub const USER_PASSWORD_MIN: usize = PASSWORD_MIN;

/// Fewest characters of a password for `role` (the same for every role).
pub fn password_min(_role: Role) -> usize {
    PASSWORD_MIN
}

/// Appends a row to the supervisor's audit trail (`role` `none` for nobody).
pub fn audit(
    db: &mut History,
    user: &str,
    role: Option<Role>,
    action: &str,
    object: &str,
    detail: Option<String>,
) -> Result<(), FleetError> {
    db.append_audit(&AuditRow {
        ts_ms: now_ms(),
        user: user.into(),
        role: role.map_or("none", Role::name).into(),
        action: action.into(),
        object: object.into(),
        detail,
    })?;
    Ok(())
}

/// Why a user change was refused (the change was not made).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UserRefused {
    #[error("enter a user name")]
    NameMissing,
    #[error("unknown role")]
    UnknownRole,
    #[error("the password needs at least {0} characters")]
    PasswordTooShort(usize),
    #[error("a user of that name exists already")]
    Exists,
    #[error("no such user")]
    Unknown,
    /// An administrator may not disable or demote themselves (so there is always an
    /// enabled administrator).
    #[error("you cannot disable or demote your own account")]
    OwnAccount,
}

impl UserRefused {
    /// The stable code the front end branches on.
    pub fn code(&self) -> &'static str {
        match self {
            UserRefused::NameMissing => "name_missing",
            UserRefused::UnknownRole => "role_unknown",
            UserRefused::PasswordTooShort(_) => "password_too_short",
            UserRefused::Exists => "user_exists",
            UserRefused::Unknown => "user_unknown",
            UserRefused::OwnAccount => "own_account",
        }
    }
}

/// What [`add_user`] and the other changes return: done, refused (nothing changed), or
/// the history failed.
pub type UserChange = Result<Result<(), UserRefused>, FleetError>;

fn check_password(role: Role, password: &str) -> Result<(), UserRefused> {
    let min = password_min(role);
    if password.chars().count() < min {
        return Err(UserRefused::PasswordTooShort(min));
    }
    Ok(())
}

/// Every user with role and enabled state.
pub fn list_users(db: &History) -> Result<Vec<UserInfo>, FleetError> {
    db.users()
}

/// Adds a new user (`name` trimmed); refused if the name is taken.
pub fn add_user(db: &mut History, name: &str, role: &str, password: &str) -> UserChange {
    let name = name.trim();
    if name.is_empty() {
        return Ok(Err(UserRefused::NameMissing));
    }
    let role = match person_role(role) {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    if let Err(r) = check_password(role, password) {
        return Ok(Err(r));
    }
    let added = db.insert_user(&UserRow {
        name: name.into(),
        role: role.name().into(),
        phc: hash(password)?,
    })?;
    Ok(if added {
        Ok(())
    } else {
        Err(UserRefused::Exists)
    })
}

/// Changes a user's role (`by`: the administrator doing it, who may not demote
/// themselves).
pub fn change_role(db: &mut History, by: &str, name: &str, role: &str) -> UserChange {
    let role = match person_role(role) {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    if name == by && role != Role::Admin {
        return Ok(Err(UserRefused::OwnAccount));
    }
    Ok(if db.set_user_role(name, role.name())? {
        Ok(())
    } else {
        Err(UserRefused::Unknown)
    })
}

/// Gives a user a new password (the rule of their role).
pub fn reset_password(db: &mut History, name: &str, password: &str) -> UserChange {
    let Some((u, _)) = db.user(name)? else {
        return Ok(Err(UserRefused::Unknown));
    };
    // A stored role this build does not know gets the strictest rule.
    let role = Role::person_from_name(&u.role).unwrap_or(Role::Admin);
    if let Err(r) = check_password(role, password) {
        return Ok(Err(r));
    }
    db.set_user_phc(name, &hash(password)?)?;
    Ok(Ok(()))
}

/// Enables or disables a user (`by` may not disable themselves). A disabled user is
/// kept but cannot sign in.
pub fn set_enabled(db: &mut History, by: &str, name: &str, enabled: bool) -> UserChange {
    if name == by && !enabled {
        return Ok(Err(UserRefused::OwnAccount));
    }
    Ok(if db.set_user_enabled(name, enabled)? {
        Ok(())
    } else {
        Err(UserRefused::Unknown)
    })
}

/// Adds or replaces a user.
pub fn set_user(
    db: &mut History,
    name: &str,
    role: &str,
    password: &str,
) -> Result<(), FleetError> {
    let Some(role) = Role::person_from_name(role) else {
        return Err(FleetError::Invalid(format!("unknown role {role:?}")));
    };
    if name.trim().is_empty() || password.chars().count() < PASSWORD_MIN {
        return Err(FleetError::Invalid(format!(
            "a user needs a name and a password of {PASSWORD_MIN} characters or more"
        )));
    }
    db.put_user(&UserRow {
        name: name.into(),
        role: role.name().into(),
        phc: hash(password)?,
    })
}

/// Why a sign-in was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginRefused {
    /// Wrong name or password; `left` attempts before the name locks.
    Wrong { left: u32 },
    /// Locked (now, or already) until then (Unix ms).
    Locked { until_ms: i64 },
    /// The password was right but the user is disabled.
    Disabled,
}

impl LoginRefused {
    /// The stable code the front end branches on.
    pub fn code(&self) -> &'static str {
        match self {
            LoginRefused::Wrong { .. } => "login_failed",
            LoginRefused::Locked { .. } => "login_locked",
            LoginRefused::Disabled => "account_disabled",
        }
    }
}

/// One sign-in attempt at `now_ms` under the login policy: the session on success.
/// An unknown user takes as long as a wrong password (the credential module's dummy
/// path) and counts towards a lock the same way; a locked name is refused without
/// counting, even with the right password; "disabled" is said only to the right
/// password. Every outcome is an audit row (`login`, `refused`, `lockout`).
pub fn login(
    db: &mut History,
    name: &str,
    password: &str,
    now_ms: i64,
) -> Result<Result<Session, LoginRefused>, FleetError> {
    let policy = LoginPolicy::default();
    let found = db.user(name)?;
    let matched =
        bonder_credentials::verify_user(password, found.as_ref().map(|(u, _)| u.phc.as_str()))
            && found.is_some();
    let role = found
        .as_ref()
        .and_then(|(u, _)| Role::person_from_name(&u.role));
    let disabled = found.as_ref().is_some_and(|(_, enabled)| !enabled);
    let before = db.login_failures(name)?;
    // A stored role this build does not know signs nobody in (counted as a failure).
    let (after, attempt) = policy.judge(before, now_ms, matched && role.is_some(), disabled);
    if after != before {
        db.set_login_failures(name, after)?;
    }
    let object = format!("user:{name}");
    let (out, action, detail) = match attempt {
        Attempt::Accepted => match role {
            Some(role) => (
                Ok(Session {
                    user: name.into(),
                    role,
                }),
                "login",
                None,
            ),
            None => (
                Err(LoginRefused::Wrong { left: 0 }),
                "refused",
                Some("unknown role".into()),
            ),
        },
        Attempt::Disabled => (
            Err(LoginRefused::Disabled),
            "refused",
            Some("disabled".into()),
        ),
        Attempt::Wrong { left } => (
            Err(LoginRefused::Wrong { left }),
            "refused",
            Some(format!("wrong name or password, {left} attempts left")),
        ),
        Attempt::LockedNow { until_ms } => (
            Err(LoginRefused::Locked { until_ms }),
            "lockout",
            Some(format!(
                "{} failures in a row, locked until {until_ms} ms",
                policy.max_failures
            )),
        ),
        Attempt::Locked { until_ms } => (
            Err(LoginRefused::Locked { until_ms }),
            "refused",
            Some(format!("locked until {until_ms} ms")),
        ),
    };
    if action == "lockout" {
        tracing::warn!(user = %name, "supervisor sign-in locked after failures");
    }
    let signed_in = out.as_ref().ok().map(|s| s.role);
    audit(db, name, signed_in, action, &object, detail)?;
    Ok(out)
}

/// Fewest characters (not bytes) of the first administrator's password.
pub const ADMIN_PASSWORD_MIN: usize = PASSWORD_MIN;

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
        role: Role::Admin.name().into(),
        phc: hash(password)?,
    };
    if !db.put_first_user(&row)? {
        return Ok(Err(FirstAdminRefused::UsersExist));
    }
    audit(
        db,
        &row.name,
        Some(Role::Admin),
        "create",
        &format!("user:{}", row.name),
        Some("first administrator".into()),
    )?;
    Ok(Ok(Session {
        user: row.name,
        role: Role::Admin,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const T: i64 = 1_000_000;

    fn ok(db: &mut History, name: &str, pw: &str) -> Option<Session> {
        login(db, name, pw, now_ms()).unwrap().ok()
    }

    #[test]
    fn roles_and_passwords() {
        let mut db = History::open_in_memory().unwrap();
        set_user(&mut db, "li", "engineer", "secret-pass").unwrap();
        set_user(&mut db, "wang", "operator", "secret-pass").unwrap();
        assert!(set_user(&mut db, "zhou", "operator", "short-pw").is_err());
        assert!(ok(&mut db, "li", "wrong").is_none());
        let s = ok(&mut db, "li", "secret-pass").unwrap();
        assert!(s.may(Permission::SendRecipe));
        let s = ok(&mut db, "wang", "secret-pass").unwrap();
        assert!(!s.may(Permission::SendRecipe));
        assert!(set_user(&mut db, "x", "king", "secret-pass").is_err());
        // Nobody is `system`, and a stored role this build does not know signs nobody in.
        assert!(set_user(&mut db, "x", "system", "secret-pass").is_err());
        db.put_user(&UserRow {
            name: "old".into(),
            role: "superuser".into(),
            phc: bonder_credentials::hash("secret-pass").unwrap(),
        })
        .unwrap();
        assert!(ok(&mut db, "old", "secret-pass").is_none());
        assert!(ok(&mut db, "nobody", "secret-pass").is_none());
    }

    #[test]
    fn five_failures_lock_a_name_for_five_minutes_and_every_attempt_is_audited() {
        let mut db = History::open_in_memory().unwrap();
        set_user(&mut db, "li", "engineer", "secret-pass").unwrap();
        for left in (1..=4).rev() {
            assert_eq!(
                login(&mut db, "li", "wrong", T).unwrap(),
                Err(LoginRefused::Wrong { left })
            );
        }
        let until_ms = T + 300_000;
        assert_eq!(
            login(&mut db, "li", "wrong", T).unwrap(),
            Err(LoginRefused::Locked { until_ms })
        );
        // Locked: the right password is refused too, until the time is up.
        assert_eq!(
            login(&mut db, "li", "secret-pass", until_ms - 1).unwrap(),
            Err(LoginRefused::Locked { until_ms })
        );
        assert_eq!(
            login(&mut db, "li", "secret-pass", until_ms)
                .unwrap()
                .unwrap()
                .role,
            Role::Engineer
        );
        // An unknown name locks the same way (a lock tells nobody a name exists).
        for _ in 0..5 {
            let _ = login(&mut db, "ghost", "x", T).unwrap();
        }
        assert!(matches!(
            login(&mut db, "ghost", "x", T).unwrap(),
            Err(LoginRefused::Locked { .. })
        ));
        // Disabled: told only to the right password.
        set_enabled(&mut db, "admin", "li", false).unwrap().unwrap();
        assert_eq!(
            login(&mut db, "li", "secret-pass", until_ms).unwrap(),
            Err(LoginRefused::Disabled)
        );
        let rows = db.audit(100).unwrap();
        let of_li: Vec<&str> = rows
            .iter()
            .rev()
            .filter(|r| r.object == "user:li")
            .map(|r| r.action.as_str())
            .collect();
        assert_eq!(
            of_li,
            [
                "refused", "refused", "refused", "refused", "lockout", "refused", "login",
                "refused"
            ]
        );
        assert!(rows.iter().all(|r| r.role == "none" || r.action == "login"));
        // The trail is append-only.
        assert!(
            db.conn_for_tests()
                .execute("DELETE FROM audit", [])
                .is_err()
        );
        assert!(
            db.conn_for_tests()
                .execute("UPDATE audit SET user = 'x'", [])
                .is_err()
        );
    }

    #[test]
    fn managing_users() {
        let mut db = History::open_in_memory().unwrap();
        set_user(&mut db, "chief", "admin", "chief-pass-1").unwrap();
        assert_eq!(
            add_user(&mut db, " zhang ", "operator", "abcd-efgh-1").unwrap(),
            Ok(())
        );
        assert_eq!(
            add_user(&mut db, "zhang", "engineer", "abcdef-ghij").unwrap(),
            Err(UserRefused::Exists)
        );
        assert_eq!(
            add_user(&mut db, "", "operator", "abcd-efgh-1").unwrap(),
            Err(UserRefused::NameMissing)
        );
        assert_eq!(
            add_user(&mut db, "x", "king", "abcd-efgh-1").unwrap(),
            Err(UserRefused::UnknownRole)
        );
        assert_eq!(
            add_user(&mut db, "x", "operator", "abc").unwrap(),
            Err(UserRefused::PasswordTooShort(10))
        );
        assert_eq!(
            add_user(&mut db, "x", "admin", "123456789").unwrap(),
            Err(UserRefused::PasswordTooShort(10))
        );
        assert!(ok(&mut db, "zhang", "abcd-efgh-1").is_some());
        // Role, password, disable, enable.
        change_role(&mut db, "chief", "zhang", "engineer")
            .unwrap()
            .unwrap();
        reset_password(&mut db, "zhang", "new-pass-12")
            .unwrap()
            .unwrap();
        assert!(ok(&mut db, "zhang", "abcd-efgh-1").is_none());
        assert_eq!(
            ok(&mut db, "zhang", "new-pass-12").unwrap().role,
            Role::Engineer
        );
        set_enabled(&mut db, "chief", "zhang", false)
            .unwrap()
            .unwrap();
        assert!(ok(&mut db, "zhang", "new-pass-12").is_none());
        // Changing the role or password keeps a user disabled.
        set_user(&mut db, "zhang", "technician", "other-pass-1").unwrap();
        assert!(ok(&mut db, "zhang", "other-pass-1").is_none());
        let listed = list_users(&db).unwrap();
        assert_eq!(
            listed,
            vec![
                UserInfo {
                    name: "chief".into(),
                    role: "admin".into(),
                    enabled: true
                },
                UserInfo {
                    name: "zhang".into(),
                    role: "technician".into(),
                    enabled: false
                }
            ]
        );
        set_enabled(&mut db, "chief", "zhang", true)
            .unwrap()
            .unwrap();
        assert!(ok(&mut db, "zhang", "other-pass-1").is_some());
        // Not on oneself; not on nobody.
        assert_eq!(
            set_enabled(&mut db, "chief", "chief", false).unwrap(),
            Err(UserRefused::OwnAccount)
        );
        assert_eq!(
            change_role(&mut db, "chief", "chief", "engineer").unwrap(),
            Err(UserRefused::OwnAccount)
        );
        assert_eq!(
            change_role(&mut db, "chief", "ghost", "engineer").unwrap(),
            Err(UserRefused::Unknown)
        );
        assert_eq!(
            reset_password(&mut db, "ghost", "abcdefgh-12").unwrap(),
            Err(UserRefused::Unknown)
        );
        assert_eq!(
            set_enabled(&mut db, "chief", "ghost", true).unwrap(),
            Err(UserRefused::Unknown)
        );
    }

    #[test]
    fn first_admin_only_on_an_empty_history() {
        let mut db = History::open_in_memory().unwrap();
        // Nobody is created by default: no `admin`/`admin`.
        assert_eq!(db.user_count().unwrap(), 0);
        assert!(first_start_needed(&db).unwrap());
        assert!(ok(&mut db, "admin", "admin").is_none());
        assert_eq!(
            first_admin(&mut db, "  ", "long enough").unwrap(),
            Err(FirstAdminRefused::NameMissing)
        );
        assert_eq!(
            first_admin(&mut db, "zhao", "9chars!!!").unwrap(),
            Err(FirstAdminRefused::PasswordTooShort)
        );
        // Characters, not bytes: 10 Chinese characters are enough, 9 are not.
        assert_eq!(
            first_admin(&mut db, "zhao", "一二三四五六七八九").unwrap(),
            Err(FirstAdminRefused::PasswordTooShort)
        );
        assert!(first_start_needed(&db).unwrap());
        let s = first_admin(&mut db, " zhao ", "一二三四五六七八九十")
            .unwrap()
            .unwrap();
        assert_eq!(
            s,
            Session {
                user: "zhao".into(),
                role: Role::Admin
            }
        );
        assert!(!first_start_needed(&db).unwrap());
        assert_eq!(ok(&mut db, "zhao", "一二三四五六七八九十"), Some(s));
        // A second first start is refused, whoever asks, and changes nothing.
        assert_eq!(
            first_admin(&mut db, "intruder", "long enough").unwrap(),
            Err(FirstAdminRefused::UsersExist)
        );
        assert!(ok(&mut db, "intruder", "long enough").is_none());
        assert_eq!(db.user_count().unwrap(), 1);
        // The statement itself refuses too (a race between two first starts).
        let row = UserRow {
            name: "late".into(),
            role: "admin".into(),
            phc: "x".into(),
        };
        assert!(!db.put_first_user(&row).unwrap());
        assert_eq!(db.user_count().unwrap(), 1);
        assert!(
            db.audit(10)
                .unwrap()
                .iter()
                .any(|r| r.action == "create" && r.object == "user:zhao")
        );
    }
}
