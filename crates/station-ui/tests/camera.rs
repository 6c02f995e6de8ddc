//! The camera page through Slint's testing backend against bondersim's camera: frames
//! arrive and are drawn, an ROI dragged through the adapter's callbacks teaches the pad
//! template, pads are found, the bond in view is inspected and its inspection is matched
//! to the station's bond record; zoom, pan and the operator's refusal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bonder_i18n::{Lang, tr};
use bonder_runtime::StationEvent;
use bonder_station_ui::camera_view::Mapping;
use bonder_station_ui::store::RecipeLibrary;
use bonder_station_ui::{AppAdapter, CameraAdapter, Page};
use common::{ENGINEER, OPERATOR, Rig, click, log_in, rig_with_camera};
use slint::{ComponentHandle, Model};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Ticks the UI until `f` holds (at most 20 s: the tests run unoptimised).
fn until(rig: &Rig, what: &str, f: impl Fn(&CameraAdapter<'_>) -> bool) {
    let app = rig.ui.window();
    let a = app.global::<CameraAdapter>();
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        rig.ui.tick();
        if f(&a) {
            return;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(30));
    }
}

fn readout(a: &CameraAdapter<'_>, key: &str) -> String {
    let label = tr(Lang::EnUs, key);
    a.get_readouts()
        .iter()
        .find(|r| r.label == label)
        .map(|r| r.value.to_string())
        .unwrap_or_default()
}

/// The view's mapping as the page draws it (zoom 1: the whole frame fits).
fn mapping(a: &CameraAdapter<'_>) -> Mapping {
    let view = bonder_station_ui::camera_view::View {
        zoom: 1.0,
        centre: [0.0, 0.0],
    };
    Mapping::new(
        &view,
        a.get_frame_width() as u32,
        a.get_frame_height() as u32,
        a.get_view_width_px() as u32,
        a.get_view_height_px() as u32,
    )
}

/// Two fingers on the window: down at `half_from` px either side of `mid`, moved in
/// steps to `half_to`, lifted.
fn pinch(app: &bonder_station_ui::MainWindow, mid: [f32; 2], half_from: f32, half_to: f32) {
    use i_slint_core::input::TouchPhase;
    use i_slint_core::platform::{InternalEvent, WindowEvent};
    let touch = |id: i32, x: f32, phase: TouchPhase| {
        app.window()
            .dispatch_event(WindowEvent::internal(InternalEvent::Touch {
                id,
                position: i_slint_core::lengths::LogicalPoint::new(x, mid[1]),
                phase,
            }));
    };
    touch(0, mid[0] - half_from, TouchPhase::Started);
    touch(1, mid[0] + half_from, TouchPhase::Started);
    for i in 1..=50 {
        let h = half_from + (half_to - half_from) * i as f32 / 50.0;
        touch(0, mid[0] - h, TouchPhase::Moved);
        touch(1, mid[0] + h, TouchPhase::Moved);
    }
    touch(0, mid[0] - half_to, TouchPhase::Ended);
    touch(1, mid[0] + half_to, TouchPhase::Ended);
}

#[test]
fn live_frames_teach_a_pad_and_inspections_join_the_bonds() {
    let rig = rig_with_camera();
    let mut events = rig.station.subscribe();
    let app = rig.ui.window();
    let a = app.global::<CameraAdapter>();

    // An operator may look but not teach.
    log_in(&rig, OPERATOR);
    click(app, &tr(Lang::EnUs, "nav-camera"));
    assert_eq!(app.global::<AppAdapter>().get_page(), Page::Camera);
    until(&rig, "the first frame", |a| a.get_frames() > 0);
    a.invoke_set_teach(true);
    rig.ui.tick();
    assert!(!a.get_teach());
    assert_eq!(a.get_message_level(), 2);
    assert!(
        a.get_message().contains("Technician"),
        "{}",
        a.get_message()
    );
    click(app, &tr(Lang::EnUs, "nav-user"));
    click(app, &tr(Lang::EnUs, "user-logout"));

    log_in(&rig, ENGINEER);
    click(app, &tr(Lang::EnUs, "nav-camera"));
    // Frames arrive, are drawn at the view's size, and the counter advances.
    until(&rig, "frames", |a| a.get_frames() > 0);
    assert_eq!((a.get_frame_width(), a.get_frame_height()), (1024, 768));
    let (vw, vh) = (a.get_view_width_px(), a.get_view_height_px());
    assert!(vw >= 32 && vh >= 32, "view area {vw}x{vh}");
    let size = a.get_view().size();
    assert_eq!((size.width as i32, size.height as i32), (vw, vh));
    let n = a.get_frames();
    until(&rig, "more frames", |a| a.get_frames() >= n + 5);
    assert_eq!(
        readout(&a, "cam-pads"),
        "–",
        "nothing is searched before a template is taught"
    );
    assert!(a.get_status().contains("sim tcp://"), "{}", a.get_status());

    // Teach: a tap makes no ROI; a drag around the centre pad does.
    a.invoke_set_teach(true);
    rig.ui.tick();
    assert!(a.get_teach());
    let m = mapping(&a);
    let c = [
        (f64::from(a.get_frame_width()) - 1.0) / 2.0,
        (f64::from(a.get_frame_height()) - 1.0) / 2.0,
    ];
    let s = m.to_screen(c);
    a.invoke_drag_start(s[0] as f32, s[1] as f32);
    a.invoke_drag_end(s[0] as f32 + 2.0, s[1] as f32 + 2.0);
    rig.ui.tick();
    assert!(!a.get_can_confirm(), "a tap is not an ROI");
    // The pad is 70 µm = 87.5 px; the box takes 10 px of die around it.
    let half = 54.0;
    let p0 = m.to_screen([c[0] - half, c[1] - half]);
    let p1 = m.to_screen([c[0] + half, c[1] + half]);
    a.invoke_drag_start(p0[0] as f32, p0[1] as f32);
    a.invoke_drag_move(
        ((p0[0] + p1[0]) / 2.0) as f32,
        ((p0[1] + p1[1]) / 2.0) as f32,
    );
    a.invoke_drag_end(p1[0] as f32, p1[1] as f32);
    rig.ui.tick();
    assert!(a.get_can_confirm());
    a.invoke_confirm();
    rig.ui.tick();
    assert_eq!(a.get_message_level(), 0, "{}", a.get_message());
    assert!(
        a.get_message().contains("Template taught"),
        "{}",
        a.get_message()
    );
    assert!(!a.get_teach());
    assert!(
        rig.audit
            .entries()
            .iter()
            .any(|e| e.event.name() == "vision.teach" && e.user == ENGINEER.0),
        "the teach is audited"
    );

    // The template is stored for the running recipe.
    let stored = rig.recipes.vision("SOT23-AU25").unwrap().expect("stored");
    assert_eq!(stored.setup.template, rig.feed().template());
    assert_eq!(stored.taught_by, ENGINEER.0);
    assert_eq!(stored.setup.pad_pitch_um, None);

    // Calibrate: a pitch out of range is refused; 100 µm (the simulator's die) measures
    // its 0.8 µm/px and is stored with the template.
    a.invoke_set_calibrating(true);
    rig.ui.tick();
    assert!(a.get_calibrating());
    assert!(
        a.get_calib_text().contains("default"),
        "{}",
        a.get_calib_text()
    );
    click(app, "5");
    assert_eq!(a.get_pitch(), "5");
    click(app, &tr(Lang::EnUs, "cam-measure"));
    rig.ui.tick();
    assert_eq!(a.get_message_level(), 2, "{}", a.get_message());
    assert!(a.get_message().contains("20"), "{}", a.get_message());
    a.set_pitch("".into());
    for key in ["1", "0", "0"] {
        click(app, key);
    }
    click(app, &tr(Lang::EnUs, "cam-measure"));
    rig.ui.tick();
    assert_eq!(a.get_message_level(), 0, "{}", a.get_message());
    assert!(
        a.get_message().contains("Calibrated"),
        "{}",
        a.get_message()
    );
    assert!(!a.get_calibrating());
    let umpx = rig.feed().calibration().um_per_px();
    assert!((umpx - 0.8).abs() < 0.004, "{umpx} µm/px");
    assert!(
        a.get_calib_text().contains("100 µm pad pitch"),
        "{}",
        a.get_calib_text()
    );
    let stored = rig.recipes.vision("SOT23-AU25").unwrap().expect("stored");
    assert_eq!(stored.setup.pad_pitch_um, Some(100.0));
    assert_eq!(stored.setup.calibration, rig.feed().calibration());
    assert!(stored.setup.template.is_some());
    assert!(
        rig.audit
            .entries()
            .iter()
            .any(|e| e.event.name() == "vision.calibrate" && e.user == ENGINEER.0),
        "the calibration is audited"
    );

    // Pads are found in the following frames, with their scores over the view, and the
    // bond in view gets a verdict.
    until(&rig, "pads", |a| {
        readout(a, "cam-pads").parse::<usize>().unwrap_or(0) >= 3
    });
    assert!(a.get_labels().row_count() >= 3);
    let score: f64 = readout(&a, "cam-pad-score").parse().unwrap();
    assert!(score > 0.8, "pad score {score}");
    until(&rig, "a ball", |a| {
        readout(a, "cam-ball-diameter").contains("µm")
    });
    let verdicts: Vec<String> = ["ok", "off_pad", "ball_size", "missing", "no_pad"]
        .iter()
        .map(|v| tr(Lang::EnUs, &format!("cam-verdict-{v}")))
        .collect();
    assert!(
        verdicts.contains(&a.get_verdict().to_string()),
        "{}",
        a.get_verdict()
    );

    // Inspections joined to the station's bond records: the record a frame's bond maps
    // to is the ball bond of the same unit and wire.
    let end = Instant::now() + Duration::from_secs(20);
    while rig.inspections.records().len() < 5 {
        assert!(Instant::now() < end, "no inspections recorded");
        rig.ui.tick();
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut bonds = HashMap::new();
    while let Ok(ev) = events.try_recv() {
        if let StationEvent::Bond(b) = ev {
            bonds.insert(b.seq, b);
        }
    }
    let recs = rig.inspections.records();
    let mut seqs: Vec<u64> = recs.iter().map(|r| r.seq).collect();
    seqs.dedup();
    assert_eq!(seqs.len(), recs.len(), "one inspection per bond");
    let mut checked = 0;
    for r in &recs {
        if let Some(b) = bonds.get(&r.seq) {
            assert_eq!(b.event.kind, bonder_core::bond::BondKind::Ball);
            assert_eq!(
                (b.event.unit_no, b.event.wire_no),
                (r.bond.unit_no, r.bond.wire_no)
            );
            checked += 1;
        }
    }
    assert!(checked >= 3, "{checked} of {} records checked", recs.len());

    // Zoom and pan.
    click(app, &tr(Lang::EnUs, "cam-zoom-in"));
    rig.ui.tick();
    assert!(a.get_zoom_text().contains("×2"), "{}", a.get_zoom_text());
    a.invoke_drag_start(100.0, 100.0);
    a.invoke_drag_move(160.0, 130.0);
    a.invoke_drag_end(200.0, 150.0);
    rig.ui.tick();
    click(app, &tr(Lang::EnUs, "cam-zoom-fit"));
    rig.ui.tick();
    assert!(a.get_zoom_text().contains("×1"), "{}", a.get_zoom_text());

    // Pinch with two fingers (touch points, as a panel's driver reports them): the
    // fingers spreading from 100 to 300 px apart zoom in by their distance ratio,
    // pinching back zooms out to the fitted view.
    let view =
        i_slint_backend_testing::ElementHandle::find_by_element_id(app, "CameraPage::view-area")
            .next()
            .expect("the view area");
    let (pos, size) = (view.absolute_position(), view.size());
    let (cx, cy) = (pos.x + size.width * 0.5, pos.y + size.height * 0.5);
    pinch(app, [cx, cy], 50.0, 150.0);
    rig.ui.tick();
    // (The gesture starts once the distance changed by 8 px, at about 110 px: ×2.7.)
    assert!(a.get_zoom_text().contains("×3"), "{}", a.get_zoom_text());
    pinch(app, [cx, cy], 150.0, 30.0);
    rig.ui.tick();
    assert!(a.get_zoom_text().contains("×1"), "{}", a.get_zoom_text());

    // The production page's tile shows the camera too.
    click(app, &tr(Lang::EnUs, "nav-production"));
    until(&rig, "the tile", |a| a.get_tile().size().width > 0);
    assert!(verdicts.contains(&a.get_tile_text().to_string()));
}

/// A vision setup stored for the recipe (as the camera page or an earlier run left it)
/// is used from the first beat without teaching; a changeover to another recipe leaves
/// the camera untaught, and coming back brings the stored setup back.
#[test]
fn the_stored_vision_setup_follows_the_running_recipe() {
    use bondersim::camera::{CameraParams, DieLayout, Scene, render};
    use rand::SeedableRng;
    let params = CameraParams {
        dim_prob: 0.0,
        noisy_prob: 0.0,
        blur_prob: 0.0,
        ..CameraParams::default()
    };
    let (f, gt) = render(
        &Scene::bare(DieLayout::default(), 3),
        &params,
        &mut rand_chacha::ChaCha8Rng::seed_from_u64(5),
    );
    let pad = gt.site_pad().unwrap();
    let roi = bonder_vision::Roi {
        x: (pad.centre_px.0 - 54.0).round() as u32,
        y: (pad.centre_px.1 - 54.0).round() as u32,
        width: 108,
        height: 108,
    };
    let img = bonder_vision::ImageView::new(f.width, f.height, &f.pixels).unwrap();
    let template =
        bonder_vision::Template::teach(img, roi, &bonder_vision::TeachOptions::pad()).unwrap();
    let setup = bonder_vision::VisionSetup {
        template: Some(template),
        calibration: bonder_vision::Calibration::uniform(0.8),
        pad_pitch_um: Some(100.0),
    };
    let rig = common::rig_with_stored_vision(setup.clone());
    assert_eq!(rig.feed().template(), None, "the feed starts untaught");
    let app = rig.ui.window();
    log_in(&rig, OPERATOR);
    click(app, &tr(Lang::EnUs, "nav-camera"));
    until(&rig, "pads found with the stored template", |a| {
        readout(a, "cam-pads").parse::<usize>().unwrap_or(0) >= 3
    });
    assert_eq!(rig.feed().template(), setup.template);
    let a = app.global::<CameraAdapter>();
    assert!(
        a.get_calib_text().contains("100 µm pad pitch"),
        "{}",
        a.get_calib_text()
    );
    assert!(a.get_teach_help().contains("108"), "{}", a.get_teach_help());

    // Another recipe: nothing stored for it, so nothing is searched.
    rig.station
        .set_recipe(bonder_core::recipe::Recipe::default_cu());
    until(&rig, "the Cu recipe untaught", |a| {
        readout(a, "cam-pads") == "–"
    });
    assert_eq!(rig.feed().template(), None);
    assert!(
        a.get_calib_text().contains("default"),
        "{}",
        a.get_calib_text()
    );
    // Back to the Au recipe: its setup again.
    rig.station
        .set_recipe(bonder_core::recipe::Recipe::default_au());
    until(&rig, "the Au setup back", |a| {
        readout(a, "cam-pads").parse::<usize>().unwrap_or(0) >= 3
    });
    assert_eq!(rig.feed().calibration(), setup.calibration);
}
