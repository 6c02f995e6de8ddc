//! Local users of the supervisor app: the product's roles (`bonder_core::permissions`),
//! password hashes by `bonder-credentials` (argon2id, the same parameters as the
//! station's PINs).

use crate::FleetError;
use crate::history::{History, UserInfo, UserRow};
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

/// Fewest characters of a password an administrator gives a user (other than an
/// administrator: [`ADMIN_PASSWORD_MIN`]).
pub const USER_PASSWORD_MIN: usize = 4;

/// Fewest characters of a password for `role`.
pub fn password_min(role: Role) -> usize {
    if role == Role::Admin {
        ADMIN_PASSWORD_MIN
    } else {
        USER_PASSWORD_MIN
    }
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
    if name.trim().is_empty() || password.len() < 4 {
        return Err(FleetError::Invalid(
            "a user needs a name and a password of 4 characters or more".into(),
        ));
    }
    db.put_user(&UserRow {
        name: name.into(),
        role: role.name().into(),
        phc: hash(password)?,
    })
}

/// Checks a password; the session on success (never for a disabled user).
/// An unknown or disabled user takes as long as a wrong password (the credential
/// module's dummy path); a stored role this build does not know signs nobody in.
pub fn login(db: &History, name: &str, password: &str) -> Result<Option<Session>, FleetError> {
    let user = db
        .user(name)?
        .filter(|(_, enabled)| *enabled)
        .map(|(u, _)| u);
    if !bonder_credentials::verify_user(password, user.as_ref().map(|u| u.phc.as_str())) {
        return Ok(None);
    }
    let Some(u) = user else {
        return Ok(None);
    };
    let Some(role) = Role::person_from_name(&u.role) else {
        tracing::warn!(user = %u.name, role = %u.role, "unknown role: not signed in");
        return Ok(None);
    };
    Ok(Some(Session { user: u.name, role }))
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
        role: Role::Admin.name().into(),
        phc: hash(password)?,
    };
    if !db.put_first_user(&row)? {
        return Ok(Err(FirstAdminRefused::UsersExist));
    }
    Ok(Ok(Session {
        user: row.name,
        role: Role::Admin,
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
        assert!(s.may(Permission::SendRecipe));
        let s = login(&db, "wang", "secret").unwrap().unwrap();
        assert!(!s.may(Permission::SendRecipe));
        assert!(set_user(&mut db, "x", "king", "secret").is_err());
        // Nobody is `system`, and a stored role this build does not know signs nobody in.
        assert!(set_user(&mut db, "x", "system", "secret").is_err());
        db.put_user(&UserRow {
            name: "old".into(),
            role: "superuser".into(),
            phc: bonder_credentials::hash("secret").unwrap(),
        })
        .unwrap();
        assert!(login(&db, "old", "secret").unwrap().is_none());
        assert!(login(&db, "nobody", "secret").unwrap().is_none());
    }

    #[test]
    fn managing_users() {
        let mut db = History::open_in_memory().unwrap();
        set_user(&mut db, "chief", "admin", "chief-pass-1").unwrap();
        assert_eq!(
            add_user(&mut db, " zhang ", "operator", "abcd").unwrap(),
            Ok(())
        );
        assert_eq!(
            add_user(&mut db, "zhang", "engineer", "abcdef").unwrap(),
            Err(UserRefused::Exists)
        );
        assert_eq!(
            add_user(&mut db, "", "operator", "abcd").unwrap(),
            Err(UserRefused::NameMissing)
        );
        assert_eq!(
            add_user(&mut db, "x", "king", "abcd").unwrap(),
            Err(UserRefused::UnknownRole)
        );
        assert_eq!(
            add_user(&mut db, "x", "operator", "abc").unwrap(),
            Err(UserRefused::PasswordTooShort(4))
        );
        assert_eq!(
            add_user(&mut db, "x", "admin", "1234567").unwrap(),
            Err(UserRefused::PasswordTooShort(8))
        );
        assert!(login(&db, "zhang", "abcd").unwrap().is_some());
        // Role, password, disable, enable.
        change_role(&mut db, "chief", "zhang", "engineer")
            .unwrap()
            .unwrap();
        reset_password(&mut db, "zhang", "new-pass")
            .unwrap()
            .unwrap();
        assert!(login(&db, "zhang", "abcd").unwrap().is_none());
        assert_eq!(
            login(&db, "zhang", "new-pass").unwrap().unwrap().role,
            Role::Engineer
        );
        set_enabled(&mut db, "chief", "zhang", false)
            .unwrap()
            .unwrap();
        assert!(login(&db, "zhang", "new-pass").unwrap().is_none());
        // Changing the role or password keeps a user disabled.
        set_user(&mut db, "zhang", "technician", "other-pass").unwrap();
        assert!(login(&db, "zhang", "other-pass").unwrap().is_none());
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
        assert!(login(&db, "zhang", "other-pass").unwrap().is_some());
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
            reset_password(&mut db, "ghost", "abcdefgh").unwrap(),
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
                role: Role::Admin
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
