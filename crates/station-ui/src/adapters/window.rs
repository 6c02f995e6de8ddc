//! `WindowAdapter`: the Process window page — the newest process-window search's
//! progress, its explored points on the slice of the first two varied parameters with
//! the window estimate, and the recommendation. Read-only for every role.

use super::{model, num};
use crate::WindowPanel;
use crate::app::Inner;
use crate::tr::Texts;
use crate::ui::{AppAdapter, MainWindow, Page, WindowAdapter, WindowParam, WindowPoint};
use slint::ComponentHandle;

pub(crate) fn refresh(inner: &Inner, w: &MainWindow) {
    let app = w.global::<AppAdapter>();
    if app.get_page() != Page::Window || !app.get_logged_in() {
        return;
    }
    let a = w.global::<WindowAdapter>();
    let Some(panel) = inner
        .opts
        .window
        .as_ref()
        .and_then(crate::WindowSearchView::panel)
    else {
        a.set_has_session(false);
        a.set_has_estimate(false);
        a.set_points(model(Vec::new()));
        a.set_params(model(Vec::new()));
        return;
    };
    fill(inner.texts(), &a, &panel);
}

/// Decimals a parameter is shown with: whole units above 20, else one decimal.
fn shown(v: f64) -> String {
    num(v, if v.abs() >= 20.0 { 0 } else { 1 })
}

/// A range with both ends at the decimals of the larger.
fn span([lo, hi]: [f64; 2]) -> String {
    let d = if lo.abs().max(hi.abs()) >= 20.0 { 0 } else { 1 };
    format!("{} – {}", num(lo, d), num(hi, d))
}

fn fill(t: Texts, a: &WindowAdapter<'_>, p: &WindowPanel) {
    a.set_has_session(true);
    a.set_title_text(
        t.ta(
            "window-session",
            &[
                ("id", p.session.to_string()),
                ("wire", p.wire.clone()),
                ("method", p.method.to_uppercase()),
                ("by", p.by.clone()),
            ],
        )
        .into(),
    );
    let (state, level) = match p.state.as_str() {
        "open" => (
            t.ta(
                "window-state-open",
                &[
                    ("runs", p.runs.to_string()),
                    ("of", p.budget_runs.to_string()),
                ],
            ),
            0,
        ),
        "done" => (t.t("window-state-done"), 0),
        _ => (t.t("window-state-abandoned"), 1),
    };
    a.set_state_text(state.into());
    a.set_state_level(level);
    a.set_progress_text(
        t.ta(
            "window-progress",
            &[
                ("used", p.units_used.to_string()),
                ("budget", p.budget_units.to_string()),
                ("wires", p.wires_used.to_string()),
            ],
        )
        .into(),
    );
    a.set_progress(if p.budget_units == 0 {
        0.0
    } else {
        (f64::from(p.units_used) / f64::from(p.budget_units)) as f32
    });
    let axis = |i: usize| p.params.get(i);
    let label = |i: usize| axis(i).map_or(String::new(), |(k, _)| k.clone());
    let range = |i: usize| axis(i).map_or(String::new(), |(_, b)| span(*b));
    a.set_x_label(label(0).into());
    a.set_y_label(label(1).into());
    a.set_x_range(range(0).into());
    a.set_y_range(range(1).into());
    // One varied parameter: the slice is a line (every point at mid-height).
    let coord = |v: &[f64], i: usize| v.get(i).copied().unwrap_or(0.5) as f32;
    a.set_points(model(
        p.points
            .iter()
            .map(|(at, ok)| WindowPoint {
                x: coord(at, 0),
                y: coord(at, 1),
                in_spec: *ok,
            })
            .collect(),
    ));
    match &p.estimate {
        Some(e) => {
            a.set_has_estimate(true);
            let b = |i: usize| e.box_unit.get(i).copied().unwrap_or([0.0, 1.0]);
            a.set_box_x0(b(0)[0] as f32);
            a.set_box_x1(b(0)[1] as f32);
            a.set_box_y0(b(1)[0] as f32);
            a.set_box_y1(b(1)[1] as f32);
            a.set_centre_x(coord(&e.centre_unit, 0));
            a.set_centre_y(coord(&e.centre_unit, 1));
            a.set_params(model(
                p.params
                    .iter()
                    .zip(e.centre.iter().zip(&e.bbox))
                    .map(|((k, _), (c, [lo, hi]))| WindowParam {
                        name: k.clone().into(),
                        centre: shown(*c).into(),
                        range: span([*lo, *hi]).into(),
                    })
                    .collect(),
            ));
            a.set_margin_text(
                t.ta("window-margin", &[("margin", num(e.margin, 2))])
                    .into(),
            );
            let cpk = |v: Option<f64>| v.map_or_else(|| "–".to_string(), |c| num(c, 2));
            a.set_cpk_text(
                t.ta(
                    "window-cpk",
                    &[
                        ("shear", cpk(e.cpk[0])),
                        ("pull", cpk(e.cpk[1])),
                        ("ball", cpk(e.cpk[2])),
                    ],
                )
                .into(),
            );
        }
        None => {
            a.set_has_estimate(false);
            a.set_params(model(Vec::new()));
        }
    }
    a.set_draft_text(
        match &p.draft {
            Some(d) => t.ta("window-draft", &[("draft", d.clone())]),
            None => t.t("window-draft-none"),
        }
        .into(),
    );
}
