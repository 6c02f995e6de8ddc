//! Renders one simulated camera frame to a PGM file and prints its ground truth:
//! `cargo run -p bondersim --example camera_frame -- OUT.pgm [SEED]`.

use bondersim::camera::{BallState, CameraParams, DieLayout, Scene, render};
use rand::SeedableRng;
use std::io::Write;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "camera.pgm".into());
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut scene = Scene::bare(DieLayout::default(), 3);
    for (i, b) in scene.balls.iter_mut().enumerate().take(4) {
        *b = Some(BallState {
            dx_um: if i == 1 { 8.0 } else { 0.6 },
            dy_um: -0.4,
            diameter_um: if i == 2 { 60.0 } else { 48.0 },
            missing: i == 0,
        });
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let (frame, gt) = render(&scene, &CameraParams::default(), &mut rng);
    let mut f = std::fs::File::create(&out)?;
    write!(f, "P5\n{} {}\n255\n", frame.width, frame.height)?;
    f.write_all(&frame.pixels)?;
    println!("{gt:#?}");
    Ok(())
}
