//! The camera feed: a thread of its own reads frames from a [`CameraSource`], inspects
//! each with the taught template ([`Inspector::inspect_frame`]) and keeps only the newest
//! result, which the UI timer takes when it draws (the UI thread never waits for the
//! camera or the vision).
//!
//! **Inspections join the bond records:** when the feed is given the station's events
//! and an [`InspectionLog`], it writes the inspection of the bond in view once per bond.
//! A frame names its bond by the controller's *stream* frame seq, unit and wire
//! ([`bonder_camera::BondRef`]); the station's record `seq` is its own counter, and the
//! stream seq never reaches the station's records. The feed therefore keeps the last
//! [`BOND_MEMORY`] ball bonds of the station's events and matches a frame's bond by
//! `(unit_no, wire_no)`, taking the newest ball bond whose controller time (`time_us`)
//! is not after the frame's (`timestamp_us`, the same clock). A unit's wire numbers are
//! unique within the unit and unit numbers only grow within a controller run, so the
//! match is exact; a frame whose bond the station has not judged yet waits (at most
//! [`PENDING_FOR`]) for the event. The first inspected frame of a bond is the one kept.

use crate::StationEvent;
use bonder_camera::{BondRef, CameraError, CameraSource, Frame};
use bonder_core::bond::BondKind;
use bonder_vision::{
    Calibration, FrameInspection, ImageView, Inspection, InspectionLimits, Inspector, Template,
    VisionError, VisionSetup,
};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::broadcast;

/// Ball bonds of the station remembered for matching frames to records.
pub const BOND_MEMORY: usize = 512;
/// How long an inspection waits for its bond's station event before it is dropped.
pub const PENDING_FOR: Duration = Duration::from_secs(3);
/// Frames over which the frame rate is averaged.
const RATE_WINDOW: usize = 30;

/// One inspected bond, as the store keeps it beside the bond record.
#[derive(Debug, Clone, PartialEq)]
pub struct VisionRecord {
    /// The station's record number of the bond.
    pub seq: u64,
    /// The bond as the camera named it (controller stream seq, unit, wire).
    pub bond: BondRef,
    /// The camera frame it was measured on.
    pub frame_no: u32,
    pub time: SystemTime,
    pub inspection: Inspection,
}

/// Where the feed writes inspections (the station's store; an in-memory double in
/// the UI's tests). Called from the feed's thread; must not block for long.
pub trait InspectionLog: Send + Sync + std::fmt::Debug {
    fn record(&self, rec: VisionRecord);
}

/// The vision settings of the recipe the station runs.
#[derive(Debug, Clone)]
pub struct CameraSettings {
    pub calibration: Calibration,
    pub limits: InspectionLimits,
    /// A template taught earlier (e.g. loaded from the store); `None`: teach one.
    pub template: Option<Template>,
    /// The pad pitch the calibration was measured on (`None`: the default calibration).
    pub pad_pitch_um: Option<f64>,
}

/// The pixel size assumed until a recipe's calibration is measured: the simulator's
/// camera (and a typical bonder's PR optics at high magnification).
pub const DEFAULT_UM_PER_PX: f64 = 0.8;

impl CameraSettings {
    /// The recipe's ball and placement limits at the default pixel size, nothing taught.
    pub fn for_recipe(recipe: &bonder_core::recipe::Recipe) -> CameraSettings {
        let l = &recipe.limits;
        CameraSettings {
            calibration: Calibration::uniform(DEFAULT_UM_PER_PX),
            limits: InspectionLimits::new([l.ball_um[0].0, l.ball_um[1].0], l.placement_um.0),
            template: None,
            pad_pitch_um: None,
        }
    }

    /// The recipe's limits with its stored setup (template and calibration).
    pub fn with_setup(recipe: &bonder_core::recipe::Recipe, setup: VisionSetup) -> CameraSettings {
        CameraSettings {
            calibration: setup.calibration,
            template: setup.template,
            pad_pitch_um: setup.pad_pitch_um,
            ..CameraSettings::for_recipe(recipe)
        }
    }

    /// The part that is stored per recipe.
    pub fn setup(&self) -> VisionSetup {
        VisionSetup {
            template: self.template.clone(),
            calibration: self.calibration,
            pad_pitch_um: self.pad_pitch_um,
        }
    }
}

/// The newest frame and what the vision saw in it.
#[derive(Debug)]
pub struct FeedFrame {
    /// Frames received since the feed started (1 for the first).
    pub n: u64,
    pub frame: Frame,
    /// `None` while no template is taught.
    pub inspection: Option<FrameInspection>,
    /// Time `inspect_frame` took, ms.
    pub inspect_ms: f64,
    /// Frames per second received, averaged over the last 30.
    pub fps: f64,
}

/// Counters of the feed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedStats {
    pub frames: u64,
    pub errors: u64,
    /// Inspections written to the log.
    pub recorded: u64,
    /// Inspections dropped because no station bond matched in time.
    pub unmatched: u64,
    /// The last error, cleared by the next frame.
    pub last_error: Option<String>,
}

/// The station's events and the log the feed writes bond inspections to.
#[derive(Debug)]
pub struct Recorder {
    pub events: broadcast::Receiver<StationEvent>,
    pub log: Arc<dyn InspectionLog>,
}

#[derive(Debug)]
struct Shared {
    latest: Mutex<Option<Arc<FeedFrame>>>,
    inspector: Mutex<Option<Arc<Inspector>>>,
    template: Mutex<Option<Template>>,
    stats: Mutex<FeedStats>,
    stop: AtomicBool,
    frames: AtomicU64,
}

/// A running camera feed (see the module docs). Dropping it stops the thread after its
/// current read.
#[derive(Debug)]
pub struct CameraFeed {
    shared: Arc<Shared>,
    settings: Mutex<CameraSettings>,
    describe: String,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl CameraFeed {
    /// Starts the feed's thread on `source`.
    pub fn start(
        source: Box<dyn CameraSource>,
        settings: CameraSettings,
        recorder: Option<Recorder>,
    ) -> Result<CameraFeed, std::io::Error> {
        let inspector = match &settings.template {
            Some(t) => match Inspector::new(t, settings.calibration, settings.limits) {
                Ok(i) => Some(Arc::new(i)),
                Err(e) => {
                    tracing::warn!("camera: the stored template is not usable: {e}");
                    None
                }
            },
            None => None,
        };
        let shared = Arc::new(Shared {
            latest: Mutex::new(None),
            template: Mutex::new(inspector.as_ref().map(|i| i.template().clone())),
            inspector: Mutex::new(inspector),
            stats: Mutex::new(FeedStats::default()),
            stop: AtomicBool::new(false),
            frames: AtomicU64::new(0),
        });
        let describe = source.describe();
        let s = shared.clone();
        std::thread::Builder::new()
            .name("camera-feed".into())
            .spawn(move || run(source, &s, recorder))?;
        tracing::info!(source = %describe, "camera feed started");
        Ok(CameraFeed {
            shared,
            settings: Mutex::new(settings),
            describe,
        })
    }

    /// The newest frame with its inspection (`None` before the first frame).
    pub fn latest(&self) -> Option<Arc<FeedFrame>> {
        lock(&self.shared.latest).clone()
    }

    /// Frames received so far.
    pub fn frames(&self) -> u64 {
        self.shared.frames.load(Ordering::Relaxed)
    }

    /// Counters and the last error.
    pub fn stats(&self) -> FeedStats {
        lock(&self.shared.stats).clone()
    }

    /// The taught template in use.
    pub fn template(&self) -> Option<Template> {
        lock(&self.shared.template).clone()
    }

    /// Uses a new template from the next frame on.
    pub fn set_template(&self, t: Template) -> Result<(), VisionError> {
        let mut s = self.settings().clone();
        s.template = Some(t);
        self.apply(s)
    }

    /// Uses a new calibration (measured on a pad row of `pad_pitch_um`) from the next
    /// frame on.
    pub fn set_calibration(
        &self,
        calibration: Calibration,
        pad_pitch_um: Option<f64>,
    ) -> Result<(), VisionError> {
        let mut s = self.settings().clone();
        s.calibration = calibration;
        s.pad_pitch_um = pad_pitch_um;
        self.apply(s)
    }

    /// Uses other settings from the next frame on (a changeover to another recipe, or
    /// its stored setup); refused, changing nothing, when the template or calibration
    /// is not usable.
    pub fn apply(&self, settings: CameraSettings) -> Result<(), VisionError> {
        settings.setup().check()?;
        let insp = match &settings.template {
            Some(t) => Some(Arc::new(Inspector::new(
                t,
                settings.calibration,
                settings.limits,
            )?)),
            None => None,
        };
        let mut cur = lock(&self.settings);
        *lock(&self.shared.inspector) = insp;
        *lock(&self.shared.template) = settings.template.clone();
        *cur = settings;
        Ok(())
    }

    /// The settings in use.
    pub fn settings(&self) -> MutexGuard<'_, CameraSettings> {
        lock(&self.settings)
    }

    pub fn calibration(&self) -> Calibration {
        self.settings().calibration
    }

    pub fn limits(&self) -> InspectionLimits {
        self.settings().limits
    }

    /// The source, for logs and the UI ("sim tcp://…", "/dev/video0").
    pub fn describe(&self) -> &str {
        &self.describe
    }
}

impl Drop for CameraFeed {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }
}

fn run(mut source: Box<dyn CameraSource>, shared: &Shared, mut recorder: Option<Recorder>) {
    let mut arrivals: VecDeque<Instant> = VecDeque::with_capacity(RATE_WINDOW + 1);
    let mut matcher = BondMatcher::default();
    let mut last_error: Option<String> = None;
    while !shared.stop.load(Ordering::Relaxed) {
        let frame = match source.next_frame() {
            Ok(f) => f,
            Err(e) => {
                on_error(shared, &e, &mut last_error);
                // The source backs off while it reconnects; this only bounds a tight loop.
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
        };
        last_error = None;
        let now = Instant::now();
        arrivals.push_back(now);
        if arrivals.len() > RATE_WINDOW {
            arrivals.pop_front();
        }
        let fps = match (arrivals.front(), arrivals.len()) {
            (Some(first), n) if n >= 2 => {
                let dt = now.duration_since(*first).as_secs_f64();
                if dt > 0.0 { (n - 1) as f64 / dt } else { 0.0 }
            }
            _ => 0.0,
        };
        let inspector = lock(&shared.inspector).clone();
        let t0 = Instant::now();
        let inspection = inspector.as_ref().and_then(|insp| {
            ImageView::new(frame.width, frame.height, &frame.pixels)
                .ok()
                .map(|img| insp.inspect_frame(img, None))
        });
        let inspect_ms = t0.elapsed().as_secs_f64() * 1e3;
        if let Some(rec) = recorder.as_mut() {
            matcher.drain(&mut rec.events);
            if let (Some(bond), Some(site)) =
                (frame.bond, inspection.as_ref().and_then(|fi| fi.site))
            {
                matcher.offer(bond, frame.timestamp_us, frame.seq, site);
            }
            let (done, dropped) = matcher.resolve();
            let written = done.len() as u64;
            for r in done {
                rec.log.record(r);
            }
            let mut st = lock(&shared.stats);
            st.recorded += written;
            st.unmatched += dropped;
        }
        let n = shared.frames.fetch_add(1, Ordering::Relaxed) + 1;
        {
            let mut st = lock(&shared.stats);
            st.frames = n;
            st.last_error = None;
        }
        *lock(&shared.latest) = Some(Arc::new(FeedFrame {
            n,
            frame,
            inspection,
            inspect_ms,
            fps,
        }));
    }
    tracing::info!("camera feed stopped");
}

fn on_error(shared: &Shared, e: &CameraError, last: &mut Option<String>) {
    let text = e.to_string();
    if last.as_deref() != Some(text.as_str()) {
        tracing::warn!("camera: {text}");
    }
    let mut st = lock(&shared.stats);
    st.errors += 1;
    st.last_error = Some(text.clone());
    *last = Some(text);
}

/// A ball bond the station judged.
#[derive(Debug, Clone, Copy)]
struct SeenBond {
    unit_no: u32,
    wire_no: u16,
    time_us: u64,
    seq: u64,
}

/// An inspection waiting for its bond's station event.
#[derive(Debug)]
struct Pending {
    bond: BondRef,
    timestamp_us: u64,
    frame_no: u32,
    inspection: Inspection,
    since: Instant,
}

/// Matches frames' bonds to the station's records (see the module docs).
#[derive(Debug, Default)]
struct BondMatcher {
    bonds: VecDeque<SeenBond>,
    pending: Vec<Pending>,
    /// Stream seqs already inspected (the same bond stays in view for several frames).
    done_streams: VecDeque<u32>,
}

impl BondMatcher {
    fn drain(&mut self, events: &mut broadcast::Receiver<StationEvent>) {
        loop {
            match events.try_recv() {
                Ok(StationEvent::Bond(b)) if b.event.kind == BondKind::Ball => {
                    if self.bonds.len() >= BOND_MEMORY {
                        self.bonds.pop_front();
                    }
                    self.bonds.push_back(SeenBond {
                        unit_no: b.event.unit_no,
                        wire_no: b.event.wire_no,
                        time_us: b.event.time_us,
                        seq: b.seq,
                    });
                }
                Ok(_) => {}
                Err(broadcast::error::TryRecvError::Lagged(n)) => {
                    tracing::debug!("camera feed skipped {n} station events");
                }
                Err(_) => break,
            }
        }
    }

    fn offer(&mut self, bond: BondRef, timestamp_us: u64, frame_no: u32, inspection: Inspection) {
        if self.done_streams.contains(&bond.stream_seq)
            || self.pending.iter().any(|p| p.bond == bond)
        {
            return;
        }
        if self.done_streams.len() >= 64 {
            self.done_streams.pop_front();
        }
        self.done_streams.push_back(bond.stream_seq);
        self.pending.push(Pending {
            bond,
            timestamp_us,
            frame_no,
            inspection,
            since: Instant::now(),
        });
    }

    fn find(&self, p: &Pending) -> Option<u64> {
        self.bonds
            .iter()
            .rev()
            .find(|b| {
                b.unit_no == p.bond.unit_no
                    && b.wire_no == p.bond.wire_no
                    && b.time_us <= p.timestamp_us
            })
            .map(|b| b.seq)
    }

    /// Inspections matched now, and how many were dropped unmatched.
    fn resolve(&mut self) -> (Vec<VisionRecord>, u64) {
        let mut done = Vec::new();
        let mut dropped = 0;
        let pending = std::mem::take(&mut self.pending);
        for p in pending {
            if let Some(seq) = self.find(&p) {
                done.push(VisionRecord {
                    seq,
                    bond: p.bond,
                    frame_no: p.frame_no,
                    time: SystemTime::now(),
                    inspection: p.inspection,
                });
            } else if p.since.elapsed() >= PENDING_FOR {
                dropped += 1;
            } else {
                self.pending.push(p);
            }
        }
        (done, dropped)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use bonder_vision::VisionVerdict;

    fn insp() -> Inspection {
        Inspection {
            verdict: VisionVerdict::Ok,
            confidence: 1.0,
            pad: None,
            ball: None,
            offset_um: None,
        }
    }

    #[test]
    fn frames_match_the_newest_ball_bond_of_their_unit_and_wire() {
        let mut m = BondMatcher::default();
        for (unit, wire, t, seq) in [(7, 1, 100, 11), (7, 2, 200, 13), (8, 1, 300, 15)] {
            m.bonds.push_back(SeenBond {
                unit_no: unit,
                wire_no: wire,
                time_us: t,
                seq,
            });
        }
        let r = |s, u, w| BondRef {
            stream_seq: s,
            unit_no: u,
            wire_no: w,
        };
        m.offer(r(40, 7, 2), 250, 1, insp());
        // The same bond in the next frame is not inspected again.
        m.offer(r(40, 7, 2), 280, 2, insp());
        // A bond the station has not judged yet waits.
        m.offer(r(42, 8, 2), 420, 3, insp());
        let (done, dropped) = m.resolve();
        assert_eq!(dropped, 0);
        assert_eq!(done.len(), 1);
        assert_eq!((done[0].seq, done[0].frame_no), (13, 1));
        assert_eq!(m.pending.len(), 1);
        m.bonds.push_back(SeenBond {
            unit_no: 8,
            wire_no: 2,
            time_us: 400,
            seq: 17,
        });
        let (done, _) = m.resolve();
        assert_eq!(done[0].seq, 17);
        assert!(m.pending.is_empty());
    }
}
