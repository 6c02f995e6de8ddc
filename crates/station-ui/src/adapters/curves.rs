//! `CurvesAdapter`: the selected bond's curves over its band; live or frozen, step, pick
//! any kept bond, zoom and pan.

use super::{model, num};
use crate::app::Inner;
use crate::plot::{self, PlotInput};
use crate::ui::{AppAdapter, CountRow, CurvesAdapter, MainWindow, Page};
use bonder_core::bond::BondKind;
use slint::ComponentHandle;
use std::ops::Range;
use std::rc::Rc;

/// Faded bonds behind the selected one.
pub const FADED_BONDS: usize = 20;
/// Fewest samples a zoom shows.
const MIN_VIEW_SAMPLES: usize = 16;

/// The curves page's own state.
#[derive(Debug)]
pub(crate) struct CurvesState {
    /// Follow the newest bond.
    pub live: bool,
    /// The bond shown when frozen (record number).
    pub selected: Option<u64>,
    /// Sample range in view; `None`: the whole bond.
    pub view: Option<Range<usize>>,
    /// Something changed since the last draw.
    pub dirty: bool,
    /// Pixel size of the last draw.
    pub drawn_size: (i32, i32),
}

impl Default for CurvesState {
    fn default() -> Self {
        CurvesState {
            live: true,
            selected: None,
            view: None,
            dirty: true,
            drawn_size: (0, 0),
        }
    }
}

pub(crate) fn wire(inner: &Rc<Inner>, w: &MainWindow) {
    let c = w.global::<CurvesAdapter>();
    let on = |f: fn(&Inner)| {
        let i = Rc::downgrade(inner);
        move || {
            if let Some(inner) = i.upgrade() {
                inner.touch();
                f(&inner);
                inner.state.borrow_mut().curves.dirty = true;
            }
        }
    };
    c.on_latest(on(|inner| {
        let mut s = inner.state.borrow_mut();
        s.curves.live = true;
        s.curves.selected = None;
    }));
    c.on_zoom_all(on(|inner| inner.state.borrow_mut().curves.view = None));
    let i = Rc::downgrade(inner);
    c.on_set_live(move |live| {
        if let Some(inner) = i.upgrade() {
            inner.touch();
            let mut s = inner.state.borrow_mut();
            if !live && s.curves.selected.is_none() {
                s.curves.selected = s
                    .ring
                    .get(s.ring.len().saturating_sub(1))
                    .map(|e| e.bond.seq);
            }
            s.curves.live = live;
            s.curves.dirty = true;
        }
    });
    let i = Rc::downgrade(inner);
    c.on_step(move |delta| {
        if let Some(inner) = i.upgrade() {
            inner.touch();
            let pos = current_position(&inner).map(|p| p as i64 + i64::from(delta));
            if let Some(pos) = pos {
                select_position(&inner, pos);
            }
        }
    });
    let i = Rc::downgrade(inner);
    c.on_pick(move |pos| {
        if let Some(inner) = i.upgrade() {
            inner.touch();
            select_position(&inner, i64::from(pos));
        }
    });
    let i = Rc::downgrade(inner);
    c.on_zoom(move |dir| {
        if let Some(inner) = i.upgrade() {
            inner.touch();
            zoom(&inner, dir);
        }
    });
    let i = Rc::downgrade(inner);
    c.on_pan(move |dir| {
        if let Some(inner) = i.upgrade() {
            inner.touch();
            pan(&inner, dir);
        }
    });
}

/// Shows a bond (frozen on it), e.g. tapped in the strip.
pub(crate) fn open_bond(inner: &Inner, seq: u64) {
    inner.touch();
    let mut s = inner.state.borrow_mut();
    s.curves.live = false;
    s.curves.selected = Some(seq);
    s.curves.dirty = true;
}

fn current_position(inner: &Inner) -> Option<usize> {
    let s = inner.state.borrow();
    if s.ring.is_empty() {
        return None;
    }
    match (s.curves.live, s.curves.selected) {
        (false, Some(seq)) => s.ring.position(seq),
        _ => Some(s.ring.len() - 1),
    }
}

fn select_position(inner: &Inner, pos: i64) {
    let mut s = inner.state.borrow_mut();
    let n = s.ring.len() as i64;
    if n == 0 {
        return;
    }
    let pos = pos.clamp(0, n - 1) as usize;
    s.curves.selected = s.ring.get(pos).map(|e| e.bond.seq);
    s.curves.live = false;
    s.curves.dirty = true;
}

fn bond_len(inner: &Inner) -> usize {
    let s = inner.state.borrow();
    let pos = match (s.curves.live, s.curves.selected) {
        (false, Some(seq)) => s.ring.position(seq),
        _ => s.ring.len().checked_sub(1),
    };
    pos.and_then(|p| s.ring.get(p))
        .map_or(0, |e| e.bond.event.curve.len())
}

fn zoom(inner: &Inner, dir: i32) {
    let len = bond_len(inner);
    if len == 0 {
        return;
    }
    let mut s = inner.state.borrow_mut();
    let v = s.curves.view.clone().unwrap_or(0..len);
    let centre = (v.start + v.end) / 2;
    let width = v.end - v.start;
    let new_width = if dir > 0 {
        (width / 2).max(MIN_VIEW_SAMPLES)
    } else {
        width * 2
    };
    s.curves.view = if new_width >= len {
        None
    } else {
        let start = centre.saturating_sub(new_width / 2).min(len - new_width);
        Some(start..start + new_width)
    };
    s.curves.dirty = true;
}

fn pan(inner: &Inner, dir: i32) {
    let len = bond_len(inner);
    let mut s = inner.state.borrow_mut();
    let Some(v) = s.curves.view.clone() else {
        return;
    };
    let width = v.end - v.start;
    let step = (width / 4).max(1);
    let start = if dir < 0 {
        v.start.saturating_sub(step)
    } else {
        (v.start + step).min(len.saturating_sub(width))
    };
    s.curves.view = Some(start..start + width);
    s.curves.dirty = true;
}

/// Redraws the curves page when something changed (called every frame).
pub(crate) fn refresh(inner: &Inner, w: &MainWindow) {
    let app = w.global::<AppAdapter>();
    if app.get_page() != Page::Curves || !app.get_logged_in() {
        return;
    }
    let c = w.global::<CurvesAdapter>();
    let (width, height) = (c.get_plot_width_px(), c.get_plot_height_px());
    let t = inner.texts();
    let mut s = inner.state.borrow_mut();
    if (!s.curves.dirty && s.curves.drawn_size == (width, height)) || width < 32 || height < 32 {
        return;
    }
    s.curves.dirty = false;
    s.curves.drawn_size = (width, height);
    c.set_live(s.curves.live);
    c.set_kept_count(s.ring.len() as i32);
    let pos = match (s.curves.live, s.curves.selected) {
        (false, Some(seq)) => s.ring.position(seq),
        _ => s.ring.len().checked_sub(1),
    };
    let Some((pos, entry)) = pos.and_then(|p| s.ring.get(p).map(|e| (p, e))) else {
        c.set_bond_title(t.t("curves-no-bond").into());
        c.set_bond_kind("".into());
        c.set_verdict("".into());
        c.set_features(model(Vec::new()));
        return;
    };
    let b = entry.bond.clone();
    let bond = entry.summary();
    let kind = b.event.kind;
    let faded: Vec<_> = s
        .ring
        .previous_of_kind(pos, kind, FADED_BONDS)
        .iter()
        .map(|e| e.summary())
        .collect();
    let band = s.ring.band(kind);
    let k_sigma = s.ring.k_sigma();
    let kept = s.ring.len();
    let view = s.curves.view.clone();
    drop(s);

    c.set_position(pos as i32);
    c.set_position_text(
        t.ta(
            "curves-position",
            &[("pos", (pos + 1).to_string()), ("n", kept.to_string())],
        )
        .into(),
    );
    c.set_bond_title(
        t.ta(
            "curves-bond",
            &[
                ("seq", b.seq.to_string()),
                ("unit", b.event.unit_no.to_string()),
                ("wire", b.event.wire_no.to_string()),
            ],
        )
        .into(),
    );
    c.set_bond_kind(t.t(&format!("bond-kind-{}", kind.name())).into());
    let verdict = b.judgement.verdict;
    c.set_verdict(super::production::verdict_text(t, verdict).into());
    c.set_verdict_abnormal(!verdict.is_ok());
    let f = &b.judgement.features;
    let um = t.t("unit-micrometres");
    let mut features = vec![
        (
            t.t("feature-peak-force"),
            format!(
                "{} {}",
                num(f64::from(f.peak_force_gf), 1),
                t.t("unit-gram-force")
            ),
        ),
        (
            t.t("feature-deform"),
            format!("{} {um}", num(f64::from(f.deform_um), 1)),
        ),
        (
            t.t("feature-impedance-drop"),
            format!(
                "{} {}",
                num(f64::from(f.impedance_drop_pct), 1),
                t.t("unit-percent")
            ),
        ),
        (
            t.t("feature-us-energy"),
            format!(
                "{} {}",
                num(f64::from(f.us_energy_mj), 2),
                t.t("unit-millijoules")
            ),
        ),
    ];
    if kind == BondKind::Stitch {
        let tail = f
            .tail_um
            .map_or("–".into(), |v| format!("{} {um}", num(f64::from(v), 1)));
        features.push((t.t("feature-tail"), tail));
    }
    if let Some(env) = b.judgement.envelope {
        features.push((
            t.t("feature-outside-band"),
            format!(
                "{} {}",
                num(f64::from(env.worst()) * 100.0, 1),
                t.t("unit-percent")
            ),
        ));
    }
    c.set_features(model(
        features
            .into_iter()
            .map(|(label, value)| CountRow {
                label: label.into(),
                value: value.into(),
                level: 0,
            })
            .collect(),
    ));
    c.set_envelope_text(
        match &band {
            Some((n, _)) => t.ta(
                "curves-envelope",
                &[("k", num(f64::from(k_sigma), 0)), ("n", n.to_string())],
            ),
            None => t.t("curves-no-envelope"),
        }
        .into(),
    );
    c.set_faded_text(
        t.ta("curves-faded", &[("n", faded.len().to_string())])
            .into(),
    );
    let total = bond.len();
    let shown = view.clone().unwrap_or(0..total);
    c.set_samples_text(
        t.ta(
            "curves-samples",
            &[
                ("from", shown.start.to_string()),
                ("to", shown.end.to_string()),
                ("total", total.to_string()),
            ],
        )
        .into(),
    );
    let faded_refs: Vec<_> = faded.iter().map(|f| f.as_ref()).collect();
    let input = PlotInput {
        bond: Some(&bond),
        bond_abnormal: !verdict.is_ok(),
        faded: &faded_refs,
        band: band.as_ref().map(|(_, b)| b.as_ref()),
        view,
        compact: false,
    };
    match plot::render(&input, width as u32, height as u32) {
        Ok(buf) => c.set_plot(slint::Image::from_rgb8(buf)),
        Err(e) => tracing::warn!("{e}"),
    }
}
