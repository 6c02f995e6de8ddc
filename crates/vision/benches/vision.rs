//! Pad finding per 1024×768 frame and ball bonds inspected per second (one core), on
//! simulator frames: `cargo bench -p bonder-vision --bench vision`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bonder_vision::{
    Calibration, ImageView, InspectionLimits, Inspector, Roi, TeachOptions, Template,
};
use bondersim::camera::{BallState, CameraParams, DieLayout, Scene, render};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;
use std::hint::black_box;

fn setup() -> (Inspector, Vec<bonder_camera::Frame>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let clean = CameraParams {
        dim_prob: 0.0,
        noisy_prob: 0.0,
        blur_prob: 0.0,
        ..CameraParams::default()
    };
    let (f, gt) = render(&Scene::bare(DieLayout::default(), 3), &clean, &mut rng);
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
    let insp = Inspector::new(
        &t,
        Calibration::uniform(0.8),
        InspectionLimits::new([44.0, 52.0], 3.0),
    )
    .unwrap();
    let frames = (0..8)
        .map(|i| {
            let mut s = Scene::bare(DieLayout::default(), 1 + i % 6);
            for b in s.balls.iter_mut().take(2 + i % 6) {
                *b = Some(BallState {
                    dx_um: 0.5,
                    dy_um: -0.7,
                    diameter_um: 48.0,
                    missing: false,
                });
            }
            s.time_s = 40.0 * i as f64;
            render(&s, &CameraParams::default(), &mut rng).0
        })
        .collect();
    (insp, frames)
}

fn bench(c: &mut Criterion) {
    let (insp, frames) = setup();
    let views: Vec<ImageView<'_>> = frames
        .iter()
        .map(|f| ImageView::new(f.width, f.height, &f.pixels).unwrap())
        .collect();
    let mut g = c.benchmark_group("vision");
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    g.bench_function("find_pads_1024x768", |b| {
        b.iter(|| {
            i = (i + 1) % views.len();
            black_box(insp.find_pads(views[i]))
        })
    });
    // One bond: the pad near its expected place (±16 px) and the ball on it.
    g.bench_function("inspect_bond", |b| {
        b.iter(|| {
            i = (i + 1) % views.len();
            black_box(insp.inspect_bond(views[i], [511.5, 383.5], 16.0))
        })
    });
    // The camera page's work per frame: every pad, and the bond site's ball.
    g.bench_function("inspect_frame_1024x768", |b| {
        b.iter(|| {
            i = (i + 1) % views.len();
            black_box(insp.inspect_frame(views[i], None))
        })
    });
    g.finish();
    let mut g = c.benchmark_group("sim_camera");
    g.throughput(Throughput::Elements(1));
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(6);
    let mut s = Scene::bare(DieLayout::default(), 3);
    for b in s.balls.iter_mut().take(4) {
        *b = Some(BallState {
            dx_um: 0.5,
            dy_um: -0.7,
            diameter_um: 48.0,
            missing: false,
        });
    }
    let p = CameraParams::default();
    g.bench_function("render_1024x768", |b| {
        b.iter(|| black_box(render(&s, &p, &mut rng)))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
