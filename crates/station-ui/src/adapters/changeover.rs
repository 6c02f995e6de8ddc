//! `ChangeoverAdapter`: the guided changeover wizard over
//! [`bonder_changeover::ChangeoverService`]. Every action runs on the Tokio runtime (the
//! UI never waits for the controller); its result comes back as
//! [`UiMsg::Changeover`](crate::app::UiMsg) and the page reads the service's view on the
//! status beat.

use super::model;
use crate::app::{Inner, UiMsg};
use crate::tr::Texts;
use crate::ui::{AppAdapter, ChangeoverAdapter, CoItem, CoStepRow, MainWindow, Page};
use bonder_changeover::model::{KIT, Material, Step, TARGET_MINUTES, planned_minutes};
use bonder_changeover::{ChangeoverError, ChangeoverService, View};
use slint::{ComponentHandle, SharedString};
use std::rc::Rc;
use std::sync::Arc;
use std::time::SystemTime;

/// A message of the page: Fluent key, arguments, level (0 info, 2 refusal).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CoNote {
    pub key: String,
    pub args: Vec<(&'static str, String)>,
    pub level: i32,
}

impl CoNote {
    fn err(e: &ChangeoverError) -> CoNote {
        CoNote {
            key: e.key().to_string(),
            args: e.args(),
            level: 2,
        }
    }
}

/// The page's own state.
#[derive(Debug, Default)]
pub(crate) struct ChangeoverUiState {
    pub busy: bool,
    pub note: Option<CoNote>,
    /// Released versions offered at step 1.
    pub targets: Vec<(String, u32)>,
    /// The report over the last [`REPORT_LAST`] changeovers: (count, stats slowest first).
    pub report: (usize, Vec<bonder_changeover::model::StepStat>),
}

/// Completed changeovers the page's report covers.
pub const REPORT_LAST: usize = 20;

fn service(inner: &Inner) -> Option<Arc<ChangeoverService>> {
    inner.opts.changeover.clone()
}

/// The message in a language; arguments that are names (steps, materials, roles) are
/// translated too.
pub(crate) fn note_text(t: Texts, n: &CoNote) -> String {
    let args: Vec<(&str, String)> = n
        .args
        .iter()
        .map(|(k, v)| {
            let v = match (n.key.as_str(), *k) {
                ("co-scan-format", "expected") | ("co-err-scan-missing", "material") => {
                    t.t(&format!("co-scan-{v}"))
                }
                ("co-err-role", "role") => t.t(&format!("role-{v}")),
                ("co-err-wrong-step", _) => t.t(&format!("co-step-{v}")),
                _ => v.clone(),
            };
            (*k, v)
        })
        .collect();
    t.ta(&n.key, &args)
}

pub(crate) fn wire(inner: &Rc<Inner>, w: &MainWindow) {
    let a = w.global::<ChangeoverAdapter>();
    let i = Rc::downgrade(inner);
    a.on_start(move |idx| {
        if let Some(inner) = i.upgrade() {
            let target = usize::try_from(idx)
                .ok()
                .and_then(|k| inner.state.borrow().changeover.targets.get(k).cloned());
            if let Some((name, version)) = target {
                let wo = inner
                    .opts
                    .work_order
                    .lock()
                    .map(|s| s.clone())
                    .unwrap_or_default();
                let wo = (!wo.is_empty()).then_some(wo);
                let by = user(&inner);
                run(&inner, move |svc| async move {
                    svc.start(&name, version, wo, &by).await.map(|_| None)
                });
            }
        }
    });
    let i = Rc::downgrade(inner);
    a.on_action(move || {
        if let Some(inner) = i.upgrade() {
            action(&inner);
        }
    });
    let i = Rc::downgrade(inner);
    a.on_scan(move || {
        if let Some(inner) = i.upgrade() {
            let Some(w) = inner.window.upgrade() else {
                return;
            };
            let a = w.global::<ChangeoverAdapter>();
            let label = a.get_scan_text().to_string();
            a.set_scan_text(SharedString::new());
            if label.trim().is_empty() {
                return;
            }
            // The label's prefix says what it is; unknown prefixes are checked against
            // the first material still missing (and refused with the expected format).
            let missing = service(&inner)
                .and_then(|s| s.view())
                .and_then(|v| {
                    Material::ALL
                        .into_iter()
                        .find(|m| !v.changeover.scans.contains_key(m))
                })
                .unwrap_or(Material::Wire);
            let m = Material::from_label(&label).unwrap_or(missing);
            run(&inner, move |svc| async move {
                svc.scan(m, &label).await.map(|_| None)
            });
        }
    });
    let i = Rc::downgrade(inner);
    a.on_toggle_item(move |idx| {
        if let Some(inner) = i.upgrade() {
            let Some(item) = usize::try_from(idx).ok().and_then(|k| KIT.get(k)) else {
                return;
            };
            let done = service(&inner)
                .and_then(|s| s.view())
                .is_some_and(|v| v.changeover.kit_done.iter().any(|d| d == item.name));
            let name = item.name;
            run(&inner, move |svc| async move {
                svc.tick_kit(name, !done).await.map(|_| None)
            });
        }
    });
    let i = Rc::downgrade(inner);
    a.on_bond_unit(move || {
        if let Some(inner) = i.upgrade() {
            run(&inner, |svc| async move {
                svc.bond_first_article().await.map(|_| None)
            });
        }
    });
    let i = Rc::downgrade(inner);
    a.on_abandon(move || {
        if let Some(inner) = i.upgrade() {
            let by = user(&inner);
            let Some(role) = logged_in_role(&inner) else {
                return;
            };
            run(&inner, move |svc| async move {
                svc.abandon(&by, role).await.map(|()| {
                    Some(CoNote {
                        key: "co-abandoned".into(),
                        args: vec![],
                        level: 0,
                    })
                })
            });
        }
    });
}

fn user(inner: &Inner) -> String {
    inner.badge()
}

/// The logged-in user's role; with nobody logged in, notes so and gives `None` (the
/// service's permission checks need a real role).
fn logged_in_role(inner: &Inner) -> Option<bonder_core::Role> {
    let role = inner.role();
    if role.is_none() {
        done(
            inner,
            Err(CoNote {
                key: "cmd-needs-login".into(),
                args: vec![],
                level: 2,
            }),
        );
    }
    role
}

/// Runs a service call on the runtime; its note (or refusal) comes back to the UI.
fn run<F, Fut>(inner: &Inner, f: F)
where
    F: FnOnce(Arc<ChangeoverService>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Option<CoNote>, ChangeoverError>> + Send,
{
    inner.touch();
    let Some(svc) = service(inner) else {
        return;
    };
    {
        let mut s = inner.state.borrow_mut();
        s.changeover.busy = true;
        s.changeover.note = None;
    }
    let tx = inner.tx.clone();
    inner.rt.spawn(async move {
        let r = f(svc).await.map_err(|e| CoNote::err(&e));
        let _ = tx.send(UiMsg::Changeover(r));
    });
    if let Some(w) = inner.window.upgrade() {
        refresh(inner, &w);
    }
}

/// The result of a background call.
pub(crate) fn done(inner: &Inner, r: Result<Option<CoNote>, CoNote>) {
    {
        let mut s = inner.state.borrow_mut();
        s.changeover.busy = false;
        s.changeover.note = match r {
            Ok(n) => n,
            Err(n) => Some(n),
        };
    }
    reload(inner);
}

fn parse_list(s: &str) -> Vec<f64> {
    s.split(|c: char| c.is_whitespace() || c == ',' || c == ';' || c == '，')
        .filter(|x| !x.is_empty())
        .map(|x| x.parse().unwrap_or(f64::NAN))
        .collect()
}

fn action(inner: &Inner) {
    let Some(svc) = service(inner) else {
        return;
    };
    let Some(step) = svc.view().and_then(|v| v.changeover.step) else {
        return;
    };
    let Some(w) = inner.window.upgrade() else {
        return;
    };
    let a = w.global::<ChangeoverAdapter>();
    let by = user(inner);
    let Some(role) = logged_in_role(inner) else {
        return;
    };
    match step {
        Step::Select => run(inner, move |svc| async move {
            svc.confirm_select(&by).await.map(|_| None)
        }),
        Step::Setup => {
            let strip_out = a.get_strip_out();
            run(inner, move |svc| async move {
                svc.setup(&by, strip_out).await.map(|_| None)
            });
        }
        Step::Materials => run(inner, move |svc| async move {
            svc.materials_done(&by).await.map(|_| None)
        }),
        Step::Kit => run(inner, move |svc| async move {
            svc.kit_done(&by).await.map(|_| None)
        }),
        Step::Download => run(inner, move |svc| async move {
            svc.download(&by).await.map(|_| None)
        }),
        Step::Settle => run(inner, move |svc| async move {
            svc.settle(&by).await.map(|_| None)
        }),
        Step::PrTeach => {
            // With a camera, the vision must find the new device's pads with the taught
            // template; without one this is a confirm step.
            let outcome = match pr_check(inner) {
                Ok(o) => o,
                Err(note) => {
                    inner.state.borrow_mut().changeover.note = Some(note);
                    refresh(inner, &w);
                    return;
                }
            };
            run(inner, move |svc| async move {
                svc.pr_done(&by, &outcome).await.map(|_| None)
            });
        }
        Step::FirstArticle => {
            let pulls = parse_list(&a.get_pulls());
            let shears = parse_list(&a.get_shears());
            run(inner, move |svc| async move {
                svc.first_article_results(&by, pulls, shears)
                    .await
                    .map(|_| None)
            });
        }
        Step::SignOff => run(inner, move |svc| async move {
            let v = svc.sign_off(&by, role).await?;
            let minutes = (SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64)
                - v.changeover.started_ms) as f64
                / 60_000.0;
            Ok(Some(CoNote {
                key: "co-done".into(),
                args: vec![("minutes", format!("{minutes:.1}"))],
                level: 0,
            }))
        }),
    }
}

/// The PR step's outcome from the camera's latest frame, or why it cannot pass.
fn pr_check(inner: &Inner) -> Result<String, CoNote> {
    let Some(cam) = inner.opts.camera.as_ref() else {
        return Ok("confirmed by the operator (no camera)".into());
    };
    let refuse = |key: &str| CoNote {
        key: key.into(),
        args: vec![],
        level: 2,
    };
    if cam.template().is_none() {
        return Err(refuse("co-pr-no-template"));
    }
    let frame = cam.latest().ok_or_else(|| refuse("co-pr-no-frame"))?;
    let pads = frame
        .inspection
        .as_ref()
        .map(|fi| fi.pads.clone())
        .unwrap_or_default();
    let Some(best) = pads.first() else {
        return Err(refuse("co-pr-no-pads"));
    };
    Ok(format!(
        "vision: {} pads found, best score {:.3}",
        pads.len(),
        best.score
    ))
}

/// Reloads the released versions (on entering the page, after a changeover ends).
pub(crate) fn reload(inner: &Inner) {
    if let Some(svc) = service(inner) {
        match svc.released() {
            Ok(mut t) => {
                // The next job's recipe (a work order from the gateway) comes first.
                let wo = inner
                    .opts
                    .work_order
                    .lock()
                    .map(|s| s.clone())
                    .unwrap_or_default();
                t.sort_by_key(|(n, v)| {
                    !(wo.contains(&format!("{n}@{v}")) || wo.split_whitespace().any(|w| w == n))
                });
                inner.state.borrow_mut().changeover.targets = t;
            }
            Err(e) => tracing::error!("changeover targets: {e}"),
        }
        match svc.report(REPORT_LAST) {
            Ok(r) => inner.state.borrow_mut().changeover.report = r,
            Err(e) => tracing::error!("changeover report: {e}"),
        }
    }
    if let Some(w) = inner.window.upgrade() {
        refresh(inner, &w);
    }
}

/// Minutes with one decimal, two under a minute (software steps take seconds).
fn minutes(m: f64) -> String {
    if m < 1.0 {
        format!("{m:.2}")
    } else {
        format!("{m:.1}")
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn item(label: String, value: String, level: i32, done: bool) -> CoItem {
    CoItem {
        label: label.into(),
        value: value.into(),
        level,
        done,
    }
}

/// A step of the plan: its name and "actual / standard min".
fn plan_row(t: Texts, st: Step, actual: String, state: i32) -> CoStepRow {
    CoStepRow {
        title: t.t(&format!("co-step-{}", st.name())).into(),
        time: t
            .ta(
                "co-step-time",
                &[
                    ("actual", actual),
                    ("standard", format!("{:.0}", st.standard_minutes())),
                ],
            )
            .into(),
        state,
        bar: 0.0,
    }
}

/// "Pull/shear results (at least n, minimum x gf)".
fn results_label(t: Texts, key: &str, n: usize, min_gf: f64) -> String {
    t.ta(
        key,
        &[("n", n.to_string()), ("min", format!("{min_gf:.2}"))],
    )
}

fn param_label(t: Texts, key: &str) -> String {
    let k = format!("param-{}", key.replace('.', "-"));
    if bonder_i18n::has_key(t.0, &k) {
        t.t(&k)
    } else {
        key.to_string()
    }
}

/// Fills the page (status beat while it is shown, and after every action).
pub(crate) fn refresh(inner: &Inner, w: &MainWindow) {
    let app = w.global::<AppAdapter>();
    if app.get_page() != Page::Changeover || !app.get_logged_in() {
        return;
    }
    let t = inner.texts();
    let a = w.global::<ChangeoverAdapter>();
    let svc = service(inner);
    let view = svc.as_ref().and_then(|s| s.view());
    let s = inner.state.borrow();
    a.set_busy(s.changeover.busy);
    a.set_abandon_text(t.t("co-abandon").into());
    let plan = planned_minutes();
    match &view {
        None => {
            a.set_open(false);
            a.set_step(-1);
            let (n, stats) = &s.changeover.report;
            a.set_title(if *n == 0 {
                t.t("co-report-none").into()
            } else if *n == 1 {
                t.t("co-report-title-one").into()
            } else {
                t.ta("co-report-title", &[("n", n.to_string())]).into()
            });
            a.set_subtitle(t.t("co-title-none").into());
            a.set_elapsed(
                t.ta(
                    "co-elapsed",
                    &[
                        ("elapsed", "0".into()),
                        ("target", format!("{TARGET_MINUTES:.0}")),
                        ("plan", format!("{plan:.0}")),
                    ],
                )
                .into(),
            );
            a.set_elapsed_level(0);
            // No changeover open: the report, slowest step first, with grey bars.
            let slowest = stats.first().map_or(0.0, |s| s.median_min);
            let rows: Vec<CoStepRow> = if stats.is_empty() {
                Step::ALL
                    .iter()
                    .map(|st| plan_row(t, *st, "–".into(), 0))
                    .collect()
            } else {
                stats
                    .iter()
                    .map(|st| CoStepRow {
                        title: t.t(&format!("co-step-{}", st.name)).into(),
                        time: t
                            .ta(
                                "co-report-row",
                                &[
                                    ("median", minutes(st.median_min)),
                                    ("p90", minutes(st.p90_min)),
                                    ("standard", format!("{:.0}", st.standard_min)),
                                ],
                            )
                            .into(),
                        state: 0,
                        bar: if slowest > 0.0 {
                            (st.median_min / slowest).clamp(0.02, 1.0) as f32
                        } else {
                            0.02
                        },
                    })
                    .collect()
            };
            a.set_steps(model(rows));
            a.set_step_title(t.t("co-start-title").into());
            a.set_help(SharedString::new());
            a.set_targets(model(
                s.changeover
                    .targets
                    .iter()
                    .map(|(n, v)| SharedString::from(format!("{n}@{v}")))
                    .collect(),
            ));
            a.set_targets_empty(t.t("co-no-released").into());
            a.set_items(model(Vec::new()));
            a.set_items_title(SharedString::new());
            a.set_action_enabled(false);
        }
        Some(v) => fill_open(inner, t, &a, v, svc.as_deref()),
    }
    let (msg, level) = match (
        &s.changeover.note,
        view.as_ref().and_then(|v| v.last_error.as_ref()),
    ) {
        (Some(n), _) => (note_text(t, n), n.level),
        (None, Some(e)) => (
            note_text(
                t,
                &CoNote {
                    key: e.key.clone(),
                    args: e.args.clone(),
                    level: 2,
                },
            ),
            2,
        ),
        (None, None) if s.changeover.busy => (t.t("co-busy"), 0),
        _ => (String::new(), 0),
    };
    a.set_message(msg.into());
    a.set_message_level(level);
}

fn fill_open(
    inner: &Inner,
    t: Texts,
    a: &ChangeoverAdapter<'_>,
    v: &View,
    svc: Option<&ChangeoverService>,
) {
    let co = &v.changeover;
    let now = now_ms();
    a.set_open(true);
    a.set_title(
        t.ta(
            "co-title",
            &[
                ("id", co.id.to_string()),
                ("from", co.from_recipe.clone().unwrap_or_else(|| "–".into())),
                ("to", co.to_recipe.clone()),
            ],
        )
        .into(),
    );
    a.set_subtitle(
        co.work_order
            .as_ref()
            .map(|wo| t.ta("co-work-order", &[("wo", wo.clone())]))
            .unwrap_or_default()
            .into(),
    );
    let elapsed = co.elapsed_minutes(now);
    let plan = planned_minutes();
    a.set_elapsed(
        t.ta(
            "co-elapsed",
            &[
                ("elapsed", format!("{elapsed:.1}")),
                ("target", format!("{TARGET_MINUTES:.0}")),
                ("plan", format!("{plan:.0}")),
            ],
        )
        .into(),
    );
    a.set_elapsed_level(if elapsed > TARGET_MINUTES {
        2
    } else if elapsed > plan {
        1
    } else {
        0
    });
    let rows = Step::ALL
        .iter()
        .map(|st| {
            let done = co.done.iter().find(|d| d.step == *st);
            let (actual, state) = match (done, co.step == Some(*st)) {
                (Some(d), _) => (
                    format!("{:.1}", (d.ended_ms - d.started_ms) as f64 / 60_000.0),
                    2,
                ),
                (None, true) => (format!("{:.1}", co.step_elapsed_s(now) / 60.0), 1),
                _ => ("–".into(), 0),
            };
            plan_row(t, *st, actual, state)
        })
        .collect();
    a.set_steps(model(rows));
    let Some(step) = co.step else {
        return;
    };
    a.set_step(i32::try_from(step.index()).unwrap_or(-1));
    a.set_step_title(t.t(&format!("co-step-{}", step.name())).into());
    a.set_help(t.t(&format!("co-help-{}", step.name())).into());
    a.set_targets(model(Vec::new()));
    let (items, title, action, enabled) = match step {
        Step::Select | Step::Download => {
            let items: Vec<CoItem> = v
                .diff
                .iter()
                .map(|d| {
                    item(
                        param_label(t, &d.key),
                        format!("{} → {}", d.old_value, d.new_value),
                        0,
                        false,
                    )
                })
                .collect();
            let title = if items.is_empty() {
                t.t("co-no-diff")
            } else {
                t.t("co-what-changes")
            };
            let action = if step == Step::Download {
                t.t("co-download")
            } else {
                t.t("co-next")
            };
            (items, title, action, true)
        }
        Step::Setup => (Vec::new(), String::new(), t.t("co-next"), a.get_strip_out()),
        Step::Materials => {
            let items = Material::ALL
                .iter()
                .map(|m| {
                    let s = co.scans.get(m);
                    item(
                        t.t(&format!("co-scan-{}", m.name())),
                        s.map_or_else(|| t.t("co-scan-missing"), |s| s.label.clone()),
                        0,
                        s.is_some(),
                    )
                })
                .collect();
            (
                items,
                String::new(),
                t.t("co-next"),
                co.scans.len() == Material::ALL.len(),
            )
        }
        Step::Kit => {
            let items = KIT
                .iter()
                .map(|k| {
                    item(
                        t.t(&format!("co-kit-{}", k.name)),
                        t.ta(
                            "co-kit-minutes",
                            &[("minutes", format!("{:.0}", k.minutes))],
                        ),
                        0,
                        co.kit_done.iter().any(|d| d == k.name),
                    )
                })
                .collect();
            (
                items,
                String::new(),
                t.t("co-next"),
                co.kit_done.len() == KIT.len(),
            )
        }
        Step::Settle => {
            let mut items = Vec::new();
            if let Some((h, h_ok, g, g_ok)) = svc.and_then(ChangeoverService::conditions) {
                items.push(item(
                    t.ta(
                        "co-heater-now",
                        &[
                            ("now", format!("{h:.1}")),
                            ("target", format!("{:.1}", v.target.heater_temp_c.0)),
                            ("band", format!("{:.1}", inner.opts.heater_band_c)),
                        ],
                    ),
                    String::new(),
                    if h_ok { 0 } else { 1 },
                    h_ok,
                ));
                if v.target.wire.material.needs_forming_gas() {
                    items.push(item(
                        t.ta(
                            "co-gas-now",
                            &[
                                ("now", format!("{g:.2}")),
                                ("target", format!("{:.2}", v.target.forming_gas_l_min.0)),
                            ],
                        ),
                        String::new(),
                        if g_ok { 0 } else { 1 },
                        g_ok,
                    ));
                }
            }
            (items, String::new(), t.t("co-settle"), true)
        }
        Step::PrTeach => (Vec::new(), String::new(), t.t("co-pr-confirm"), true),
        Step::FirstArticle => {
            let bonds = v.first_article_bonds.len();
            let rejects = v
                .first_article_bonds
                .iter()
                .filter(|b| b.verdict != bonder_core::Verdict::Ok)
                .count();
            a.set_fa_bonds(
                t.ta(
                    "co-fa-bonds",
                    &[
                        ("bonds", bonds.to_string()),
                        ("rejects", rejects.to_string()),
                    ],
                )
                .into(),
            );
            a.set_bond_unit_text(t.t("co-bond-unit").into());
            let fa = bonder_changeover::model::FirstArticle::new(&v.target, vec![], vec![]);
            a.set_pulls_label(
                results_label(
                    t,
                    "co-pulls",
                    bonder_changeover::model::FA_PULLS,
                    fa.pull_required_gf,
                )
                .into(),
            );
            a.set_shears_label(
                results_label(
                    t,
                    "co-shears",
                    bonder_changeover::model::FA_SHEARS,
                    fa.shear_required_gf,
                )
                .into(),
            );
            a.set_can_enter_results(bonds > 0 || co.first_article.is_some());
            (
                Vec::new(),
                String::new(),
                t.t("co-fa-enter"),
                bonds > 0 || co.first_article.is_some(),
            )
        }
        Step::SignOff => {
            let mut items = Vec::new();
            if let Some(fa) = &co.first_article {
                items.push(item(
                    results_label(t, "co-pulls", fa.pulls_gf.len(), fa.pull_required_gf),
                    format!("{:.2} gf", fa.pull_min()),
                    0,
                    true,
                ));
                items.push(item(
                    results_label(t, "co-shears", fa.shears_gf.len(), fa.shear_required_gf),
                    format!("{:.2} gf", fa.shear_min()),
                    0,
                    true,
                ));
            }
            (items, String::new(), t.t("co-sign-off"), true)
        }
    };
    a.set_items(model(items));
    a.set_items_title(title.into());
    a.set_action_text(action.into());
    a.set_action_enabled(enabled);
    a.set_strip_text(t.t("co-strip-out").into());
    a.set_scan_placeholder(t.t("co-scan-placeholder").into());
}
