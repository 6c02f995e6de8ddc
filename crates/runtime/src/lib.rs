//! The station's core at run time: the controller link feeding the domain core.
//!
//! `let station = Station::start(cfg);` spawns two tasks — the Modbus task (connect,
//! poll status, run commands, check/download the recipe) and the stream task (read
//! frames, judge bonds, count) — and hands back a cheap handle: a `watch` of the latest
//! [`Snapshot`] (front ends pull it on a timer), a `broadcast` of [`StationEvent`]s (the
//! store, the gateway and the UI subscribe) and a command sender.
//!
//! [`camera_feed`] is the camera's side of the same run time: a thread that inspects
//! every frame and joins the inspections to the bond events.
//!
//! **Architecture invariant:** no UI and no storage here; both reconnect loops back off
//! and never give up; nothing from the wire can make them panic.

pub mod camera_feed;

use bonder_core::counters::{CounterSnapshot, Counters};
use bonder_core::judge::{Judge, Judgement};
use bonder_core::recipe::Recipe;
use bonder_core::state::{Command, CommandRefusal, MachineState};
use bonder_core::{BondEvent, BondKind};
use bonder_link::codec::DecodeStats;
use bonder_link::frame::FrameBody;
use bonder_link::{Controller, DownloadFault, LinkError, Status, StreamEndpoint, block_crc};
use futures::StreamExt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::sleep;

/// Station runtime settings.
#[derive(Clone)]
pub struct RuntimeConfig {
    pub controller: SocketAddr,
    /// `None`: use the TCP port the controller announces in input register 15.
    pub stream: Option<StreamEndpoint>,
    /// The recipe bonds are judged against.
    pub recipe: Recipe,
    /// Download `recipe` when the controller's active recipe differs and it is idle or
    /// in setup.
    pub download_recipe: bool,
    /// Send `start` after connecting when the machine is idle with the right recipe.
    pub start: bool,
    pub poll_interval: Duration,
    pub io_timeout: Duration,
    /// Longest wait between reconnect attempts.
    pub max_backoff: Duration,
    /// Read deadline of the stream: no frame for this long (the controller sends a
    /// heartbeat at least once a second) and the stream is reopened; while Modbus still
    /// answers, alarm 901 "bond stream silent" is raised until frames flow again.
    pub stream_deadline: Duration,
    /// Record number of the last bond already stored (the station's `seq` continues
    /// after it across restarts).
    pub last_seq: u64,
    /// Called with every event, in order, before it is broadcast: the place for the
    /// store's writer, which must see every bond (a broadcast receiver can lag). It must
    /// not block.
    pub sink: Option<EventSink>,
}

/// See [`RuntimeConfig::sink`].
pub type EventSink = Arc<dyn Fn(&StationEvent) + Send + Sync>;

impl std::fmt::Debug for RuntimeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeConfig")
            .field("controller", &self.controller)
            .field("stream", &self.stream)
            .field("recipe", &self.recipe.id())
            .field("last_seq", &self.last_seq)
            .field("sink", &self.sink.is_some())
            .finish_non_exhaustive()
    }
}

impl RuntimeConfig {
    /// Defaults for a controller address.
    pub fn new(controller: SocketAddr) -> RuntimeConfig {
        RuntimeConfig {
            controller,
            stream: None,
            recipe: Recipe::default_au(),
            download_recipe: true,
            start: false,
            poll_interval: Duration::from_millis(200),
            io_timeout: Duration::from_secs(1),
            max_backoff: Duration::from_secs(5),
            stream_deadline: Duration::from_secs(3),
            last_seq: 0,
            sink: None,
        }
    }
}

/// Whether the station hears its controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinkState {
    /// Not connected yet.
    #[default]
    Connecting,
    /// Modbus and the stream are both connected.
    Online,
    /// Was connected, lost one or both channels; reconnecting.
    Offline,
}

impl LinkState {
    /// Name for logs and the gateway (`online`, `offline`, `connecting`).
    pub fn name(self) -> &'static str {
        match self {
            LinkState::Connecting => "connecting",
            LinkState::Online => "online",
            LinkState::Offline => "offline",
        }
    }
}

/// Everything a front end shows, at one instant.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub link: LinkState,
    pub modbus_connected: bool,
    pub stream_connected: bool,
    /// Latest status poll.
    pub status: Option<Status>,
    /// Machine state, from the stream's state frames or the poll, whichever is newer.
    pub machine_state: Option<MachineState>,
    pub counters: CounterSnapshot,
    /// Decoder statistics summed over every connection.
    pub decode: DecodeStats,
    /// Bonds received (= judged) since start.
    pub bonds_received: u64,
    /// Record number of the latest bond.
    pub last_seq: u64,
    /// Bond frames whose kind was unknown.
    pub bonds_unreadable: u64,
    /// Frames dropped as replays: a `seq` not newer than the last one of the same
    /// connection, or a bond with the controller time, unit, wire and kind of one
    /// already recorded. Never judged, counted or stored.
    pub frames_replayed: u64,
    /// Streams given up because no frame came within the read deadline.
    pub stream_deadlines: u64,
    pub reconnects: u64,
    /// Good bonds learned for the envelope, [ball, stitch].
    pub learned: [u32; 2],
    pub recipe_id: String,
    /// Whether the controller's active recipe CRC equals the station's recipe block's.
    pub recipe_matches: Option<bool>,
    /// Alarm codes raised and not cleared: the controller's (from the stream) and the
    /// station's own (9xx).
    pub active_alarms: Vec<u16>,
    /// Why production is interlocked (start refused, a running machine stopped), e.g.
    /// the store failing; `None` when it is not.
    pub interlock: Option<String>,
    pub last_error: Option<String>,
}

/// What the host interfaces (SECS/GEM status variables, OPC UA `Bonder` variables) report
/// of a [`Snapshot`]: one mapping, so the two never disagree.
#[derive(Debug, Clone, PartialEq)]
pub struct HostFigures {
    /// The controller answers (Modbus and stream).
    pub online: bool,
    /// The machine's state; `None` while the controller is not online.
    pub machine_state: Option<MachineState>,
    pub recipe_id: String,
    pub wires_bonded: u32,
    pub bonds_rejected: u32,
    pub yield_pct: f64,
    pub wire_rate_per_min: u32,
    pub capillary_touchdowns: u32,
    pub heater_temp_c: f32,
    /// Active alarms, the newest first as the runtime keeps them.
    pub alarms: Vec<u32>,
}

impl Snapshot {
    /// The figures the host interfaces report (counters saturate at `u32::MAX`).
    pub fn host_figures(&self) -> HostFigures {
        let online = self.link == LinkState::Online;
        let sat = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        HostFigures {
            online,
            machine_state: if online { self.machine_state } else { None },
            recipe_id: self.recipe_id.clone(),
            wires_bonded: sat(self.counters.wires),
            bonds_rejected: sat(self.counters.rejects.iter().sum()),
            yield_pct: self.counters.yield_pct,
            wire_rate_per_min: self.counters.wire_rate_per_min.round().max(0.0) as u32,
            capillary_touchdowns: self.status.as_ref().map_or(0, |st| st.capillary_touchdowns),
            heater_temp_c: self.status.as_ref().map_or(0.0, |st| st.heater_temp_c),
            alarms: self.active_alarms.iter().map(|&a| u32::from(a)).collect(),
        }
    }
}

/// A bond with the station's verdict and record number.
#[derive(Debug, Clone)]
pub struct JudgedBond {
    /// The station's own record number, +1 per bond (the gateway's `seq`).
    pub seq: u64,
    pub event: BondEvent,
    pub judgement: Judgement,
    /// `name@version` of the recipe it was judged against.
    pub recipe_id: Arc<str>,
    /// Wall time its frame was read from the stream (the start of every latency figure
    /// downstream: a host interface's source timestamp, for one).
    pub received: std::time::SystemTime,
}

/// What the station saw happen.
#[derive(Debug, Clone)]
pub enum StationEvent {
    Bond(Arc<JudgedBond>),
    Alarm {
        code: u16,
        raised: bool,
        time_us: u64,
    },
    State(MachineState),
    Link(LinkState),
    /// The runtime downloaded `recipe_id` to the controller on its own (on connect, the
    /// controller idle with another recipe): `why` says so, `ok` whether the CRC read
    /// back. The store audits it.
    RecipeDownloaded {
        recipe_id: String,
        why: String,
        ok: bool,
    },
}

/// A request to the Modbus task.
#[derive(Debug)]
enum Request {
    Command(
        Command,
        oneshot::Sender<Result<Result<(), CommandRefusal>, SharedLinkError>>,
    ),
    Download(
        Box<Recipe>,
        oneshot::Sender<Result<Result<u32, DownloadFault>, SharedLinkError>>,
    ),
}

/// Why a command could not be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("controller refused: {0}")]
    Refused(CommandRefusal),
    #[error("recipe download failed: {0}")]
    Download(DownloadFault),
    /// The transport failed (kept apart from the controller saying no).
    #[error("controller link: {0}")]
    Link(#[source] SharedLinkError),
    #[error("station runtime stopped")]
    Stopped,
    /// Production is interlocked (e.g. the store is failing): start is refused.
    #[error("start refused, production is interlocked: {0} / 拒绝启动，生产已联锁：{0}")]
    Interlocked(String),
}

/// A link failure shared by everyone waiting on the link when it failed (the Modbus
/// task keeps it for its reconnect and hands each waiter the same error, source kept).
#[derive(Debug, Clone, thiserror::Error)]
#[error(transparent)]
pub struct SharedLinkError(Arc<LinkError>);

impl SharedLinkError {
    /// The link's own error.
    pub fn link_error(&self) -> &LinkError {
        &self.0
    }
}

/// Two failures are equal when they read the same (`LinkError` holds `io::Error`s,
/// which do not compare).
impl PartialEq for SharedLinkError {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.to_string() == other.0.to_string()
    }
}

impl Eq for SharedLinkError {}

/// Handle on a running station core.
#[derive(Debug)]
pub struct Station {
    snapshot: watch::Receiver<Snapshot>,
    events: broadcast::Sender<StationEvent>,
    requests: mpsc::Sender<Request>,
    recipe: watch::Sender<Arc<Recipe>>,
    interlock: watch::Sender<Option<String>>,
    shared: Shared,
    tasks: std::sync::Mutex<JoinSet<()>>,
    own_alarms: OwnAlarms,
}

/// What the station's own alarms (9xx) need: the sink the stream's events go to, and
/// the runtime that clears them when their time is up.
struct OwnAlarms {
    sink: Option<EventSink>,
    rt: tokio::runtime::Handle,
    /// When each timed alarm is due to clear (the latest raise wins).
    clear_at: std::sync::Mutex<std::collections::HashMap<u16, tokio::time::Instant>>,
}

impl std::fmt::Debug for OwnAlarms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnAlarms")
            .field("sink", &self.sink.is_some())
            .finish_non_exhaustive()
    }
}

type Shared = Arc<watch::Sender<Snapshot>>;

/// Microseconds since the Unix epoch, by the wall clock.
fn wall_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Raises or clears one of the station's own alarms the way the controller's go: the
/// snapshot's active alarms, the sink (the store, the gateway's outbox), the
/// subscribers. Nothing happens when it already was in that state; returns whether it
/// changed.
fn own_alarm(
    snap: &Shared,
    events: &broadcast::Sender<StationEvent>,
    sink: Option<&EventSink>,
    code: u16,
    raised: bool,
) -> bool {
    let mut changed = false;
    snap.send_modify(|s| {
        let was = s.active_alarms.contains(&code);
        s.active_alarms.retain(|c| *c != code);
        if raised {
            s.active_alarms.push(code);
        }
        changed = was != raised;
    });
    if !changed {
        return false;
    }
    tracing::warn!(code, raised, "station alarm");
    let ev = StationEvent::Alarm {
        code,
        raised,
        time_us: wall_us(),
    };
    if let Some(sink) = sink {
        sink(&ev);
    }
    let _ = events.send(ev);
    true
}

fn set_link(
    snap: &Shared,
    events: &broadcast::Sender<StationEvent>,
    f: impl FnOnce(&mut Snapshot),
) {
    let mut changed = None;
    snap.send_modify(|s| {
        let before = s.link;
        f(s);
        s.link = match (s.modbus_connected, s.stream_connected, before) {
            (true, true, _) => LinkState::Online,
            (_, _, LinkState::Connecting) => LinkState::Connecting,
            _ => LinkState::Offline,
        };
        if s.link != before {
            changed = Some(s.link);
        }
    });
    if let Some(l) = changed {
        tracing::info!(link = l.name(), "controller link");
        let _ = events.send(StationEvent::Link(l));
    }
}

impl Station {
    /// Starts the Modbus and stream tasks on the current Tokio runtime.
    pub fn start(cfg: RuntimeConfig) -> Station {
        let snap = Snapshot {
            recipe_id: cfg.recipe.id(),
            ..Snapshot::default()
        };
        let (tx, rx) = watch::channel(snap);
        let shared: Shared = Arc::new(tx);
        let (events, _) = broadcast::channel(4096);
        let (req_tx, req_rx) = mpsc::channel(16);
        let (port_tx, port_rx) = watch::channel(None::<u16>);
        let (session_tx, session_rx) = watch::channel(0u64);
        let (interlock_tx, interlock_rx) = watch::channel(None::<String>);
        let (recipe_tx, recipe_rx) = watch::channel(Arc::new(cfg.recipe.clone()));
        let own_alarms = OwnAlarms {
            sink: cfg.sink.clone(),
            rt: tokio::runtime::Handle::current(),
            clear_at: std::sync::Mutex::default(),
        };
        let mut tasks = JoinSet::new();
        tasks.spawn(modbus_task(
            cfg.clone(),
            shared.clone(),
            events.clone(),
            req_rx,
            ModbusLinks {
                port: port_tx,
                session: session_tx,
                interlock: interlock_rx,
            },
            recipe_rx.clone(),
        ));
        tasks.spawn(stream_task(
            cfg,
            shared.clone(),
            events.clone(),
            StreamInputs {
                port: port_rx,
                session: session_rx,
                recipe: recipe_rx,
            },
        ));
        Station {
            snapshot: rx,
            events,
            requests: req_tx,
            recipe: recipe_tx,
            interlock: interlock_tx,
            shared,
            tasks: std::sync::Mutex::new(tasks),
            own_alarms,
        }
    }

    /// Raises (or clears) one of the station's own alarms (9xx, e.g. 905 "login
    /// locked"): it goes the way of the controller's alarms — the snapshot's active
    /// alarms, the event sink (the store), the event subscribers (UI, gateway, host
    /// interfaces). Callable from any thread.
    pub fn station_alarm(&self, code: u16, raised: bool) {
        own_alarm(
            &self.shared,
            &self.events,
            self.own_alarms.sink.as_ref(),
            code,
            raised,
        );
    }

    /// Raises one of the station's own alarms and clears it after `for_how_long`
    /// (a login lock's alarm ends with the lock). Raised again while active, it stays
    /// until the latest raise's time is up.
    pub fn station_alarm_for(self: &Arc<Self>, code: u16, for_how_long: Duration) {
        let due = tokio::time::Instant::now() + for_how_long;
        self.own_alarms
            .clear_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(code, due);
        self.station_alarm(code, true);
        let me = Arc::downgrade(self);
        self.own_alarms.rt.spawn(async move {
            tokio::time::sleep_until(due).await;
            let Some(station) = me.upgrade() else {
                return;
            };
            let latest = {
                let mut map = station
                    .own_alarms
                    .clear_at
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                let latest = map.get(&code) == Some(&due);
                if latest {
                    map.remove(&code);
                }
                latest
            };
            if latest {
                station.station_alarm(code, false);
            }
        });
    }

    /// Interlocks production (`Some(why)`) or lifts the interlock (`None`). While it
    /// holds, [`Station::command`] refuses `Start`, no automatic start is sent, and a
    /// machine seen running (started at the machine itself) is sent `Stop` — bonds
    /// that cannot be recorded are not made.
    pub fn set_interlock(&self, why: Option<String>) {
        let changed = self.interlock.send_if_modified(|cur| {
            let changed = *cur != why;
            cur.clone_from(&why);
            changed
        });
        if changed {
            match &why {
                Some(w) => tracing::error!("production interlocked: {w}"),
                None => tracing::info!("production interlock lifted"),
            }
            self.shared.send_modify(|s| s.interlock = why);
        }
    }

    /// The recipe bonds are judged against (and that reconnects download).
    pub fn recipe(&self) -> Arc<Recipe> {
        self.recipe.borrow().clone()
    }

    /// Makes `recipe` the one bonds are judged against from the next bond on (a fresh
    /// envelope is learned) and the one the CRC check and reconnects use. Call it after
    /// [`Station::download`] succeeded (a changeover) or to roll back.
    pub fn set_recipe(&self, recipe: Recipe) {
        let id = recipe.id();
        tracing::info!(recipe = %id, "judging against a new recipe");
        self.recipe.send_replace(Arc::new(recipe));
        // The CRC match updates with the next status poll; the id changes at once so the
        // UI and the gateway show it.
        self.shared.send_modify(|s| {
            s.recipe_id = id;
            s.recipe_matches = None;
            s.learned = [0, 0];
        });
    }

    /// The latest snapshot (cheap clone).
    pub fn snapshot(&self) -> Snapshot {
        self.snapshot.borrow().clone()
    }

    /// A receiver that sees every new snapshot.
    pub fn watch(&self) -> watch::Receiver<Snapshot> {
        self.snapshot.clone()
    }

    /// Subscribes to events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<StationEvent> {
        self.events.subscribe()
    }

    /// Sends a command to the controller and waits for its result.
    pub async fn command(&self, cmd: Command) -> Result<(), CommandError> {
        if cmd == Command::Start {
            if let Some(why) = self.interlock.borrow().clone() {
                return Err(CommandError::Interlocked(why));
            }
        }
        let (tx, rx) = oneshot::channel();
        self.requests
            .send(Request::Command(cmd, tx))
            .await
            .map_err(|_| CommandError::Stopped)?;
        match rx.await.map_err(|_| CommandError::Stopped)? {
            Ok(Ok(())) => Ok(()),
            Ok(Err(r)) => Err(CommandError::Refused(r)),
            Err(e) => Err(CommandError::Link(e)),
        }
    }

    /// Downloads a recipe block, applies it and checks the CRC read-back.
    pub async fn download(&self, recipe: &Recipe) -> Result<u32, CommandError> {
        let (tx, rx) = oneshot::channel();
        self.requests
            .send(Request::Download(Box::new(recipe.clone()), tx))
            .await
            .map_err(|_| CommandError::Stopped)?;
        match rx.await.map_err(|_| CommandError::Stopped)? {
            Ok(Ok(crc)) => Ok(crc),
            Ok(Err(f)) => Err(CommandError::Download(f)),
            Err(e) => Err(CommandError::Link(e)),
        }
    }

    /// Stops both tasks (the handle stays usable: snapshots keep their last value).
    pub async fn shutdown(&self) {
        let mut tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
}

fn backoff(prev: Duration, max: Duration) -> Duration {
    (prev * 2).clamp(Duration::from_millis(100), max)
}

/// What the Modbus task shares with the stream task and the station.
struct ModbusLinks {
    /// The stream port the controller announces.
    port: watch::Sender<Option<u16>>,
    /// Counts Modbus sessions (the stream reopens on a new one).
    session: watch::Sender<u64>,
    /// Why production is interlocked, if it is.
    interlock: watch::Receiver<Option<String>>,
}

async fn modbus_task(
    cfg: RuntimeConfig,
    snap: Shared,
    events: broadcast::Sender<StationEvent>,
    mut requests: mpsc::Receiver<Request>,
    links: ModbusLinks,
    recipe: watch::Receiver<Arc<Recipe>>,
) {
    let ModbusLinks {
        port: port_tx,
        session: session_tx,
        mut interlock,
    } = links;
    let mut wait = Duration::ZERO;
    let mut first = true;
    loop {
        sleep(wait).await;
        let mut ctl = match Controller::connect(cfg.controller, cfg.io_timeout).await {
            Ok(c) => c,
            Err(e) => {
                let e = SharedLinkError(Arc::new(e));
                wait = backoff(wait, cfg.max_backoff);
                tracing::debug!("controller {}: {e}; retry in {wait:?}", cfg.controller);
                set_link(&snap, &events, |s| {
                    s.modbus_connected = false;
                    s.last_error = Some(e.to_string());
                });
                // Refuse requests while the controller is away instead of queueing them.
                while let Ok(r) = requests.try_recv() {
                    reply_err(r, &e);
                }
                continue;
            }
        };
        wait = Duration::ZERO;
        tracing::info!("controller {} connected", cfg.controller);
        if !first {
            snap.send_modify(|s| s.reconnects += 1);
        }
        first = false;
        let current = recipe.borrow().clone();
        let emit = |ev: StationEvent| {
            if let Some(sink) = &cfg.sink {
                sink(&ev);
            }
            let _ = events.send(ev);
        };
        let autostart = cfg.start && interlock.borrow().is_none();
        if let Err(e) = on_connect(&cfg, autostart, &current, &mut ctl, &snap, &emit).await {
            tracing::warn!("controller setup: {e}");
            continue;
        }
        set_link(&snap, &events, |s| s.modbus_connected = true);
        // A new Modbus session: the stream task reopens the stream (a controller that
        // was power-cycled may have left the old one open and silent).
        session_tx.send_modify(|n| *n += 1);
        let mut tick = tokio::time::interval(cfg.poll_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let err = loop {
            tokio::select! {
                changed = interlock.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    interlock.borrow_and_update();
                    // Checked with the next poll (now).
                    tick.reset_immediately();
                }
                _ = tick.tick() => match ctl.status().await {
                    Ok(st) => {
                        port_tx.send_if_modified(|p| { let changed = *p != Some(st.stream_port); *p = Some(st.stream_port); changed });
                        let crc = block_crc(&recipe.borrow().to_block());
                        snap.send_modify(|s| {
                            if s.status.is_none_or(|old| old.machine_state != st.machine_state) {
                                s.machine_state = st.state();
                            }
                            s.status = Some(st);
                            s.recipe_matches = Some(st.recipe_crc == crc);
                        });
                        let why = interlock.borrow().clone();
                        if let (Some(why), Some(MachineState::Running)) = (why, st.state()) {
                            tracing::error!("machine running while production is interlocked ({why}): sending stop");
                            match ctl.command(Command::Stop).await {
                                Ok(Ok(())) => {}
                                Ok(Err(r)) => tracing::error!("interlock stop refused: {r}"),
                                Err(e) => break SharedLinkError(Arc::new(e)),
                            }
                        }
                    }
                    Err(e) => break SharedLinkError(Arc::new(e)),
                },
                r = requests.recv() => match r {
                    None => return,
                    Some(Request::Command(c, reply)) => match ctl.command(c).await {
                        Ok(res) => { let _ = reply.send(Ok(res)); }
                        Err(e) => { let e = SharedLinkError(Arc::new(e)); let _ = reply.send(Err(e.clone())); break e; }
                    },
                    Some(Request::Download(r, reply)) => match ctl.download_recipe(&r.to_block()).await {
                        Ok(res) => { let _ = reply.send(Ok(res)); }
                        Err(e) => { let e = SharedLinkError(Arc::new(e)); let _ = reply.send(Err(e.clone())); break e; }
                    },
                },
            }
        };
        tracing::warn!("controller {} lost: {err}", cfg.controller);
        set_link(&snap, &events, |s| {
            s.modbus_connected = false;
            s.last_error = Some(err.to_string());
        });
    }
}

fn reply_err(r: Request, e: &SharedLinkError) {
    match r {
        Request::Command(_, tx) => {
            let _ = tx.send(Err(e.clone()));
        }
        Request::Download(_, tx) => {
            let _ = tx.send(Err(e.clone()));
        }
    }
}

/// After (re)connecting: make sure the controller runs the station's recipe.
async fn on_connect(
    cfg: &RuntimeConfig,
    autostart: bool,
    recipe: &Recipe,
    ctl: &mut Controller,
    snap: &Shared,
    emit: &(dyn Fn(StationEvent) + Sync),
) -> Result<(), LinkError> {
    let st = ctl.status().await?;
    let block = recipe.to_block();
    let want = block_crc(&block);
    let state = st.state();
    let mut matches = st.recipe_crc == want;
    if !matches
        && cfg.download_recipe
        && matches!(state, Some(MachineState::Idle | MachineState::Setup))
    {
        let why = format!(
            "on connect the controller was {} with recipe slot {} (CRC {:#010x}), not {} (CRC {want:#010x})",
            state.map_or("idle", MachineState::name),
            st.recipe_slot,
            st.recipe_crc,
            recipe.id()
        );
        let outcome = ctl.download_recipe(&block).await?;
        match &outcome {
            Ok(_) => {
                tracing::info!(recipe = %recipe.id(), "recipe downloaded, CRC read back {want:#010x}");
                matches = true;
            }
            Err(f) => tracing::error!(recipe = %recipe.id(), "recipe download failed: {f}"),
        }
        emit(StationEvent::RecipeDownloaded {
            recipe_id: recipe.id(),
            why,
            ok: outcome.is_ok(),
        });
    } else if !matches {
        tracing::warn!(
            "controller runs recipe slot {} (CRC {:#010x}), not {} (CRC {want:#010x}); judging against {}",
            st.recipe_slot,
            st.recipe_crc,
            recipe.id(),
            recipe.id()
        );
    }
    if autostart && matches && state == Some(MachineState::Idle) {
        match ctl.command(Command::Start).await? {
            Ok(()) => tracing::info!("machine started"),
            Err(r) => tracing::warn!("start refused: {r}"),
        }
    }
    snap.send_modify(|s| s.recipe_matches = Some(matches));
    Ok(())
}

/// What the stream task hears from the Modbus task and the station.
struct StreamInputs {
    /// The stream port the controller announces (input register 15).
    port: watch::Receiver<Option<u16>>,
    /// Counts Modbus sessions: a new one reopens the stream.
    session: watch::Receiver<u64>,
    recipe: watch::Receiver<Arc<Recipe>>,
}

/// A bond as the controller identifies it: its clock, unit, wire and kind.
type BondKey = (u64, u32, u16, BondKind);

/// Bonds remembered for replay detection (a few minutes of the fastest bonder).
const RECENT_BONDS: usize = 16_384;

/// The last bonds recorded, to drop a replayed frame that comes with a new `seq` (a
/// controller or a gateway in between resending what it already sent).
#[derive(Default)]
struct RecentBonds {
    set: std::collections::HashSet<BondKey>,
    order: std::collections::VecDeque<BondKey>,
}

impl RecentBonds {
    /// Remembers `key`; `false` when it was already there (a replay).
    fn insert(&mut self, key: BondKey) -> bool {
        if !self.set.insert(key) {
            return false;
        }
        self.order.push_back(key);
        if self.order.len() > RECENT_BONDS {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }
}

/// Whether `seq` is not newer than `last` (same or behind, modulo wrap).
fn not_newer(seq: u32, last: u32) -> bool {
    let d = seq.wrapping_sub(last);
    d == 0 || d >= 0x8000_0000
}

/// The stream's watchdog: alarm 901 while no frame arrives within the deadline and the
/// controller still answers Modbus.
struct Watchdog<'a> {
    snap: &'a Shared,
    events: &'a broadcast::Sender<StationEvent>,
    sink: Option<&'a EventSink>,
    deadline: Duration,
    /// The last frame (or the task's start).
    last_frame: tokio::time::Instant,
    /// 901 is up (only this task raises and clears it): a frame costs no snapshot lock.
    raised: bool,
}

impl Watchdog<'_> {
    /// A frame came: clears 901.
    fn frame(&mut self) {
        self.last_frame = tokio::time::Instant::now();
        if self.raised {
            own_alarm(self.snap, self.events, self.sink, STREAM_SILENT, false);
            self.raised = false;
        }
    }

    /// No frame lately: raises 901 once the deadline has passed with Modbus online.
    fn check(&mut self) {
        if !self.raised
            && self.last_frame.elapsed() >= self.deadline
            && self.snap.borrow().modbus_connected
        {
            own_alarm(self.snap, self.events, self.sink, STREAM_SILENT, true);
            self.raised = true;
        }
    }
}

/// Alarm 901, bond stream silent.
const STREAM_SILENT: u16 = 901;

async fn stream_task(
    cfg: RuntimeConfig,
    snap: Shared,
    events: broadcast::Sender<StationEvent>,
    inputs: StreamInputs,
) {
    let StreamInputs {
        port: mut port_rx,
        mut session,
        mut recipe,
    } = inputs;
    let mut judge = Judge::new(&recipe.borrow_and_update());
    let mut recipe_id: Arc<str> = recipe.borrow().id().into();
    let mut counters = Counters::new(cfg.recipe.wires_per_unit);
    let mut record_seq: u64 = cfg.last_seq;
    let mut last_seq: Option<u32> = None;
    let mut totals = DecodeStats::default();
    let mut recent = RecentBonds::default();
    let mut wait = Duration::ZERO;
    let deadline = cfg.stream_deadline.max(Duration::from_millis(100));
    let mut dog = Watchdog {
        snap: &snap,
        events: &events,
        sink: cfg.sink.as_ref(),
        deadline,
        last_frame: tokio::time::Instant::now(),
        raised: false,
    };
    loop {
        // Wait out the backoff, raising 901 meanwhile when its time comes.
        let resume = tokio::time::Instant::now() + wait;
        let due = dog.last_frame + deadline;
        if due < resume {
            tokio::time::sleep_until(due).await;
            dog.check();
        }
        tokio::time::sleep_until(resume).await;
        dog.check();
        let endpoint = match &cfg.stream {
            Some(e) => e.clone(),
            None => {
                // The controller announces its stream port in input register 15.
                let port = loop {
                    if let Some(p) = *port_rx.borrow_and_update() {
                        if p != 0 {
                            break p;
                        }
                    }
                    if port_rx.changed().await.is_err() {
                        return;
                    }
                };
                StreamEndpoint::Tcp(SocketAddr::new(cfg.controller.ip(), port).to_string())
            }
        };
        // This stream belongs to the Modbus session of now; a later one reopens it.
        session.borrow_and_update();
        let mut framed = match endpoint.open_framed(cfg.io_timeout, last_seq).await {
            Ok(f) => f,
            Err(e) => {
                wait = backoff(wait, cfg.max_backoff);
                tracing::debug!("stream {endpoint}: {e}; retry in {wait:?}");
                set_link(&snap, &events, |s| {
                    s.stream_connected = false;
                    s.last_error = Some(format!("stream {endpoint}: {e}"));
                });
                dog.check();
                continue;
            }
        };
        tracing::info!("stream {endpoint} connected");
        set_link(&snap, &events, |s| s.stream_connected = true);
        let base = totals.clone();
        // The last frame's seq on this connection: a frame not newer is a replay.
        let mut conn_last: Option<u32> = None;
        let opened = tokio::time::Instant::now();
        let mut opened_without_modbus = !snap.borrow().modbus_connected;
        let end = loop {
            // The deadline runs from the last frame, or from the opening of a connection
            // that has not brought one yet.
            let until = dog.last_frame.max(opened) + deadline;
            let item = tokio::select! {
                r = tokio::time::timeout_at(until, framed.next()) => r,
                changed = session.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    session.borrow_and_update();
                    if opened_without_modbus {
                        // Opened while Modbus was down: already a stream of the
                        // controller the new session talks to (reopening would only
                        // lose the frames in between).
                        opened_without_modbus = false;
                        continue;
                    }
                    break "the Modbus session reconnected: reopening the stream".to_string();
                }
            };
            let Ok(item) = item else {
                dog.check();
                snap.send_modify(|s| s.stream_deadlines += 1);
                break format!("no frame for {deadline:?} (read deadline)");
            };
            let stats = framed.decoder().stats().clone();
            let frame = match item {
                None => break "closed by the controller".to_string(),
                Some(Err(e)) => break e.to_string(),
                Some(Ok(f)) => f,
            };
            dog.frame();
            let mut publish: Option<StationEvent> = None;
            let mut unreadable = false;
            let mut replayed = conn_last.is_some_and(|last| not_newer(frame.seq, last));
            if !replayed {
                conn_last = Some(frame.seq);
            }
            match frame.body {
                _ if replayed => {}
                FrameBody::Bond(b) => match BondEvent::try_from(b) {
                    Ok(ev) if !recent.insert((ev.time_us, ev.unit_no, ev.wire_no, ev.kind)) => {
                        replayed = true;
                    }
                    Ok(ev) => {
                        let received = std::time::SystemTime::now();
                        if recipe.has_changed().unwrap_or(false) {
                            judge = Judge::new(&recipe.borrow_and_update());
                            recipe_id = recipe.borrow().id().into();
                        }
                        let j = judge.judge(&ev);
                        counters.record(&ev, j.verdict);
                        record_seq += 1;
                        publish = Some(StationEvent::Bond(Arc::new(JudgedBond {
                            seq: record_seq,
                            event: ev,
                            judgement: j,
                            recipe_id: recipe_id.clone(),
                            received,
                        })));
                    }
                    Err(e) => {
                        tracing::debug!("bond frame {}: {e}", frame.seq);
                        unreadable = true;
                    }
                },
                FrameBody::State { machine_state } => {
                    if let Some(s) = MachineState::from_u16(machine_state) {
                        publish = Some(StationEvent::State(s));
                    }
                }
                FrameBody::Alarm(a) => {
                    publish = Some(StationEvent::Alarm {
                        code: a.code,
                        raised: a.raised,
                        time_us: a.time_us,
                    });
                }
                FrameBody::Heartbeat { .. } | FrameBody::Unknown { .. } => {}
            }
            if replayed {
                tracing::warn!(seq = frame.seq, "replayed frame dropped");
            }
            snap.send_modify(|s| {
                s.decode = add_stats(&base, &stats);
                match &publish {
                    Some(StationEvent::Bond(_)) => {
                        s.bonds_received += 1;
                        s.last_seq = record_seq;
                        s.counters = counters.snapshot();
                        s.learned = [
                            judge.learned_count(BondKind::Ball),
                            judge.learned_count(BondKind::Stitch),
                        ];
                    }
                    Some(StationEvent::State(st)) => s.machine_state = Some(*st),
                    Some(StationEvent::Alarm { code, raised, .. }) => {
                        s.active_alarms.retain(|c| c != code);
                        if *raised {
                            s.active_alarms.push(*code);
                        }
                    }
                    _ => {}
                }
                if unreadable {
                    s.bonds_unreadable += 1;
                }
                if replayed {
                    s.frames_replayed += 1;
                }
            });
            if let Some(ev) = publish {
                if let Some(sink) = &cfg.sink {
                    sink(&ev);
                }
                let _ = events.send(ev);
            }
        };
        last_seq = framed.decoder().last_seq();
        totals = add_stats(&base, framed.decoder().stats());
        tracing::warn!("stream {endpoint} lost: {end}");
        set_link(&snap, &events, |s| {
            s.stream_connected = false;
            s.decode = totals.clone();
            s.last_error = Some(format!("stream {endpoint}: {end}"));
        });
        wait = Duration::from_millis(100);
    }
}

fn add_stats(a: &DecodeStats, b: &DecodeStats) -> DecodeStats {
    DecodeStats {
        frames_ok: a.frames_ok + b.frames_ok,
        bad_crc: a.bad_crc + b.bad_crc,
        bad_length: a.bad_length + b.bad_length,
        malformed: a.malformed + b.malformed,
        lost_frames: a.lost_frames + b.lost_frames,
        seq_resets: a.seq_resets + b.seq_resets,
        bytes_skipped: a.bytes_skipped + b.bytes_skipped,
    }
}
