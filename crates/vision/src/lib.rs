//! `bonder-vision`: bond vision without IO — it takes pixels and returns measurements.
//!
//! * [`Template`]: teach a pattern from an ROI of a reference image (serde: stored in
//!   the recipe); [`TeachOptions::pad`] for a bond pad (anchor on the pad's centre,
//!   don't-care centre where the ball sits).
//! * [`Matcher`]: normalised cross-correlation, coarse to fine on a 2×2 pyramid, with a
//!   parabolic sub-pixel peak ([`template`] says why not `imageproc`).
//! * [`Calibration`]: px ↔ µm (serde: per recipe), measured on the die's pad row
//!   ([`Calibration::from_pad_row`]).
//! * [`VisionSetup`]: template + calibration, the JSON the station stores per recipe.
//! * [`ball::find_ball`]: ball centre and diameter from rim edge points and a robust
//!   circle fit.
//! * [`Inspector`]: pad + ball → [`Inspection`] (offset in µm, verdict, confidence),
//!   serde so the store can keep it beside the bond.
//!
//! Pixel coordinates: pixel `(i, j)`'s centre is at `(i, j)`; x right, y down.

mod b64;
pub mod ball;
pub mod calib;
pub mod image;
pub mod inspect;
pub mod setup;
pub mod template;

pub use ball::BallFit;
pub use calib::Calibration;
pub use image::{GrayImage, ImageView};
pub use inspect::{
    BallMeasurement, FrameInspection, Inspection, InspectionLimits, Inspector, VisionVerdict,
};
pub use setup::VisionSetup;
pub use template::{Anchor, Matcher, PadMatch, Roi, TeachOptions, Template};

/// Errors of the vision.
#[derive(Debug, thiserror::Error)]
pub enum VisionError {
    #[error("image of {width}x{height} with {len} bytes")]
    BadImage { width: u32, height: u32, len: usize },
    #[error("ROI {0:?} is smaller than {min}x{min} px", min = template::MIN_TEMPLATE)]
    RoiTooSmall(Roi),
    #[error("ROI {roi:?} is not inside the {width}x{height} image")]
    RoiOutside { roi: Roi, width: u32, height: u32 },
    #[error("the ROI has no contrast to match on")]
    FlatTemplate,
    #[error("template: {0}")]
    BadTemplate(String),
    #[error("calibration {0:?}: pixel sizes must be > 0")]
    BadCalibration(Calibration),
    #[error("stored vision setup: {0}")]
    BadSetup(String),
}
