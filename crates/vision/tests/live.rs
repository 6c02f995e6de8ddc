//! End to end: the simulator bonds, its camera streams over TCP, `SimCamera` receives,
//! the vision inspects the bond site of every frame.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bonder_camera::{CameraSource, SimCamera};
use bonder_vision::{ImageView, VisionVerdict};
use bondersim::{SimConfig, Simulator, WireRate};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspects_live_frames_from_the_simulator() {
    let (t, _) = common::teach();
    let insp = common::inspector(&t);
    let sim = Simulator::start(SimConfig {
        autostart: true,
        wire_rate: WireRate::PerSecond(40.0),
        defect_rate: 0.0,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let addr = sim.camera_addr().unwrap();
    let verdicts = tokio::task::spawn_blocking(move || {
        let mut cam = SimCamera::connect(addr)
            .unwrap()
            .with_read_timeout(Duration::from_secs(5));
        let mut v = Vec::new();
        while v.len() < 10 {
            let f = cam.next_frame().unwrap();
            if f.bond.is_none() {
                continue;
            }
            let img = ImageView::new(f.width, f.height, &f.pixels).unwrap();
            let fi = insp.inspect_frame(img, None);
            // The default recipe bonds pads 0 and 1: the die's end is in view.
            assert!(fi.pads.len() >= 4, "{} pads", fi.pads.len());
            v.push(fi.site.unwrap().verdict);
        }
        v
    })
    .await
    .unwrap();
    sim.shutdown().await;
    let ok = verdicts.iter().filter(|v| **v == VisionVerdict::Ok).count();
    // Good bonds only (no defects injected); the model's normal placement scatter can
    // cross the 3 µm limit now and then.
    assert!(ok >= 8, "{verdicts:?}");
}
