//! The camera page's drawing per frame: a simulator frame (1024×768) scaled into the
//! page's view (880×620 at 1280×800) with every overlay (crosshair, taught ROI, eight
//! pads, ball circle, offset vector), and the production tile (262×196). The vision
//! itself (`inspect_frame`) runs on the feed's thread and is benched in bonder-vision.

use bonder_station_ui::camera_view::{Overlay, View, render};
use bonder_vision::{
    Calibration, ImageView, InspectionLimits, Inspector, Roi, TeachOptions, Template,
};
use bondersim::camera::{BallState, CameraParams, DieLayout, Scene, render as render_scene};
use criterion::{Criterion, criterion_group, criterion_main};
use rand::SeedableRng;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut scene = Scene::bare(DieLayout::default(), 3);
    for i in 0..=3 {
        scene.balls[i] = Some(BallState {
            dx_um: 1.0,
            dy_um: -0.5,
            diameter_um: 48.0,
            missing: false,
        });
    }
    let (frame, _) = render_scene(&scene, &CameraParams::default(), &mut rng);
    let img =
        ImageView::new(frame.width, frame.height, &frame.pixels).unwrap_or_else(|e| panic!("{e}"));
    let roi = Roi {
        x: frame.width / 2 - 54,
        y: frame.height / 2 - 54,
        width: 108,
        height: 108,
    };
    let t = Template::teach(img, roi, &TeachOptions::pad()).unwrap_or_else(|e| panic!("{e}"));
    let insp = Inspector::new(
        &t,
        Calibration::uniform(0.8),
        InspectionLimits::new([44.0, 52.0], 3.0),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let fi = insp.inspect_frame(img, None);
    assert!(fi.pads.len() >= 6 && fi.site.is_some());
    let overlay = Overlay {
        inspection: Some(&fi),
        taught: Some(roi),
        draft: None,
        compact: false,
    };
    let view = View {
        zoom: 1.0,
        centre: [511.5, 383.5],
    };
    let mut g = c.benchmark_group("camera_page");
    g.bench_function("view_880x620_with_overlays", |b| {
        b.iter(|| black_box(render(&frame, &view, &overlay, 880, 620)))
    });
    let zoomed = View {
        zoom: 4.0,
        centre: [511.5, 383.5],
    };
    g.bench_function("view_880x620_zoom4_with_overlays", |b| {
        b.iter(|| black_box(render(&frame, &zoomed, &overlay, 880, 620)))
    });
    let tile = Overlay {
        compact: true,
        ..overlay
    };
    g.bench_function("production_tile_262x196", |b| {
        b.iter(|| black_box(render(&frame, &view, &tile, 262, 196)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
