//! Post-bond inspection: the pad, the ball on it, the offset between them in µm, and a
//! verdict with a confidence.

use crate::VisionError;
use crate::ball::{BallFit, BallSearch, find_ball};
use crate::calib::Calibration;
use crate::image::ImageView;
use crate::template::{Matcher, PadMatch, Template};
use serde::{Deserialize, Serialize};

/// The recipe's limits for a ball bond, µm.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct InspectionLimits {
    /// Allowed ball diameter [min, max].
    pub ball_um: [f64; 2],
    /// Largest allowed distance of the ball centre from the pad centre.
    pub placement_um: f64,
    /// How far from the pad centre a ball is looked for.
    #[serde(default = "default_search")]
    pub search_um: f64,
}

fn default_search() -> f64 {
    25.0
}

impl InspectionLimits {
    pub fn new(ball_um: [f64; 2], placement_um: f64) -> InspectionLimits {
        InspectionLimits {
            ball_um,
            placement_um,
            search_um: default_search(),
        }
    }
    /// The middle of the ball diameter band.
    pub fn nominal_ball_um(&self) -> f64 {
        (self.ball_um[0] + self.ball_um[1]) / 2.0
    }
}

/// The vision's verdict on a ball bond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisionVerdict {
    Ok,
    /// The ball centre is farther from the pad centre than the placement limit.
    OffPad,
    /// The ball diameter is outside its band.
    BallSize,
    /// No ball on the pad.
    Missing,
    /// The pad itself was not found (no verdict on the ball).
    NoPad,
}

impl VisionVerdict {
    pub fn name(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::OffPad => "off_pad",
            Self::BallSize => "ball_size",
            Self::Missing => "missing",
            Self::NoPad => "no_pad",
        }
    }
    pub fn is_ok(self) -> bool {
        self == Self::Ok
    }
}

/// A measured ball, in px and µm.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BallMeasurement {
    /// Centre, px.
    pub centre_px: [f64; 2],
    pub diameter_px: f64,
    pub diameter_um: f64,
    /// Circle fit quality: RMS of the edge points, px; inlier fraction; rim contrast.
    pub fit_rms_px: f64,
    pub inliers: f32,
    pub contrast: f32,
}

/// The inspection of one ball bond: what the store keeps beside the bond record.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Inspection {
    pub verdict: VisionVerdict,
    /// How sure the verdict is, 0..1.
    pub confidence: f32,
    pub pad: Option<PadMatch>,
    pub ball: Option<BallMeasurement>,
    /// Ball centre − pad centre, µm (machine axes).
    pub offset_um: Option<[f64; 2]>,
}

impl Inspection {
    /// Distance of the ball from the pad centre, µm.
    pub fn offset_abs_um(&self) -> Option<f64> {
        self.offset_um.map(|[x, y]| x.hypot(y))
    }
}

/// A whole frame: the pads found and the inspection of the bond site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameInspection {
    /// Every pad found, best score first.
    pub pads: Vec<PadMatch>,
    /// The ball on the pad nearest the bond site (the image centre unless told).
    pub site: Option<Inspection>,
}

/// Everything a bond inspection needs, prepared once per recipe.
#[derive(Debug, Clone)]
pub struct Inspector {
    matcher: Matcher,
    template: Template,
    calib: Calibration,
    limits: InspectionLimits,
}

/// Largest RMS of a ball's rim points about its circle, px (noise on a bare pad makes
/// ragged "circles").
const MAX_RMS_PX: f64 = 1.5;
/// Rim contrast (relative step) at which a ball counts as fully seen.
const FULL_CONTRAST: f32 = 0.2;
/// Measurement uncertainties (1σ) the verdict confidences are scaled by, µm.
const SIGMA_DIAMETER_UM: f64 = 0.4;
const SIGMA_OFFSET_UM: f64 = 0.3;

impl Inspector {
    pub fn new(
        template: &Template,
        calib: Calibration,
        limits: InspectionLimits,
    ) -> Result<Inspector, VisionError> {
        if !(calib.um_per_px_x > 0.0 && calib.um_per_px_y > 0.0) {
            return Err(VisionError::BadCalibration(calib));
        }
        Ok(Inspector {
            matcher: template.prepare()?,
            template: template.clone(),
            calib,
            limits,
        })
    }

    pub fn template(&self) -> &Template {
        &self.template
    }
    pub fn calibration(&self) -> &Calibration {
        &self.calib
    }
    pub fn limits(&self) -> &InspectionLimits {
        &self.limits
    }
    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }

    /// Every pad in the image, best first.
    pub fn find_pads(&self, img: ImageView<'_>) -> Vec<PadMatch> {
        self.matcher.find_all(img)
    }

    /// The pad whose centre is within `radius_px` of `expected`.
    pub fn find_pad_near(
        &self,
        img: ImageView<'_>,
        expected: [f64; 2],
        radius_px: f64,
    ) -> Option<PadMatch> {
        self.matcher
            .find_near(img, expected, radius_px)
            // Near where a pad must be, the overall score decides: a ball far off the
            // pad may hide one of its sides.
            .filter(|m| m.score >= self.matcher.min_score())
    }

    /// Inspects the ball bond on the pad expected near `expected` (e.g. the bond site at
    /// the image centre, or a position from the bond program).
    pub fn inspect_bond(
        &self,
        img: ImageView<'_>,
        expected: [f64; 2],
        radius_px: f64,
    ) -> Inspection {
        match self.find_pad_near(img, expected, radius_px) {
            Some(p) => self.inspect_pad(img, &p),
            None => Inspection {
                verdict: VisionVerdict::NoPad,
                confidence: 1.0,
                pad: None,
                ball: None,
                offset_um: None,
            },
        }
    }

    /// Finds every pad and inspects the one nearest `site` (the image centre if `None`).
    pub fn inspect_frame(&self, img: ImageView<'_>, site: Option<[f64; 2]>) -> FrameInspection {
        let pads = self.find_pads(img);
        let at = site.unwrap_or([
            (img.width() as f64 - 1.0) / 2.0,
            (img.height() as f64 - 1.0) / 2.0,
        ]);
        let near = pads.iter().min_by(|a, b| {
            let da = (a.centre[0] - at[0]).hypot(a.centre[1] - at[1]);
            let db = (b.centre[0] - at[0]).hypot(b.centre[1] - at[1]);
            da.total_cmp(&db)
        });
        let site = near.map(|p| self.inspect_pad(img, p));
        FrameInspection { pads, site }
    }

    /// The ball on a found pad.
    pub fn inspect_pad(&self, img: ImageView<'_>, pad: &PadMatch) -> Inspection {
        let s = self.calib.um_per_px();
        let search = BallSearch {
            radius: self.limits.nominal_ball_um() / s / 2.0,
            max_offset: self.limits.search_um / s,
            rays: 64,
        };
        let fit = find_ball(img, pad.centre, &search);
        self.judge(pad, fit)
    }

    fn judge(&self, pad: &PadMatch, fit: Option<BallFit>) -> Inspection {
        let seen = |f: &BallFit| (f.inliers / 0.8).min(1.0) * (f.contrast / FULL_CONTRAST).min(1.0);
        let Some(f) = fit.filter(|f| f.inliers >= 0.5 && f.contrast >= 0.08 && f.rms <= MAX_RMS_PX)
        else {
            let confidence = fit.map_or(1.0, |f| 1.0 - seen(&f));
            return Inspection {
                verdict: VisionVerdict::Missing,
                confidence: confidence.clamp(0.0, 1.0),
                pad: Some(*pad),
                ball: None,
                offset_um: None,
            };
        };
        let s = self.calib.um_per_px();
        let d_um = f.diameter() * s;
        let off_px = [f.centre[0] - pad.centre[0], f.centre[1] - pad.centre[1]];
        let off = self.calib.px_to_um(off_px);
        let off_abs = off[0].hypot(off[1]);
        let [lo, hi] = self.limits.ball_um;
        let size_margin = (d_um - lo).min(hi - d_um);
        let place_margin = self.limits.placement_um - off_abs;
        let verdict = if size_margin < 0.0 {
            VisionVerdict::BallSize
        } else if place_margin < 0.0 {
            VisionVerdict::OffPad
        } else {
            VisionVerdict::Ok
        };
        // Confidence: how well the ball was seen × how far the deciding measurement is
        // from its limit in units of its uncertainty (0.5 at the limit, → 1 beyond 2σ).
        let sure = |margin: f64, sigma: f64| (0.5 + 0.25 * (margin.abs() / sigma)).min(1.0);
        let margin_conf = match verdict {
            VisionVerdict::BallSize => sure(size_margin, SIGMA_DIAMETER_UM),
            VisionVerdict::OffPad => sure(place_margin, SIGMA_OFFSET_UM),
            _ => sure(size_margin, SIGMA_DIAMETER_UM).min(sure(place_margin, SIGMA_OFFSET_UM)),
        };
        Inspection {
            verdict,
            confidence: (seen(&f).max(0.5) * margin_conf as f32).clamp(0.0, 1.0),
            pad: Some(*pad),
            ball: Some(BallMeasurement {
                centre_px: f.centre,
                diameter_px: f.diameter(),
                diameter_um: d_um,
                fit_rms_px: f.rms,
                inliers: f.inliers,
                contrast: f.contrast,
            }),
            offset_um: Some(off),
        }
    }
}
