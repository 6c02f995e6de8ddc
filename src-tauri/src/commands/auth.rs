//! Sign in and out; the first administrator (first start only); users (admins only).

use crate::error::{CmdError, CmdResult};
use crate::state::AppState;
use bonder_fleet::history::UserInfo;
use bonder_fleet::users::{
    self, ADMIN_PASSWORD_MIN, FirstAdminRefused, LoginRefused, Session, UserRefused,
};
use serde::Serialize;
use tauri::State;

/// Signs in: `login_failed` (with the attempts left before a lock in `left`),
/// `login_locked` (`until_ms`) or `account_disabled` when refused. Audited.
#[tauri::command]
pub fn login(state: State<'_, AppState>, user: String, password: String) -> CmdResult<Session> {
    let now = bonder_fleet::history::now_ms();
    let s = users::login(&mut state.sv.db(), &user, &password, now)?.map_err(|r| match r {
        LoginRefused::Wrong { left } => CmdError::new(
            r.code(),
            format!("wrong user or password ({left} attempts left before a lock)"),
        )
        .with("left", left.into()),
        LoginRefused::Locked { until_ms } => {
            CmdError::new(r.code(), "locked after too many failed sign-ins")
                .with("until_ms", until_ms.into())
        }
        LoginRefused::Disabled => CmdError::new(r.code(), "this account is disabled"),
    })?;
    tracing::info!(user = %s.user, role = %s.role, "signed in");
    state.set_session(Some(s.clone()));
    Ok(s)
}

/// Answer of [`first_start`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FirstStart {
    /// No user exists yet: the front end shows the "create the administrator" form
    /// instead of the sign-in form.
    pub needed: bool,
    /// Fewest characters of the administrator's password ([`ADMIN_PASSWORD_MIN`]).
    pub password_min: usize,
    /// Fewest characters of the password an administrator gives any other user
    /// ([`users::USER_PASSWORD_MIN`]; an administrator's: `password_min`).
    pub user_password_min: usize,
}

/// Whether this is the first start (no user yet), and the password rule.
#[tauri::command]
pub fn first_start(state: State<'_, AppState>) -> CmdResult<FirstStart> {
    Ok(FirstStart {
        needed: users::first_start_needed(&state.sv.db())?,
        password_min: ADMIN_PASSWORD_MIN,
        user_password_min: users::USER_PASSWORD_MIN,
    })
}

/// First start: creates the administrator (role `admin`) and signs them in. Only while
/// no user exists; refused with `users_exist` afterwards, `name_missing` for an empty
/// name and `password_too_short` under [`ADMIN_PASSWORD_MIN`] characters. (The front
/// end asks for the password twice and compares.)
#[tauri::command]
pub fn first_admin(
    state: State<'_, AppState>,
    user: String,
    password: String,
) -> CmdResult<Session> {
    let made = users::first_admin(&mut state.sv.db(), &user, &password)?;
    let s = made.map_err(|why| match why {
        FirstAdminRefused::UsersExist => {
            CmdError::new("users_exist", "the administrator exists already: sign in")
        }
        FirstAdminRefused::NameMissing => CmdError::new("name_missing", "enter a user name"),
        FirstAdminRefused::PasswordTooShort => CmdError::new(
            "password_too_short",
            format!("the password needs at least {ADMIN_PASSWORD_MIN} characters"),
        ),
    })?;
    tracing::info!(user = %s.user, "first start: administrator created, signed in");
    state.set_session(Some(s.clone()));
    Ok(s)
}

/// Signs out (audited).
#[tauri::command]
pub fn logout(state: State<'_, AppState>) {
    if let Some(s) = state.session_now() {
        state.audit("logout", &format!("user:{}", s.user), None);
    }
    state.set_session(None);
}

/// The signed-in user, if any (`None` once the idle lock closed the session; asking
/// does not count as activity).
#[tauri::command]
pub fn session(state: State<'_, AppState>) -> Option<Session> {
    state.session_now()
}

/// The signed-in administrator, or `login_required` / `forbidden`.
fn admin(state: &AppState) -> CmdResult<Session> {
    state.user_may(users::Permission::ManageUsers)
}

impl From<UserRefused> for CmdError {
    fn from(r: UserRefused) -> CmdError {
        CmdError::new(r.code(), r.to_string())
    }
}

/// A user change's answer; the change is audited as `me` (`create` or `modify
/// user:<name>#<what>`), never with the password.
fn done(
    state: &AppState,
    what: &str,
    me: &Session,
    name: &str,
    r: users::UserChange,
) -> CmdResult<()> {
    r??;
    tracing::info!(by = %me.user, user = %name, "user {what}");
    let action = if what == "added" { "create" } else { "modify" };
    state.audit(
        action,
        &format!("user:{name}#{}", what.replace(' ', "_")),
        None,
    );
    Ok(())
}

/// Adds or changes a user (admins).
#[tauri::command]
pub fn user_set(
    state: State<'_, AppState>,
    name: String,
    role: String,
    password: String,
) -> CmdResult<()> {
    let me = admin(&state)?;
    if name == me.user && role != users::Role::Admin.name() {
        return Err(UserRefused::OwnAccount.into());
    }
    users::set_user(&mut state.sv.db(), &name, &role, &password)?;
    state.audit(
        "modify",
        &format!("user:{name}#set"),
        Some(format!("role {role}")),
    );
    Ok(())
}

/// Every user with role and enabled state (admins).
#[tauri::command]
pub fn user_list(state: State<'_, AppState>) -> CmdResult<Vec<UserInfo>> {
    admin(&state)?;
    Ok(users::list_users(&state.sv.db())?)
}

/// Adds a user (admins): `user_exists`, `name_missing`, `role_unknown`,
/// `password_too_short` when refused.
#[tauri::command]
pub fn user_add(
    state: State<'_, AppState>,
    name: String,
    role: String,
    password: String,
) -> CmdResult<()> {
    let me = admin(&state)?;
    let r = users::add_user(&mut state.sv.db(), &name, &role, &password);
    done(&state, "added", &me, name.trim(), r)
}

/// Changes a user's role (admins; not their own: `own_account`).
#[tauri::command]
pub fn user_role(state: State<'_, AppState>, name: String, role: String) -> CmdResult<()> {
    let me = admin(&state)?;
    let r = users::change_role(&mut state.sv.db(), &me.user, &name, &role);
    done(&state, &format!("role {role}"), &me, &name, r)
}

/// Gives a user a new password (admins).
#[tauri::command]
pub fn user_password(state: State<'_, AppState>, name: String, password: String) -> CmdResult<()> {
    let me = admin(&state)?;
    let r = users::reset_password(&mut state.sv.db(), &name, &password);
    done(&state, "password reset", &me, &name, r)
}

/// Enables or disables a user (admins; not themselves: `own_account`).
#[tauri::command]
pub fn user_enable(state: State<'_, AppState>, name: String, enabled: bool) -> CmdResult<()> {
    let me = admin(&state)?;
    let r = users::set_enabled(&mut state.sv.db(), &me.user, &name, enabled);
    done(
        &state,
        if enabled { "enabled" } else { "disabled" },
        &me,
        &name,
        r,
    )
}
