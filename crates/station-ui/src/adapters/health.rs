//! `HealthAdapter`: the Process health page — the warnings standing now with their ranked
//! causes and forecasts, the capillary's remaining touchdowns, the yield forecast,
//! predicted against tested strength, and each chart's trend against its limits (an SVG
//! path per chart). Read-only: every signed-in role sees it.

use super::{model, num};
use crate::app::Inner;
use crate::tr::Texts;
use crate::ui::{AppAdapter, HealthAdapter, HealthChart, HealthWarning, MainWindow, Page};
use crate::{HealthPanel, HealthTrend};
use bonder_core::health::Warning;
use slint::ComponentHandle;

/// Blocks of history a chart shows.
const SHOWN: usize = 120;

pub(crate) fn refresh(inner: &Inner, w: &MainWindow) {
    let app = w.global::<AppAdapter>();
    if app.get_page() != Page::Health || !app.get_logged_in() {
        return;
    }
    let t = inner.texts();
    let h = w.global::<HealthAdapter>();
    let Some(panel) = inner.opts.health.as_ref().map(crate::ProcessHealth::panel) else {
        h.set_status_text(t.t("health-strength-none").into());
        return;
    };
    h.set_status_text(
        if panel.baselined {
            t.ta(
                "health-status-watching",
                &[("wires", panel.wires.to_string())],
            )
        } else {
            t.ta(
                "health-status-learning",
                &[
                    ("wires", panel.wires.min(panel.baseline_wires).to_string()),
                    ("need", panel.baseline_wires.to_string()),
                ],
            )
        }
        .into(),
    );
    h.set_warnings(model(
        panel
            .warnings
            .iter()
            .map(|x| warning(t, x, panel.yield_limit_pct))
            .collect(),
    ));
    let (cap, cap_level) = match panel.capillary_left {
        None => (t.t("health-capillary-none"), 0),
        Some(left) if panel.capillary_forecast => (
            t.ta("health-capillary-forecast", &[("left", left.to_string())]),
            1,
        ),
        Some(left) => (
            t.ta("health-capillary-left", &[("left", left.to_string())]),
            0,
        ),
    };
    h.set_capillary_text(cap.into());
    h.set_capillary_level(cap_level);
    let limit = num(panel.yield_limit_pct, 1);
    let (y, y_level) = match panel.yield_eta {
        Some(eta) => (
            t.ta(
                "health-yield-eta",
                &[("eta", eta.to_string()), ("limit", limit)],
            ),
            1,
        ),
        None => (t.ta("health-yield-none", &[("limit", limit)]), 0),
    };
    h.set_yield_text(y.into());
    h.set_yield_level(y_level);
    h.set_strength_text(strength_text(t, &panel).into());
    h.set_tested_text(tested_text(t, &panel).into());
    let aspect = f64::from(h.get_chart_aspect()).clamp(1.0, 200.0);
    h.set_charts(model(
        panel.charts.iter().map(|c| chart(t, c, aspect)).collect(),
    ));
}

/// Predicted shear and pull of the newest wire, or why there is none.
pub(crate) fn strength_text(t: Texts, p: &HealthPanel) -> String {
    match (p.shear, p.pull) {
        (Some(s), Some(pl)) => t.ta(
            "health-strength-value",
            &[
                ("shear", num(s.0, 1)),
                ("shear_sd", num(s.1, 1)),
                ("pull", num(pl.0, 1)),
                ("pull_sd", num(pl.1, 1)),
            ],
        ),
        _ => t.t("health-strength-none"),
    }
}

pub(crate) fn tested_text(t: Texts, p: &HealthPanel) -> String {
    let tested = p.tested;
    if tested.results == 0 {
        return t.t("health-tested-none");
    }
    t.ta(
        "health-tested-value",
        &[
            ("shear", tested.shear_gf.map_or("–".into(), |v| num(v, 1))),
            ("pull", tested.pull_gf.map_or("–".into(), |v| num(v, 1))),
            ("n", tested.results.to_string()),
        ],
    )
}

/// A warning's one-line text ("Process drift: ball US energy falling; likeliest cause
/// …"): the page's title and the `{S}/health` message's `text_en`/`text_zh`.
pub fn warning_title(t: Texts, w: &Warning, limit_pct: f64) -> String {
    let first = w
        .causes
        .first()
        .copied()
        .unwrap_or((bonder_core::cause::Cause::Unknown, 1.0));
    t.ta(
        &format!("health-{}", w.kind.name()),
        &[
            (
                "feature",
                t.t(&format!("health-feature-{}", w.signal.name())),
            ),
            (
                "direction",
                t.t(&format!("health-dir-{}", w.direction.name())),
            ),
            ("cause", t.t(&format!("health-cause-{}", first.0.name()))),
            ("weight", num(first.1 * 100.0, 0)),
            ("eta", w.eta_wires().unwrap_or_default().to_string()),
            ("limit", format!("{limit_pct}")),
        ],
    )
}

fn warning(t: Texts, w: &Warning, limit: f64) -> HealthWarning {
    let cause = |c: bonder_core::cause::Cause| t.t(&format!("health-cause-{}", c.name()));
    let title = warning_title(t, w, limit);
    let eta = w.eta_wires();
    let detail = match eta {
        Some(e) => t.ta("health-eta", &[("eta", e.to_string())]),
        None => t.ta("health-no-eta", &[("wire", w.at_wire.to_string())]),
    };
    let list = w
        .causes
        .iter()
        .filter(|c| c.1 >= 0.005)
        .take(3)
        .map(|c| format!("{} {} %", cause(c.0), num(c.1 * 100.0, 0)))
        .collect::<Vec<_>>()
        .join(" · ");
    HealthWarning {
        title: title.into(),
        detail: detail.into(),
        causes: t.ta("health-causes", &[("list", list)]).into(),
    }
}

/// A chart row: its trend as an SVG path in a (40 · aspect) × 40 box (±1 at y = 35 and
/// 5, so the limits are the page's two lines; clipped at ±1.3).
fn chart(t: Texts, c: &HealthTrend, aspect: f64) -> HealthChart {
    let h = &c.history[c.history.len().saturating_sub(SHOWN)..];
    let mut path = String::new();
    let n = h.len().max(2) - 1;
    for (i, v) in h.iter().enumerate() {
        let x = i as f64 * 40.0 * aspect / n as f64;
        let y = 20.0 - v.clamp(-1.3, 1.3) * 15.0;
        path.push_str(&format!(
            "{} {x:.1} {y:.1} ",
            if i == 0 { 'M' } else { 'L' }
        ));
    }
    let now = h.last().copied().unwrap_or(0.0);
    HealthChart {
        label: t.t(&format!("health-feature-{}", c.signal)).into(),
        value: format!("{} %", num(now * 100.0, 0)).into(),
        path: path.trim_end().into(),
        out: now.abs() > 1.0,
    }
}
