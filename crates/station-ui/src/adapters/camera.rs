//! `CameraAdapter`: the live camera view with the vision's overlays, zoom and drag to
//! pan, teach mode, the readouts of the bond in view, and the production page's tile.
//!
//! The frames and their inspections come from [`bonder_runtime::camera_feed::CameraFeed`] (its
//! own thread); every UI beat takes the newest and redraws only when it is new or the
//! view changed, at the pixel size of the page's view area.

use super::{model, num};
use crate::app::Inner;
use crate::camera_view::{self, Mapping, OFFSET_GAIN, Overlay, View};
use crate::store::{AuditEvent, Permission, Role};
use crate::tr::{Arg, Message, Texts};
use crate::ui::{AppAdapter, CamLabel, CameraAdapter, CountRow, MainWindow, Page};
use bonder_i18n::Lang;
use bonder_runtime::camera_feed::{CameraFeed, CameraSettings, FeedFrame};
use bonder_vision::{
    Calibration, ImageView, Inspector, Roi, TeachOptions, Template, VisionError, VisionVerdict,
};
use slint::ComponentHandle;
use std::rc::Rc;
use std::time::SystemTime;

/// Largest zoom (× the fitted view).
pub const MAX_ZOOM: f64 = 16.0;
/// A drag shorter than this (screen px) is a tap, not a pan or an ROI.
const TAP_PX: f64 = 6.0;
/// Pad pitches the calibration accepts, µm (fine-pitch 35 µm to wide power pads).
pub const PITCH_UM: std::ops::RangeInclusive<f64> = 20.0..=500.0;

/// A two-finger pinch on the view.
#[derive(Debug, Clone, Copy)]
struct Pinch {
    zoom0: f64,
    /// The handler's last `scale`, and the fingers' distance ratio since the start.
    last_scale: f64,
    ratio: f64,
    /// The frame point under the fingers' midpoint when the pinch started.
    frame_pt: [f64; 2],
}

/// A touch-drag on the view.
#[derive(Debug, Clone, Copy)]
struct Drag {
    start: [f64; 2],
    /// The view's centre when the drag started (frame px).
    centre: [f64; 2],
    moved: bool,
}

/// The camera page's own state.
#[derive(Debug)]
pub(crate) struct CameraUiState {
    pub zoom: f64,
    /// Frame point at the view's centre; `None`: the frame's centre.
    pub centre: Option<[f64; 2]>,
    pub teach: bool,
    /// The ROI being drawn (frame px).
    pub draft: Option<Roi>,
    /// The template in use and when it was taught (this session or loaded).
    pub taught: Option<(Template, SystemTime)>,
    /// Calibration mode: the pad pitch is entered and measured.
    pub calibrating: bool,
    /// The recipe (`name@version`) whose vision setup the feed has.
    recipe_key: Option<String>,
    note: Option<(Message, i32)>,
    drag: Option<Drag>,
    pinch: Option<Pinch>,
    /// The view changed since the last draw.
    dirty: bool,
    drawn: u64,
    drawn_size: (i32, i32),
    tile_drawn: u64,
    tile_size: (i32, i32),
    texts_lang: Option<Lang>,
    map: Option<Mapping>,
}

impl Default for CameraUiState {
    fn default() -> Self {
        CameraUiState {
            zoom: 1.0,
            centre: None,
            teach: false,
            draft: None,
            taught: None,
            calibrating: false,
            recipe_key: None,
            note: None,
            drag: None,
            pinch: None,
            dirty: true,
            drawn: 0,
            drawn_size: (0, 0),
            tile_drawn: 0,
            tile_size: (0, 0),
            texts_lang: None,
            map: None,
        }
    }
}

pub(crate) fn wire(inner: &Rc<Inner>, w: &MainWindow) {
    let a = w.global::<CameraAdapter>();
    let i = Rc::downgrade(inner);
    a.on_zoom(move |dir| {
        if let Some(inner) = i.upgrade() {
            inner.touch();
            let mut s = inner.state.borrow_mut();
            let z = (s.camera.zoom * 2f64.powi(dir.signum())).clamp(1.0, MAX_ZOOM);
            s.camera.zoom = z;
            if s.camera.centre.is_none() {
                s.camera.centre = s.camera.map.map(|m| m.centre);
            }
            s.camera.dirty = true;
        }
    });
    let i = Rc::downgrade(inner);
    a.on_zoom_fit(move || {
        if let Some(inner) = i.upgrade() {
            inner.touch();
            let mut s = inner.state.borrow_mut();
            s.camera.zoom = 1.0;
            s.camera.centre = None;
            s.camera.dirty = true;
        }
    });
    let i = Rc::downgrade(inner);
    a.on_set_teach(move |on| {
        if let Some(inner) = i.upgrade() {
            set_teach(&inner, on);
        }
    });
    let i = Rc::downgrade(inner);
    a.on_confirm(move || {
        if let Some(inner) = i.upgrade() {
            confirm(&inner);
        }
    });
    let i = Rc::downgrade(inner);
    a.on_set_calibrating(move |on| {
        if let Some(inner) = i.upgrade() {
            set_calibrating(&inner, on);
        }
    });
    let i = Rc::downgrade(inner);
    a.on_calibrate(move || {
        if let Some(inner) = i.upgrade() {
            calibrate(&inner);
        }
    });
    let i = Rc::downgrade(inner);
    a.on_pinch_start(move |x, y| {
        if let Some(inner) = i.upgrade() {
            inner.touch();
            let m = mapping(&inner);
            let mut s = inner.state.borrow_mut();
            s.camera.drag = None;
            s.camera.pinch = m.map(|m| Pinch {
                zoom0: s.camera.zoom,
                last_scale: 1.0,
                ratio: 1.0,
                frame_pt: m.to_frame([f64::from(x), f64::from(y)]),
            });
        }
    });
    let i = Rc::downgrade(inner);
    a.on_pinch(move |scale, x, y| {
        if let Some(inner) = i.upgrade() {
            pinch_to(&inner, f64::from(scale), [f64::from(x), f64::from(y)]);
        }
    });
    let i = Rc::downgrade(inner);
    a.on_pinch_end(move || {
        if let Some(inner) = i.upgrade() {
            inner.state.borrow_mut().camera.pinch = None;
        }
    });
    let i = Rc::downgrade(inner);
    a.on_drag_start(move |x, y| {
        if let Some(inner) = i.upgrade() {
            inner.touch();
            let m = mapping(&inner);
            let mut s = inner.state.borrow_mut();
            s.camera.drag = m.map(|m| Drag {
                start: [f64::from(x), f64::from(y)],
                centre: m.centre,
                moved: false,
            });
        }
    });
    let i = Rc::downgrade(inner);
    a.on_drag_move(move |x, y| {
        if let Some(inner) = i.upgrade() {
            drag_to(&inner, [f64::from(x), f64::from(y)], false);
        }
    });
    let i = Rc::downgrade(inner);
    a.on_drag_end(move |x, y| {
        if let Some(inner) = i.upgrade() {
            drag_to(&inner, [f64::from(x), f64::from(y)], true);
        }
    });
}

/// The frame ↔ view mapping now (the last draw's, or one from the current sizes).
fn mapping(inner: &Inner) -> Option<Mapping> {
    let s = inner.state.borrow();
    if let Some(m) = s.camera.map {
        return Some(m);
    }
    let f = inner.opts.camera.as_ref()?.latest()?;
    let w = inner.window.upgrade()?;
    let a = w.global::<CameraAdapter>();
    let (vw, vh) = (a.get_view_width_px(), a.get_view_height_px());
    let (vw, vh) = if vw < 32 || vh < 32 {
        (f.frame.width, f.frame.height)
    } else {
        (vw as u32, vh as u32)
    };
    Some(Mapping::new(
        &view_of(&s.camera, &f),
        f.frame.width,
        f.frame.height,
        vw,
        vh,
    ))
}

fn view_of(s: &CameraUiState, f: &FeedFrame) -> View {
    View {
        zoom: s.zoom,
        centre: s.centre.unwrap_or([
            (f64::from(f.frame.width) - 1.0) / 2.0,
            (f64::from(f.frame.height) - 1.0) / 2.0,
        ]),
    }
}

/// Zooms by the pinch's `scale` (since it started) about the frame point that was under
/// the fingers, which stays under their midpoint `p` (screen px).
fn pinch_to(inner: &Inner, scale: f64, p: [f64; 2]) {
    inner.touch();
    let m = mapping(inner);
    let frame = inner
        .opts
        .camera
        .as_ref()
        .and_then(|c| c.latest())
        .map(|f| (f64::from(f.frame.width), f64::from(f.frame.height)));
    let mut s = inner.state.borrow_mut();
    let (Some(mut pinch), Some(m), Some((fw, fh))) = (s.camera.pinch, m, frame) else {
        return;
    };
    if !scale.is_finite() || scale <= 0.0 || pinch.last_scale <= 0.0 {
        return;
    }
    // Slint 1.18.1's handler multiplies its `scale` by (1 + step) for each step of the
    // fingers' distance ratio, which overshoots when spreading and undershoots when
    // pinching; the steps themselves sum to the true ratio.
    pinch.ratio = (pinch.ratio + scale / pinch.last_scale - 1.0).max(0.01);
    pinch.last_scale = scale;
    s.camera.pinch = Some(pinch);
    let zoom = (pinch.zoom0 * pinch.ratio).clamp(1.0, MAX_ZOOM);
    let px = (m.screen[0] / fw).min(m.screen[1] / fh) * zoom;
    s.camera.zoom = zoom;
    s.camera.centre = Some([
        pinch.frame_pt[0] - (p[0] - m.screen[0] / 2.0) / px,
        pinch.frame_pt[1] - (p[1] - m.screen[1] / 2.0) / px,
    ]);
    s.camera.dirty = true;
}

fn drag_to(inner: &Inner, p: [f64; 2], end: bool) {
    inner.touch();
    let m = mapping(inner);
    let frame_size = inner
        .opts
        .camera
        .as_ref()
        .and_then(|c| c.latest())
        .map(|f| (f.frame.width, f.frame.height));
    let mut s = inner.state.borrow_mut();
    let (Some(mut d), Some(m), Some((fw, fh))) = (s.camera.drag, m, frame_size) else {
        return;
    };
    let (dx, dy) = (p[0] - d.start[0], p[1] - d.start[1]);
    d.moved |= dx.hypot(dy) >= TAP_PX;
    if d.moved {
        if s.camera.teach {
            s.camera.draft = Some(roi_between(m.to_frame(d.start), m.to_frame(p), fw, fh));
        } else {
            s.camera.centre = Some([d.centre[0] - dx / m.scale, d.centre[1] - dy / m.scale]);
        }
        s.camera.dirty = true;
    }
    s.camera.drag = if end { None } else { Some(d) };
}

/// The frame pixels between two frame points, clamped to the frame.
fn roi_between(a: [f64; 2], b: [f64; 2], fw: u32, fh: u32) -> Roi {
    let clamp = |v: f64, max: u32| v.round().clamp(0.0, f64::from(max)) as u32;
    let (x0, x1) = (clamp(a[0].min(b[0]), fw), clamp(a[0].max(b[0]), fw));
    let (y0, y1) = (clamp(a[1].min(b[1]), fh), clamp(a[1].max(b[1]), fh));
    Roi {
        x: x0,
        y: y0,
        width: x1 - x0,
        height: y1 - y0,
    }
}

/// The first role the permission table lets teach (for the refusal's text).
fn least_teacher() -> Role {
    Permission::TeachVision
        .least_person()
        .unwrap_or(Role::Technician)
}

fn set_teach(inner: &Inner, on: bool) {
    inner.touch();
    let allowed = Permission::TeachVision.allows_opt(inner.role());
    let mut s = inner.state.borrow_mut();
    if on && !allowed {
        s.camera.note = Some((
            Message::with(
                "cam-err-role",
                vec![("role", Arg::key(format!("role-{}", least_teacher().name())))],
            ),
            2,
        ));
    } else {
        s.camera.teach = on;
        s.camera.calibrating &= !on;
        s.camera.note = None;
    }
    s.camera.draft = None;
    s.camera.dirty = true;
}

/// Whether the user may teach and calibrate; otherwise notes the refusal.
fn may_teach(inner: &Inner) -> bool {
    if Permission::TeachVision.allows_opt(inner.role()) {
        return true;
    }
    let mut s = inner.state.borrow_mut();
    s.camera.note = Some((
        Message::with(
            "cam-err-role",
            vec![("role", Arg::key(format!("role-{}", least_teacher().name())))],
        ),
        2,
    ));
    s.camera.dirty = true;
    false
}

fn set_calibrating(inner: &Inner, on: bool) {
    inner.touch();
    if on && !may_teach(inner) {
        return;
    }
    let pitch = inner
        .opts
        .camera
        .as_ref()
        .and_then(|f| f.settings().pad_pitch_um);
    {
        let mut s = inner.state.borrow_mut();
        s.camera.calibrating = on;
        s.camera.teach &= !on;
        s.camera.draft = None;
        s.camera.note = None;
        s.camera.dirty = true;
    }
    if on && let Some(w) = inner.window.upgrade() {
        w.global::<CameraAdapter>()
            .set_pitch(pitch.map_or_else(String::new, |p| format!("{p}")).into());
    }
}

/// Stores the feed's setup (template, calibration) for the running recipe; the note to
/// show when that fails (the setup stays in use until the station restarts).
fn save_setup(inner: &Inner, feed: &CameraFeed) -> Option<Message> {
    let recipe = inner.station.recipe();
    let Some(by) = inner.actor() else {
        return Some(Message::new("cmd-needs-login"));
    };
    let setup = feed.settings().setup();
    match inner.opts.recipes.save_vision(&recipe, &setup, &by) {
        Ok(()) => {
            inner.state.borrow_mut().camera.recipe_key = Some(recipe.id());
            None
        }
        Err(e) => {
            tracing::error!("vision setup of {} not stored: {e}", recipe.name);
            Some(Message::with(
                "cam-err-save",
                vec![("detail", e.to_string().into())],
            ))
        }
    }
}

/// Measures the calibration on the newest frame: the pads the template finds along the
/// die's row, at the entered pitch.
fn calibrate(inner: &Inner) {
    inner.touch();
    if !may_teach(inner) {
        return;
    }
    let note = |m: Message, level| {
        let mut s = inner.state.borrow_mut();
        s.camera.note = Some((m, level));
        s.camera.dirty = true;
    };
    let Some(feed) = inner.opts.camera.clone() else {
        return;
    };
    let pitch_text = inner
        .window
        .upgrade()
        .map(|w| w.global::<CameraAdapter>().get_pitch().to_string())
        .unwrap_or_default();
    let pitch = match pitch_text.trim().parse::<f64>() {
        Ok(p) if PITCH_UM.contains(&p) => p,
        _ => {
            return note(
                Message::with(
                    "cam-err-pitch",
                    vec![
                        ("value", pitch_text.into()),
                        ("min", num(*PITCH_UM.start(), 0).into()),
                        ("max", num(*PITCH_UM.end(), 0).into()),
                    ],
                ),
                2,
            );
        }
    };
    let Some(template) = feed.template() else {
        return note(Message::with("cam-err-calib-untaught", vec![]), 2);
    };
    let Some(latest) = feed.latest() else {
        return note(Message::with("cam-err-no-frame", vec![]), 2);
    };
    let f = &latest.frame;
    let found = ImageView::new(f.width, f.height, &f.pixels).and_then(|img| {
        Ok(Inspector::new(&template, feed.calibration(), feed.limits())?.find_pads(img))
    });
    let centres: Vec<[f64; 2]> = match found {
        Ok(pads) => pads.iter().map(|p| p.centre).collect(),
        Err(e) => {
            return note(
                Message::with("cam-err-teach", vec![("detail", e.to_string().into())]),
                2,
            );
        }
    };
    let Some(c) = Calibration::from_pad_row(&centres, pitch) else {
        return note(
            Message::with(
                "cam-err-calib-row",
                vec![("n", centres.len().to_string().into())],
            ),
            2,
        );
    };
    if let Err(e) = feed.set_calibration(c, Some(pitch)) {
        return note(
            Message::with(
                "cam-err-calib-range",
                vec![("detail", e.to_string().into())],
            ),
            2,
        );
    }
    inner.audit(AuditEvent::VisionCalibrated {
        detail: format!(
            "{:.4} µm/px, {:.2} mrad from {} pads at {pitch} µm pitch on frame {}",
            c.um_per_px(),
            c.angle_rad * 1000.0,
            centres.len(),
            f.seq
        ),
    });
    inner.state.borrow_mut().camera.calibrating = false;
    let failed = save_setup(inner, &feed);
    let level = if failed.is_some() { 2 } else { 0 };
    note(
        failed.unwrap_or_else(|| {
            Message::with(
                "cam-calib-done",
                vec![
                    ("umpx", format!("{:.4}", c.um_per_px()).into()),
                    ("mrad", format!("{:.1}", c.angle_rad * 1000.0).into()),
                    ("n", centres.len().to_string().into()),
                    ("recipe", inner.station.recipe().name.clone().into()),
                ],
            )
        }),
        level,
    );
}

/// Gives the feed the vision setup of the recipe the station runs, once per recipe:
/// at the first beat (only when one is stored: the station may have started the feed
/// with one already) and after every changeover.
fn track_recipe(inner: &Inner) {
    let Some(feed) = inner.opts.camera.clone() else {
        return;
    };
    let recipe = inner.station.recipe();
    let key = recipe.id();
    let first = {
        let s = inner.state.borrow();
        if s.camera.recipe_key.as_deref() == Some(key.as_str()) {
            return;
        }
        s.camera.recipe_key.is_none()
    };
    inner.state.borrow_mut().camera.recipe_key = Some(key);
    let (settings, taught, problem) = match inner.opts.recipes.vision(&recipe.name) {
        Ok(Some(v)) => {
            let taught = v.setup.template.clone().map(|t| (t, v.taught_at));
            (CameraSettings::with_setup(&recipe, v.setup), taught, None)
        }
        Ok(None) if first => return,
        Ok(None) => (CameraSettings::for_recipe(&recipe), None, None),
        Err(e) => (
            CameraSettings::for_recipe(&recipe),
            None,
            Some(e.to_string()),
        ),
    };
    let problem = match feed.apply(settings) {
        Ok(()) => problem,
        Err(e) => {
            // Unusable: run untaught rather than with another recipe's template.
            if let Err(e) = feed.apply(CameraSettings::for_recipe(&recipe)) {
                tracing::error!("camera settings of {}: {e}", recipe.name);
            }
            Some(e.to_string())
        }
    };
    let mut s = inner.state.borrow_mut();
    s.camera.taught = if problem.is_none() { taught } else { None };
    s.camera.teach = false;
    s.camera.calibrating = false;
    s.camera.draft = None;
    s.camera.dirty = true;
    s.camera.tile_drawn = 0;
    if let Some(detail) = problem {
        tracing::error!("vision setup of {}: {detail}", recipe.name);
        s.camera.note = Some((
            Message::with(
                "cam-err-stored",
                vec![
                    ("recipe", recipe.name.clone().into()),
                    ("detail", detail.into()),
                ],
            ),
            2,
        ));
    } else {
        tracing::info!(recipe = %recipe.id(), "camera: the recipe's vision setup is in use");
    }
}

/// Teaches the drawn ROI on the newest frame and hands the template to the feed.
fn confirm(inner: &Inner) {
    inner.touch();
    let note = |key: &'static str, args: Vec<(&'static str, Arg)>, level| {
        let mut s = inner.state.borrow_mut();
        s.camera.note = Some((Message::with(key, args), level));
        s.camera.dirty = true;
    };
    let Some(feed) = inner.opts.camera.clone() else {
        return;
    };
    let Some(latest) = feed.latest() else {
        return note("cam-err-no-frame", vec![], 2);
    };
    let draft = inner.state.borrow().camera.draft;
    let Some(roi) = draft else {
        return note("cam-err-no-roi", vec![], 2);
    };
    let f = &latest.frame;
    let taught = ImageView::new(f.width, f.height, &f.pixels).and_then(|img| {
        let t = Template::teach(img, roi, &TeachOptions::pad())?;
        let pads = Inspector::new(&t, feed.calibration(), feed.limits())?
            .find_pads(img)
            .len();
        feed.set_template(t.clone())?;
        Ok((t, pads))
    });
    match taught {
        Ok((t, pads)) => {
            inner.audit(AuditEvent::VisionTaught {
                detail: format!(
                    "pad template {}x{} px at ({}, {}) on frame {}",
                    roi.width, roi.height, roi.x, roi.y, f.seq
                ),
            });
            {
                let mut s = inner.state.borrow_mut();
                s.camera.taught = Some((t, SystemTime::now()));
                s.camera.teach = false;
                s.camera.draft = None;
            }
            match save_setup(inner, &feed) {
                None => note(
                    "cam-teach-done",
                    vec![
                        ("w", roi.width.to_string().into()),
                        ("h", roi.height.to_string().into()),
                        ("n", pads.to_string().into()),
                        ("recipe", inner.station.recipe().name.clone().into()),
                    ],
                    0,
                ),
                Some(m) => {
                    let mut s = inner.state.borrow_mut();
                    s.camera.note = Some((m, 2));
                    s.camera.dirty = true;
                }
            }
        }
        Err(e) => {
            let (key, args): (&'static str, Vec<(&'static str, Arg)>) = match &e {
                VisionError::RoiTooSmall(_) => (
                    "cam-err-roi-small",
                    vec![(
                        "min",
                        bonder_vision::template::MIN_TEMPLATE.to_string().into(),
                    )],
                ),
                VisionError::RoiOutside { .. } => ("cam-err-roi-outside", vec![]),
                VisionError::FlatTemplate => ("cam-err-flat", vec![]),
                other => ("cam-err-teach", vec![("detail", other.to_string().into())]),
            };
            tracing::info!("teach refused: {e}");
            note(key, args, 2);
        }
    }
}

/// Takes the newest frame and redraws what is shown (called every UI beat).
pub(crate) fn refresh(inner: &Inner, w: &MainWindow) {
    track_recipe(inner);
    let app = w.global::<AppAdapter>();
    if !app.get_logged_in() {
        return;
    }
    let page = app.get_page();
    if page != Page::Camera && page != Page::Production {
        return;
    }
    let a = w.global::<CameraAdapter>();
    let t = inner.texts();
    let lang_changed = inner.state.borrow().camera.texts_lang != Some(t.0);
    if lang_changed {
        set_texts(&a, t);
        let mut s = inner.state.borrow_mut();
        s.camera.texts_lang = Some(t.0);
        s.camera.dirty = true;
    }
    let Some(feed) = inner.opts.camera.clone() else {
        a.set_available(false);
        a.set_status(t.t("cam-no-camera").into());
        a.set_status_level(0);
        a.set_tile_text(t.t("cam-no-camera").into());
        return;
    };
    a.set_available(true);
    let latest = feed.latest();
    if page == Page::Production {
        refresh_tile(inner, &a, t, latest.as_deref());
        return;
    }
    let size = (a.get_view_width_px(), a.get_view_height_px());
    let new_frame = latest
        .as_ref()
        .is_some_and(|f| f.n != inner.state.borrow().camera.drawn);
    {
        let s = inner.state.borrow();
        if !new_frame && !s.camera.dirty && s.camera.drawn_size == size {
            return;
        }
    }
    let stats = feed.stats();
    let Some(f) = latest else {
        a.set_frames(0);
        let (status, level) = match stats.last_error {
            Some(e) => (t.ta("cam-error", &[("error", e)]), 1),
            None => (t.t("cam-waiting"), 0),
        };
        a.set_status(status.into());
        a.set_status_level(level);
        set_readouts(inner, &a, t, None);
        return;
    };
    let template = feed.template();
    let (view, draft) = {
        let mut s = inner.state.borrow_mut();
        s.camera.drawn = f.n;
        s.camera.drawn_size = size;
        s.camera.dirty = false;
        (view_of(&s.camera, &f), s.camera.draft)
    };
    if size.0 >= 32 && size.1 >= 32 {
        let overlay = Overlay {
            inspection: f.inspection.as_ref(),
            taught: template.as_ref().map(|t| t.roi),
            draft,
            compact: false,
        };
        let (buf, labels, map) =
            camera_view::render(&f.frame, &view, &overlay, size.0 as u32, size.1 as u32);
        a.set_view(slint::Image::from_rgb8(buf));
        a.set_labels(model(
            labels
                .into_iter()
                .map(|l| CamLabel {
                    x: l.x as f32,
                    y: l.y as f32,
                    text: l.text.into(),
                    abnormal: l.abnormal,
                })
                .collect(),
        ));
        let mut s = inner.state.borrow_mut();
        s.camera.map = Some(map);
        // Keep the clamped centre so a pan continues from what is shown.
        if s.camera.centre.is_some() {
            s.camera.centre = Some(map.centre);
        }
    }
    a.set_frame_width(f.frame.width as i32);
    a.set_frame_height(f.frame.height as i32);
    a.set_frames(i32::try_from(f.n).unwrap_or(i32::MAX));
    let stale = stats.last_error.filter(|_| feed.frames() == f.n);
    let (status, level) = match stale {
        Some(e) => (t.ta("cam-error", &[("error", e)]), 1),
        None => (
            t.ta(
                "cam-source",
                &[
                    ("source", feed.describe().to_string()),
                    ("frame", f.frame.seq.to_string()),
                ],
            ),
            0,
        ),
    };
    a.set_status(status.into());
    a.set_status_level(level);
    let zoom = inner.state.borrow().camera.zoom;
    a.set_zoom_text(t.ta("cam-zoom", &[("zoom", num(zoom, 0))]).into());
    let lim = feed.limits();
    a.set_offset_note(
        t.ta(
            "cam-limits",
            &[
                ("lo", num(lim.ball_um[0], 0)),
                ("hi", num(lim.ball_um[1], 0)),
                ("place", num(lim.placement_um, 1)),
                ("gain", num(OFFSET_GAIN, 0)),
            ],
        )
        .into(),
    );
    set_readouts(inner, &a, t, Some(&f));
}

fn set_texts(a: &CameraAdapter<'_>, t: Texts) {
    a.set_title(t.t("nav-camera").into());
    a.set_readouts_title(t.t("cam-readouts").into());
    a.set_zoom_in_text(t.t("cam-zoom-in").into());
    a.set_zoom_out_text(t.t("cam-zoom-out").into());
    a.set_zoom_fit_text(t.t("cam-zoom-fit").into());
    a.set_teach_text(t.t("cam-teach").into());
    a.set_confirm_text(t.t("cam-confirm").into());
    a.set_cancel_text(t.t("cam-cancel").into());
    a.set_teach_title(t.t("cam-teach-title").into());
    a.set_calibrate_text(t.t("cam-calibrate").into());
    a.set_calib_title(t.t("cam-calib-title").into());
    a.set_calib_help(t.t("cam-calib-help").into());
    a.set_measure_text(t.t("cam-measure").into());
    a.set_pitch_label(t.t("cam-pitch").into());
    a.set_tile_title(t.t("cam-tile-title").into());
}

fn verdict_text(t: Texts, f: Option<&FeedFrame>) -> (String, bool) {
    match f.and_then(|f| f.inspection.as_ref()).and_then(|i| i.site) {
        Some(site) => (
            t.t(&format!("cam-verdict-{}", site.verdict.name())),
            !site.verdict.is_ok(),
        ),
        None if f.is_some_and(|f| f.inspection.is_some()) => (
            t.t(&format!("cam-verdict-{}", VisionVerdict::NoPad.name())),
            true,
        ),
        None => (t.t("cam-verdict-none"), false),
    }
}

fn set_readouts(inner: &Inner, a: &CameraAdapter<'_>, t: Texts, f: Option<&FeedFrame>) {
    let (verdict, abnormal) = verdict_text(t, f);
    a.set_verdict(verdict.into());
    a.set_verdict_abnormal(abnormal);
    let site = f.and_then(|f| f.inspection.as_ref()).and_then(|i| i.site);
    let dash = || "–".to_string();
    let um = t.t("unit-micrometres");
    let level = |v: VisionVerdict| {
        if site.is_some_and(|s| s.verdict == v) {
            3
        } else {
            0
        }
    };
    let mut rows = vec![
        (
            t.t("cam-ball-diameter"),
            site.and_then(|s| s.ball)
                .map_or_else(dash, |b| format!("{} {um}", num(b.diameter_um, 1))),
            level(VisionVerdict::BallSize),
        ),
        (
            t.t("cam-offset"),
            site.and_then(|s| s.offset_um)
                .map_or_else(dash, |[dx, dy]| {
                    t.ta(
                        "cam-offset-value",
                        &[
                            ("d", num(dx.hypot(dy), 1)),
                            ("dx", format!("{dx:+.1}")),
                            ("dy", format!("{dy:+.1}")),
                        ],
                    )
                }),
            level(VisionVerdict::OffPad),
        ),
        (
            t.t("cam-confidence"),
            site.map_or_else(dash, |s| {
                format!(
                    "{} {}",
                    num(f64::from(s.confidence) * 100.0, 0),
                    t.t("unit-percent")
                )
            }),
            0,
        ),
        (
            t.t("cam-pad-score"),
            site.and_then(|s| s.pad)
                .map_or_else(dash, |p| num(f64::from(p.score), 3)),
            0,
        ),
        (
            t.t("cam-pads"),
            f.and_then(|f| f.inspection.as_ref())
                .map_or_else(dash, |i| i.pads.len().to_string()),
            0,
        ),
    ];
    if let Some(b) = f.and_then(|f| f.frame.bond) {
        rows.push((
            t.t("cam-bond"),
            t.ta(
                "cam-bond-value",
                &[
                    ("unit", b.unit_no.to_string()),
                    ("wire", b.wire_no.to_string()),
                ],
            ),
            0,
        ));
    }
    rows.push((
        t.t("cam-frame-rate"),
        f.map_or_else(dash, |f| {
            t.ta("cam-frame-rate-value", &[("fps", num(f.fps, 1))])
        }),
        0,
    ));
    rows.push((
        t.t("cam-inspect-time"),
        f.filter(|f| f.inspection.is_some()).map_or_else(dash, |f| {
            format!("{} {}", num(f.inspect_ms, 1), t.t("unit-millis"))
        }),
        0,
    ));
    a.set_readouts(model(
        rows.into_iter()
            .map(|(label, value, level)| CountRow {
                label: label.into(),
                value: value.into(),
                level,
            })
            .collect(),
    ));
    let s = inner.state.borrow();
    a.set_calibrating(s.camera.calibrating);
    if let Some(feed) = &inner.opts.camera {
        let st = feed.settings();
        let umpx = format!("{:.4}", st.calibration.um_per_px());
        a.set_calib_text(
            match st.pad_pitch_um {
                Some(p) => t.ta(
                    "cam-calib-measured",
                    &[
                        ("umpx", umpx),
                        ("pitch", format!("{p}")),
                        ("mrad", format!("{:.1}", st.calibration.angle_rad * 1000.0)),
                    ],
                ),
                None => t.ta("cam-calib-default", &[("umpx", umpx)]),
            }
            .into(),
        );
    }
    a.set_teach(s.camera.teach);
    a.set_can_confirm(s.camera.teach && s.camera.draft.is_some() && f.is_some());
    let help = if s.camera.teach {
        t.t("cam-teach-help-on")
    } else {
        match (
            &s.camera.taught,
            inner.opts.camera.as_ref().and_then(|c| c.template()),
        ) {
            (Some((tpl, when)), _) => t.ta(
                "cam-taught",
                &[
                    ("w", tpl.width.to_string()),
                    ("h", tpl.height.to_string()),
                    ("x", tpl.roi.x.to_string()),
                    ("y", tpl.roi.y.to_string()),
                    ("time", crate::app::clock(*when)),
                ],
            ),
            (None, Some(tpl)) => t.ta(
                "cam-taught",
                &[
                    ("w", tpl.width.to_string()),
                    ("h", tpl.height.to_string()),
                    ("x", tpl.roi.x.to_string()),
                    ("y", tpl.roi.y.to_string()),
                    ("time", "–".into()),
                ],
            ),
            (None, None) => format!("{} {}", t.t("cam-not-taught"), t.t("cam-teach-help-off")),
        }
    };
    a.set_teach_help(help.into());
    match &s.camera.note {
        Some((m, level)) => {
            a.set_message(m.text(t).into());
            a.set_message_level(*level);
        }
        None => {
            a.set_message("".into());
            a.set_message_level(0);
        }
    }
}

/// The production page's small live view.
fn refresh_tile(inner: &Inner, a: &CameraAdapter<'_>, t: Texts, f: Option<&FeedFrame>) {
    let size = (a.get_tile_width_px(), a.get_tile_height_px());
    let Some(f) = f else {
        a.set_tile_text(t.t("cam-waiting").into());
        return;
    };
    {
        let s = inner.state.borrow();
        if s.camera.tile_drawn == f.n && s.camera.tile_size == size {
            return;
        }
    }
    {
        let mut s = inner.state.borrow_mut();
        s.camera.tile_drawn = f.n;
        s.camera.tile_size = size;
    }
    let (verdict, abnormal) = verdict_text(t, Some(f));
    a.set_tile_text(verdict.into());
    a.set_verdict_abnormal(abnormal);
    if size.0 < 32 || size.1 < 32 {
        return;
    }
    let template = inner.opts.camera.as_ref().and_then(|c| c.template());
    let view = View {
        zoom: 1.0,
        centre: [0.0, 0.0],
    };
    let overlay = Overlay {
        inspection: f.inspection.as_ref(),
        taught: template.map(|t| t.roi),
        draft: None,
        compact: true,
    };
    let (buf, _, _) = camera_view::render(&f.frame, &view, &overlay, size.0 as u32, size.1 as u32);
    a.set_tile(slint::Image::from_rgb8(buf));
}

/// Teaches a pad template around the bond site of the newest frame, as an operator
/// dragging a box there would (screenshots and demos): `half` px around the centre.
pub(crate) fn teach_centre(inner: &Inner, half: u32) -> bool {
    let Some(f) = inner.opts.camera.as_ref().and_then(|c| c.latest()) else {
        return false;
    };
    let (cx, cy) = (f.frame.width / 2, f.frame.height / 2);
    {
        let mut s = inner.state.borrow_mut();
        s.camera.teach = true;
        s.camera.draft = Some(Roi {
            x: cx.saturating_sub(half),
            y: cy.saturating_sub(half),
            width: 2 * half,
            height: 2 * half,
        });
    }
    confirm(inner);
    inner.state.borrow().camera.taught.is_some()
}

/// Opens the calibration with `pitch` entered and, with `measure`, measures it.
pub(crate) fn calibrate_with(inner: &Inner, pitch: &str, measure: bool) {
    set_calibrating(inner, true);
    if let Some(w) = inner.window.upgrade() {
        w.global::<CameraAdapter>().set_pitch(pitch.into());
    }
    if measure {
        calibrate(inner);
    }
}

/// Forces a redraw of the camera view on the next beat.
pub(crate) fn invalidate(inner: &Inner) {
    let mut s = inner.state.borrow_mut();
    s.camera.dirty = true;
    s.camera.tile_drawn = 0;
}
