//! `SessionAdapter`: login by badge id + PIN, the first-run administrator, the idle
//! lock, the language per user, adding users.
//!
//! PINs are checked and hashed by the user directory (argon2id, tens of ms by design)
//! on the Tokio runtime's blocking pool, never on the UI thread; the answer comes back
//! as a [`UiMsg`] and is applied by [`login_done`] / [`user_added`].

use crate::app::{Inner, UiMsg};
use crate::store::{AuditEvent, Permission, Role, StoreError, UserRecord};
use crate::tr::{Arg, Message};
use crate::ui::{AppAdapter, MainWindow, Page, SessionAdapter};
use crate::users::{self, PIN_MIN_DIGITS, SessionUser};
use bonder_i18n::Lang;
use slint::ComponentHandle;
use std::rc::Rc;
use std::time::Instant;

/// Login page state.
#[derive(Debug)]
pub(crate) struct SessionState {
    /// No user exists yet.
    pub first_run: bool,
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
        let result = users.authenticate(&badge, &pin);
        let _ = tx.send(UiMsg::Login { badge, result });
    });
}

/// The directory's answer to a login attempt.
pub(crate) fn login_done(
    inner: &Inner,
    badge: String,
    result: Result<Option<UserRecord>, StoreError>,
) {
    if let Some(w) = inner.window.upgrade() {
        w.global::<SessionAdapter>().set_busy(false);
    }
    let found = result.unwrap_or_else(|e| {
        tracing::error!("user directory: {e}");
        None
    });
    match found {
        Some(user) => start_session(inner, &user),
        None => {
            inner.audit(AuditEvent::LoginFailed { badge });
            show_error(inner, Some(Message::new("login-failed")));
        }
    }
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
    inner.audit(AuditEvent::Login);
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
    } else if !users::pin_acceptable(&pin) {
        Some(Message::with(
            "login-setup-too-short",
            vec![("n", Arg::from(PIN_MIN_DIGITS.to_string()))],
        ))
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
    inner.rt.spawn_blocking(move || {
        let result = users.add(user.clone(), &pin);
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
            Ok(()) => {
                inner.audit(AuditEvent::AdminCreated {
                    badge: user.badge.clone(),
                });
                start_session(inner, &user);
            }
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
            inner.audit(AuditEvent::UserAdded {
                badge: user.badge.clone(),
                role: user.role,
            });
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
    if !users::pin_acceptable(&pin) {
        return fail(Message::with(
            "login-setup-too-short",
            vec![("n", Arg::from(PIN_MIN_DIGITS.to_string()))],
        ));
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
}
