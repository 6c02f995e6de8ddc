//! The simulator's camera over TCP: a `SimCamera` client receives frames of the bond
//! site while the machine bonds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bonder_camera::{CameraSource, SimCamera};
use bondersim::{SimConfig, Simulator, WireRate};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_camera_streams_frames_of_the_bond_site() {
    let sim = Simulator::start(SimConfig {
        autostart: true,
        wire_rate: WireRate::PerSecond(50.0),
        camera_fps: 30.0,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let addr = sim.camera_addr().unwrap();
    let frames = tokio::task::spawn_blocking(move || {
        let mut cam = SimCamera::connect(addr)
            .unwrap()
            .with_read_timeout(Duration::from_secs(5));
        (0..12)
            .map(|_| cam.next_frame().unwrap())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    sim.shutdown().await;
    assert_eq!(frames.len(), 12);
    for w in frames.windows(2) {
        assert!(w[1].seq > w[0].seq, "frame numbers increase");
        assert!(w[1].timestamp_us > w[0].timestamp_us);
    }
    let last = frames.last().unwrap();
    assert_eq!((last.width, last.height), (1024, 768));
    assert_eq!(last.pixels.len(), 1024 * 768);
    let bond = last.bond.expect("the machine bonds: a bond is in view");
    assert!(bond.wire_no >= 1);
    // The bond site (image centre) is a pad with a ball: dark rim and bright pad.
    let contrasty = frames
        .iter()
        .filter(|f| {
            let mut lo = 255u8;
            let mut hi = 0u8;
            for y in 343..424 {
                for x in 471..552 {
                    let v = f.get(x, y);
                    lo = lo.min(v);
                    hi = hi.max(v);
                }
            }
            hi > lo + 80
        })
        .count();
    assert!(
        contrasty >= 6,
        "{contrasty} of 12 frames show a ball on a pad"
    );
}
