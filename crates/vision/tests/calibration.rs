//! Pixel ↔ µm calibration from the die's pad row (known pitch) on simulator frames at
//! other magnifications than the default: the scale comes back within 0.3 %, and balls
//! measured with it within 2 % of their true diameter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bonder_vision::{Calibration, ImageView, Inspector};
use bondersim::camera::{CameraParams, DieLayout, render};
use common::*;

#[test]
fn the_pad_row_calibrates_scale_on_noisy_frames() {
    let pitch = DieLayout::default().pad_pitch_um;
    for um_per_px in [0.65, 0.8, 1.0] {
        let clean = CameraParams {
            um_per_px,
            ..clean_params()
        };
        let (t, _) = teach_with(&clean);
        // A first inspector at a wrong guess finds the pads all the same (the template
        // is in pixels); its calibration is what we want to replace.
        let guess = Inspector::new(&t, Calibration::uniform(0.5), limits()).unwrap();
        let params = CameraParams {
            um_per_px,
            ..hard_params(1024, 768)
        };
        let mut r = rng(11);
        let mut errs = Vec::new();
        let mut ball_errs = Vec::new();
        for i in 0..20 {
            let s = scene(&mut r, 2 + i % 4, Kind::Ok);
            let (f, gt) = render(&s, &params, &mut r);
            let img = ImageView::new(f.width, f.height, &f.pixels).unwrap();
            let centres: Vec<[f64; 2]> = guess.find_pads(img).iter().map(|m| m.centre).collect();
            assert!(centres.len() >= 3, "{} pads at {um_per_px}", centres.len());
            let c = Calibration::from_pad_row(&centres, pitch)
                .unwrap_or_else(|| panic!("no calibration from {centres:?}"));
            errs.push((c.um_per_px() / gt.um_per_px - 1.0).abs());
            assert!(c.angle_rad.abs() < 0.002, "angle {}", c.angle_rad);
            let insp = Inspector::new(&t, c, limits()).unwrap();
            let site = gt.site_pad().unwrap();
            let seen = insp.inspect_frame(img, Some([site.centre_px.0, site.centre_px.1]));
            if let (Some(b), Some(truth)) = (
                seen.site.and_then(|s| s.ball),
                site.ball.as_ref().filter(|b| !b.missing),
            ) {
                ball_errs.push((b.diameter_um / truth.diameter_um - 1.0).abs());
            }
        }
        let worst = errs.iter().copied().fold(0.0, f64::max);
        assert!(worst < 0.003, "scale error {worst} at {um_per_px} µm/px");
        let worst_ball = ball_errs.iter().copied().fold(0.0, f64::max);
        assert!(ball_errs.len() >= 15, "{} balls measured", ball_errs.len());
        assert!(
            worst_ball < 0.02,
            "ball diameter error {worst_ball} at {um_per_px} µm/px"
        );
        println!(
            "{um_per_px} µm/px: scale error max {:.3} %, ball diameter error max {:.2} % over {} balls",
            worst * 100.0,
            worst_ball * 100.0,
            ball_errs.len()
        );
    }
}
