//! The station's camera: which source (`--camera` / config `camera`, else the built-in
//! simulator's camera), the feed that inspects every frame (`bonder_runtime::camera_feed`,
//! shared by the UI's camera page and the headless station), and the store log that
//! writes the inspection of each bond beside its record (`vision_inspections`, keyed by
//! the bond's seq; the feed matches a frame's bond to the record, see its docs).

use anyhow::{Context, bail};
use bonder_camera::CameraSource;
use bonder_core::recipe::Recipe;
use bonder_runtime::Station;
use bonder_runtime::camera_feed::{
    CameraFeed, CameraSettings, InspectionLog, Recorder, VisionRecord,
};
use bonder_store::{Store, VisionInspection, WriteOp, WriterHandle};
use bonder_vision::VisionSetup;
use std::net::SocketAddr;
use std::sync::Arc;
use time::OffsetDateTime;

/// Where frames come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CameraSpec {
    /// bondersim's camera stream (docs/spec/camera-protocol.md).
    Tcp(SocketAddr),
    /// A V4L2/UVC device, e.g. `/dev/video0` (built with the `v4l` feature).
    V4l(String),
    /// No camera.
    Off,
}

impl CameraSpec {
    /// `tcp://HOST:PORT`, `/dev/videoN` (or `v4l:///dev/videoN`), `none`.
    pub fn parse(s: &str) -> anyhow::Result<CameraSpec> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("none") || s.eq_ignore_ascii_case("off") {
            return Ok(CameraSpec::Off);
        }
        if let Some(addr) = s.strip_prefix("tcp://") {
            let a = std::net::ToSocketAddrs::to_socket_addrs(addr)
                .with_context(|| format!("camera address {addr:?}"))?
                .next()
                .with_context(|| format!("camera address {addr:?} resolves to nothing"))?;
            return Ok(CameraSpec::Tcp(a));
        }
        let dev = s.strip_prefix("v4l://").unwrap_or(s);
        if dev.starts_with("/dev/video") {
            return Ok(CameraSpec::V4l(dev.to_string()));
        }
        bail!("camera {s:?}: expected tcp://HOST:PORT, /dev/videoN or none")
    }
}

/// The store's side of the feed: each matched inspection becomes a `vision_inspections`
/// row (through the batching writer, after its bond's row: both come in event order).
#[derive(Debug)]
pub struct StoreInspections {
    pub writer: WriterHandle,
}

impl InspectionLog for StoreInspections {
    fn record(&self, rec: VisionRecord) {
        let i = rec.inspection;
        let op = WriteOp::VisionInspection(VisionInspection {
            seq: rec.seq,
            time: OffsetDateTime::from(rec.time),
            frame_no: rec.frame_no,
            verdict: i.verdict.name().into(),
            confidence: i.confidence,
            ball_um: i.ball.map(|b| b.diameter_um),
            dx_um: i.offset_um.map(|o| o[0]),
            dy_um: i.offset_um.map(|o| o[1]),
            pad_score: i.pad.map(|p| p.score),
        });
        if let Err(e) = self.writer.send(op) {
            tracing::warn!("vision inspection of bond {} not stored: {e}", rec.seq);
        }
    }
}

fn source(spec: &CameraSpec) -> anyhow::Result<Option<Box<dyn CameraSource>>> {
    Ok(match spec {
        CameraSpec::Off => None,
        CameraSpec::Tcp(a) => Some(Box::new(bonder_camera::SimCamera::new(*a))),
        #[cfg(feature = "v4l")]
        CameraSpec::V4l(dev) => Some(Box::new(bonder_camera::V4lCamera::open(
            dev, 1024, 768, 30,
        )?)),
        #[cfg(not(feature = "v4l"))]
        CameraSpec::V4l(dev) => {
            bail!("camera {dev}: this build has no V4L2 support (build with --features v4l)")
        }
    })
}

/// The vision setup (taught template, calibration) stored for `recipe`'s name; `None`
/// when none is stored, or (logged) when it cannot be read or used: the station then
/// runs untaught and the camera page asks for a teach.
pub fn stored_setup(store: &Store, recipe: &Recipe) -> Option<VisionSetup> {
    let row = match store.recipes().vision(&recipe.name) {
        Ok(row) => row?,
        Err(e) => {
            tracing::error!("vision setup of {}: {e}", recipe.name);
            return None;
        }
    };
    match VisionSetup::from_json(&row.setup_json) {
        Ok(s) => {
            tracing::info!(recipe = %recipe.name, taught_by = %row.taught_by, setup = %s.summary(), "camera: stored vision setup");
            Some(s)
        }
        Err(e) => {
            tracing::error!(
                "the stored vision setup of {} is not usable ({e}); teach it again",
                recipe.name
            );
            None
        }
    }
}

/// Starts the camera feed: the configured source, else the built-in simulator's camera;
/// `None` without either. A camera that cannot be opened is logged, not fatal. The
/// recipe's stored `setup` (template, calibration) is used from the first frame on.
pub fn start(
    configured: Option<&str>,
    sim_camera: Option<SocketAddr>,
    recipe: &Recipe,
    setup: Option<VisionSetup>,
    station: &Station,
    writer: &WriterHandle,
) -> Option<Arc<CameraFeed>> {
    let spec = match configured.map(CameraSpec::parse) {
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            tracing::error!("{e:#}; no camera");
            return None;
        }
        None => match sim_camera {
            Some(a) => CameraSpec::Tcp(a),
            None => CameraSpec::Off,
        },
    };
    let src = match source(&spec) {
        Ok(Some(s)) => s,
        Ok(None) => return None,
        Err(e) => {
            tracing::error!("{e:#}; no camera");
            return None;
        }
    };
    let recorder = Recorder {
        events: station.subscribe(),
        log: Arc::new(StoreInspections {
            writer: writer.clone(),
        }),
    };
    let settings = match setup {
        Some(s) => CameraSettings::with_setup(recipe, s),
        None => CameraSettings::for_recipe(recipe),
    };
    match CameraFeed::start(src, settings, Some(recorder)) {
        Ok(f) => Some(Arc::new(f)),
        Err(e) => {
            tracing::error!("camera feed: {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use bonder_core::BondKind;
    use bonder_runtime::RuntimeConfig;
    use bonder_store::{Store, WriterConfig};
    use bondersim::{SimConfig, Simulator, WireRate};
    use std::time::{Duration, Instant};

    /// bondersim (camera on) → station runtime → persist sink → a real SQLite file, and
    /// the camera feed with a pad template taught and calibrated on a live frame, stored
    /// in the file and loaded again as after a restart: the inspections land
    /// in `vision_inspections` beside their bonds, and what the vision measured agrees
    /// with what the controller reported for the same bond (a wrong bond mapping would
    /// not).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn inspections_join_their_bonds_in_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path().join("station.sqlite")).unwrap());
        let writer = store.spawn_writer(WriterConfig::default()).unwrap();
        let sim = Simulator::start(SimConfig {
            autostart: true,
            wire_rate: WireRate::PerSecond(20.0),
            defect_rate: 0.0,
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let recipe = Recipe::default_au();
        let mut cfg = RuntimeConfig::new(sim.modbus_addr);
        cfg.recipe = recipe.clone();
        let shift: crate::ui_store::CurrentShift = Arc::new(std::sync::atomic::AtomicI64::new(1));
        cfg.sink = Some(crate::persist::sink(writer.clone(), shift, None, None));
        let station = Station::start(cfg);
        assert!(
            stored_setup(&store, &recipe).is_none(),
            "nothing taught yet"
        );
        let feed = start(None, sim.camera_addr(), &recipe, None, &station, &writer).unwrap();
        // Teach the pad at the bond site of a live frame (70 µm = 87.5 px + 10 px).
        let end = Instant::now() + Duration::from_secs(10);
        let frame = loop {
            if let Some(f) = feed.latest() {
                break f;
            }
            assert!(Instant::now() < end, "no camera frame");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let f = &frame.frame;
        let img = bonder_vision::ImageView::new(f.width, f.height, &f.pixels).unwrap();
        let roi = bonder_vision::Roi {
            x: f.width / 2 - 54,
            y: f.height / 2 - 54,
            width: 108,
            height: 108,
        };
        let t =
            bonder_vision::Template::teach(img, roi, &bonder_vision::TeachOptions::pad()).unwrap();
        // Calibrate on the same frame's pad row (the simulator's pitch is 100 µm) and
        // store the setup in the SQLite file as the camera page does.
        let centres: Vec<[f64; 2]> = bonder_vision::Inspector::new(
            &t,
            bonder_vision::Calibration::uniform(1.0),
            feed.limits(),
        )
        .unwrap()
        .find_pads(img)
        .iter()
        .map(|p| p.centre)
        .collect();
        let calib = bonder_vision::Calibration::from_pad_row(&centres, 100.0).unwrap();
        assert!(
            (calib.um_per_px() - 0.8).abs() < 0.004,
            "{calib:?} from {centres:?}"
        );
        let setup = VisionSetup {
            template: Some(t),
            calibration: calib,
            pad_pitch_um: Some(100.0),
        };
        store
            .recipes()
            .save_vision(
                &recipe.name,
                recipe.version,
                &setup.to_json(),
                &setup.summary(),
                &bonder_store::Actor::new("T7", bonder_store::Role::Technician),
            )
            .unwrap();
        // A restart: the file opened again, the feed started with what it holds, no
        // teach.
        drop(feed);
        let reopened = Store::open(store.path()).unwrap();
        let loaded = stored_setup(&reopened, &recipe).expect("the stored setup");
        // serde_json's default float parser may be one ulp off (no `float_roundtrip`).
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(1.0);
        let (lt, st) = (loaded.template.as_ref(), setup.template.as_ref());
        let (lt, st) = (lt.unwrap(), st.unwrap());
        assert_eq!(
            (&lt.pixels, lt.roi, lt.ignore),
            (&st.pixels, st.roi, st.ignore)
        );
        assert!(close(lt.anchor[0], st.anchor[0]) && close(lt.anchor[1], st.anchor[1]));
        let (lc, sc) = (loaded.calibration, setup.calibration);
        assert!(close(lc.um_per_px_x, sc.um_per_px_x) && close(lc.angle_rad, sc.angle_rad));
        assert_eq!(loaded.pad_pitch_um, setup.pad_pitch_um);
        let loaded_template = loaded.template.clone();
        let feed = start(
            None,
            sim.camera_addr(),
            &recipe,
            Some(loaded),
            &station,
            &writer,
        )
        .unwrap();
        assert_eq!(feed.template(), loaded_template);
        assert_eq!(feed.calibration(), lc);
        let reader = store.reader().unwrap();
        let end = Instant::now() + Duration::from_secs(30);
        let rows = loop {
            writer.flush().await.unwrap();
            let rows = reader.vision_inspections(1..=u64::MAX / 2).unwrap();
            if rows.len() >= 12 {
                break rows;
            }
            assert!(
                Instant::now() < end,
                "{} inspections stored ({:?})",
                rows.len(),
                feed.stats()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let mut diffs = Vec::new();
        for v in &rows {
            let b = reader.bonds_by_seq(v.seq..=v.seq).unwrap();
            let b = b.first().expect("the inspected bond is stored");
            assert_eq!(b.kind, BondKind::Ball, "bond {}", v.seq);
            if let (Some(vis), Some(ctrl)) = (v.ball_um, b.ball_um) {
                diffs.push((vis - f64::from(ctrl)).abs());
            }
        }
        diffs.sort_by(f64::total_cmp);
        assert!(
            diffs.len() >= 8,
            "{} balls measured of {}",
            diffs.len(),
            rows.len()
        );
        let median = diffs[diffs.len() / 2];
        assert!(
            median < 1.5,
            "vision vs controller ball diameter: median {median} µm"
        );
        let ok = rows.iter().filter(|v| v.verdict == "ok").count();
        assert!(ok * 10 >= rows.len() * 7, "{ok} of {} ok", rows.len());
        drop(feed);
        station.shutdown().await;
        writer.close().await.unwrap();
        sim.shutdown().await;
    }

    #[test]
    fn camera_specs_parse() {
        assert_eq!(
            CameraSpec::parse("tcp://127.0.0.1:1504").unwrap(),
            CameraSpec::Tcp("127.0.0.1:1504".parse().unwrap())
        );
        assert_eq!(
            CameraSpec::parse("/dev/video2").unwrap(),
            CameraSpec::V4l("/dev/video2".into())
        );
        assert_eq!(
            CameraSpec::parse("v4l:///dev/video0").unwrap(),
            CameraSpec::V4l("/dev/video0".into())
        );
        assert_eq!(CameraSpec::parse("none").unwrap(), CameraSpec::Off);
        assert!(CameraSpec::parse("http://x").is_err());
    }
}
