//! A recipe's vision setup on one station: the taught pad template and the px ↔ µm
//! calibration, as one JSON document the station's store keeps per recipe (the optics
//! differ between machines, so it is station data, not part of the released parameter
//! block that is downloaded to the controller).

use crate::{Calibration, Template, VisionError};
use serde::{Deserialize, Serialize};

/// Pixel sizes outside this range are no microscope of a bonder (µm/px).
pub const UM_PER_PX_RANGE: std::ops::RangeInclusive<f64> = 0.05..=20.0;

/// What the vision of a recipe needs besides the recipe's limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisionSetup {
    /// The taught pad template (`None`: not taught yet).
    pub template: Option<Template>,
    pub calibration: Calibration,
    /// The pad pitch the calibration was measured on, µm (`None`: the calibration is
    /// the station's default, not measured for this recipe).
    #[serde(default)]
    pub pad_pitch_um: Option<f64>,
}

impl VisionSetup {
    /// A setup with only a calibration.
    pub fn new(calibration: Calibration) -> VisionSetup {
        VisionSetup {
            template: None,
            calibration,
            pad_pitch_um: None,
        }
    }

    /// The stored form.
    pub fn to_json(&self) -> String {
        // A struct of numbers, strings and a byte vector: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads and checks a stored setup: the calibration in range, the template usable.
    pub fn from_json(s: &str) -> Result<VisionSetup, VisionError> {
        let v: VisionSetup =
            serde_json::from_str(s).map_err(|e| VisionError::BadSetup(e.to_string()))?;
        v.check()?;
        Ok(v)
    }

    /// The calibration in range and the template usable.
    pub fn check(&self) -> Result<(), VisionError> {
        let c = self.calibration;
        let ok = |v: f64| v.is_finite() && UM_PER_PX_RANGE.contains(&v);
        if !ok(c.um_per_px_x) || !ok(c.um_per_px_y) || !c.angle_rad.is_finite() {
            return Err(VisionError::BadCalibration(c));
        }
        if let Some(t) = &self.template {
            if t.pixels.len() != t.width as usize * t.height as usize {
                return Err(VisionError::BadTemplate(format!(
                    "{}x{} px with {} bytes",
                    t.width,
                    t.height,
                    t.pixels.len()
                )));
            }
            t.prepare()?;
        }
        Ok(())
    }

    /// One line for the audit trail and logs.
    pub fn summary(&self) -> String {
        let c = self.calibration;
        let t = match &self.template {
            Some(t) => format!(
                "template {}x{} px at ({}, {})",
                t.width, t.height, t.roi.x, t.roi.y
            ),
            None => "no template".into(),
        };
        let pitch = match self.pad_pitch_um {
            Some(p) => format!(", measured on a {p} µm pad pitch"),
            None => String::new(),
        };
        format!(
            "{t}; {:.4} µm/px, {:.2} mrad{pitch}",
            c.um_per_px(),
            c.angle_rad * 1000.0
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::{ImageView, Roi, TeachOptions};

    fn template() -> Template {
        // A bright square pad on a darker die.
        let (w, h) = (40usize, 40usize);
        let px: Vec<u8> = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                if (4..36).contains(&x) && (4..36).contains(&y) {
                    200
                } else {
                    60
                }
            })
            .collect();
        let img = ImageView::new(40, 40, &px).unwrap();
        let roi = Roi {
            x: 0,
            y: 0,
            width: 40,
            height: 40,
        };
        Template::teach(img, roi, &TeachOptions::pad()).unwrap()
    }

    #[test]
    fn round_trips_and_refuses_what_would_not_work() {
        let s = VisionSetup {
            template: Some(template()),
            calibration: Calibration::uniform(0.8),
            pad_pitch_um: Some(100.0),
        };
        let back = VisionSetup::from_json(&s.to_json()).unwrap();
        assert_eq!(back, s);
        assert!(s.summary().contains("40x40"), "{}", s.summary());

        let mut bad = s.clone();
        bad.calibration.um_per_px_x = 0.0;
        assert!(matches!(
            VisionSetup::from_json(&bad.to_json()),
            Err(VisionError::BadCalibration(_))
        ));
        let mut cut = s.clone();
        if let Some(t) = cut.template.as_mut() {
            t.pixels.truncate(100);
        }
        assert!(matches!(
            VisionSetup::from_json(&cut.to_json()),
            Err(VisionError::BadTemplate(_))
        ));
        assert!(matches!(
            VisionSetup::from_json("{\"template\": 3}"),
            Err(VisionError::BadSetup(_))
        ));
        // An older setup without the pitch still reads.
        let old = r#"{"template":null,"calibration":{"um_per_px_x":0.8,"um_per_px_y":0.8}}"#;
        assert_eq!(
            VisionSetup::from_json(old).unwrap(),
            VisionSetup::new(Calibration::uniform(0.8))
        );
    }
}
