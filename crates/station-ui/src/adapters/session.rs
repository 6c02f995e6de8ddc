//! `SessionAdapter`: sign-in by badge id + PIN or password, the first-run
//! administrator, the idle lock, the language per user, and the administrator's user
//! list (add, change role, reset the secret, disable).
//!
//! Secrets are checked and hashed by the user directory (argon2id, tens of ms by
//! design) on the Tokio runtime's blocking pool, never on the UI thread; the answer
//! comes back as a [`UiMsg`] and is applied by [`login_done`] / [`user_added`] /
//! [`user_changed`]. The directory applies the login policy and the lockout and audits
//! sign-ins and account changes; a badge it locks raises the station's alarm 905 for
//! the time of the lock.

use crate::app::{Inner, UiMsg, clock};
use crate::store::{
    AccountChange, AuditEvent, Permission, Role, SignInAnswer, StoreError, UserListing, UserRecord,
};
use crate::tr::{Arg, Message};
use crate::ui::{AppAdapter, MainWindow, Page, SessionAdapter, UserItem};
use crate::users::{SessionUser, secret_problem};
use bonder_core::AlarmCode;
use bonder_i18n::Lang;
use slint::{ComponentHandle, ModelRc, VecModel};
use std::rc::Rc;
use std::time::{Instant, SystemTime};

/// Login page and user administration state.
#[derive(Debug, Default)]
pub(crate) struct SessionState {
    /// No user exists yet.
    pub first_run: bool,
    /// The administrator's list (read when the user page is shown or after a change).
    pub users: Vec<UserListing>,
    /// The user being edited; `None`: the editor adds a new one.
    pub selected: Option<usize>,
}

pub(crate) fn wire(inner: &Rc<Inner>, w: &MainWindow) {
    let s = w.global::<SessionAdapter>();
    let on = |f: fn(&Inner)| {
        let i = Rc::downgrade(inner);
        move || {
            if let Some(inner) = i.upgrade() {
                f(&inner);
            }
        }
    };
    s.on_login(on(login));
    s.on_create_admin(on(create_admin));
    s.on_logout(on(|inner| lock(inner, false)));
    s.on_add_user(on(add_user));
    s.on_set_role(on(set_role));
    s.on_reset_secret(on(reset_secret));
    s.on_toggle_disabled(on(toggle_disabled));
    let i = Rc::downgrade(inner);
    s.on_select_user(move |idx| {
        if let Some(inner) = i.upgrade() {
            inner.touch();
            inner.state.borrow_mut().session.selected = usize::try_from(idx).ok();
            if let Some(w) = inner.window.upgrade() {
                let s = w.global::<SessionAdapter>();
                s.set_add_message("".into());
                s.set_add_pin("".into());
                let st = inner.state.borrow();
                if let Some(u) = st.session.selected.and_then(|i| st.session.users.get(i)) {
                    let role = Role::PEOPLE.iter().position(|r| *r == u.user.role);
                    s.set_add_role(role.map_or(0, |r| r as i32));
                }
            }
            inner.refresh_all();
        }
    });
    let i = Rc::downgrade(inner);
    s.on_set_language(move |idx| {
        if let Some(inner) = i.upgrade() {
            inner.touch();
            let lang = if idx == 1 { Lang::ZhCn } else { Lang::EnUs };
            set_language(&inner, lang);
        }
    });
}

fn show_error(inner: &Inner, m: Option<Message>) {
    if let Some(w) = inner.window.upgrade() {
        let t = inner.texts();
        w.global::<SessionAdapter>()
            .set_error(m.map(|m| m.text(t)).unwrap_or_default().into());
    }
}

fn login(inner: &Inner) {
    let Some(w) = inner.window.upgrade() else {
        return;
    };
    let s = w.global::<SessionAdapter>();
    let badge = s.get_badge().trim().to_string();
    let pin = s.get_pin().to_string();
    s.set_pin("".into());
    s.set_busy(true);
    let users = inner.opts.users.clone();
    let tx = inner.tx.clone();
    inner.rt.spawn_blocking(move || {
        let result = users.sign_in(&badge, &pin);
        let _ = tx.send(UiMsg::Login { badge, result });
    });
}

fn until_text(until: SystemTime) -> Arg {
    Arg::from(clock(until))
}

/// The directory's answer to a login attempt.
pub(crate) fn login_done(inner: &Inner, badge: String, result: Result<SignInAnswer, StoreError>) {
    if let Some(w) = inner.window.upgrade() {
        w.global::<SessionAdapter>().set_busy(false);
    }
    let answer = match result {
        Ok(a) => a,
        Err(e) => {
            tracing::error!("user directory, sign-in of {badge}: {e}");
            return show_error(inner, Some(Message::new("login-failed")));
        }
    };
    let message = match answer {
        SignInAnswer::Welcome(user) => return start_session(inner, &user),
        SignInAnswer::Wrong { left } => {
            Message::with("login-wrong", vec![("left", Arg::from(left.to_string()))])
        }
        SignInAnswer::LockedNow { until } => {
            tracing::warn!(badge, "badge locked after failed sign-ins");
            let left = until.duration_since(SystemTime::now()).unwrap_or_default();
            inner
                .station
                .station_alarm_for(AlarmCode::LoginLocked.code(), left);
            Message::with("login-locked-now", vec![("time", until_text(until))])
        }
        SignInAnswer::Locked { until } => {
            Message::with("login-locked-until", vec![("time", until_text(until))])
        }
        SignInAnswer::Disabled => Message::new("login-disabled"),
    };
    show_error(inner, Some(message));
}

fn start_session(inner: &Inner, user: &UserRecord) {
    {
        let mut st = inner.state.borrow_mut();
        st.user = Some(SessionUser::from(user));
        st.lang = user.lang;
        st.last_activity = Instant::now();
        st.locked_by_idle = false;
        st.session.first_run = false;
        if st.shift.started_by_nobody() {
            st.shift.set_started_by(&user.name);
        }
    }
    if let Some(w) = inner.window.upgrade() {
        let s = w.global::<SessionAdapter>();
        s.set_badge("".into());
        s.set_error("".into());
        w.global::<AppAdapter>().set_page(Page::Production);
    }
    inner.refresh_all();
}

fn create_admin(inner: &Inner) {
    let Some(w) = inner.window.upgrade() else {
        return;
    };
    let s = w.global::<SessionAdapter>();
    let badge = s.get_badge().trim().to_string();
    let name = s.get_name().trim().to_string();
    let pin = s.get_pin().to_string();
    let again = s.get_pin_again().to_string();
    let problem = if badge.is_empty() || name.is_empty() {
        Some(Message::new("login-setup-badge-missing"))
    } else if let Err(p) = inner
        .opts
        .users
        .policy()
        .check_new_secret(Role::Admin, &pin)
    {
        Some(secret_problem(p))
    } else if pin != again {
        Some(Message::new("login-setup-mismatch"))
    } else {
        None
    };
    if problem.is_some() {
        return show_error(inner, problem);
    }
    let lang = inner.state.borrow().lang;
    let user = UserRecord {
        badge,
        name,
        role: Role::Admin,
        lang,
    };
    s.set_pin("".into());
    s.set_pin_again("".into());
    s.set_name("".into());
    add_in_background(inner, user, pin, true);
}

/// Adds `user` with `pin` on the blocking pool (the directory hashes the PIN); the
/// answer comes back as [`UiMsg::UserAdded`].
fn add_in_background(inner: &Inner, user: UserRecord, pin: String, first_admin: bool) {
    if let Some(w) = inner.window.upgrade() {
        w.global::<SessionAdapter>().set_busy(true);
    }
    let users = inner.opts.users.clone();
    let tx = inner.tx.clone();
    let by = (!first_admin).then(|| inner.actor()).flatten();
    inner.rt.spawn_blocking(move || {
        let result = users.add(user.clone(), &pin, by.as_ref());
        let _ = tx.send(UiMsg::UserAdded {
            user,
            first_admin,
            result,
        });
    });
}

/// The directory's answer to adding a user (the first administrator, or by an admin).
pub(crate) fn user_added(
    inner: &Inner,
    user: UserRecord,
    first_admin: bool,
    result: Result<(), StoreError>,
) {
    let Some(w) = inner.window.upgrade() else {
        return;
    };
    let s = w.global::<SessionAdapter>();
    s.set_busy(false);
    if first_admin {
        return match result {
            Ok(()) => start_session(inner, &user),
            Err(StoreError::WeakSecret(p)) => show_error(inner, Some(secret_problem(p))),
            Err(e) => show_error(
                inner,
                Some(Message::with(
                    "user-add-failed",
                    vec![("detail", e.to_string().into())],
                )),
            ),
        };
    }
    let t = inner.texts();
    let fail = |m: Message| s.set_add_message(m.text(t).into());
    match result {
        Ok(()) => {
            reload_users(inner);
            s.set_add_badge("".into());
            s.set_add_name("".into());
            s.set_add_pin("".into());
            s.set_add_message(
                Message::with(
                    "user-added",
                    vec![
                        ("name", Arg::from(user.name)),
                        ("role", Arg::key(format!("role-{}", user.role.name()))),
                    ],
                )
                .text(t)
                .into(),
            );
        }
        Err(StoreError::Conflict(_)) => fail(Message::with(
            "user-add-failed",
            vec![("detail", Arg::key("user-exists"))],
        )),
        Err(StoreError::WeakSecret(p)) => fail(secret_problem(p)),
        Err(e) => fail(Message::with(
            "user-add-failed",
            vec![("detail", Arg::from(e.to_string()))],
        )),
    }
}

/// Logs the user out; `idle`: because of the idle lock.
pub(crate) fn lock(inner: &Inner, idle: bool) {
    inner.audit(if idle {
        AuditEvent::IdleLock
    } else {
        AuditEvent::Logout
    });
    {
        let mut st = inner.state.borrow_mut();
        st.user = None;
        st.locked_by_idle = idle;
    }
    inner.refresh_all();
}

/// Switches the UI's language (remembered for the logged-in user).
pub(crate) fn set_language(inner: &Inner, lang: Lang) {
    let badge = {
        let mut st = inner.state.borrow_mut();
        st.lang = lang;
        st.user.as_ref().map(|u| u.badge.clone())
    };
    if let Some(badge) = badge {
        if let Err(e) = inner.opts.users.set_language(&badge, lang) {
            tracing::warn!("cannot remember the language of {badge}: {e}");
        }
    }
    inner.refresh_all();
}

fn add_user(inner: &Inner) {
    inner.touch();
    let Some(w) = inner.window.upgrade() else {
        return;
    };
    if !Permission::ManageUsers.allows_opt(inner.role()) {
        return;
    }
    let s = w.global::<SessionAdapter>();
    let badge = s.get_add_badge().trim().to_string();
    let name = s.get_add_name().trim().to_string();
    let pin = s.get_add_pin().to_string();
    let role = Role::PEOPLE
        .get(s.get_add_role().max(0) as usize)
        .copied()
        .unwrap_or(Role::Operator);
    let t = inner.texts();
    let fail = |m: Message| s.set_add_message(m.text(t).into());
    if badge.is_empty() || name.is_empty() {
        return fail(Message::new("login-setup-badge-missing"));
    }
    if let Err(p) = inner.opts.users.policy().check_new_secret(role, &pin) {
        return fail(secret_problem(p));
    }
    let lang = inner.state.borrow().lang;
    let record = UserRecord {
        badge,
        name,
        role,
        lang,
    };
    add_in_background(inner, record, pin, false);
}

/// Login page and user page texts.
pub(crate) fn refresh(inner: &Inner, w: &MainWindow) {
    let t = inner.texts();
    let st = inner.state.borrow();
    let s = w.global::<SessionAdapter>();
    s.set_first_run(st.session.first_run);
    s.set_locked_text(
        if st.locked_by_idle {
            t.ta(
                "login-locked",
                &[("min", inner.opts.auto_lock_mins.to_string())],
            )
        } else {
            String::new()
        }
        .into(),
    );
    s.set_lang_index(if st.lang == Lang::ZhCn { 1 } else { 0 });
    s.set_auto_lock_text(
        t.ta(
            "user-auto-lock",
            &[("min", inner.opts.auto_lock_mins.to_string())],
        )
        .into(),
    );
    s.set_is_admin(Permission::ManageUsers.allows_opt(st.user.as_ref().map(|u| u.role)));
    s.set_user_line(t.user_line(st.user.as_ref()).into());
    let policy = inner.opts.users.policy();
    s.set_secret_hint(
        t.ta(
            "user-secret-hint",
            &[
                ("pin", policy.pin_min.to_string()),
                ("password", policy.password_min.to_string()),
            ],
        )
        .into(),
    );
    let now = SystemTime::now();
    let items: Vec<UserItem> = st
        .session
        .users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let locked = u.locked_until.filter(|t| *t > now);
            let state = if u.disabled {
                t.t("user-state-disabled")
            } else if let Some(until) = locked {
                format!("{} {}", t.t("user-state-locked"), clock(until))
            } else {
                String::new()
            };
            UserItem {
                badge: u.user.badge.clone().into(),
                name: u.user.name.clone().into(),
                role: t.t(&format!("role-{}", u.user.role.name())).into(),
                abnormal: u.disabled || locked.is_some(),
                state: state.into(),
                selected: st.session.selected == Some(i),
            }
        })
        .collect();
    s.set_users(ModelRc::new(VecModel::from(items)));
    let editing = st.session.selected.and_then(|i| st.session.users.get(i));
    s.set_edit_title(
        match editing {
            Some(u) => t.ta(
                "user-edit-title",
                &[("name", format!("{} · {}", u.user.badge, u.user.name))],
            ),
            None => t.t("user-add-title"),
        }
        .into(),
    );
    s.set_selected(st.session.selected.map_or(-1, |i| i as i32));
    s.set_selected_disabled(
        st.session
            .selected
            .and_then(|i| st.session.users.get(i))
            .is_some_and(|u| u.disabled),
    );
}

/// Reads the administrator's list again (after a change, or when the user page opens).
pub(crate) fn reload_users(inner: &Inner) {
    if !Permission::ManageUsers.allows_opt(inner.role()) {
        return;
    }
    match inner.opts.users.list() {
        Ok(list) => {
            let mut st = inner.state.borrow_mut();
            let keep = st
                .session
                .selected
                .and_then(|i| st.session.users.get(i))
                .map(|u| u.user.badge.clone());
            st.session.selected = keep.and_then(|b| list.iter().position(|u| u.user.badge == b));
            st.session.users = list;
        }
        Err(e) => tracing::error!("user directory, list: {e}"),
    }
    if let Some(w) = inner.window.upgrade() {
        refresh(inner, &w);
    }
}

/// The selected user of the administrator's list.
fn selected(inner: &Inner) -> Option<UserRecord> {
    let st = inner.state.borrow();
    st.session
        .selected
        .and_then(|i| st.session.users.get(i))
        .map(|u| u.user.clone())
}

/// Applies an account change on the blocking pool (a new secret is hashed); the answer
/// comes back as [`UiMsg::UserChanged`].
fn change_in_background(inner: &Inner, change: AccountChange) {
    inner.touch();
    let (Some(by), Some(user), Some(w)) = (inner.actor(), selected(inner), inner.window.upgrade())
    else {
        return;
    };
    if !Permission::ManageUsers.allows(by.role) {
        return;
    }
    let s = w.global::<SessionAdapter>();
    if let AccountChange::Secret(secret) = &change {
        if let Err(p) = inner
            .opts
            .users
            .policy()
            .check_new_secret(user.role, secret)
        {
            return s.set_add_message(secret_problem(p).text(inner.texts()).into());
        }
    }
    s.set_busy(true);
    let users = inner.opts.users.clone();
    let tx = inner.tx.clone();
    inner.rt.spawn_blocking(move || {
        let result = users.change(&user.badge, change.clone(), &by);
        let _ = tx.send(UiMsg::UserChanged {
            user,
            change,
            result,
        });
    });
}

fn set_role(inner: &Inner) {
    let Some(w) = inner.window.upgrade() else {
        return;
    };
    let idx = w.global::<SessionAdapter>().get_add_role().max(0) as usize;
    let role = Role::PEOPLE.get(idx).copied().unwrap_or(Role::Operator);
    change_in_background(inner, AccountChange::Role(role));
}

fn reset_secret(inner: &Inner) {
    let Some(w) = inner.window.upgrade() else {
        return;
    };
    let s = w.global::<SessionAdapter>();
    let secret = s.get_add_pin().to_string();
    s.set_add_pin("".into());
    change_in_background(inner, AccountChange::Secret(secret));
}

fn toggle_disabled(inner: &Inner) {
    let disabled = {
        let st = inner.state.borrow();
        st.session
            .selected
            .and_then(|i| st.session.users.get(i))
            .is_some_and(|u| u.disabled)
    };
    change_in_background(inner, AccountChange::Disabled(!disabled));
}

/// The directory's answer to an account change.
pub(crate) fn user_changed(
    inner: &Inner,
    user: UserRecord,
    change: AccountChange,
    result: Result<(), StoreError>,
) {
    let Some(w) = inner.window.upgrade() else {
        return;
    };
    let s = w.global::<SessionAdapter>();
    s.set_busy(false);
    let t = inner.texts();
    let name = Arg::from(user.name.clone());
    let m = match result {
        Ok(()) => match change {
            AccountChange::Role(r) => Message::with(
                "user-role-changed",
                vec![
                    ("name", name),
                    ("role", Arg::key(format!("role-{}", r.name()))),
                ],
            ),
            AccountChange::Secret(_) => Message::with("user-secret-reset", vec![("name", name)]),
            AccountChange::Disabled(true) => Message::with("user-disabled", vec![("name", name)]),
            AccountChange::Disabled(false) => Message::with("user-enabled", vec![("name", name)]),
        },
        Err(StoreError::WeakSecret(p)) => secret_problem(p),
        Err(StoreError::LastAdmin) => Message::with(
            "user-change-failed",
            vec![("detail", Arg::key("user-last-admin"))],
        ),
        Err(e) => Message::with(
            "user-change-failed",
            vec![("detail", Arg::from(e.to_string()))],
        ),
    };
    s.set_add_message(m.text(t).into());
    reload_users(inner);
    inner.refresh_all();
}
