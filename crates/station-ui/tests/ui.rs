//! The station UI through Slint's testing backend: navigation, roles, recipe edits,
//! alarm acknowledgement, language switch.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bonder_core::AlarmCode;
use bonder_i18n::{Lang, tr};
use bonder_station_ui::store::{AuditEvent, Permission, RecipeLibrary, Role, SignInAnswer};
use bonder_station_ui::{AlarmsAdapter, AppAdapter, Page, RecipesAdapter};
use common::{
    ENGINEER, OPERATOR, buttons, click, log_in, rig, rig_with_health, rig_with_window,
    visible_labels, wait_for, wait_ui,
};
use slint::{ComponentHandle, Model};
use std::collections::HashSet;
use std::time::Duration;

const NAV: [(&str, Page); 9] = [
    ("nav-production", Page::Production),
    ("nav-curves", Page::Curves),
    ("nav-alarms", Page::Alarms),
    ("nav-recipes", Page::Recipes),
    ("nav-shift", Page::Shift),
    ("nav-changeover", Page::Changeover),
    ("nav-camera", Page::Camera),
    ("nav-health", Page::Health),
    ("nav-user", Page::User),
];

#[test]
fn every_page_can_be_reached_after_login() {
    let rig = rig();
    let app = rig.ui.window();
    // Locked: the navigation is disabled and the login page shows.
    assert!(!app.global::<AppAdapter>().get_logged_in());
    assert!(!visible_labels(app).contains(&tr(Lang::EnUs, "recipes-versions")));
    log_in(&rig, ENGINEER);
    wait_for(&rig, |s| s.bonds_received > 20);
    // A text only that page shows.
    let marks = [
        "rejects-title",
        "curves-freeze",
        "alarms-history",
        "recipes-versions",
        "shift-notes",
        "co-start-title",
        "cam-teach-title",
        "health-charts",
        "user-logout",
    ];
    for ((key, page), mark) in NAV.into_iter().zip(marks) {
        click(app, &tr(Lang::EnUs, key));
        rig.ui.tick();
        assert_eq!(app.global::<AppAdapter>().get_page(), page, "{key}");
        assert!(
            visible_labels(app).contains(&tr(Lang::EnUs, mark)),
            "{key}: {mark} not shown"
        );
    }
}

#[test]
fn an_operator_cannot_change_a_recipe() {
    let rig = rig();
    let app = rig.ui.window();
    log_in(&rig, OPERATOR);
    click(app, &tr(Lang::EnUs, "nav-recipes"));
    click(app, &tr(Lang::EnUs, "param-ball-force_gf"));
    let r = app.global::<RecipesAdapter>();
    assert!(!r.get_edit_open(), "the edit dialog must not open");
    assert!(!r.get_can_edit() && !r.get_can_release());
    assert!(r.get_message_error());
    assert!(r.get_message().contains("Operator"), "{}", r.get_message());
    assert_eq!(rig.recipes.versions("SOT23-AU25").unwrap().len(), 1);
    assert!(rig.audit.entries().iter().any(|e| e.user == OPERATOR.0
        && e.role == Some(Role::Operator)
        && matches!(
            &e.event,
            AuditEvent::Refused {
                permission: Permission::EditRecipe,
                what
            } if what == "ball.force_gf"
        )));
}

#[test]
fn an_engineer_edit_out_of_range_is_refused_and_in_range_saves_a_new_version() {
    let rig = rig();
    let app = rig.ui.window();
    log_in(&rig, ENGINEER);
    click(app, &tr(Lang::EnUs, "nav-recipes"));
    click(app, &tr(Lang::EnUs, "param-ball-force_gf"));
    let r = app.global::<RecipesAdapter>();
    assert!(r.get_edit_open());
    assert_eq!(r.get_edit_value(), "30.0");
    // Typed on the keypad: 999 gf is outside 5..150 gf.
    click(app, &tr(Lang::EnUs, "keypad-clear"));
    for key in ["9", "9", "9"] {
        click(app, key);
    }
    assert_eq!(r.get_edit_value(), "999");
    r.set_edit_reason("stitch lift on lot 4711".into());
    click(app, &tr(Lang::EnUs, "recipes-save"));
    assert!(r.get_edit_open());
    assert_eq!(
        r.get_edit_error(),
        "999.0 is outside the allowed range 5.0 to 150.0 gf"
    );
    assert_eq!(rig.recipes.versions("SOT23-AU25").unwrap().len(), 1);

    // In range but no reason: refused too.
    click(app, &tr(Lang::EnUs, "keypad-delete"));
    click(app, &tr(Lang::EnUs, "keypad-delete"));
    click(app, "5");
    assert_eq!(r.get_edit_value(), "95");
    r.set_edit_reason("  ".into());
    click(app, &tr(Lang::EnUs, "recipes-save"));
    assert_eq!(
        r.get_edit_error(),
        tr(Lang::EnUs, "recipes-reason-required")
    );

    // In range with a reason: a new draft version.
    r.set_edit_reason("stitch lift on lot 4711".into());
    click(app, &tr(Lang::EnUs, "recipes-save"));
    assert!(!r.get_edit_open(), "{}", r.get_edit_error());
    let versions = rig.recipes.versions("SOT23-AU25").unwrap();
    assert_eq!(versions.len(), 2);
    let new = &versions[0];
    assert_eq!(new.recipe.version, 8);
    assert_eq!(new.recipe.ball.force_gf.0, 95.0);
    assert_eq!(new.recipe.state, bonder_core::recipe::RecipeState::Draft);
    assert_eq!(
        (new.saved_by.as_str(), new.reason.as_str()),
        (ENGINEER.0, "stitch lift on lot 4711")
    );
    assert_eq!(r.get_message(), "Saved as SOT23-AU25@8 (draft)");
    assert_eq!(r.get_versions().row_count(), 2);
    // The engineer may release the draft.
    assert!(r.get_can_release());
    click(app, &tr(Lang::EnUs, "recipes-release"));
    assert_eq!(
        rig.recipes.get("SOT23-AU25", 8).unwrap().recipe.state,
        bonder_core::recipe::RecipeState::Released
    );
}

#[test]
fn an_alarm_is_acknowledged_by_the_logged_in_user() {
    let rig = rig();
    let app = rig.ui.window();
    log_in(&rig, OPERATOR);
    rig.sim.raise_alarm(AlarmCode::WireBroken);
    wait_for(&rig, |s| s.active_alarms.contains(&104));
    // The banner shows on every page.
    assert!(app.global::<AppAdapter>().get_alarm_active());
    assert!(
        app.global::<AppAdapter>()
            .get_alarm_banner()
            .contains("Wire broken")
    );
    click(app, &tr(Lang::EnUs, "alarm-open"));
    assert_eq!(app.global::<AppAdapter>().get_page(), Page::Alarms);
    let a = app.global::<AlarmsAdapter>();
    let row = a.get_active().row_data(0).unwrap();
    assert_eq!(row.code, 104);
    assert!(!row.acknowledged);
    assert!(row.action.contains("Re-thread"));
    click(app, &tr(Lang::EnUs, "alarm-ack"));
    let row = a.get_active().row_data(0).unwrap();
    assert!(row.acknowledged);
    assert!(
        row.ack_text.starts_with("Acknowledged by Wang Fang"),
        "{}",
        row.ack_text
    );
    assert!(
        rig.audit
            .entries()
            .iter()
            .any(|e| e.event.name() == "alarm.ack" && e.user == OPERATOR.0)
    );
}

/// en-US texts that zh-CN translates differently (units, symbols and names such as
/// "English" are the same in both and do not count).
fn english_only_texts() -> HashSet<String> {
    bonder_i18n::keys(Lang::EnUs)
        .iter()
        .filter(|k| !k.contains("lang-"))
        .filter_map(|k| {
            let en = tr(Lang::EnUs, k);
            (en != tr(Lang::ZhCn, k) && en.chars().any(|c| c.is_ascii_alphabetic())).then_some(en)
        })
        .collect()
}

#[test]
fn a_zh_cn_page_has_no_english_left() {
    let rig = rig();
    let app = rig.ui.window();
    log_in(&rig, ENGINEER);
    wait_for(&rig, |s| s.bonds_received > 20);
    click(app, &tr(Lang::EnUs, "lang-switch"));
    assert_eq!(rig.ui.lang(), Lang::ZhCn);
    let english = english_only_texts();
    for (key, _) in NAV {
        click(app, &tr(Lang::ZhCn, key));
        rig.ui.refresh_now();
        let labels = visible_labels(app);
        assert!(labels.len() > 10, "{key}: {labels:?}");
        assert!(labels.contains(&tr(Lang::ZhCn, key)), "{key}: {labels:?}");
        for label in &labels {
            assert!(
                !english.contains(label),
                "{key}: English text left: {label:?}"
            );
            // Nor an English phrase inside a formatted text.
            for e in english.iter().filter(|e| e.len() >= 12) {
                assert!(!label.contains(e.as_str()), "{key}: {e:?} inside {label:?}");
            }
        }
    }
    // The language is remembered for the user.
    click(app, &tr(Lang::ZhCn, "user-logout"));
    log_in(&rig, ENGINEER);
    assert_eq!(rig.ui.lang(), Lang::ZhCn);
}

#[test]
fn a_wrong_pin_is_refused() {
    let rig = rig();
    let app = rig.ui.window();
    let s = app.global::<bonder_station_ui::SessionAdapter>();
    s.set_badge(ENGINEER.0.into());
    s.set_pin("999999".into());
    click(app, &tr(Lang::EnUs, "login-button"));
    assert!(wait_ui(&rig, Duration::from_secs(10), || !s
        .get_error()
        .is_empty()));
    assert!(!app.global::<AppAdapter>().get_logged_in());
    assert_eq!(
        s.get_error(),
        bonder_i18n::tr_args(Lang::EnUs, "login-wrong", &[("left", "4".into())])
    );
    // An unknown badge is refused the same way, through the same path.
    s.set_error("".into());
    s.set_badge("no-such-badge".into());
    s.set_pin("111111".into());
    click(app, &tr(Lang::EnUs, "login-button"));
    assert!(wait_ui(&rig, Duration::from_secs(10), || !s
        .get_error()
        .is_empty()));
    assert_eq!(
        rig.users.attempts_of("no-such-badge"),
        vec![SignInAnswer::Wrong { left: 4 }]
    );
    assert!(!app.global::<AppAdapter>().get_logged_in());
    assert!(buttons(app, &tr(Lang::EnUs, "nav-recipes"))[0].accessible_enabled() == Some(false));
}

#[test]
fn the_on_screen_keyboard_types_handover_notes() {
    let rig = rig();
    let app = rig.ui.window();
    log_in(&rig, OPERATOR);
    click(app, &tr(Lang::EnUs, "nav-shift"));
    // Hidden until asked for.
    assert!(buttons(app, "q").is_empty());
    click(app, &tr(Lang::EnUs, "keyboard-toggle"));
    for key in ["o", "k", "1"] {
        click(app, key);
    }
    click(app, &tr(Lang::EnUs, "keyboard-space"));
    click(app, &tr(Lang::EnUs, "keyboard-shift"));
    click(app, "A");
    click(app, &tr(Lang::EnUs, "keypad-delete"));
    click(app, "B");
    let notes = app
        .global::<bonder_station_ui::ShiftAdapter>()
        .get_notes()
        .to_string();
    assert_eq!(notes, "ok1 B");
}

/// The store failing interlocks production: alarm 902 on the banner, the machine stopped,
/// Start off; all back when the interlock is lifted.
#[test]
fn an_interlock_turns_start_off_and_902_shows_on_the_banner() {
    let rig = rig();
    let app = rig.ui.window();
    log_in(&rig, OPERATOR);
    let p = app.global::<bonder_station_ui::ProductionAdapter>();
    rig.station.station_alarm(902, true);
    rig.station
        .set_interlock(Some("data storage failing (alarm 902): test".into()));
    wait_for(&rig, |s| {
        s.machine_state == Some(bonder_core::MachineState::Idle) && s.interlock.is_some()
    });
    assert!(
        wait_ui(&rig, Duration::from_secs(5), || {
            app.global::<AppAdapter>()
                .get_alarm_banner()
                .contains("Data storage failing")
        }),
        "902 on the banner: {}",
        app.global::<AppAdapter>().get_alarm_banner()
    );
    assert!(!p.get_can_start(), "start is off while interlocked");
    rig.station.set_interlock(None);
    rig.station.station_alarm(902, false);
    assert!(
        wait_ui(&rig, Duration::from_secs(5), || p.get_can_start()),
        "start is on again"
    );
}

/// The Process health page over a real monitor that saw a generator fail (the bond model
/// with the station's feature extraction, `bondersim::observed`): the warning with its
/// first cause, the US energy chart beyond its limit (and only it coloured), the
/// forecasts and predicted against tested strength; in Chinese as well.
#[test]
fn the_health_page_shows_a_drift_with_its_ranked_cause() {
    use bonder_core::health::{HealthConfig, Monitor};
    use bonder_station_ui::{HealthAdapter, HealthPanel, HealthTrend, TestedStrength};
    let recipe = bonder_core::Recipe::default_au();
    let mut sim = bondersim::observed::Observed::new(
        &recipe,
        vec!["us-drift:start=10000,pct_per_100k=8".parse().unwrap()],
        1_000_000,
        3,
        10_000,
    )
    .unwrap();
    let mut m = Monitor::new(HealthConfig::new(12.0, 3.0, 1_000_000));
    let mut trends: Vec<HealthTrend> = Vec::new();
    let mut last = None;
    for i in 0..60_000u64 {
        let (obs, _) = sim.next_wire();
        m.push(&obs);
        last = Some(obs);
        if i % 1000 == 999 && m.baselined() {
            let charts = m.charts();
            trends.resize_with(charts.len(), || HealthTrend {
                signal: "",
                history: Vec::new(),
            });
            for (t, (s, z, l)) in trends.iter_mut().zip(charts) {
                t.signal = s.name();
                t.history.push(z / l);
            }
        }
    }
    let last = last.unwrap();
    let panel = HealthPanel {
        wires: m.wires(),
        baseline_wires: m.baseline_wires(),
        baselined: m.baselined(),
        charts: trends,
        warnings: m.active(),
        capillary_left: m.capillary_eta,
        capillary_forecast: m.capillary_forecast_due(),
        yield_eta: m.yield_eta,
        yield_limit_pct: 98.0,
        shear: last.shear,
        pull: last.pull,
        tested: TestedStrength {
            shear_gf: Some(21.4),
            pull_gf: Some(7.9),
            results: 40,
        },
    };
    assert!(!panel.warnings.is_empty(), "the monitor warned: {panel:?}");
    let rig = rig_with_health(bonder_station_ui::ProcessHealth::new(move || panel.clone()));
    let app = rig.ui.window();
    log_in(&rig, OPERATOR);
    click(app, &tr(Lang::EnUs, "nav-health"));
    rig.ui.refresh_now();
    let h = app.global::<HealthAdapter>();
    let w = h.get_warnings();
    assert_eq!(w.row_count(), 1);
    let first = w.row_data(0).unwrap();
    assert!(
        first.title.contains("ball US energy") && first.title.contains("the ultrasonic output"),
        "{}",
        first.title
    );
    let charts: Vec<_> = h.get_charts().iter().collect();
    assert_eq!(charts.len(), 9);
    let out: Vec<_> = charts
        .iter()
        .filter(|c| c.out)
        .map(|c| c.label.to_string())
        .collect();
    assert!(out.contains(&"ball US energy".to_string()), "{out:?}");
    assert!(charts.iter().all(|c| c.path.starts_with("M ")));
    let labels = visible_labels(app);
    assert!(
        labels
            .iter()
            .any(|l| l.contains("21.4") && l.contains("7.9")),
        "{labels:?}"
    );
    // In Chinese: the same warning, no English left on the page.
    click(app, &tr(Lang::EnUs, "lang-switch"));
    rig.ui.refresh_now();
    let first = h.get_warnings().row_data(0).unwrap();
    assert!(first.title.contains("超声输出"), "{}", first.title);
    let english = english_only_texts();
    for label in visible_labels(app) {
        assert!(!english.contains(&label), "English text left: {label:?}");
    }
}

/// The Process window page, reached from the recipes page: a session part-way through
/// (progress bar, its runs on the slice, filled in spec and hollow out, the estimate's
/// box) and the recommendation; in Chinese as well.
#[test]
fn the_process_window_page_shows_progress_points_and_the_recommendation() {
    use bonder_station_ui::{WindowAdapter, WindowEstimateView, WindowPanel, WindowSearchView};
    let panel = WindowPanel {
        session: 4,
        wire: "Au:25.4".into(),
        method: "bo".into(),
        by: "EN1".into(),
        state: "open".into(),
        units_used: 50,
        budget_units: 200,
        wires_used: 104,
        runs: 12,
        budget_runs: 50,
        params: vec![
            ("ball.us_power_pct".into(), [30.0, 100.0]),
            ("ball.force_gf".into(), [15.0, 70.0]),
        ],
        points: vec![
            (vec![0.2, 0.5], true),
            (vec![0.9, 0.1], false),
            (vec![0.25, 0.6], true),
        ],
        estimate: Some(WindowEstimateView {
            centre_unit: vec![0.2, 0.55],
            box_unit: vec![[0.1, 0.3], [0.3, 0.8]],
            centre: vec![44.0, 45.25],
            bbox: vec![[37.0, 51.0], [31.5, 59.0]],
            margin: 0.21,
            cpk: [Some(1.9), Some(1.4), None],
        }),
        draft: None,
    };
    let rig = rig_with_window(WindowSearchView::new(move || Some(panel.clone())));
    let app = rig.ui.window();
    log_in(&rig, OPERATOR);
    click(app, &tr(Lang::EnUs, "nav-recipes"));
    click(app, &tr(Lang::EnUs, "window-open"));
    rig.ui.refresh_now();
    assert_eq!(app.global::<AppAdapter>().get_page(), Page::Window);
    let a = app.global::<WindowAdapter>();
    assert!(a.get_has_session() && a.get_has_estimate());
    assert!((a.get_progress() - 0.25).abs() < 1e-6);
    let points: Vec<_> = a.get_points().iter().collect();
    assert_eq!(points.len(), 3);
    assert_eq!(points.iter().filter(|p| p.in_spec).count(), 2);
    assert!((a.get_box_y1() - 0.8).abs() < 1e-6);
    let params: Vec<_> = a.get_params().iter().collect();
    assert_eq!(params.len(), 2);
    assert_eq!(params[0].centre, "44");
    assert_eq!(params[1].range, "32 – 59");
    let labels = visible_labels(app);
    for want in [
        "50 of 200 test units used (104 wires)",
        "Running: run 12 of 50",
        "Predicted Cpk: shear 1.90 · pull 1.40 · ball –",
    ] {
        assert!(
            labels.iter().any(|l| l == want),
            "{want:?} not in {labels:?}"
        );
    }
    // In Chinese: no English left on the page but the parameter keys.
    click(app, &tr(Lang::EnUs, "lang-switch"));
    rig.ui.refresh_now();
    let labels = visible_labels(app);
    assert!(
        labels.iter().any(|l| l.contains("已用测试单元 50 / 200")),
        "{labels:?}"
    );
    let english = english_only_texts();
    for label in labels {
        assert!(!english.contains(&label), "English text left: {label:?}");
    }
    // Back to the recipes.
    click(app, &tr(Lang::ZhCn, "window-back"));
    assert_eq!(app.global::<AppAdapter>().get_page(), Page::Recipes);
}
