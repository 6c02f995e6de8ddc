//! Sign-in and account administration through the real touch UI (Slint's testing
//! backend) over the station's real SQLite store, as the station wires them: the
//! lockout after five failures with alarm 905, the unlock after the time, an unknown
//! badge on the same path, a disabled account refused, and every outcome in the
//! hash-chained audit trail.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use bonder_core::AlarmCode;
use bonder_core::login::LoginPolicy;
use bonder_core::recipe::Recipe;
use bonder_i18n::{Lang, tr, tr_args};
use bonder_runtime::{RuntimeConfig, Station};
use bonder_station_ui::store::{SignInAnswer, UserDirectory};
use bonder_station_ui::{AppAdapter, MainWindow, Page, SessionAdapter, StationUi, UiOptions};
use bonder_store::{NewUser, Role, Store};
use bondersim::{SimConfig, Simulator};
use i_slint_backend_testing::{AccessibleRole, ElementHandle};
use slint::{ComponentHandle, Model};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ADMIN: (&str, &str) = ("A1", "admin-password-1");
const OPERATOR: (&str, &str) = ("OP7", "246813");

/// A short lock so the test sees it end (the configured minimum is 5 minutes).
fn test_policy() -> LoginPolicy {
    LoginPolicy {
        lockout_ms: 2_000,
        ..LoginPolicy::default()
    }
}

struct Rig {
    ui: StationUi,
    station: Arc<Station>,
    store: Arc<Store>,
    users: Arc<dyn UserDirectory>,
    _sim: Simulator,
    rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

fn rig() -> Rig {
    i_slint_backend_testing::init_no_event_loop();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sim = rt
        .block_on(Simulator::start(SimConfig {
            autostart: false,
            ..SimConfig::default()
        }))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path().join("station.sqlite")).unwrap());
    let policy = test_policy();
    store
        .create_user(
            &NewUser {
                badge: ADMIN.0.into(),
                name: "Zhao Min".into(),
                role: Role::Admin,
                lang: "en-US".into(),
            },
            ADMIN.1,
            &policy,
            None,
        )
        .unwrap();
    let by = bonder_store::Actor::new(ADMIN.0, Role::Admin);
    store
        .create_user(
            &NewUser {
                badge: OPERATOR.0.into(),
                name: "Wang Fang".into(),
                role: Role::Operator,
                lang: "en-US".into(),
            },
            OPERATOR.1,
            &policy,
            Some(&by),
        )
        .unwrap();
    let writer = {
        let _g = rt.enter();
        store
            .spawn_writer(bonder_store::WriterConfig::default())
            .unwrap()
    };
    let station = {
        let _g = rt.enter();
        Arc::new(Station::start(RuntimeConfig::new(sim.modbus_addr)))
    };
    let stores = bonder_station::wiring::ui_stores_over(
        &store,
        &writer,
        &Arc::new(std::sync::atomic::AtomicI64::new(1)),
        policy,
        rt.handle(),
    );
    let users = stores.users.clone();
    let opts = UiOptions::new(Recipe::default_au(), stores);
    let ui = StationUi::new(station.clone(), rt.handle().clone(), opts).unwrap();
    ui.window().show().unwrap();
    Rig {
        ui,
        station,
        store,
        users,
        _sim: sim,
        rt,
        _dir: dir,
    }
}

fn buttons(app: &MainWindow, label: &str) -> Vec<ElementHandle> {
    ElementHandle::find_by_accessible_label(app, label)
        .filter(|e| e.accessible_role() == Some(AccessibleRole::Button))
        .collect()
}

fn click(app: &MainWindow, label: &str) {
    let found = buttons(app, label);
    assert!(!found.is_empty(), "no button labelled {label:?}");
    found[0].invoke_accessible_default_action();
}

/// Beats the UI until `done` holds or `within` passes; whether it held.
fn wait_ui(rig: &Rig, within: Duration, done: impl Fn() -> bool) -> bool {
    let end = Instant::now() + within;
    loop {
        rig.ui.refresh_now();
        if done() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// One attempt through the login page; the error it shows ("" when signed in).
fn attempt(rig: &Rig, badge: &str, secret: &str) -> String {
    let app = rig.ui.window();
    let s = app.global::<SessionAdapter>();
    s.set_error("".into());
    s.set_badge(badge.into());
    s.set_pin(secret.into());
    click(app, &tr(rig.ui.lang(), "login-button"));
    assert!(
        wait_ui(rig, Duration::from_secs(10), || {
            app.global::<AppAdapter>().get_logged_in() || !s.get_error().is_empty()
        }),
        "no answer to the sign-in of {badge}"
    );
    s.get_error().to_string()
}

fn audit(rig: &Rig) -> Vec<bonder_store::AuditEntry> {
    rig.store.reader().unwrap().audit(0, 10_000).unwrap()
}

fn alarm_905(rig: &Rig) -> bool {
    rig.station
        .snapshot()
        .active_alarms
        .contains(&AlarmCode::LoginLocked.code())
}

#[test]
fn five_failures_lock_the_badge_raise_905_and_the_lock_ends() {
    let rig = rig();
    let before = audit(&rig).len();
    for left in (1..=4).rev() {
        let e = attempt(&rig, OPERATOR.0, "000000");
        assert_eq!(
            e,
            tr_args(Lang::EnUs, "login-wrong", &[("left", left.to_string())])
        );
    }
    let e = attempt(&rig, OPERATOR.0, "000000");
    // The message with the lock's end (a local clock time, HH:MM:SS).
    let mark = "\u{1}";
    let locked_now = tr_args(Lang::EnUs, "login-locked-now", &[("time", mark.into())]);
    let (head, tail) = locked_now.split_once(mark).unwrap();
    assert!(
        e.starts_with(head) && e.ends_with(tail) && e.len() == head.len() + 8 + tail.len(),
        "{e:?} vs {locked_now:?}"
    );
    assert!(alarm_905(&rig), "alarm 905 raised with the lock");
    // Locked: even the right PIN is refused, and nobody is signed in.
    let e = attempt(&rig, OPERATOR.0, OPERATOR.1);
    let locked = tr_args(Lang::EnUs, "login-locked-until", &[("time", mark.into())]);
    assert!(e.starts_with(locked.split_once(mark).unwrap().0), "{e:?}");
    assert!(!rig.ui.window().global::<AppAdapter>().get_logged_in());

    // The lock ends with its time; so does the alarm.
    assert!(
        wait_ui(&rig, Duration::from_secs(10), || !alarm_905(&rig)),
        "alarm 905 clears when the lock ends"
    );
    assert_eq!(attempt(&rig, OPERATOR.0, OPERATOR.1), "");
    assert!(rig.ui.window().global::<AppAdapter>().get_logged_in());

    // Every outcome is in the trail, in order, and the chain verifies.
    let rows: Vec<_> = audit(&rig).into_iter().skip(before).collect();
    let actions: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "refused", "refused", "refused", "refused", "lockout", "refused", "login"
        ],
        "{rows:#?}"
    );
    assert!(rows[4].reason.as_deref().unwrap().contains("locked until"));
    assert!(rows[5].reason.as_deref().unwrap().contains("locked until"));
    assert!(rows.iter().all(|r| r.object.ends_with(OPERATOR.0)));
    assert_eq!(rows[6].role, "operator");
    assert!(
        rows[..6].iter().all(|r| r.role == "none"),
        "refusals act as nobody"
    );
    assert!(
        rows.iter()
            .all(|r| r.new_value.as_deref() == Some(r#"{"via":"panel"}"#))
    );
    Store::verify_audit(rig.store.path()).unwrap();
    rig.rt.block_on(rig.station.shutdown());
}

#[test]
fn an_unknown_badge_takes_the_same_path_and_locks_the_same_way() {
    let rig = rig();
    for left in (1..=4).rev() {
        assert_eq!(
            rig.users.sign_in("nobody", "000000").unwrap(),
            SignInAnswer::Wrong { left }
        );
    }
    assert!(matches!(
        rig.users.sign_in("nobody", "000000").unwrap(),
        SignInAnswer::LockedNow { .. }
    ));
    assert!(matches!(
        rig.users.sign_in("nobody", "000000").unwrap(),
        SignInAnswer::Locked { .. }
    ));
    // The same cost: an argon2 verification either way (against a dummy hash for an
    // unknown badge). Medians of a few attempts, compared loosely: a stopwatch must
    // not tell them apart by a factor, which a skipped verification would give (µs vs
    // tens of ms).
    let median = |badge: &str| {
        let mut t: Vec<Duration> = (0..5)
            .map(|_| {
                let start = Instant::now();
                let _ = rig.users.sign_in(badge, "000000").unwrap();
                start.elapsed()
            })
            .collect();
        t.sort();
        t[2]
    };
    let (known, unknown) = (median(ADMIN.0), median("nobody-else"));
    println!("sign-in, wrong secret: known badge {known:?}, unknown badge {unknown:?}");
    let ratio = unknown.as_secs_f64() / known.as_secs_f64();
    assert!((0.33..3.0).contains(&ratio), "{known:?} vs {unknown:?}");
    rig.rt.block_on(rig.station.shutdown());
}

#[test]
fn an_administrator_disables_a_user_on_the_user_page() {
    let rig = rig();
    let app = rig.ui.window();
    assert_eq!(attempt(&rig, ADMIN.0, ADMIN.1), "");
    rig.ui.show_page(Page::User);
    rig.ui.refresh_now();
    let s = app.global::<SessionAdapter>();
    let listed: Vec<String> = s.get_users().iter().map(|u| u.badge.to_string()).collect();
    assert_eq!(listed, [ADMIN.0, OPERATOR.0]);
    // Select the operator, disable them.
    ElementHandle::find_by_accessible_label(app, &format!("{} Wang Fang", OPERATOR.0))
        .next()
        .expect("the operator's row")
        .invoke_accessible_default_action();
    rig.ui.refresh_now();
    assert_eq!(s.get_selected(), 1);
    click(app, &tr(Lang::EnUs, "user-disable"));
    assert!(wait_ui(&rig, Duration::from_secs(10), || s
        .get_users()
        .row_data(1)
        .is_some_and(|u| u.abnormal)));
    assert!(rig.store.find_user(OPERATOR.0).unwrap().unwrap().disabled);
    // The last administrator cannot disable themselves.
    ElementHandle::find_by_accessible_label(app, &format!("{} Zhao Min", ADMIN.0))
        .next()
        .unwrap()
        .invoke_accessible_default_action();
    rig.ui.refresh_now();
    click(app, &tr(Lang::EnUs, "user-disable"));
    assert!(wait_ui(&rig, Duration::from_secs(10), || s
        .get_add_message()
        .contains(&tr(Lang::EnUs, "user-last-admin"))));
    assert!(!rig.store.find_user(ADMIN.0).unwrap().unwrap().disabled);
    // The disabled operator is refused with the right PIN, and told why.
    click(app, &tr(Lang::EnUs, "user-logout"));
    assert_eq!(
        attempt(&rig, OPERATOR.0, OPERATOR.1),
        tr(Lang::EnUs, "login-disabled")
    );
    let rows = audit(&rig);
    assert!(
        rows.iter().any(|r| r.action == "modify"
            && r.object == format!("user:{}#disable", OPERATOR.0)
            && r.user == ADMIN.0
            && r.new_value.as_deref() == Some("disabled")),
        "{rows:#?}"
    );
    assert!(
        rows.iter()
            .any(|r| r.action == "refused" && r.reason.as_deref() == Some("disabled"))
    );
    rig.rt.block_on(rig.station.shutdown());
}
