//! Shared helpers: simulator scenes with known truth, a taught pad template.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use bonder_vision::{
    Calibration, ImageView, InspectionLimits, Inspector, Roi, TeachOptions, Template,
};
use bondersim::camera::{
    BallState, CameraParams, DieLayout, GroundTruth, Scene, SceneLimits, render,
};
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Camera parameters with more of the hard frames than the simulator's defaults.
pub fn hard_params(width: u32, height: u32) -> CameraParams {
    CameraParams {
        width,
        height,
        dim_prob: 0.15,
        noisy_prob: 0.15,
        blur_prob: 0.10,
        ..CameraParams::default()
    }
}

/// Clean parameters for teaching.
pub fn clean_params() -> CameraParams {
    CameraParams {
        dim_prob: 0.0,
        noisy_prob: 0.0,
        blur_prob: 0.0,
        ..CameraParams::default()
    }
}

pub fn limits() -> InspectionLimits {
    let l = SceneLimits::default();
    InspectionLimits::new(l.ball_um, l.placement_um)
}

/// What kind of ball a generated bond gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Ok,
    Missing,
    OffPad,
    Oversized,
    Undersized,
}

/// A ball of a kind, with margins from the limits (44–52 µm, 3 µm).
pub fn ball(r: &mut ChaCha8Rng, kind: Kind) -> BallState {
    let polar = |r: &mut ChaCha8Rng, lo: f64, hi: f64| {
        let a = r.random_range(0.0..std::f64::consts::TAU);
        let m = r.random_range(lo..hi);
        (m * a.cos(), m * a.sin())
    };
    let (dx, dy) = match kind {
        Kind::OffPad => {
            if r.random_bool(0.7) {
                polar(r, 6.0, 9.0) // the bond model's placement defect
            } else {
                polar(r, 12.0, 20.0) // camera-only off-pad balls
            }
        }
        _ => polar(r, 0.0, 2.0),
    };
    let diameter_um = match kind {
        Kind::Oversized => r.random_range(55.0..64.0),
        Kind::Undersized => r.random_range(37.0..41.0),
        _ => r.random_range(45.5..50.5),
    };
    BallState {
        dx_um: dx,
        dy_um: dy,
        diameter_um,
        missing: kind == Kind::Missing,
    }
}

/// A scene looking at pad `site` with pads before it bonded (ok balls) and `kind` on it.
pub fn scene(r: &mut ChaCha8Rng, site: usize, kind: Kind) -> Scene {
    let mut s = Scene::bare(DieLayout::default(), site);
    for i in 0..site {
        s.balls[i] = Some(ball(r, Kind::Ok));
    }
    s.balls[site] = Some(ball(r, kind));
    s.time_s = r.random_range(0.0..600.0);
    s
}

/// Teaches the pad template on a clean full frame of a bare die: ROI = the centre pad
/// with 10 px of die around it. Returns the template and the truth of the teach frame.
pub fn teach() -> (Template, GroundTruth) {
    teach_with(&clean_params())
}

/// [`teach`] on a frame from other camera parameters (another magnification).
pub fn teach_with(params: &CameraParams) -> (Template, GroundTruth) {
    let scene = Scene::bare(DieLayout::default(), 3);
    let (f, gt) = render(&scene, params, &mut rng(99));
    let pad = gt.site_pad().unwrap();
    let half = (pad.size_px / 2.0 + 10.0).round();
    let roi = Roi {
        x: (pad.centre_px.0 - half).round() as u32,
        y: (pad.centre_px.1 - half).round() as u32,
        width: (2.0 * half) as u32,
        height: (2.0 * half) as u32,
    };
    let img = ImageView::new(f.width, f.height, &f.pixels).unwrap();
    let t = Template::teach(img, roi, &TeachOptions::pad()).unwrap();
    (t, gt)
}

pub fn inspector(t: &Template) -> Inspector {
    Inspector::new(t, Calibration::uniform(0.8), limits()).unwrap()
}

pub fn render_scene(
    s: &Scene,
    p: &CameraParams,
    r: &mut ChaCha8Rng,
) -> (bonder_camera::Frame, GroundTruth) {
    render(s, p, r)
}

/// Median and a percentile of values.
pub fn percentile(v: &[f64], p: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let i = ((s.len() as f64 - 1.0) * p).round() as usize;
    s[i.min(s.len() - 1)]
}
