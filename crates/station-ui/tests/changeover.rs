//! The changeover wizard through Slint's testing backend, against bondersim and a real
//! SQLite store: every step driven by its buttons and fields, a wrong spool and a failing
//! pull refused on screen, sign-off refused to an operator and done by an engineer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bonder_changeover::model::{KIT, Step};
use bonder_core::recipe::Recipe;
use bonder_i18n::{Lang, tr};
use bonder_station_ui::{AppAdapter, ChangeoverAdapter, Page};
use common::{ENGINEER, OPERATOR, Rig, click, log_in, rig};
use slint::ComponentHandle;
use std::time::{Duration, Instant};

/// Ticks the UI until the wizard's background action has finished.
fn settle_ui(rig: &Rig) {
    let a = rig.ui.window().global::<ChangeoverAdapter>();
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        std::thread::sleep(Duration::from_millis(20));
        rig.ui.refresh_now();
        if !a.get_busy() {
            return;
        }
        assert!(Instant::now() < end, "the wizard stayed busy");
    }
}

fn step(rig: &Rig) -> Option<Step> {
    rig.changeover.view().and_then(|v| v.changeover.step)
}

fn next(rig: &Rig, key: &str) {
    click(rig.ui.window(), &tr(Lang::EnUs, key));
    settle_ui(rig);
}

#[test]
fn a_changeover_driven_through_the_wizard_page() {
    let rig = rig();
    let app = rig.ui.window();
    let a = app.global::<ChangeoverAdapter>();
    log_in(&rig, ENGINEER);
    click(app, &tr(Lang::EnUs, "nav-changeover"));
    rig.ui.refresh_now();
    assert_eq!(app.global::<AppAdapter>().get_page(), Page::Changeover);
    assert!(!a.get_open());
    // Step 1: the released Cu version is offered; choosing it shows what changes.
    click(app, "SOT23-CU20@1");
    settle_ui(&rig);
    assert!(a.get_open());
    assert_eq!(step(&rig), Some(Step::Select));
    assert!(
        common::visible_labels(app).contains(&tr(Lang::EnUs, "param-wire-material")),
        "the diff lists the wire material"
    );
    next(&rig, "co-next");
    // Step 2: the action waits for the strip confirmation.
    assert_eq!(step(&rig), Some(Step::Setup));
    assert!(!a.get_action_enabled());
    click(app, &tr(Lang::EnUs, "co-strip-out"));
    rig.ui.refresh_now();
    assert!(a.get_action_enabled());
    next(&rig, "co-next");
    assert_eq!(step(&rig), Some(Step::Materials));
    // Step 3: a gold spool on the copper recipe is refused with the reason on screen.
    let cu = Recipe::default_cu();
    a.set_scan_text("WS:Au:25.4:L1".into());
    a.invoke_scan();
    settle_ui(&rig);
    assert_eq!(a.get_message_level(), 2);
    assert!(
        a.get_message().contains("Wrong wire"),
        "{}",
        a.get_message()
    );
    for label in [
        format!("WS:Cu:{}:L2", cu.wire.diameter_um.0),
        format!("CAP:{}:C1", cu.capillary),
        format!("LF:{}:F1", cu.device),
    ] {
        a.set_scan_text(label.into());
        a.invoke_scan();
        settle_ui(&rig);
    }
    assert!(a.get_action_enabled(), "{}", a.get_message());
    next(&rig, "co-next");
    // Step 4: tick every kit item (checkboxes on the page).
    assert_eq!(step(&rig), Some(Step::Kit));
    for (i, _) in KIT.iter().enumerate() {
        a.invoke_toggle_item(i as i32);
        settle_ui(&rig);
    }
    next(&rig, "co-next");
    // Steps 5–7.
    assert_eq!(step(&rig), Some(Step::Download));
    next(&rig, "co-download");
    assert_eq!(step(&rig), Some(Step::Settle), "{}", a.get_message());
    next(&rig, "co-settle");
    assert_eq!(step(&rig), Some(Step::PrTeach), "{}", a.get_message());
    next(&rig, "co-pr-confirm");
    // Step 8: bond a unit; a failing pull is refused on screen.
    assert_eq!(step(&rig), Some(Step::FirstArticle));
    next(&rig, "co-bond-unit");
    assert!(a.get_can_enter_results(), "{}", a.get_message());
    a.set_pulls("2.9 2.7 0.9 3.0 2.8".into());
    a.set_shears("14 15 13.8".into());
    next(&rig, "co-fa-enter");
    assert_eq!(step(&rig), Some(Step::FirstArticle));
    assert!(a.get_message().contains("0.90"), "{}", a.get_message());
    a.set_pulls("2.9 2.7 3.1 3.0 2.8".into());
    next(&rig, "co-fa-enter");
    assert_eq!(step(&rig), Some(Step::SignOff), "{}", a.get_message());
    // Step 9: an operator may not sign off; the engineer does.
    click(app, &tr(Lang::EnUs, "nav-user"));
    click(app, &tr(Lang::EnUs, "user-logout"));
    log_in(&rig, OPERATOR);
    click(app, &tr(Lang::EnUs, "nav-changeover"));
    rig.ui.refresh_now();
    next(&rig, "co-sign-off");
    assert_eq!(step(&rig), Some(Step::SignOff));
    assert!(a.get_message().contains("Operator"), "{}", a.get_message());
    click(app, &tr(Lang::EnUs, "nav-user"));
    click(app, &tr(Lang::EnUs, "user-logout"));
    log_in(&rig, ENGINEER);
    click(app, &tr(Lang::EnUs, "nav-changeover"));
    rig.ui.refresh_now();
    next(&rig, "co-sign-off");
    assert!(rig.changeover.view().is_none(), "{}", a.get_message());
    assert!(!a.get_open());
    assert!(
        a.get_message().contains("signed off"),
        "{}",
        a.get_message()
    );
    // The page now shows the report over that changeover: nine steps, slowest first.
    assert_eq!(a.get_title(), tr(Lang::EnUs, "co-report-title-one"));
    assert_eq!(slint::Model::row_count(&a.get_steps()), 9);
}
