//! The simulated bond camera: 8-bit greyscale frames of the die around the current bond
//! site, rendered from the true geometry (so every frame comes with its ground truth).
//!
//! The picture, under coaxial light: a dark substrate with silver-plated lead fingers
//! (bright) beyond the die edge; the die's passivation (mid grey) with a row of square
//! aluminium bond pads (bright); on each bonded pad a gold ball (a dark rim where its
//! flanks scatter the light away, a brighter flat top with the capillary's imprint
//! ring); the wire leaving the ball towards its lead finger, dark and fading out of
//! focus; the stitch on the finger. Every edge is blurred by the optics' PSF (Gaussian,
//! rendered analytically: shapes are convolved exactly, not blurred afterwards), then
//! uneven lighting (vignette and a gradient), Gaussian noise and 8-bit quantisation.
//! Some frames are dim, noisier or more blurred; the whole image drifts slowly
//! (thermal drift, sub-pixel, a few px over minutes).
//!
//! Coordinates: pixel `(i, j)`'s centre is at `(i as f64, j as f64)`; x to the right, y
//! down, and die coordinates (µm) have the same orientation. The die's pad 0 centre is
//! the µm origin; pads are at `x = i·pitch, y = 0`; the die edge and the lead fingers are
//! towards −y (up in the image).
//!
//! Tie to the bond model: a ball bond's placement (`place_dx_um`, `place_dy_um`) and
//! diameter (`ball_diameter_um`) are drawn as they are, so the model's `Placement` and
//! `BallSize` defects show as an off-pad or wrongly sized ball; an `Nsop` bond (the ball
//! did not stick and left with the wire) shows as a **missing ball** (a bare pad with a
//! faint scrub mark). `Nsol`, short tails and curve defects look normal from above.
//! Camera-only defects can be added with [`CameraParams::extra_defect_rate`]: a missing
//! ball, an off-pad ball (12–20 µm off) or an oversized ball (×1.25–1.4).

use bonder_camera::{BondRef, Frame};
use bonder_core::bond::{BondEvent, Defect};
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use std::sync::OnceLock;

/// The die as the camera sees it (µm).
#[derive(Debug, Clone, PartialEq)]
pub struct DieLayout {
    /// Side of the square bond pads.
    pub pad_size_um: f64,
    /// Pad centre to pad centre.
    pub pad_pitch_um: f64,
    /// Pads in the row.
    pub pad_count: usize,
    /// From the pad row's centre line to the die edge (towards −y).
    pub die_edge_um: f64,
    /// Die margin beyond the first and last pad's centre (x).
    pub die_margin_um: f64,
    /// Width of a lead finger.
    pub finger_width_um: f64,
    /// Die edge to the fingers' tips.
    pub finger_gap_um: f64,
    /// Fan-out of the fingers: their pitch over the pads' pitch.
    pub finger_fanout: f64,
    /// Wire diameter.
    pub wire_diameter_um: f64,
}

impl Default for DieLayout {
    fn default() -> Self {
        DieLayout {
            pad_size_um: 70.0,
            pad_pitch_um: 100.0,
            pad_count: 8,
            die_edge_um: 110.0,
            die_margin_um: 140.0,
            finger_width_um: 70.0,
            finger_gap_um: 120.0,
            finger_fanout: 1.4,
            wire_diameter_um: 25.4,
        }
    }
}

impl DieLayout {
    /// Nominal centre of pad `i`, µm.
    pub fn pad_centre_um(&self, i: usize) -> (f64, f64) {
        (i as f64 * self.pad_pitch_um, 0.0)
    }
    fn die_centre_x(&self) -> f64 {
        (self.pad_count.max(1) - 1) as f64 * self.pad_pitch_um / 2.0
    }
    /// Centre line x of lead finger `i`, µm.
    pub fn finger_x_um(&self, i: usize) -> f64 {
        let c = self.die_centre_x();
        c + (self.pad_centre_um(i).0 - c) * self.finger_fanout
    }
    /// y of the fingers' tips, µm.
    pub fn finger_tip_y_um(&self) -> f64 {
        -self.die_edge_um - self.finger_gap_um
    }
    /// Where the stitch of wire `i` lands, µm.
    pub fn stitch_um(&self, i: usize) -> (f64, f64) {
        (self.finger_x_um(i), self.finger_tip_y_um() - 70.0)
    }
}

/// A ball on a pad, as bonded (µm).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BallState {
    /// Ball centre relative to the pad centre.
    pub dx_um: f64,
    pub dy_um: f64,
    pub diameter_um: f64,
    /// The ball is not there (non-stick: it left with the wire); the pad shows a scrub
    /// mark.
    pub missing: bool,
}

/// Inspection limits the ground truth's expected verdicts use (the recipe's limits).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SceneLimits {
    pub ball_um: [f64; 2],
    pub placement_um: f64,
}

impl Default for SceneLimits {
    fn default() -> Self {
        let l = bonder_core::recipe::Recipe::default_au().limits;
        SceneLimits {
            ball_um: [l.ball_um[0].0, l.ball_um[1].0],
            placement_um: l.placement_um.0,
        }
    }
}

/// What is in front of the camera.
#[derive(Debug, Clone, PartialEq)]
pub struct Scene {
    pub layout: DieLayout,
    /// The pad of the current bond site; the camera looks at its nominal centre.
    pub site: usize,
    /// Per pad: the ball bonded on it (`None`: not bonded yet).
    pub balls: Vec<Option<BallState>>,
    /// Where the camera's centre is relative to the site pad's nominal centre, µm.
    pub camera_offset_um: (f64, f64),
    /// Time, s (drives the thermal drift).
    pub time_s: f64,
    pub limits: SceneLimits,
}

impl Scene {
    /// A die with no ball yet, looking at pad `site`.
    pub fn bare(layout: DieLayout, site: usize) -> Scene {
        let n = layout.pad_count;
        Scene {
            layout,
            site,
            balls: vec![None; n],
            camera_offset_um: (0.0, 0.0),
            time_s: 0.0,
            limits: SceneLimits::default(),
        }
    }
}

/// The camera: optics, lighting, sensor.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraParams {
    pub width: u32,
    pub height: u32,
    /// Object-side pixel size.
    pub um_per_px: f64,
    /// Optics' PSF (Gaussian σ), px.
    pub psf_sigma_px: f64,
    /// Probability of a more blurred frame (focus), and its extra σ, px.
    pub blur_prob: f64,
    pub blur_extra_px: f64,
    /// Sensor noise σ, DN (8-bit).
    pub noise_sigma: f64,
    /// Probability of a noisier frame, and its σ, DN.
    pub noisy_prob: f64,
    pub noisy_sigma: f64,
    /// Overall illumination gain (1: nominal).
    pub gain: f64,
    /// Probability of a dim frame (lamp flicker), and its gain range.
    pub dim_prob: f64,
    pub dim_gain: [f64; 2],
    /// Vignette: relative fall-off at the image corners.
    pub vignette: f64,
    /// Lighting gradient across the image (relative, x and y).
    pub gradient: [f64; 2],
    /// Thermal drift of the image position: amplitude, px, and period, s.
    pub drift_px: f64,
    pub drift_period_s: f64,
    /// Camera-only defects per ball (missing / off-pad / oversized), on top of what the
    /// bond model injects. Used by the simulator's site tracker, not by [`render`].
    pub extra_defect_rate: f64,
}

impl Default for CameraParams {
    fn default() -> Self {
        CameraParams {
            width: 1024,
            height: 768,
            um_per_px: 0.8,
            psf_sigma_px: 1.0,
            blur_prob: 0.05,
            blur_extra_px: 1.0,
            noise_sigma: 2.5,
            noisy_prob: 0.05,
            noisy_sigma: 7.0,
            gain: 1.0,
            dim_prob: 0.05,
            dim_gain: [0.45, 0.65],
            vignette: 0.25,
            gradient: [0.08, -0.05],
            drift_px: 3.0,
            drift_period_s: 300.0,
            extra_defect_rate: 0.0,
        }
    }
}

impl CameraParams {
    /// The image's thermal drift at a time, px (deterministic: two slow sines).
    pub fn drift_at(&self, t_s: f64) -> (f64, f64) {
        let w = std::f64::consts::TAU / self.drift_period_s.max(1e-3);
        (
            self.drift_px * (w * t_s).sin(),
            0.6 * self.drift_px * (w * t_s / 1.37 + 1.0).sin() - 0.6 * self.drift_px * 1f64.sin(),
        )
    }
}

/// What the camera should report for a pad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expected {
    /// Not bonded yet.
    Bare,
    Ok,
    Missing,
    BallSize,
    OffPad,
}

/// The truth about one ball, px unless named.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BallTruth {
    pub centre_px: (f64, f64),
    pub diameter_px: f64,
    pub diameter_um: f64,
    /// Ball centre − pad centre, µm.
    pub offset_um: (f64, f64),
    pub missing: bool,
}

/// The truth about one pad in view.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PadTruth {
    /// Pad number on the die.
    pub index: usize,
    pub centre_px: (f64, f64),
    pub size_px: f64,
    pub ball: Option<BallTruth>,
    pub expected: Expected,
}

/// Everything about a rendered frame that a test needs to check the vision.
#[derive(Debug, Clone, PartialEq)]
pub struct GroundTruth {
    pub um_per_px: f64,
    /// The thermal drift in this frame, px.
    pub drift_px: (f64, f64),
    /// Illumination gain at the image centre (a dim frame is < 0.7).
    pub gain: f64,
    pub noise_sigma: f64,
    /// Total blur σ, px.
    pub blur_sigma_px: f64,
    pub dim: bool,
    pub noisy: bool,
    pub blurred: bool,
    /// Pads wholly in view.
    pub pads: Vec<PadTruth>,
    /// Index into `pads` of the bond site, when it is in view.
    pub site: Option<usize>,
}

impl GroundTruth {
    /// The bond site's pad.
    pub fn site_pad(&self) -> Option<&PadTruth> {
        self.site.and_then(|i| self.pads.get(i))
    }
}

// Reflectances (DN at gain 1).
const SUBSTRATE: f32 = 35.0;
const PASSIVATION: f32 = 85.0;
const FINGER: f32 = 215.0;
const PAD: f32 = 200.0;
const BALL_RIM: f32 = 45.0;
const BALL_TOP: f32 = 150.0;
const BALL_IMPRINT: f32 = 118.0;
const BALL_NECK: f32 = 140.0;
const SCRUB: f32 = 186.0;

/// Expected verdict for a ball under limits (the judge's order: missing, size, placement).
pub fn expected_verdict(ball: Option<&BallState>, limits: &SceneLimits) -> Expected {
    match ball {
        None => Expected::Bare,
        Some(b) if b.missing => Expected::Missing,
        Some(b) if b.diameter_um < limits.ball_um[0] || b.diameter_um > limits.ball_um[1] => {
            Expected::BallSize
        }
        Some(b) if b.dx_um.hypot(b.dy_um) > limits.placement_um => Expected::OffPad,
        Some(_) => Expected::Ok,
    }
}

/// Renders one frame of a scene. Pure: the same scene, parameters and generator state
/// give the same frame. The frame's `seq`, `timestamp_us` and `bond` are left for the
/// caller.
pub fn render<R: Rng + ?Sized>(
    scene: &Scene,
    params: &CameraParams,
    rng: &mut R,
) -> (Frame, GroundTruth) {
    let w = params.width.max(1) as usize;
    let h = params.height.max(1) as usize;
    let s = params.um_per_px.max(1e-6);
    let blurred = rng.random_bool(params.blur_prob.clamp(0.0, 1.0));
    let noisy = rng.random_bool(params.noisy_prob.clamp(0.0, 1.0));
    let dim = rng.random_bool(params.dim_prob.clamp(0.0, 1.0));
    let mut sigma = params.psf_sigma_px.max(0.05);
    if blurred {
        sigma = sigma.hypot(params.blur_extra_px);
    }
    // Pixel area integration adds a box of 1 px: σ² + 1/12.
    let sig = (sigma * sigma + 1.0 / 12.0).sqrt();
    let noise = if noisy {
        params.noisy_sigma
    } else {
        params.noise_sigma
    };
    let gain = params.gain
        * if dim {
            let [a, b] = params.dim_gain;
            if b > a { rng.random_range(a..b) } else { a }
        } else {
            1.0
        };
    let drift = params.drift_at(scene.time_s);

    // µm → px: the camera's centre looks at the site's nominal pad centre + offset.
    let (sx, sy) = scene.layout.pad_centre_um(scene.site);
    let cx_um = sx + scene.camera_offset_um.0;
    let cy_um = sy + scene.camera_offset_um.1;
    let ox = (w as f64 - 1.0) / 2.0 + drift.0;
    let oy = (h as f64 - 1.0) / 2.0 + drift.1;
    let to_px = |x_um: f64, y_um: f64| ((x_um - cx_um) / s + ox, (y_um - cy_um) / s + oy);

    let mut img = vec![SUBSTRATE; w * h];
    let mut canvas = Canvas {
        img: &mut img,
        w,
        h,
        sig,
    };
    let lay = &scene.layout;

    // The die: passivation below its edge, between its side edges.
    let (dx0, _) = to_px(-lay.die_margin_um, 0.0);
    let (dx1, _) = to_px(
        (lay.pad_count.max(1) - 1) as f64 * lay.pad_pitch_um + lay.die_margin_um,
        0.0,
    );
    let (_, dy0) = to_px(0.0, -lay.die_edge_um);
    canvas.rect(dx0, dy0, dx1, 1e9, PASSIVATION);

    // Lead fingers.
    let (_, tip) = to_px(0.0, lay.finger_tip_y_um());
    for i in 0..lay.pad_count {
        let (fx, _) = to_px(lay.finger_x_um(i), 0.0);
        let half = lay.finger_width_um / s / 2.0;
        canvas.rect(fx - half, -1e9, fx + half, tip, FINGER);
    }

    // Pads, balls, wires.
    let pad_px = lay.pad_size_um / s;
    let mut pads = Vec::new();
    let mut site = None;
    for i in 0..lay.pad_count {
        let (pcx, pcy) = lay.pad_centre_um(i);
        let (px, py) = to_px(pcx, pcy);
        let half = pad_px / 2.0;
        canvas.rect(px - half, py - half, px + half, py + half, PAD);
        let ball = scene.balls.get(i).copied().flatten();
        let mut bt = None;
        if let Some(b) = ball {
            let (bx, by) = (px + b.dx_um / s, py + b.dy_um / s);
            let r = b.diameter_um / s / 2.0;
            if b.missing {
                canvas.disc(bx, by, 0.8 * r, sig.max(3.0), SCRUB);
            } else {
                canvas.disc(bx, by, r, sig, BALL_RIM);
                canvas.disc(bx, by, 0.72 * r, sig.max(1.5), BALL_TOP);
                canvas.disc(bx, by, 0.48 * r, sig, BALL_IMPRINT);
                canvas.disc(bx, by, 0.38 * r, sig, BALL_NECK);
                // The wire: the neck rising from the ball (in focus, over the ball), then
                // the loop high above the die, far out of focus: a faint broad shadow
                // towards the stitch.
                let (tx, ty) = lay.stitch_um(i);
                let (tx, ty) = to_px(tx, ty);
                let wire_px = lay.wire_diameter_um / s;
                canvas.wire(
                    (bx, by),
                    (tx, ty),
                    0.3 * r,
                    0.3 * r,
                    wire_px,
                    sig.max(2.0),
                    0.55,
                );
                canvas.wire(
                    (bx, by),
                    (tx, ty),
                    0.8 * r,
                    2.5 * r,
                    1.5 * wire_px,
                    12.0,
                    0.08,
                );
            }
            bt = Some(BallTruth {
                centre_px: (bx, by),
                diameter_px: 2.0 * r,
                diameter_um: b.diameter_um,
                offset_um: (b.dx_um, b.dy_um),
                missing: b.missing,
            });
        }
        let inside = px - half >= 2.0
            && py - half >= 2.0
            && px + half <= w as f64 - 3.0
            && py + half <= h as f64 - 3.0;
        if inside {
            if i == scene.site {
                site = Some(pads.len());
            }
            pads.push(PadTruth {
                index: i,
                centre_px: (px, py),
                size_px: pad_px,
                ball: bt,
                expected: expected_verdict(ball.as_ref(), &scene.limits),
            });
        }
    }
    // Stitches on the fingers (after the pads, so a wire's far end lies on top).
    for (i, b) in scene.balls.iter().enumerate().take(lay.pad_count) {
        if let Some(b) = b
            && !b.missing
        {
            let (tx, ty) = lay.stitch_um(i);
            let (tx, ty) = to_px(tx, ty);
            let wire_px = lay.wire_diameter_um / s;
            canvas.disc(tx, ty, 0.9 * wire_px, sig, 120.0);
        }
    }

    // Lighting, noise, quantisation.
    let table = noise_table();
    let mask = table.len() - 1;
    let half_diag = ((w * w + h * h) as f64).sqrt() / 2.0;
    let (cxp, cyp) = ((w as f64 - 1.0) / 2.0, (h as f64 - 1.0) / 2.0);
    let mut pixels = vec![0u8; w * h];
    let inv_d2 = 1.0 / (half_diag * half_diag);
    // gain · (1 − v·(x² + y²)/d²) · (1 + gx·x) · (1 + gy·y) = (ay − bx[x]) · gx[x] · gy
    let bx: Vec<f32> = (0..w)
        .map(|x| (params.vignette * (x as f64 - cxp).powi(2) * inv_d2) as f32)
        .collect();
    let gx: Vec<f32> = (0..w)
        .map(|x| (gain * (1.0 + params.gradient[0] * (x as f64 - cxp) / cxp.max(1.0))) as f32)
        .collect();
    let noise = noise as f32;
    for y in 0..h {
        let yn = (y as f64 - cyp) / cyp.max(1.0);
        let ay = (1.0 - params.vignette * (y as f64 - cyp).powi(2) * inv_d2) as f32;
        let gy = (1.0 + params.gradient[1] * yn) as f32;
        let start = rng.random::<u32>() as usize & mask;
        let row = &img[y * w..(y + 1) * w];
        let out = &mut pixels[y * w..(y + 1) * w];
        for (x, (o, &v)) in out.iter_mut().zip(row).enumerate() {
            let g = (ay - bx[x]) * gx[x] * gy;
            let n = table[(start + x) & mask];
            let val = v * g + noise * n;
            *o = (val + 0.5).clamp(0.0, 255.0) as u8;
        }
    }
    let noise = f64::from(noise);
    let mut frame = Frame::new(w as u32, h as u32);
    frame.pixels = pixels;
    let gt = GroundTruth {
        um_per_px: s,
        drift_px: drift,
        gain,
        noise_sigma: noise,
        blur_sigma_px: sigma,
        dim,
        noisy,
        blurred,
        pads,
        site,
    };
    (frame, gt)
}

/// 64 Ki standard normal values (fixed seed); rows start at random offsets.
fn noise_table() -> &'static [f32] {
    static T: OnceLock<Vec<f32>> = OnceLock::new();
    T.get_or_init(|| {
        let mut r = ChaCha8Rng::seed_from_u64(0x0ca3_e7a5);
        (0..1 << 16)
            .map(|_| {
                let v: f64 = StandardNormal.sample(&mut r);
                v as f32
            })
            .collect()
    })
}

/// Standard normal CDF (Abramowitz–Stegun 7.1.26 for erf, |error| < 1.5e-7).
fn phi(z: f64) -> f64 {
    let x = z.abs() * std::f64::consts::FRAC_1_SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let y = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - y * (-x * x).exp();
    if z >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

struct Canvas<'a> {
    img: &'a mut [f32],
    w: usize,
    h: usize,
    sig: f64,
}

impl Canvas<'_> {
    fn clip_x(&self, a: f64, b: f64) -> (usize, usize) {
        let lo = a.floor().max(0.0).min(self.w as f64) as usize;
        let hi = b.ceil().max(0.0).min(self.w as f64) as usize;
        (lo, hi)
    }
    fn clip_y(&self, a: f64, b: f64) -> (usize, usize) {
        let lo = a.floor().max(0.0).min(self.h as f64) as usize;
        let hi = b.ceil().max(0.0).min(self.h as f64) as usize;
        (lo, hi)
    }

    /// A blurred axis-aligned rectangle [x0, x1] × [y0, y1] (px, edges), painted over.
    fn rect(&mut self, x0: f64, y0: f64, x1: f64, y1: f64, value: f32) {
        let m = 4.0 * self.sig;
        let (xa, xb) = self.clip_x(x0 - m, x1 + m);
        let (ya, yb) = self.clip_y(y0 - m, y1 + m);
        if xa >= xb || ya >= yb {
            return;
        }
        let sig = self.sig;
        let cov = |p: f64, a: f64, b: f64| phi((p - a) / sig) - phi((p - b) / sig);
        let ax: Vec<f32> = (xa..xb).map(|x| cov(x as f64, x0, x1) as f32).collect();
        for y in ya..yb {
            let ay = cov(y as f64, y0, y1) as f32;
            if ay <= 0.0 {
                continue;
            }
            let row = &mut self.img[y * self.w + xa..y * self.w + xb];
            for (p, &a) in row.iter_mut().zip(&ax) {
                let a = a * ay;
                *p += (value - *p) * a;
            }
        }
    }

    /// A blurred disc, painted over.
    fn disc(&mut self, cx: f64, cy: f64, r: f64, sig: f64, value: f32) {
        if r <= 0.0 {
            return;
        }
        let m = r + 4.0 * sig;
        let (xa, xb) = self.clip_x(cx - m, cx + m + 1.0);
        let (ya, yb) = self.clip_y(cy - m, cy + m + 1.0);
        for y in ya..yb {
            let dy = y as f64 - cy;
            for x in xa..xb {
                let dx = x as f64 - cx;
                let d = (dx * dx + dy * dy).sqrt();
                let z = (r - d) / sig;
                if z < -5.0 {
                    continue;
                }
                let a = if z > 5.0 { 1.0 } else { phi(z) as f32 };
                let p = &mut self.img[y * self.w + x];
                *p += (value - *p) * a;
            }
        }
    }

    /// A wire from `a` towards `b`: darkening by `dark` (0..1), starting `start` px from
    /// `a`, fading with distance (`fade` px: 1/e), `width` px wide, blurred by `sig`.
    #[allow(clippy::too_many_arguments)]
    fn wire(
        &mut self,
        a: (f64, f64),
        b: (f64, f64),
        start: f64,
        fade: f64,
        width: f64,
        sig: f64,
        dark: f64,
    ) {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len = dx.hypot(dy);
        if len <= start {
            return;
        }
        let (ux, uy) = (dx / len, dy / len);
        let end = len.min(start + 2.0 * fade);
        let m = width / 2.0 + 4.0 * sig;
        let xs = [a.0 + ux * start, a.0 + ux * end];
        let ys = [a.1 + uy * start, a.1 + uy * end];
        let (xa, xb) = self.clip_x(xs[0].min(xs[1]) - m, xs[0].max(xs[1]) + m + 1.0);
        let (ya, yb) = self.clip_y(ys[0].min(ys[1]) - m, ys[0].max(ys[1]) + m + 1.0);
        let half = width / 2.0;
        for y in ya..yb {
            for x in xa..xb {
                let (px, py) = (x as f64 - a.0, y as f64 - a.1);
                let along = px * ux + py * uy;
                let across = (px * uy - py * ux).abs();
                if across > half + 4.0 * sig || along < start - 4.0 * sig {
                    continue;
                }
                let cov_across = phi((half - across) / sig);
                let cov_along = phi((along - start) / sig) * phi((end - along) / sig);
                let fade_f = (-(along - start).max(0.0) / fade).exp();
                let k = (dark * cov_across * cov_along * fade_f) as f32;
                if k > 1e-4 {
                    let p = &mut self.img[y * self.w + x];
                    *p *= 1.0 - k;
                }
            }
        }
    }
}

/// The simulator's memory of what is on the die in front of the camera: the balls of the
/// current unit, the bond site, and the bond in view.
#[derive(Debug, Clone)]
pub struct CameraSite {
    pub layout: DieLayout,
    pub limits: SceneLimits,
    balls: Vec<Option<BallState>>,
    site: usize,
    unit_no: Option<u32>,
    bond: Option<BondRef>,
    extra_defect_rate: f64,
    rng: ChaCha8Rng,
}

impl CameraSite {
    pub fn new(layout: DieLayout, extra_defect_rate: f64, seed: u64) -> CameraSite {
        let n = layout.pad_count;
        CameraSite {
            layout,
            limits: SceneLimits::default(),
            balls: vec![None; n],
            site: 0,
            unit_no: None,
            bond: None,
            extra_defect_rate,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_ca3e),
        }
    }

    /// Records a ball bond (the camera looks at its pad next).
    pub fn record_ball(&mut self, ball: &BondEvent, injected: Option<Defect>, stream_seq: u32) {
        let n = self.layout.pad_count.max(1);
        if self.unit_no != Some(ball.unit_no) {
            self.unit_no = Some(ball.unit_no);
            self.balls = vec![None; self.layout.pad_count];
        }
        let pad = (usize::from(ball.wire_no.max(1)) - 1) % n;
        let mut b = BallState {
            dx_um: f64::from(ball.place_dx_um),
            dy_um: f64::from(ball.place_dy_um),
            diameter_um: f64::from(ball.ball_diameter_um.unwrap_or(48.0)),
            missing: injected == Some(Defect::Nsop),
        };
        if self.extra_defect_rate > 0.0
            && self.rng.random_bool(self.extra_defect_rate.clamp(0.0, 1.0))
        {
            match self.rng.random_range(0..3) {
                0 => b.missing = true,
                1 => {
                    let a = self.rng.random_range(0.0..std::f64::consts::TAU);
                    let m = self.rng.random_range(12.0..20.0);
                    b.dx_um = m * a.cos();
                    b.dy_um = m * a.sin();
                }
                _ => b.diameter_um *= self.rng.random_range(1.25..1.4),
            }
        }
        if let Some(slot) = self.balls.get_mut(pad) {
            *slot = Some(b);
        }
        self.site = pad;
        self.bond = Some(BondRef {
            stream_seq,
            unit_no: ball.unit_no,
            wire_no: ball.wire_no,
        });
    }

    /// The scene at a time.
    pub fn scene(&self, time_s: f64) -> Scene {
        Scene {
            layout: self.layout.clone(),
            site: self.site,
            balls: self.balls.clone(),
            camera_offset_um: (0.0, 0.0),
            time_s,
            limits: self.limits,
        }
    }

    /// The bond in view (the last ball bond).
    pub fn bond(&self) -> Option<BondRef> {
        self.bond
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn phi_is_a_cdf() {
        assert!((phi(0.0) - 0.5).abs() < 1e-7);
        assert!((phi(1.0) - 0.841_344_746).abs() < 1e-6);
        assert!((phi(-1.96) - 0.024_997_9).abs() < 1e-6);
    }

    #[test]
    fn renders_pads_and_balls_where_the_truth_says() {
        let mut scene = Scene::bare(DieLayout::default(), 3);
        scene.balls[3] = Some(BallState {
            dx_um: 1.0,
            dy_um: -0.5,
            diameter_um: 48.0,
            missing: false,
        });
        let params = CameraParams {
            dim_prob: 0.0,
            noisy_prob: 0.0,
            blur_prob: 0.0,
            ..CameraParams::default()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (f, gt) = render(&scene, &params, &mut rng);
        assert_eq!((f.width, f.height), (1024, 768));
        let site = gt.site_pad().unwrap();
        assert_eq!(site.index, 3);
        assert_eq!(site.expected, Expected::Ok);
        let (cx, cy) = site.centre_px;
        assert!((cx - 511.5).abs() < 0.01 && (cy - 383.5).abs() < 0.01);
        let b = site.ball.unwrap();
        assert!((b.diameter_px - 60.0).abs() < 1e-9);
        // Bare pad bright, ball rim dark, die darker than the pad.
        let p = |x: f64, y: f64| f.get(x.round() as u32, y.round() as u32);
        let bare = gt.pads.iter().find(|p| p.ball.is_none()).unwrap();
        assert!(p(bare.centre_px.0, bare.centre_px.1) > 170);
        assert!(p(b.centre_px.0 + 28.0, b.centre_px.1) < 90);
        assert!(p(cx, cy + 60.0) < 110);
        assert!(gt.pads.len() >= 7, "{}", gt.pads.len());
    }

    #[test]
    fn site_tracker_follows_the_bond_model() {
        let mut model = crate::model::BondModel::new(3, 0.0);
        let values =
            bonder_core::recipe::parse_block(&bonder_core::recipe::Recipe::default_au().to_block())
                .unwrap();
        let mut site = CameraSite::new(DieLayout::default(), 0.0, 1);
        model.force_defect(Defect::Nsop);
        let w = model.next_wire(&values, 0, 100_000);
        site.record_ball(&w.ball, w.injected, 10);
        let sc = site.scene(0.0);
        assert!(sc.balls[0].unwrap().missing);
        model.force_defect(Defect::Placement);
        let w = model.next_wire(&values, 0, 100_000);
        site.record_ball(&w.ball, w.injected, 12);
        let sc = site.scene(0.0);
        assert_eq!(sc.site, 1);
        let b = sc.balls[1].unwrap();
        assert!(b.dx_um.hypot(b.dy_um) > 5.0);
        assert_eq!(
            expected_verdict(Some(&b), &SceneLimits::default()),
            Expected::OffPad
        );
        assert_eq!(site.bond().unwrap().stream_seq, 12);
    }
}
