//! `bondersim`: a wire bonder's controller, simulated. It speaks the controller side of
//! `docs/spec/controller-link.md` byte for byte — Modbus TCP (status, commands, recipe
//! block) and the bond event stream over TCP and/or a pseudo-terminal — and makes bonds
//! with the physical model of [`model`].
//!
//! Embedding: `let sim = Simulator::start(SimConfig::default()).await?;` — the station's
//! embedded default and the end-to-end tests use it in-process; the `bondersim` binary
//! runs it on its own.

pub mod camera;
pub mod machine;
pub mod model;
pub mod observed;
pub mod pull_tester;
pub mod scenario;
mod server;
pub mod strength;
pub mod window;

use bonder_core::alarm::AlarmCode;
use bonder_core::bond::Defect;
use bonder_core::recipe::Recipe;
use bonder_core::state::{Command, MachineState};
use bonder_link::frame::{AlarmFrame, BondFrame, Frame, FrameBody};
use bytes::{Bytes, BytesMut};
use machine::{Machine, MachineEvent};
use model::BondModel;
use rand::Rng;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// How fast the simulated machine bonds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WireRate {
    /// Wires per second, paced by the clock; a slow reader loses frames (as a real
    /// controller's send buffer would).
    PerSecond(f64),
    /// As fast as the slowest TCP reader takes them (load tests); nothing is dropped.
    Max,
}

impl std::str::FromStr for WireRate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "max" {
            return Ok(WireRate::Max);
        }
        match s.parse::<f64>() {
            Ok(v) if v > 0.0 && v <= 10_000.0 => Ok(WireRate::PerSecond(v)),
            _ => Err(format!(
                "{s:?}: expected a number of wires per second (0 < n <= 10000) or \"max\""
            )),
        }
    }
}

/// Simulator settings.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Modbus TCP listen address (port 0: any free port).
    pub modbus: SocketAddr,
    /// Stream TCP listen address; `None`: no TCP stream.
    pub stream_tcp: Option<SocketAddr>,
    /// Also send the stream on a pseudo-terminal.
    pub serial_pty: bool,
    pub wire_rate: WireRate,
    /// Probability that a wire carries a defect.
    pub defect_rate: f64,
    /// Probability per wire of a wire-break alarm that stops the machine.
    pub alarm_rate: f64,
    pub seed: u64,
    /// Apply the built-in recipe and start bonding at once.
    pub autostart: bool,
    /// Heater time constant, s.
    pub heater_tau_s: f64,
    /// Whether the controller fills the bond's `ctrl_verdict` byte from its own check
    /// (off: always 0, so a test proves the station judges from the curve alone).
    pub ctrl_verdicts: bool,
    /// Camera frame stream TCP listen address (docs/spec/camera-protocol.md); `None`: no
    /// camera.
    pub camera: Option<SocketAddr>,
    /// Camera frames per second.
    pub camera_fps: f64,
    /// The camera's optics, lighting and sensor (see [`camera`]).
    pub camera_params: camera::CameraParams,
    /// Excursions acting on the process (`--scenario`).
    pub scenarios: Vec<scenario::Scenario>,
    /// Touchdowns after which the capillary is changed (the register starts again).
    pub capillary_life: u64,
    /// Where to write one JSON line of truth per wire (`--truth FILE`).
    pub truth: Option<std::path::PathBuf>,
    /// Where and how often to write pull tester files (`--pull-tests DIR`).
    pub pull_tests: Option<pull_tester::PullTests>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            modbus: SocketAddr::from(([127, 0, 0, 1], 0)),
            stream_tcp: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            serial_pty: false,
            wire_rate: WireRate::PerSecond(10.0),
            defect_rate: 0.002,
            alarm_rate: 0.0,
            seed: 1,
            autostart: false,
            heater_tau_s: 5.0,
            ctrl_verdicts: true,
            camera: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            camera_fps: 30.0,
            camera_params: camera::CameraParams::default(),
            scenarios: Vec::new(),
            capillary_life: 1_000_000,
            truth: None,
            pull_tests: None,
        }
    }
}

/// Errors starting the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot open a pseudo-terminal: {0}")]
    Pty(String),
}

/// Counters of what the simulator sent (ground truth for tests and load runs).
#[derive(Debug, Default)]
pub struct SimStats {
    pub frames: AtomicU64,
    pub bonds: AtomicU64,
    /// Bonds queued for at least one reader (made while somebody listened).
    pub bonds_delivered: AtomicU64,
    pub wires: AtomicU64,
    /// Wires with an injected defect, per [`Defect::index`].
    pub injected: [AtomicU64; 6],
    /// Frames dropped for a reader that was too slow (paced mode).
    pub dropped: AtomicU64,
}

struct Shared {
    machine: Mutex<Machine>,
    model: Mutex<BondModel>,
    sinks: Mutex<Vec<mpsc::Sender<Bytes>>>,
    stats: SimStats,
    /// Ground truth: (unit, wire, defect) of every injected defect.
    injections: Mutex<Vec<(u32, u16, Defect)>>,
    /// What the camera sees: the balls of the unit in front of it.
    camera: Mutex<camera::CameraSite>,
    epoch: Instant,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the register map half-written in a
    // way that matters more than stopping; keep serving.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }
}

/// A running simulator.
pub struct Simulator {
    shared: Arc<Shared>,
    pub modbus_addr: SocketAddr,
    pub stream_addr: Option<SocketAddr>,
    /// Device path of the pty's reading side, e.g. `/dev/pts/7`.
    pub pty_path: Option<String>,
    /// Camera frame stream address (docs/spec/camera-protocol.md).
    pub camera_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    stop_machine: watch::Sender<bool>,
    machine_task: tokio::task::JoinHandle<()>,
    tasks: JoinSet<()>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("modbus_addr", &self.modbus_addr)
            .field("stream_addr", &self.stream_addr)
            .field("pty_path", &self.pty_path)
            .field("camera_addr", &self.camera_addr)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// Binds the listeners and starts the machine.
    pub async fn start(cfg: SimConfig) -> Result<Simulator, SimError> {
        let bind = |addr: SocketAddr| async move {
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| SimError::Bind { addr, source })
        };
        let modbus_listener = bind(cfg.modbus).await?;
        let modbus_addr = modbus_listener
            .local_addr()
            .map_err(|source| SimError::Bind {
                addr: cfg.modbus,
                source,
            })?;
        let stream_listener = match cfg.stream_tcp {
            Some(a) => Some(bind(a).await?),
            None => None,
        };
        let stream_addr = stream_listener.as_ref().and_then(|l| l.local_addr().ok());
        let camera_listener = match cfg.camera {
            Some(a) => Some(bind(a).await?),
            None => None,
        };
        let camera_addr = camera_listener.as_ref().and_then(|l| l.local_addr().ok());

        let mut machine = Machine::default();
        machine.stream_port = stream_addr.map_or(0, |a| a.port());
        if cfg.autostart {
            machine.pending_block = Recipe::default_au().to_block();
            let _ = machine.execute(Command::ApplyRecipe.code());
            machine.heater_temp_c = Recipe::default_au().heater_temp_c.0;
            let _ = machine.execute(Command::Start.code());
            machine.events.clear();
            machine
                .events
                .push(MachineEvent::State(MachineState::Running));
        }
        let shared = Arc::new(Shared {
            machine: Mutex::new(machine),
            model: Mutex::new({
                let mut m = BondModel::new(cfg.seed, cfg.defect_rate);
                m.scenarios = cfg.scenarios.clone();
                m.drift.capillary_life = cfg.capillary_life.max(2);
                m
            }),
            sinks: Mutex::new(Vec::new()),
            stats: SimStats::default(),
            injections: Mutex::new(Vec::new()),
            camera: Mutex::new(camera::CameraSite::new(
                camera::DieLayout::default(),
                cfg.camera_params.extra_defect_rate,
                cfg.seed,
            )),
            epoch: Instant::now(),
        });
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        tasks.spawn(server::serve_modbus(
            modbus_listener,
            shared.clone(),
            stop_rx.clone(),
        ));
        if let Some(l) = stream_listener {
            tasks.spawn(server::serve_stream(l, shared.clone(), stop_rx.clone()));
        }
        if let Some(l) = camera_listener {
            tasks.spawn(server::serve_camera(
                l,
                shared.clone(),
                stop_rx.clone(),
                cfg.camera_fps,
                cfg.camera_params.clone(),
                cfg.seed,
            ));
        }
        let mut pty_path = None;
        if cfg.serial_pty {
            let (path, master, slave) = server::open_pty().map_err(SimError::Pty)?;
            pty_path = Some(path);
            let (tx, rx) = mpsc::channel(256);
            lock(&shared.sinks).push(tx);
            tasks.spawn(server::write_sink(master, rx, Some(slave), stop_rx.clone()));
        }
        drop(stop_rx);
        let (stop_machine, stop_machine_rx) = watch::channel(false);
        let machine_task = tokio::spawn(run_machine(shared.clone(), cfg, stop_machine_rx));
        tracing::info!(%modbus_addr, ?stream_addr, ?pty_path, ?camera_addr, "bondersim started");
        Ok(Simulator {
            shared,
            modbus_addr,
            stream_addr,
            pty_path,
            camera_addr,
            stop,
            stop_machine,
            machine_task,
            tasks,
        })
    }

    /// Stops everything and closes every connection (as a controller that is switched
    /// off); what was already written to a socket still arrives.
    pub async fn shutdown(mut self) {
        // The machine stops first, so every frame it made is in a sink's queue before
        // the sinks flush and close.
        let _ = self.stop_machine.send(true);
        let _ = (&mut self.machine_task).await;
        let _ = self.stop.send(true);
        let deadline = tokio::time::sleep(Duration::from_secs(2));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                r = self.tasks.join_next() => if r.is_none() { break },
                () = &mut deadline => { self.tasks.abort_all(); break }
            }
        }
    }

    /// The camera frame stream's address, if the camera is on.
    pub fn camera_addr(&self) -> Option<SocketAddr> {
        self.camera_addr
    }

    /// The scene in front of the camera now (for a test's ground truth: render it with
    /// [`camera::render`]).
    pub fn camera_scene(&self) -> camera::Scene {
        let t = self.shared.epoch.elapsed().as_secs_f64();
        lock(&self.shared.camera).scene(t)
    }

    /// What has been sent so far.
    pub fn stats(&self) -> &SimStats {
        &self.shared.stats
    }

    /// Every defect injected so far: (unit, wire, defect).
    pub fn injections(&self) -> Vec<(u32, u16, Defect)> {
        lock(&self.shared.injections).clone()
    }

    /// Forces a defect on the next wire.
    pub fn force_defect(&self, d: Defect) {
        lock(&self.shared.model).force_defect(d);
    }

    /// Makes the next recipe apply store a block that differs from the one written.
    pub fn corrupt_next_apply(&self) {
        lock(&self.shared.machine).corrupt_next_apply = true;
    }

    /// Raises an alarm as the machine would.
    pub fn raise_alarm(&self, a: AlarmCode) {
        lock(&self.shared.machine).raise_alarm(a);
    }

    /// The machine state now.
    pub fn state(&self) -> MachineState {
        lock(&self.shared.machine).state
    }

    /// Runs a command as if written to register 100.
    pub fn command(&self, c: Command) -> Result<(), bonder_core::state::CommandRefusal> {
        lock(&self.shared.machine).execute(c.code())
    }
}

/// Sends a frame to every sink. In `Max` mode waits for room (back-pressure from the
/// slowest TCP reader); otherwise a full sink loses the frame.
async fn broadcast(shared: &Shared, seq: &mut u32, body: FrameBody, wait: bool) -> bool {
    let frame = Frame { seq: *seq, body };
    *seq = seq.wrapping_add(1);
    let mut buf = BytesMut::with_capacity(frame.encoded_len());
    if let Err(e) = frame.encode(&mut buf) {
        tracing::error!("cannot encode frame: {e}");
        return false;
    }
    let bytes = buf.freeze();
    shared.stats.frames.fetch_add(1, Ordering::Relaxed);
    let sinks: Vec<_> = lock(&shared.sinks).clone();
    let mut closed = false;
    let mut delivered = false;
    for s in sinks {
        let r = if wait {
            s.send(bytes.clone()).await.map_err(|_| true)
        } else {
            s.try_send(bytes.clone())
                .map_err(|e| matches!(e, mpsc::error::TrySendError::Closed(_)))
        };
        match r {
            Ok(()) => delivered = true,
            Err(true) => closed = true,
            Err(false) => {
                shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    if closed {
        lock(&shared.sinks).retain(|s| !s.is_closed());
    }
    delivered
}

async fn run_machine(shared: Arc<Shared>, cfg: SimConfig, mut stop: watch::Receiver<bool>) {
    let mut seq: u32 = 0;
    let wait = cfg.wire_rate == WireRate::Max;
    let cycle_us = match cfg.wire_rate {
        WireRate::PerSecond(r) => (1e6 / r) as u64,
        WireRate::Max => 2_000,
    };
    let tick = Duration::from_millis(100);
    let mut next_tick = Instant::now();
    let mut next_wire = Instant::now();
    let mut next_heartbeat = Instant::now();
    let mut heater_phase: f64 = 0.0;
    let mut truth = cfg
        .truth
        .as_deref()
        .and_then(|p| match pull_tester::TruthFile::create(p) {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::error!("--truth {}: {e}", p.display());
                None
            }
        });
    let mut tester = cfg.pull_tests.clone().map(pull_tester::PullTester::new);
    loop {
        if *stop.borrow() {
            break;
        }
        let now = Instant::now();
        // Machine events (state changes, alarms) first, in order.
        let events = std::mem::take(&mut lock(&shared.machine).events);
        for ev in events {
            let body = match ev {
                MachineEvent::State(s) => FrameBody::State {
                    machine_state: s.as_u16(),
                },
                MachineEvent::Alarm { code, raised } => FrameBody::Alarm(AlarmFrame {
                    code,
                    raised,
                    time_us: shared.now_us(),
                }),
            };
            broadcast(&shared, &mut seq, body, wait).await;
        }
        if now >= next_heartbeat {
            broadcast(
                &shared,
                &mut seq,
                FrameBody::Heartbeat {
                    time_us: shared.now_us(),
                },
                wait,
            )
            .await;
            next_heartbeat = now + Duration::from_secs(1);
        }
        if now >= next_tick {
            // Heater: first-order approach to its set point, with a slow ±1.5 °C wander.
            let mut m = lock(&shared.machine);
            let set = m.active.as_ref().map_or(25.0, |(_, v)| v.heater_temp_c);
            heater_phase += tick.as_secs_f64() * std::f64::consts::TAU / 600.0;
            let drift_c = lock(&shared.model).effects().heater_c;
            let target = set + 1.5 * heater_phase.sin() + drift_c;
            let a = 1.0 - (-tick.as_secs_f64() / cfg.heater_tau_s.max(0.01)).exp();
            m.heater_temp_c += (target - m.heater_temp_c) * a;
            let offset = m.heater_temp_c - set;
            drop(m);
            lock(&shared.model).drift.heater_offset_c = offset;
            next_tick = now + tick;
        }
        let running = {
            let m = lock(&shared.machine);
            (m.state == MachineState::Running)
                .then(|| m.active.as_ref().map(|(_, v)| *v))
                .flatten()
        };
        match running {
            Some(values) if wait || now >= next_wire => {
                let t = shared.now_us();
                let wire = {
                    let mut model = lock(&shared.model);
                    let w = model.next_wire(&values, t, cycle_us);
                    let alarm =
                        cfg.alarm_rate > 0.0 && model.rng().random_bool(cfg.alarm_rate.min(1.0));
                    (w, alarm)
                };
                let (mut wire, alarm) = wire;
                if let Some(d) = wire.injected {
                    shared.stats.injected[d.index()].fetch_add(1, Ordering::Relaxed);
                    lock(&shared.injections).push((wire.ball.unit_no, wire.ball.wire_no, d));
                }
                if !cfg.ctrl_verdicts {
                    wire.ball.ctrl_verdict = 0;
                    wire.stitch.ctrl_verdict = 0;
                }
                let rejected = u32::from(wire.ball.ctrl_verdict != 0)
                    + u32::from(wire.stitch.ctrl_verdict != 0);
                lock(&shared.camera).record_ball(&wire.ball, wire.injected, seq);
                if let Some(t) = truth.as_mut() {
                    t.write(&wire);
                }
                if let Some(p) = tester.as_mut() {
                    p.wire(&wire);
                }
                for b in [&wire.ball, &wire.stitch] {
                    let delivered =
                        broadcast(&shared, &mut seq, FrameBody::Bond(BondFrame::from(b)), wait)
                            .await;
                    if delivered {
                        shared.stats.bonds_delivered.fetch_add(1, Ordering::Relaxed);
                    }
                    shared.stats.bonds.fetch_add(1, Ordering::Relaxed);
                }
                shared.stats.wires.fetch_add(1, Ordering::Relaxed);
                {
                    let mut m = lock(&shared.machine);
                    m.count_wire(shared.now_us(), rejected);
                    if wire.truth.capillary_changed {
                        m.capillary_touchdowns = 0;
                    }
                    for code in [wire.ball.ctrl_verdict, wire.stitch.ctrl_verdict] {
                        // The verdict byte is the alarm code's low byte (101 -> 0x65).
                        if let Some(a) = AlarmCode::from_code(u16::from(code)) {
                            m.raise_alarm(a);
                        }
                    }
                    if alarm {
                        m.raise_alarm(AlarmCode::WireBroken);
                    }
                }
                if wait {
                    tokio::task::yield_now().await;
                } else {
                    next_wire += Duration::from_micros(cycle_us);
                    // Never burst more than a second's worth after a stall.
                    if now > next_wire + Duration::from_secs(1) {
                        next_wire = now;
                    }
                }
                continue;
            }
            Some(_) => {}
            None => {
                next_wire = now;
                // The machine stopped: the unit on the bench is complete and tested.
                if let Some(p) = tester.as_mut() {
                    p.flush();
                }
            }
        }
        let until = next_tick.min(next_heartbeat).min(if running.is_some() {
            next_wire
        } else {
            next_tick
        });
        tokio::select! {
            () = tokio::time::sleep_until(until) => {}
            _ = stop.changed() => {}
        }
    }
    if let Some(t) = truth.as_mut() {
        t.flush();
    }
}
