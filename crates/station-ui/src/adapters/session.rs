//! `SessionAdapter`: login by badge id + PIN (argon2), the first-run administrator, the
//! idle lock, the language per user, adding users.

use crate::app::Inner;
use crate::store::{Role, UserRecord};
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
    let found = inner.opts.users.find(&badge).unwrap_or_else(|e| {
        tracing::error!("user directory: {e}");
        None
    });
    match found.filter(|u| users::verify_pin(&pin, &u.pin_hash)) {
        Some(user) => start_session(inner, &user),
        None => {
            inner.audit("login.failed", format!("badge {badge}"));
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
    inner.audit("login", format!("role {}", user.role.name()));
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
    let user = match users::hash_pin(&pin, &inner.opts.pin_params) {
        Ok(pin_hash) => UserRecord {
            badge,
            name,
            role: Role::Admin,
            pin_hash,
            lang,
        },
        Err(e) => {
            tracing::error!("cannot hash the PIN: {e}");
            return;
        }
    };
    s.set_pin("".into());
    s.set_pin_again("".into());
    s.set_name("".into());
    match inner.opts.users.add(user.clone()) {
        Ok(()) => {
            inner.audit("user.create-admin", user.badge.clone());
            start_session(inner, &user);
        }
        Err(e) => show_error(
            inner,
            Some(Message::with(
                "user-add-failed",
                vec![("detail", e.to_string().into())],
            )),
        ),
    }
}

/// Logs the user out; `idle`: because of the idle lock.
pub(crate) fn lock(inner: &Inner, idle: bool) {
    inner.audit(if idle { "lock.idle" } else { "logout" }, String::new());
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
    if !inner.role().is_some_and(Role::can_manage_users) {
        return;
    }
    let s = w.global::<SessionAdapter>();
    let badge = s.get_add_badge().trim().to_string();
    let name = s.get_add_name().trim().to_string();
    let pin = s.get_add_pin().to_string();
    let role = Role::ALL
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
    let pin_hash = match users::hash_pin(&pin, &inner.opts.pin_params) {
        Ok(h) => h,
        Err(e) => {
            tracing::error!("cannot hash the PIN: {e}");
            return;
        }
    };
    let lang = inner.state.borrow().lang;
    let record = UserRecord {
        badge: badge.clone(),
        name: name.clone(),
        role,
        pin_hash,
        lang,
    };
    match inner.opts.users.add(record) {
        Ok(()) => {
            inner.audit("user.add", format!("{badge} as {}", role.name()));
            s.set_add_badge("".into());
            s.set_add_name("".into());
            s.set_add_pin("".into());
            s.set_add_message(
                Message::with(
                    "user-added",
                    vec![
                        ("name", Arg::from(name)),
                        ("role", Arg::key(format!("role-{}", role.name()))),
                    ],
                )
                .text(t)
                .into(),
            );
        }
        Err(crate::store::StoreError::Conflict(_)) => fail(Message::with(
            "user-add-failed",
            vec![("detail", Arg::key("user-exists"))],
        )),
        Err(e) => fail(Message::with(
            "user-add-failed",
            vec![("detail", Arg::from(e.to_string()))],
        )),
    }
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
    s.set_is_admin(st.user.as_ref().is_some_and(|u| u.role.can_manage_users()));
    s.set_user_line(t.user_line(st.user.as_ref()).into());
}
