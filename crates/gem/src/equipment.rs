//! The GEM equipment: one task that owns the state models and the host configuration,
//! answers the host's primaries, turns station events into S5F1/S6F11, and sends its
//! own primaries one at a time in order (spooling them when the host is away).
//!
//! Everything runs in [`Gem::run`]; long work (a remote command on the controller, a
//! send waiting for its reply) runs in tasks of its own that report back on a channel,
//! so the loop never waits on the host or the controller.

use crate::config::{ECS, EcValue, HostConfig, ec_info};
use crate::ids::{self, ceid, dv, ec, sv};
use crate::port::{
    Equipment, GemAction, GemAudit, GemStore, PpChange, RemoteCommand, SpoolPush, Spooled,
    StationEvent, StationStatus,
};
use bonder_core::permissions::{Permission, Role};
use bonder_core::state::MachineState;
use bonder_secs::session::Traffic;
use bonder_secs::{Event, Item, Message, ReplyToken, RequestError, Session};
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

/// E30 control state (SV 1002).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ControlState {
    EquipmentOffline = 1,
    AttemptOnline = 2,
    HostOffline = 3,
    OnlineLocal = 4,
    OnlineRemote = 5,
}

impl ControlState {
    pub fn is_online(self) -> bool {
        matches!(self, ControlState::OnlineLocal | ControlState::OnlineRemote)
    }
    pub fn name(self) -> &'static str {
        match self {
            ControlState::EquipmentOffline => "EQUIPMENT-OFFLINE",
            ControlState::AttemptOnline => "ATTEMPT-ONLINE",
            ControlState::HostOffline => "HOST-OFFLINE",
            ControlState::OnlineLocal => "ONLINE-LOCAL",
            ControlState::OnlineRemote => "ONLINE-REMOTE",
        }
    }
}

/// E30 communication state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommState {
    /// No selected HSMS session.
    NotCommunicating,
    /// S1F13 sent, waiting for S1F14 (or the retry delay).
    WaitCra,
    Communicating,
}

/// E30 processing state (SV 1003) from the controller's machine state.
pub fn process_state(m: Option<MachineState>) -> u8 {
    match m {
        Some(MachineState::Idle) => 0,
        Some(MachineState::Running) => 1,
        Some(MachineState::Paused) => 2,
        Some(MachineState::Alarm) => 3,
        Some(MachineState::Setup) => 4,
        Some(MachineState::EStop) => 5,
        None => 6,
    }
}

/// A terminal message from the host, shown until acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalMessage {
    pub tid: u8,
    pub text: String,
    pub received: SystemTime,
}

/// What the GEM panel shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GemStatus {
    pub comm: CommState,
    pub control: ControlState,
    /// The operator's switch (EC 3007): REMOTE when true.
    pub remote: bool,
    pub host: Option<SocketAddr>,
    pub spool_count: u64,
    pub spool_total: u64,
    pub spool_active: bool,
    /// Primaries dropped: raised while not communicating with spooling off, or while
    /// offline, or past the spool's bound.
    pub dropped: u64,
    pub terminal: Option<TerminalMessage>,
}

/// MDLN and SOFTREV.
#[derive(Debug, Clone)]
pub struct GemIdentity {
    pub model: String,
    pub softrev: String,
}

impl Default for GemIdentity {
    fn default() -> GemIdentity {
        GemIdentity {
            model: "WB-HMI".into(),
            softrev: String::new(),
        }
    }
}

/// Why an operator action on the GEM panel was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PanelError {
    #[error("a {role} may not {permission} / 无此权限")]
    Forbidden { role: Role, permission: Permission },
    #[error("the host link is not communicating / 未与主机通信")]
    NotCommunicating,
    #[error("GEM stopped / GEM 已停止")]
    Stopped,
    #[error("{0}")]
    Store(String),
}

enum Input {
    Station(StationEvent),
    Panel(PanelOp, oneshot::Sender<Result<(), PanelError>>),
    Sent {
        out: Outgoing,
        result: Result<Message, RequestError>,
    },
    EstablishDone(Result<Message, RequestError>),
    OnlineAttemptDone(Result<Message, RequestError>),
}

#[derive(Debug)]
enum PanelOp {
    Online(bool, String, Role),
    Remote(bool, String, Role),
    PurgeSpool(String, Role),
    AcknowledgeTerminal(String),
    SendTerminal(String, String),
}

#[derive(Debug, Clone)]
struct Outgoing {
    message: Message,
    spool_id: Option<i64>,
}

/// A handle on the running GEM equipment.
#[derive(Clone, Debug)]
pub struct GemHandle {
    tx: mpsc::Sender<Input>,
    status: watch::Receiver<GemStatus>,
    session: Session,
}

/// Station events that may wait for the GEM task; past this they are dropped (logged).
const STATION_QUEUE: usize = 4096;
/// Primaries queued for the host while communicating; past this they are spooled (if
/// spooling is on) or dropped.
const MAX_QUEUED: usize = 10_000;
/// Largest recipe document accepted by S7F1/S7F3 (as the gateway's `cmd/recipe`).
pub const MAX_PP_BYTES: usize = 256 * 1024;

impl GemHandle {
    pub fn status(&self) -> watch::Receiver<GemStatus> {
        self.status.clone()
    }

    /// The session's last messages, SML.
    pub fn recent(&self) -> Vec<Traffic> {
        self.session.recent()
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Tells GEM what happened on the station (never waits).
    pub fn notify(&self, ev: StationEvent) {
        if self.tx.try_send(Input::Station(ev)).is_err() {
            tracing::warn!("GEM is {STATION_QUEUE} events behind: a station event was dropped");
        }
    }

    async fn panel(&self, op: PanelOp) -> Result<(), PanelError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Input::Panel(op, tx))
            .await
            .map_err(|_| PanelError::Stopped)?;
        rx.await.map_err(|_| PanelError::Stopped)?
    }

    fn may(role: Role, permission: Permission) -> Result<(), PanelError> {
        if role.may(permission) {
            Ok(())
        } else {
            Err(PanelError::Forbidden { role, permission })
        }
    }

    /// The operator's ONLINE/OFFLINE switch.
    pub async fn set_online(&self, online: bool, by: &str, role: Role) -> Result<(), PanelError> {
        Self::may(role, Permission::SwitchRemote)?;
        self.panel(PanelOp::Online(online, by.into(), role)).await
    }

    /// The operator's LOCAL/REMOTE switch.
    pub async fn set_remote(&self, remote: bool, by: &str, role: Role) -> Result<(), PanelError> {
        Self::may(role, Permission::SwitchRemote)?;
        self.panel(PanelOp::Remote(remote, by.into(), role)).await
    }

    pub async fn purge_spool(&self, by: &str, role: Role) -> Result<(), PanelError> {
        Self::may(role, Permission::PurgeSpool)?;
        self.panel(PanelOp::PurgeSpool(by.into(), role)).await
    }

    /// An operator read the host's terminal message (CEID 110).
    pub async fn acknowledge_terminal(&self, by: &str) -> Result<(), PanelError> {
        self.panel(PanelOp::AcknowledgeTerminal(by.into())).await
    }

    /// An operator's text to the host (S10F1).
    pub async fn send_terminal(&self, text: &str, by: &str) -> Result<(), PanelError> {
        self.panel(PanelOp::SendTerminal(text.into(), by.into()))
            .await
    }
}

/// The GEM equipment's state (owned by its task).
pub struct Gem<E: Equipment, P: GemStore> {
    session: Session,
    eq: Arc<E>,
    store: Arc<P>,
    id: GemIdentity,
    cfg: HostConfig,
    comm: CommState,
    control: ControlState,
    process: u8,
    previous_process: u8,
    queue: VecDeque<Outgoing>,
    in_flight: bool,
    /// The message in flight came from `emit` (not the spool): everything emitted after
    /// it waits in the queue until it is answered or fails, so that a failed one is
    /// spooled before them.
    live_in_flight: bool,
    establish_in_flight: bool,
    establish_at: Option<Instant>,
    spool_active: bool,
    spool_count: u64,
    spool_total: u64,
    /// Spooled messages being transmitted after an S6F23, until this many are done.
    unloading: usize,
    unload_after_reply: bool,
    /// The role of the operator whose panel action is being carried out (for its audit).
    panel_role: Option<Role>,
    dropped: u64,
    data_id: u32,
    terminal: Option<TerminalMessage>,
    host: Option<SocketAddr>,
    status_tx: watch::Sender<GemStatus>,
    tx: mpsc::Sender<Input>,
}

impl<E: Equipment, P: GemStore> std::fmt::Debug for Gem<E, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gem")
            .field("comm", &self.comm)
            .field("control", &self.control)
            .finish_non_exhaustive()
    }
}

/// Starts GEM over a started session: loads the host's configuration, sets the initial
/// control state (EC 3008) and runs until the session's events end.
pub fn start<E: Equipment, P: GemStore>(
    session: Session,
    events: mpsc::Receiver<Event>,
    eq: Arc<E>,
    store: Arc<P>,
    id: GemIdentity,
) -> Result<GemHandle, crate::port::PortError> {
    let cfg = store.load()?;
    let spool_count = store.spool_len()?;
    let remote = cfg.constant_u(ec::ONLINE_SUBSTATE) == 5;
    let control = if cfg.constant_u(ec::INIT_CONTROL_STATE) == 2 {
        if remote {
            ControlState::OnlineRemote
        } else {
            ControlState::OnlineLocal
        }
    } else {
        ControlState::EquipmentOffline
    };
    let process = process_state(eq.status().machine_state);
    let (tx, rx) = mpsc::channel(STATION_QUEUE);
    let status = GemStatus {
        comm: CommState::NotCommunicating,
        control,
        remote,
        host: None,
        spool_count,
        spool_total: spool_count,
        spool_active: spool_count > 0,
        dropped: 0,
        terminal: None,
    };
    let (status_tx, status_rx) = watch::channel(status);
    let gem = Gem {
        session: session.clone(),
        eq,
        store,
        id,
        cfg,
        comm: CommState::NotCommunicating,
        control,
        process,
        previous_process: process,
        queue: VecDeque::new(),
        in_flight: false,
        live_in_flight: false,
        establish_in_flight: false,
        establish_at: None,
        spool_active: spool_count > 0,
        spool_count,
        spool_total: spool_count,
        unloading: 0,
        unload_after_reply: false,
        panel_role: None,
        dropped: 0,
        data_id: 0,
        terminal: None,
        host: None,
        status_tx,
        tx: tx.clone(),
    };
    tracing::info!(
        control = control.name(),
        spooled = spool_count,
        "GEM started"
    );
    tokio::spawn(gem.run(events, rx));
    Ok(GemHandle {
        tx,
        status: status_rx,
        session,
    })
}

fn far() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

fn b(v: u8) -> Item {
    Item::binary(v)
}

/// Ids of a list of integer items (any width); `None` when one is not an integer.
fn ids_of(items: &[Item]) -> Option<Vec<u32>> {
    items.iter().map(Item::as_u32).collect()
}

/// Station clock as SV 1001: `YYYYMMDDhhmmsscc` (A16) or `YYMMDDhhmmss` (A12), local
/// time of the station's zone.
pub fn clock_text(now: jiff::civil::DateTime, format: u64) -> String {
    let cc = now.subsec_nanosecond() / 10_000_000;
    if format == 0 {
        format!(
            "{:02}{:02}{:02}{:02}{:02}{:02}",
            now.year() % 100,
            now.month(),
            now.day(),
            now.hour(),
            now.minute(),
            now.second()
        )
    } else {
        format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}{:02}",
            now.year(),
            now.month(),
            now.day(),
            now.hour(),
            now.minute(),
            now.second(),
            cc
        )
    }
}

fn local_now() -> jiff::civil::DateTime {
    jiff::Zoned::now().datetime()
}

/// Streams and functions the equipment answers (S9F3 / S9F5 otherwise).
fn known(stream: u8, function: u8) -> Result<(), u8> {
    let functions: &[u8] = match stream {
        1 => &[1, 3, 11, 13, 15, 17, 23],
        2 => &[13, 15, 17, 29, 31, 33, 35, 37, 41, 43],
        5 => &[3, 5, 7],
        6 => &[15, 19, 23],
        7 => &[1, 3, 5, 17, 19],
        10 => &[3, 5],
        _ => return Err(3),
    };
    if functions.contains(&function) {
        Ok(())
    } else {
        Err(5)
    }
}

/// The ids of a list body, or `all()` when the list is empty (E5: "zero-length list
/// means all"); `Malformed` when the body is not a list of integers.
fn ids_or_all(
    list: Option<&[Item]>,
    all: impl FnOnce() -> Vec<u32>,
) -> Result<Vec<u32>, Malformed> {
    let ids = ids_of(list.ok_or(Malformed)?).ok_or(Malformed)?;
    Ok(if ids.is_empty() { all() } else { ids })
}

/// A body that does not have the message's structure (S9F7).
struct Malformed;

type Answer = Result<Message, Malformed>;

impl<E: Equipment, P: GemStore> Gem<E, P> {
    async fn run(mut self, mut events: mpsc::Receiver<Event>, mut rx: mpsc::Receiver<Input>) {
        loop {
            let establish_at = self.establish_at;
            tokio::select! {
                ev = events.recv() => match ev {
                    Some(ev) => self.on_session(ev),
                    None => break,
                },
                input = rx.recv() => match input {
                    Some(i) => self.on_input(i),
                    None => break,
                },
                _ = tokio::time::sleep_until(establish_at.unwrap_or_else(far)), if establish_at.is_some() => {
                    self.establish_at = None;
                    self.send_s1f13();
                }
            }
            self.publish();
        }
        tracing::info!("GEM stopped");
    }

    fn publish(&self) {
        let s = GemStatus {
            comm: self.comm,
            control: self.control,
            remote: self.remote(),
            host: self.host,
            spool_count: self.spool_count,
            spool_total: self.spool_total,
            spool_active: self.spool_active,
            dropped: self.dropped,
            terminal: self.terminal.clone(),
        };
        self.status_tx.send_if_modified(|old| {
            if *old != s {
                *old = s;
                true
            } else {
                false
            }
        });
    }

    fn remote(&self) -> bool {
        self.cfg.constant_u(ec::ONLINE_SUBSTATE) == 5
    }

    fn save(&self) {
        if let Err(e) = self.store.save(&self.cfg) {
            tracing::error!("GEM: the host's configuration could not be stored: {e}");
        }
    }

    fn audit(&self, who: &str, action: GemAction, object: String, old: String, new: String) {
        let role = if who == "host" {
            Some(Role::System)
        } else {
            self.panel_role
        };
        self.eq.audit(GemAudit {
            who: who.into(),
            role,
            action,
            object,
            old,
            new,
        });
    }

    // --- communication state ------------------------------------------------------

    fn on_session(&mut self, ev: Event) {
        match ev {
            Event::Connected { peer } => tracing::info!(%peer, "GEM: host connected"),
            Event::Selected { peer } => {
                self.host = Some(peer);
                self.comm = CommState::WaitCra;
                self.send_s1f13();
            }
            Event::Deselected { .. } | Event::Closed { .. } => {
                self.host = None;
                self.lose_communication();
            }
            Event::Refused { peer, why } => {
                self.audit(
                    "host",
                    GemAction::Refused,
                    format!("hsms:{peer}"),
                    String::new(),
                    format!("{why:?}"),
                );
            }
            Event::Primary(p) => self.on_primary(p),
        }
    }

    fn send_s1f13(&mut self) {
        if self.comm == CommState::Communicating || self.establish_in_flight {
            return;
        }
        if !self.session.state().borrow().selected {
            return;
        }
        self.establish_in_flight = true;
        let body = Item::list([]);
        let (s, tx) = (self.session.clone(), self.tx.clone());
        tokio::spawn(async move {
            let r = s.request(Message::request(1, 13, body)).await;
            let _ = tx.send(Input::EstablishDone(r)).await;
        });
    }

    fn communicating(&mut self) {
        if self.comm != CommState::Communicating {
            tracing::info!("GEM: communicating");
        }
        self.comm = CommState::Communicating;
        self.establish_at = None;
        self.pump();
    }

    fn lose_communication(&mut self) {
        if self.comm == CommState::Communicating {
            tracing::warn!("GEM: communication lost");
        }
        self.comm = CommState::NotCommunicating;
        self.establish_at = None;
        self.unloading = 0;
        if self.live_in_flight {
            // The message in flight is older than the queue: it is spooled first, when
            // it fails (`on_sent`), and the queue after it.
            return;
        }
        // What waited to be sent goes to the spool (in order) or is dropped.
        let queued: Vec<Outgoing> = self.queue.drain(..).collect();
        for o in queued {
            if o.spool_id.is_none() {
                self.spool_or_drop(o.message);
            }
        }
    }

    fn retry_establish(&mut self) {
        let secs = self
            .cfg
            .constant_u(ec::ESTABLISH_COMMUNICATIONS_TIMEOUT)
            .max(1);
        self.comm = CommState::WaitCra;
        self.establish_at = Some(Instant::now() + Duration::from_secs(secs));
    }

    // --- inputs -------------------------------------------------------------------

    fn on_input(&mut self, input: Input) {
        match input {
            Input::Station(ev) => self.on_station(ev),
            Input::Panel(op, done) => {
                let r = self.on_panel(op);
                let _ = done.send(r);
            }
            Input::EstablishDone(r) => {
                self.establish_in_flight = false;
                match r {
                    Ok(m) if m.function == 14 => {
                        let commack = m
                            .body
                            .as_ref()
                            .and_then(|b| b.at(0))
                            .and_then(Item::as_bool);
                        if commack == Some(false)
                            || m.body
                                .as_ref()
                                .and_then(|b| b.at(0))
                                .and_then(|i| i.bytes())
                                .is_some_and(|b| b == [0])
                        {
                            self.communicating();
                        } else if self.comm != CommState::Communicating {
                            self.retry_establish();
                        }
                    }
                    // A late S1F14 after the host's own S1F13 crossed ours: ignored.
                    _ if self.comm == CommState::Communicating => {}
                    Ok(_) | Err(RequestError::ReplyTimeout) | Err(RequestError::BadReply(_)) => {
                        self.retry_establish()
                    }
                    Err(_) => {}
                }
            }
            Input::OnlineAttemptDone(r) => {
                if self.control == ControlState::AttemptOnline {
                    match r {
                        Ok(m) if m.function == 2 => self.go_online("operator"),
                        _ => self.set_control(ControlState::EquipmentOffline),
                    }
                }
            }
            Input::Sent { out, result } => self.on_sent(out, result),
        }
    }

    fn on_panel(&mut self, op: PanelOp) -> Result<(), PanelError> {
        self.panel_role = match &op {
            PanelOp::Online(_, _, r) | PanelOp::Remote(_, _, r) | PanelOp::PurgeSpool(_, r) => {
                Some(*r)
            }
            PanelOp::AcknowledgeTerminal(_) | PanelOp::SendTerminal(..) => None,
        };
        let r = self.panel_op(op);
        self.panel_role = None;
        r
    }

    fn panel_op(&mut self, op: PanelOp) -> Result<(), PanelError> {
        match op {
            PanelOp::Online(true, by, _) => {
                if self.control.is_online() || self.control == ControlState::AttemptOnline {
                    return Ok(());
                }
                self.audit(
                    &by,
                    GemAction::Command,
                    "gem:control".into(),
                    self.control.name().into(),
                    "ONLINE".into(),
                );
                if self.control == ControlState::HostOffline {
                    // The host put it offline; the operator's switch brings it back.
                    self.go_online(&by);
                    return Ok(());
                }
                if self.comm != CommState::Communicating {
                    // E30: ATTEMPT-ONLINE asks the host (S1F1); with no host to ask the
                    // attempt fails and the equipment stays offline.
                    return Err(PanelError::NotCommunicating);
                }
                self.set_control(ControlState::AttemptOnline);
                let (s, tx) = (self.session.clone(), self.tx.clone());
                tokio::spawn(async move {
                    let r = s.request(Message::header_only(1, 1, true)).await;
                    let _ = tx.send(Input::OnlineAttemptDone(r)).await;
                });
                Ok(())
            }
            PanelOp::Online(false, by, _) => {
                if self.control != ControlState::EquipmentOffline {
                    self.audit(
                        &by,
                        GemAction::Command,
                        "gem:control".into(),
                        self.control.name().into(),
                        "EQUIPMENT-OFFLINE".into(),
                    );
                    self.set_control(ControlState::EquipmentOffline);
                }
                Ok(())
            }
            PanelOp::Remote(remote, by, _) => {
                let v = if remote { 5 } else { 4 };
                if self.cfg.constant_u(ec::ONLINE_SUBSTATE) == v {
                    return Ok(());
                }
                self.audit(
                    &by,
                    GemAction::Command,
                    "gem:online_substate".into(),
                    if remote { "LOCAL" } else { "REMOTE" }.into(),
                    if remote { "REMOTE" } else { "LOCAL" }.into(),
                );
                self.cfg
                    .constants
                    .insert(ec::ONLINE_SUBSTATE, EcValue::U(v));
                self.save();
                if self.control.is_online() {
                    self.set_control(if remote {
                        ControlState::OnlineRemote
                    } else {
                        ControlState::OnlineLocal
                    });
                }
                Ok(())
            }
            PanelOp::PurgeSpool(by, _) => {
                let n = self
                    .store
                    .spool_purge()
                    .map_err(|e| PanelError::Store(e.to_string()))?;
                self.audit(
                    &by,
                    GemAction::Delete,
                    "gem:spool".into(),
                    n.to_string(),
                    "0".into(),
                );
                self.spool_emptied();
                Ok(())
            }
            PanelOp::AcknowledgeTerminal(by) => {
                if let Some(t) = self.terminal.take() {
                    tracing::info!(by, "terminal message acknowledged");
                    let mut dvs = BTreeMap::new();
                    dvs.insert(dv::TERMINAL_TEXT, Item::ascii(&t.text));
                    self.event(ceid::TERMINAL_MESSAGE_ACKNOWLEDGED, &dvs);
                }
                Ok(())
            }
            PanelOp::SendTerminal(text, by) => {
                if self.comm != CommState::Communicating || !self.control.is_online() {
                    return Err(PanelError::NotCommunicating);
                }
                tracing::info!(by, "terminal message to the host");
                self.emit(Message::request(
                    10,
                    1,
                    Item::list([b(0), Item::ascii(text)]),
                ));
                Ok(())
            }
        }
    }

    fn go_online(&mut self, _by: &str) {
        let s = if self.remote() {
            ControlState::OnlineRemote
        } else {
            ControlState::OnlineLocal
        };
        self.set_control(s);
    }

    fn set_control(&mut self, new: ControlState) {
        let old = self.control;
        if old == new {
            return;
        }
        tracing::info!(from = old.name(), to = new.name(), "GEM control state");
        self.control = new;
        let mut dvs = BTreeMap::new();
        dvs.insert(dv::PREVIOUS_CONTROL_STATE, Item::u1(old as u8));
        // Reported only where the host may hear it (online, or leaving online).
        if new.is_online() || old.is_online() {
            let was = self.control;
            if !new.is_online() {
                // Let the report of going offline out before the gate closes.
                self.control = old;
            }
            self.event(ceid::CONTROL_STATE_CHANGED, &dvs);
            self.control = was;
        }
    }

    fn on_station(&mut self, ev: StationEvent) {
        let mut dvs = BTreeMap::new();
        match ev {
            StationEvent::MachineState(m) => {
                let p = process_state(m);
                if p != self.process {
                    self.previous_process = self.process;
                    self.process = p;
                    self.event(ceid::PROCESS_STATE_CHANGED, &dvs);
                }
            }
            StationEvent::UnitCompleted {
                unit,
                wires,
                rejects,
            } => {
                dvs.insert(dv::UNIT_ID, Item::u4(unit));
                dvs.insert(dv::UNIT_WIRES, Item::u4(wires));
                dvs.insert(dv::UNIT_REJECTS, Item::u4(rejects));
                self.event(ceid::UNIT_COMPLETED, &dvs);
            }
            StationEvent::BondRejected {
                seq,
                unit,
                verdict,
                ball_um,
                dx_um,
                dy_um,
            } => {
                dvs.insert(dv::BOND_SEQ, Item::u4(seq as u32));
                dvs.insert(dv::UNIT_ID, Item::u4(unit));
                dvs.insert(dv::BOND_VERDICT, Item::ascii(verdict));
                dvs.insert(dv::BALL_DIAMETER_UM, Item::f4(ball_um));
                dvs.insert(dv::PLACEMENT_DX_UM, Item::f4(dx_um));
                dvs.insert(dv::PLACEMENT_DY_UM, Item::f4(dy_um));
                self.event(ceid::BOND_REJECTED, &dvs);
            }
            StationEvent::AlarmSet(alid) | StationEvent::AlarmCleared(alid) => {
                let set = matches!(ev, StationEvent::AlarmSet(_));
                let info = self.eq.alarms().into_iter().find(|a| a.alid == alid);
                let (text, category) =
                    info.map_or_else(|| (format!("alarm {alid}"), 6), |a| (a.text, a.category));
                let text: String = text.chars().take(120).collect();
                if !self.cfg.disabled_alarms.contains(&alid) {
                    let alcd = (u8::from(set) << 7) | (category & 0x7F);
                    self.emit(Message::request(
                        5,
                        1,
                        Item::list([b(alcd), Item::u4(alid), Item::ascii(&text)]),
                    ));
                }
                dvs.insert(dv::ALID, Item::u4(alid));
                dvs.insert(dv::ALTX, Item::ascii(&text));
                self.event(
                    if set {
                        ceid::ALARM_SET
                    } else {
                        ceid::ALARM_CLEARED
                    },
                    &dvs,
                );
            }
            StationEvent::PpChanged { ppid, change } => {
                dvs.insert(dv::PPID, Item::ascii(ppid));
                dvs.insert(dv::PP_CHANGE_STATUS, Item::u1(change as u8));
                self.event(ceid::PP_CHANGED, &dvs);
            }
            StationEvent::PpSelected(ppid) => {
                dvs.insert(dv::PPID, Item::ascii(ppid));
                self.event(ceid::PP_SELECTED, &dvs);
            }
            StationEvent::ChangeoverStarted(ppid) => {
                dvs.insert(dv::PPID, Item::ascii(ppid));
                self.event(ceid::CHANGEOVER_STARTED, &dvs);
            }
            StationEvent::ChangeoverCompleted {
                ppid,
                minutes,
                first_article_passed,
            } => {
                dvs.insert(dv::PPID, Item::ascii(&ppid));
                dvs.insert(dv::CHANGEOVER_MINUTES, Item::f4(minutes));
                dvs.insert(
                    dv::FIRST_ARTICLE_PASSED,
                    Item::boolean(first_article_passed),
                );
                self.event(ceid::CHANGEOVER_COMPLETED, &dvs);
                self.event(ceid::PP_SELECTED, &dvs);
            }
            StationEvent::OperatorLoggedIn(_) => self.event(ceid::OPERATOR_LOGGED_IN, &dvs),
        }
    }

    // --- variables and reports ----------------------------------------------------

    fn sv_value(&self, id: u32, st: &StationStatus) -> Option<Item> {
        Some(match id {
            sv::CLOCK => Item::ascii(clock_text(
                local_now(),
                self.cfg.constant_u(ec::TIME_FORMAT),
            )),
            sv::CONTROL_STATE => Item::u1(self.control as u8),
            sv::PROCESS_STATE => Item::u1(self.process),
            sv::PREVIOUS_PROCESS_STATE => Item::u1(self.previous_process),
            sv::PP_EXEC_NAME => Item::ascii(&st.recipe_id),
            sv::WIRES_BONDED => Item::u4(st.wires_bonded),
            sv::BONDS_REJECTED => Item::u4(st.bonds_rejected),
            sv::YIELD_PCT => Item::f4(st.yield_pct),
            sv::WIRE_RATE_PER_MIN => Item::u4(st.wire_rate_per_min),
            sv::CAPILLARY_TOUCHDOWNS => Item::u4(st.capillary_touchdowns),
            sv::HEATER_TEMP_C => Item::f4(st.heater_temp_c),
            sv::ALARMS_SET => Item::list(st.alarms_set.iter().map(|&a| Item::u4(a))),
            sv::OPERATOR_ID => Item::ascii(&st.operator_id),
            sv::LOT_ID => Item::ascii(&st.lot_id),
            sv::WORK_ORDER => Item::ascii(&st.work_order),
            sv::SPOOL_COUNT_ACTUAL => Item::u4(self.spool_count as u32),
            sv::SPOOL_COUNT_TOTAL => Item::u4(self.spool_total as u32),
            sv::CONTROLLER_ONLINE => Item::boolean(st.controller_online),
            _ => return None,
        })
    }

    /// The reports linked to `ceid`, SVs at their current value, DVs from `dvs`
    /// (`<L [0]>` for one not valid in this event).
    fn reports(&self, ceid: u32, dvs: &BTreeMap<u32, Item>, st: &StationStatus) -> Item {
        let rpts = self.cfg.links.get(&ceid).cloned().unwrap_or_default();
        Item::list(rpts.into_iter().map(|rptid| {
            let vids = self.cfg.reports.get(&rptid).cloned().unwrap_or_default();
            Item::list([
                Item::u4(rptid),
                Item::list(vids.into_iter().map(|v| {
                    dvs.get(&v)
                        .cloned()
                        .or_else(|| self.sv_value(v, st))
                        .unwrap_or(Item::List(vec![]))
                })),
            ])
        }))
    }

    fn next_data_id(&mut self) -> u32 {
        self.data_id = self.data_id.wrapping_add(1);
        self.data_id
    }

    /// An S6F11 for `ceid` when the host enabled it.
    fn event(&mut self, ceid: u32, dvs: &BTreeMap<u32, Item>) {
        if !self.cfg.enabled_events.contains(&ceid) {
            return;
        }
        let st = self.eq.status();
        let mut dvs = dvs.clone();
        if ceid == ceid::PROCESS_STATE_CHANGED {
            dvs.insert(sv::PREVIOUS_PROCESS_STATE, Item::u1(self.previous_process));
        }
        let reports = self.reports(ceid, &dvs, &st);
        let id = self.next_data_id();
        self.emit(Message::request(
            6,
            11,
            Item::list([Item::u4(id), Item::u4(ceid), reports]),
        ));
    }

    // --- sending, spooling --------------------------------------------------------

    fn spoolable(&self, m: &Message) -> bool {
        m.stream != 1 && self.cfg.spool_streams.contains(&m.stream)
    }

    /// Sends a primary of ours, in order: now, later (queued), into the spool, or not at
    /// all (counted).
    fn emit(&mut self, m: Message) {
        if !self.control.is_online() {
            self.dropped += 1;
            tracing::debug!("GEM offline: {} not sent", m.name());
            return;
        }
        if self.live_in_flight && self.queue.len() < MAX_QUEUED {
            // Behind the one in flight, whatever becomes of it.
            self.queue.push_back(Outgoing {
                message: m,
                spool_id: None,
            });
            return;
        }
        if self.spool_active && self.spoolable(&m) {
            self.spool(m);
            return;
        }
        if self.comm != CommState::Communicating {
            self.spool_or_drop(m);
            return;
        }
        if self.queue.len() >= MAX_QUEUED {
            self.spool_or_drop(m);
            return;
        }
        self.queue.push_back(Outgoing {
            message: m,
            spool_id: None,
        });
        self.pump();
    }

    fn spool_or_drop(&mut self, m: Message) {
        if self.spoolable(&m) && self.cfg.constant_bool(ec::CONFIG_SPOOL) {
            if !self.spool_active {
                self.spool_active = true;
                self.spool_total = 0;
                tracing::info!("GEM: spooling activated");
                let dvs = BTreeMap::new();
                // CEID 111 goes into the spool first (spool_active is set).
                self.event(ceid::SPOOLING_ACTIVATED, &dvs);
            }
            self.spool(m);
        } else {
            self.dropped += 1;
            tracing::debug!("GEM: {} dropped (not communicating, not spooled)", m.name());
        }
    }

    fn spool(&mut self, m: Message) {
        let body = match m.body.as_ref().map(Item::encode).transpose() {
            Ok(b) => b.unwrap_or_default(),
            Err(e) => {
                tracing::error!("GEM: cannot spool {}: {e}", m.name());
                return;
            }
        };
        let s = Spooled {
            stream: m.stream,
            function: m.function,
            w: m.w,
            body,
            time_ms: jiff::Timestamp::now().as_millisecond(),
        };
        let max = self.cfg.constant_u(ec::MAX_SPOOL_MESSAGES);
        let overwrite = self.cfg.constant_bool(ec::OVERWRITE_SPOOL);
        match self.store.spool_push(&s, max, overwrite) {
            Ok(SpoolPush::Stored) => {
                self.spool_count += 1;
                self.spool_total += 1;
            }
            Ok(SpoolPush::StoredDiscardingOldest) => {
                self.spool_total += 1;
                self.dropped += 1;
            }
            Ok(SpoolPush::Discarded) => self.dropped += 1,
            Err(e) => {
                self.dropped += 1;
                tracing::error!("GEM: spool write failed: {e}");
            }
        }
    }

    fn spool_emptied(&mut self) {
        self.spool_count = self.store.spool_len().unwrap_or(0);
        self.unloading = 0;
        self.queue.retain(|o| o.spool_id.is_none());
        if self.spool_active && self.spool_count == 0 {
            self.spool_active = false;
            tracing::info!("GEM: spooling deactivated");
            let dvs = BTreeMap::new();
            self.event(ceid::SPOOLING_DEACTIVATED, &dvs);
        }
    }

    fn pump(&mut self) {
        if self.in_flight || self.comm != CommState::Communicating {
            return;
        }
        let Some(out) = self.queue.pop_front() else {
            return;
        };
        self.in_flight = true;
        self.live_in_flight = out.spool_id.is_none();
        let (s, tx) = (self.session.clone(), self.tx.clone());
        tokio::spawn(async move {
            let result = if out.message.w {
                s.request(out.message.clone()).await
            } else {
                s.send(out.message.clone())
                    .await
                    .map(|()| Message::header_only(out.message.stream, 0, false))
            };
            let _ = tx.send(Input::Sent { out, result }).await;
        });
    }

    fn on_sent(&mut self, out: Outgoing, result: Result<Message, RequestError>) {
        self.in_flight = false;
        self.live_in_flight = false;
        match result {
            Ok(reply) => {
                if reply.function == 0 && out.message.w {
                    tracing::warn!(
                        "GEM: the host aborted {} (S{}F0)",
                        out.message.name(),
                        reply.stream
                    );
                }
                if let Some(id) = out.spool_id {
                    if let Err(e) = self.store.spool_delete(id) {
                        tracing::error!("GEM: spool delete: {e}");
                    }
                    self.spool_count = self.spool_count.saturating_sub(1);
                    self.unloading = self.unloading.saturating_sub(1);
                    if self.unloading == 0 {
                        self.after_unload_batch();
                    }
                }
            }
            Err(e) => {
                tracing::warn!("GEM: {} not delivered: {e}", out.message.name());
                // Oldest first: the failed message, then what queued behind it.
                if out.spool_id.is_none() {
                    self.spool_or_drop(out.message);
                }
                self.lose_communication();
                if matches!(e, RequestError::ReplyTimeout) {
                    // E30: a reply timeout is a communication failure.
                    self.retry_establish();
                }
            }
        }
        self.pump();
    }

    fn load_from_spool(&mut self) {
        let max = self.cfg.constant_u(ec::MAX_SPOOL_TRANSMIT) as usize;
        let n = if max == 0 { 1000 } else { max };
        let batch = match self.store.spool_oldest(n) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!("GEM: spool read: {e}");
                return;
            }
        };
        self.unloading = batch.len();
        // Spooled messages go before anything queued since.
        for (id, s) in batch.into_iter().rev() {
            let body = if s.body.is_empty() {
                None
            } else {
                match Item::decode(&s.body) {
                    Ok(i) => Some(i),
                    Err(e) => {
                        tracing::error!("GEM: spooled message {id} unreadable, dropped: {e}");
                        let _ = self.store.spool_delete(id);
                        self.unloading -= 1;
                        continue;
                    }
                }
            };
            self.queue.push_front(Outgoing {
                message: Message {
                    stream: s.stream,
                    function: s.function,
                    w: s.w,
                    body,
                },
                spool_id: Some(id),
            });
        }
        if self.unloading == 0 {
            self.after_unload_batch();
        }
        self.pump();
    }

    fn after_unload_batch(&mut self) {
        self.spool_count = self.store.spool_len().unwrap_or(self.spool_count);
        if self.spool_count == 0 {
            self.spool_emptied();
        } else if self.cfg.constant_u(ec::MAX_SPOOL_TRANSMIT) == 0
            && self.comm == CommState::Communicating
        {
            // "All": what was spooled while the batch went out follows.
            self.load_from_spool();
        }
    }

    // --- the host's primaries -----------------------------------------------------

    fn on_primary(&mut self, p: bonder_secs::Primary) {
        let m = &p.message;
        if let Err(f) = known(m.stream, m.function) {
            tracing::warn!("GEM: {} not supported: S9F{f}", m.name());
            self.session.send_s9(f, &p.header);
            return;
        }
        // E30: what each control state lets through.
        let allowed = match self.control {
            ControlState::EquipmentOffline | ControlState::AttemptOnline => {
                (m.stream, m.function) == (1, 13)
            }
            ControlState::HostOffline => matches!((m.stream, m.function), (1, 13) | (1, 17)),
            ControlState::OnlineLocal | ControlState::OnlineRemote => true,
        };
        if !allowed {
            if m.w {
                self.session.abort(&p.token);
            }
            return;
        }
        // An S1F13 from the host establishes communication whatever our state.
        let answer = self.answer(&p.token, m);
        match answer {
            Some(Ok(reply)) if m.w => self.session.reply(&p.token, reply),
            Some(Ok(_)) => {}
            Some(Err(Malformed)) => {
                tracing::warn!("GEM: {} body does not match the message: S9F7", m.name());
                self.session.send_s9(7, &p.header);
            }
            None => {} // answered later (remote command)
        }
        if (m.stream, m.function) == (1, 13) {
            self.communicating();
        }
        if std::mem::take(&mut self.unload_after_reply) {
            self.load_from_spool();
        }
    }

    /// The reply to a primary; `None` when a task of its own replies later.
    fn answer(&mut self, token: &ReplyToken, m: &Message) -> Option<Answer> {
        let body = m.body.as_ref();
        let list = body.and_then(Item::as_list);
        Some(match (m.stream, m.function) {
            (1, 1) => Ok(Message::reply(
                1,
                2,
                Item::list([Item::ascii(&self.id.model), Item::ascii(&self.id.softrev)]),
            )),
            (1, 3) => self.s1f3(list),
            (1, 11) => self.s1f11(list),
            (1, 13) => Ok(Message::reply(
                1,
                14,
                Item::list([
                    b(0),
                    Item::list([Item::ascii(&self.id.model), Item::ascii(&self.id.softrev)]),
                ]),
            )),
            (1, 15) => {
                self.set_control(ControlState::HostOffline);
                Ok(Message::reply(1, 16, b(0)))
            }
            (1, 17) => {
                let ack = if self.control.is_online() {
                    2
                } else {
                    self.go_online("host");
                    0
                };
                Ok(Message::reply(1, 18, b(ack)))
            }
            (1, 23) => self.s1f23(list),
            (2, 13) => self.s2f13(list),
            (2, 15) => self.s2f15(list),
            (2, 17) => Ok(Message::reply(
                2,
                18,
                Item::ascii(clock_text(
                    local_now(),
                    self.cfg.constant_u(ec::TIME_FORMAT),
                )),
            )),
            (2, 29) => self.s2f29(list),
            (2, 31) => Ok(Message::reply(2, 32, b(1))),
            (2, 33) => self.s2f33(list),
            (2, 35) => self.s2f35(list),
            (2, 37) => self.s2f37(list),
            (2, 41) => return self.s2f41(token, m),
            (2, 43) => self.s2f43(list),
            (5, 3) => self.s5f3(list),
            (5, 5) => self.s5_list(body, 6, false),
            (5, 7) => self.s5_list(body, 8, true),
            (6, 15) => self.s6f15(body),
            (6, 19) => self.s6f19(body),
            (6, 23) => self.s6f23(body),
            (7, 1) => self.s7f1(list),
            (7, 3) => self.s7f3(list),
            (7, 5) => self.s7f5(body),
            (7, 17) => Ok(Message::reply(7, 18, b(1))),
            (7, 19) => Ok(Message::reply(
                7,
                20,
                Item::list(self.eq.process_programs().into_iter().map(Item::ascii)),
            )),
            (10, 3) => self.s10(list, 4, false),
            (10, 5) => self.s10(list, 6, true),
            _ => Err(Malformed),
        })
    }

    fn s1f3(&self, list: Option<&[Item]>) -> Answer {
        let ids = ids_or_all(list, || ids::SVS.iter().map(|v| v.id).collect())?;
        let st = self.eq.status();
        Ok(Message::reply(
            1,
            4,
            Item::list(
                ids.into_iter()
                    .map(|id| self.sv_value(id, &st).unwrap_or(Item::List(vec![]))),
            ),
        ))
    }

    fn s1f11(&self, list: Option<&[Item]>) -> Answer {
        let ids = ids_or_all(list, || ids::SVS.iter().map(|v| v.id).collect())?;
        Ok(Message::reply(
            1,
            12,
            Item::list(ids.into_iter().map(|id| {
                let v = ids::SVS.iter().find(|v| v.id == id);
                Item::list([
                    Item::u4(id),
                    Item::ascii(v.map_or("", |v| v.name)),
                    Item::ascii(v.map_or("", |v| v.units)),
                ])
            })),
        ))
    }

    fn s1f23(&self, list: Option<&[Item]>) -> Answer {
        let ids = ids_or_all(list, || ids::EVENTS.iter().map(|e| e.ceid).collect())?;
        Ok(Message::reply(
            1,
            24,
            Item::list(ids.into_iter().map(|c| {
                let dvs = ids::event_info(c).map_or(&[][..], |e| e.dvs);
                Item::list([Item::u4(c), Item::list(dvs.iter().map(|&v| Item::u4(v)))])
            })),
        ))
    }

    fn s2f13(&self, list: Option<&[Item]>) -> Answer {
        let ids = ids_or_all(list, || ECS.iter().map(|e| e.id).collect())?;
        Ok(Message::reply(
            2,
            14,
            Item::list(ids.into_iter().map(|id| match ec_info(id) {
                Some(e) => e.item(self.cfg.constant(id)),
                None => Item::List(vec![]),
            })),
        ))
    }

    fn s2f15(&mut self, list: Option<&[Item]>) -> Answer {
        let pairs = list.ok_or(Malformed)?;
        let mut changes = Vec::new();
        let mut eac = 0;
        for p in pairs {
            let (Some(id), Some(v)) = (p.at(0).and_then(Item::as_u32), p.at(1)) else {
                return Err(Malformed);
            };
            match ec_info(id) {
                None => {
                    eac = 1;
                    break;
                }
                Some(info) => match info.accept(v) {
                    Some(val) => changes.push((id, val)),
                    None => eac = 3,
                },
            }
        }
        if eac == 0 {
            for (id, val) in &changes {
                let old = self.cfg.constant(*id);
                self.cfg.constants.insert(*id, *val);
                self.audit(
                    "host",
                    GemAction::Command,
                    format!("ec:{id}"),
                    format!("{old:?}"),
                    format!("{val:?}"),
                );
            }
            self.save();
            for (id, _) in &changes {
                if *id == ec::ONLINE_SUBSTATE && self.control.is_online() {
                    let s = if self.remote() {
                        ControlState::OnlineRemote
                    } else {
                        ControlState::OnlineLocal
                    };
                    self.set_control(s);
                }
                let mut dvs = BTreeMap::new();
                dvs.insert(dv::ECID, Item::u4(*id));
                self.event(ceid::EQUIPMENT_CONSTANT_CHANGED, &dvs);
            }
        }
        Ok(Message::reply(2, 16, b(eac)))
    }

    fn s2f29(&self, list: Option<&[Item]>) -> Answer {
        let ids = ids_or_all(list, || ECS.iter().map(|e| e.id).collect())?;
        Ok(Message::reply(
            2,
            30,
            Item::list(ids.into_iter().map(|id| match ec_info(id) {
                Some(e) => {
                    let bound = |x: f64| match e.default {
                        EcValue::F(_) => EcValue::F(x),
                        EcValue::Bool(_) => EcValue::Bool(x != 0.0),
                        EcValue::U(_) => EcValue::U(x as u64),
                    };
                    Item::list([
                        Item::u4(id),
                        Item::ascii(e.name),
                        e.item(bound(e.min)),
                        e.item(bound(e.max)),
                        e.item(e.default),
                        Item::ascii(e.units),
                    ])
                }
                None => Item::list([
                    Item::u4(id),
                    Item::ascii(""),
                    Item::List(vec![]),
                    Item::List(vec![]),
                    Item::List(vec![]),
                    Item::ascii(""),
                ]),
            })),
        ))
    }

    fn s2f33(&mut self, list: Option<&[Item]>) -> Answer {
        let l = list.ok_or(Malformed)?;
        let defs = l.get(1).and_then(Item::as_list).ok_or(Malformed)?;
        if defs.is_empty() {
            self.cfg.reports.clear();
            self.cfg.links.clear();
            self.save();
            return Ok(Message::reply(2, 34, b(0)));
        }
        let mut parsed = Vec::new();
        for d in defs {
            let rptid = d.at(0).and_then(Item::as_u32).ok_or(Malformed)?;
            let vids =
                ids_of(d.at(1).and_then(Item::as_list).ok_or(Malformed)?).ok_or(Malformed)?;
            parsed.push((rptid, vids));
        }
        let mut drack = 0;
        for (rptid, vids) in &parsed {
            if !vids.is_empty() && self.cfg.reports.contains_key(rptid) {
                drack = 3;
                break;
            }
            if vids.iter().any(|v| !ids::is_sv(*v) && !ids::is_dv(*v)) {
                drack = 4;
                break;
            }
        }
        if drack == 0 {
            for (rptid, vids) in parsed {
                if vids.is_empty() {
                    self.cfg.reports.remove(&rptid);
                    for r in self.cfg.links.values_mut() {
                        r.retain(|x| *x != rptid);
                    }
                    self.cfg.links.retain(|_, r| !r.is_empty());
                } else {
                    self.cfg.reports.insert(rptid, vids);
                }
            }
            self.save();
        }
        Ok(Message::reply(2, 34, b(drack)))
    }

    fn s2f35(&mut self, list: Option<&[Item]>) -> Answer {
        let l = list.ok_or(Malformed)?;
        let links = l.get(1).and_then(Item::as_list).ok_or(Malformed)?;
        let mut parsed = Vec::new();
        for k in links {
            let ceid = k.at(0).and_then(Item::as_u32).ok_or(Malformed)?;
            let rpts =
                ids_of(k.at(1).and_then(Item::as_list).ok_or(Malformed)?).ok_or(Malformed)?;
            parsed.push((ceid, rpts));
        }
        let mut lrack = 0;
        for (ceid, rpts) in &parsed {
            if ids::event_info(*ceid).is_none() {
                lrack = 4;
            } else if rpts.iter().any(|r| !self.cfg.reports.contains_key(r)) {
                lrack = 5;
            } else if !rpts.is_empty() && self.cfg.links.get(ceid).is_some_and(|v| !v.is_empty()) {
                lrack = 3;
            }
            if lrack != 0 {
                break;
            }
        }
        if lrack == 0 {
            for (ceid, rpts) in parsed {
                if rpts.is_empty() {
                    self.cfg.links.remove(&ceid);
                } else {
                    self.cfg.links.insert(ceid, rpts);
                }
            }
            self.save();
        }
        Ok(Message::reply(2, 36, b(lrack)))
    }

    fn s2f37(&mut self, list: Option<&[Item]>) -> Answer {
        let l = list.ok_or(Malformed)?;
        let enable = l.first().and_then(Item::as_bool).ok_or(Malformed)?;
        let ceids = ids_of(l.get(1).and_then(Item::as_list).ok_or(Malformed)?).ok_or(Malformed)?;
        let ceids: Vec<u32> = if ceids.is_empty() {
            ids::EVENTS.iter().map(|e| e.ceid).collect()
        } else {
            ceids
        };
        if ceids.iter().any(|c| ids::event_info(*c).is_none()) {
            return Ok(Message::reply(2, 38, b(1)));
        }
        for c in ceids {
            if enable {
                self.cfg.enabled_events.insert(c);
            } else {
                self.cfg.enabled_events.remove(&c);
            }
        }
        self.save();
        Ok(Message::reply(2, 38, b(0)))
    }

    fn s2f41(&mut self, token: &ReplyToken, m: &Message) -> Option<Answer> {
        let reply = |hcack: u8, cps: Vec<Item>| {
            Message::reply(2, 42, Item::list([b(hcack), Item::List(cps)]))
        };
        let Some(l) = m.body.as_ref().and_then(Item::as_list) else {
            return Some(Err(Malformed));
        };
        let (Some(rcmd), Some(params)) = (
            l.first().and_then(Item::text),
            l.get(1).and_then(Item::as_list),
        ) else {
            return Some(Err(Malformed));
        };
        let rcmd = rcmd.trim().to_ascii_uppercase();
        let mut cps = BTreeMap::new();
        for p in params {
            match (p.at(0).and_then(Item::text), p.at(1)) {
                (Some(n), Some(v)) => {
                    cps.insert(n.to_ascii_uppercase(), v.clone());
                }
                _ => return Some(Err(Malformed)),
            }
        }
        let st = self.eq.status();
        let refuse = |me: &Self, hcack: u8, why: &str| {
            me.audit(
                "host",
                GemAction::Refused,
                format!("rcmd:{rcmd}"),
                String::new(),
                format!("HCACK {hcack}: {why}"),
            );
        };
        let cmd = match rcmd.as_str() {
            "START" => RemoteCommand::Start,
            "STOP" => RemoteCommand::Stop,
            "PAUSE" => RemoteCommand::Pause,
            "RESUME" => RemoteCommand::Resume,
            "PP-SELECT" | "PP_SELECT" => {
                let ppid = cps.get("PPID").and_then(Item::text).map(|t| t.into_owned());
                match ppid {
                    Some(p) => RemoteCommand::PpSelect(p),
                    None => {
                        refuse(self, 3, "no PPID");
                        return Some(Ok(reply(3, vec![Item::list([Item::ascii("PPID"), b(1)])])));
                    }
                }
            }
            _ => {
                refuse(self, 1, "no such command");
                return Some(Ok(reply(1, vec![])));
            }
        };
        // The operator's switch and the permission table decide whether a host commands.
        if self.control != ControlState::OnlineRemote
            || !Role::System.may(Permission::RemoteCommand)
        {
            refuse(self, 2, "ONLINE-LOCAL");
            return Some(Ok(reply(2, vec![])));
        }
        let running = st.machine_state == Some(MachineState::Running);
        let paused = st.machine_state == Some(MachineState::Paused);
        match &cmd {
            RemoteCommand::Start if running => {
                refuse(self, 5, "already executing");
                return Some(Ok(reply(5, vec![])));
            }
            RemoteCommand::Pause if !running => {
                refuse(self, 2, "not executing");
                return Some(Ok(reply(2, vec![])));
            }
            RemoteCommand::Resume if !paused => {
                refuse(self, 2, "not paused");
                return Some(Ok(reply(2, vec![])));
            }
            RemoteCommand::PpSelect(p) if !self.eq.is_released(p) => {
                refuse(self, 3, "unknown or unreleased PPID");
                return Some(Ok(reply(3, vec![Item::list([Item::ascii("PPID"), b(2)])])));
            }
            _ => {}
        }
        // Carried out in a task of its own; the reply follows.
        let eq = self.eq.clone();
        let session = self.session.clone();
        let tok = *token;
        tokio::spawn(async move {
            let name = cmd.name();
            let later = matches!(cmd, RemoteCommand::PpSelect(_));
            let object = match &cmd {
                RemoteCommand::PpSelect(p) => format!("rcmd:{name}:{p}"),
                _ => format!("rcmd:{name}"),
            };
            let (hcack, action, note) = match eq.remote_command(cmd).await {
                Ok(()) => (
                    if later { 4 } else { 0 },
                    GemAction::Command,
                    "done".to_string(),
                ),
                Err(why) => (2, GemAction::Refused, why),
            };
            eq.audit(GemAudit {
                who: "host".into(),
                role: Some(Role::System),
                action,
                object,
                old: String::new(),
                new: format!("HCACK {hcack}: {note}"),
            });
            session.reply(
                &tok,
                Message::reply(2, 42, Item::list([b(hcack), Item::List(vec![])])),
            );
        });
        None
    }

    fn s2f43(&mut self, list: Option<&[Item]>) -> Answer {
        let l = list.ok_or(Malformed)?;
        let mut streams = Vec::new();
        for s in l {
            let id = s.at(0).and_then(Item::as_u32).ok_or(Malformed)?;
            streams.push(u8::try_from(id).map_err(|_| Malformed)?);
        }
        let refused: Vec<u8> = streams
            .iter()
            .copied()
            .filter(|s| *s == 1 || *s == 9 || *s > 127)
            .collect();
        if !refused.is_empty() {
            let errs = refused
                .iter()
                .map(|s| Item::list([Item::u1(*s), b(1), Item::List(vec![])]));
            return Ok(Message::reply(2, 44, Item::list([b(1), Item::list(errs)])));
        }
        self.cfg.spool_streams = streams.into_iter().collect();
        self.save();
        Ok(Message::reply(
            2,
            44,
            Item::list([b(0), Item::List(vec![])]),
        ))
    }

    fn s5f3(&mut self, list: Option<&[Item]>) -> Answer {
        let l = list.ok_or(Malformed)?;
        let aled = l
            .first()
            .and_then(|i| {
                i.bytes()
                    .and_then(|b| b.first().copied())
                    .or_else(|| i.as_u32().map(|v| v as u8))
            })
            .ok_or(Malformed)?;
        let target = l.get(1).ok_or(Malformed)?;
        let known: Vec<u32> = self.eq.alarms().into_iter().map(|a| a.alid).collect();
        let alids = if target.length() == 0 {
            known.clone()
        } else {
            vec![target.as_u32().ok_or(Malformed)?]
        };
        if alids.iter().any(|a| !known.contains(a)) {
            return Ok(Message::reply(5, 4, b(1)));
        }
        for a in alids {
            if aled & 0x80 != 0 {
                self.cfg.disabled_alarms.remove(&a);
            } else {
                self.cfg.disabled_alarms.insert(a);
            }
        }
        self.save();
        Ok(Message::reply(5, 4, b(0)))
    }

    fn s5_list(&self, body: Option<&Item>, function: u8, enabled_only: bool) -> Answer {
        let wanted: Option<Vec<u32>> = match body {
            None => None,
            Some(i) if i.length() == 0 => None,
            Some(Item::List(l)) => Some(ids_of(l).ok_or(Malformed)?),
            Some(i) => Some(
                ids_of(std::slice::from_ref(i))
                    .or_else(|| match i {
                        Item::U4(v) => Some(v.clone()),
                        Item::U2(v) => Some(v.iter().map(|&x| u32::from(x)).collect()),
                        Item::U1(v) => Some(v.iter().map(|&x| u32::from(x)).collect()),
                        _ => None,
                    })
                    .ok_or(Malformed)?,
            ),
        };
        let set = self.eq.status().alarms_set;
        let alarms = self.eq.alarms();
        let rows = alarms
            .into_iter()
            .filter(|a| wanted.as_ref().is_none_or(|w| w.contains(&a.alid)))
            .filter(|a| !enabled_only || !self.cfg.disabled_alarms.contains(&a.alid))
            .map(|a| {
                let alcd = (u8::from(set.contains(&a.alid)) << 7) | a.category;
                Item::list([
                    b(alcd),
                    Item::u4(a.alid),
                    Item::ascii(a.text.chars().take(120).collect::<String>()),
                ])
            });
        Ok(Message::reply(5, function, Item::list(rows)))
    }

    fn s6f15(&mut self, body: Option<&Item>) -> Answer {
        let c = body.and_then(Item::as_u32).ok_or(Malformed)?;
        let st = self.eq.status();
        let reports = self.reports(c, &BTreeMap::new(), &st);
        let id = self.next_data_id();
        Ok(Message::reply(
            6,
            16,
            Item::list([Item::u4(id), Item::u4(c), reports]),
        ))
    }

    fn s6f19(&self, body: Option<&Item>) -> Answer {
        let r = body.and_then(Item::as_u32).ok_or(Malformed)?;
        let st = self.eq.status();
        let vids = self.cfg.reports.get(&r).cloned().unwrap_or_default();
        Ok(Message::reply(
            6,
            20,
            Item::list(
                vids.into_iter()
                    .map(|v| self.sv_value(v, &st).unwrap_or(Item::List(vec![]))),
            ),
        ))
    }

    fn s6f23(&mut self, body: Option<&Item>) -> Answer {
        let rsdc = body
            .and_then(|i| {
                i.as_u32()
                    .or_else(|| i.bytes().and_then(|b| b.first().map(|&x| u32::from(x))))
            })
            .ok_or(Malformed)?;
        let count = self.store.spool_len().unwrap_or(self.spool_count);
        if count == 0 {
            return Ok(Message::reply(6, 24, b(2)));
        }
        match rsdc {
            0 => {
                // Reply first, then the spooled messages in order.
                self.unload_after_reply = true;
                Ok(Message::reply(6, 24, b(0)))
            }
            1 => {
                let _ = self.store.spool_purge();
                self.audit(
                    "host",
                    GemAction::Delete,
                    "gem:spool".into(),
                    count.to_string(),
                    "0".into(),
                );
                self.spool_emptied();
                Ok(Message::reply(6, 24, b(0)))
            }
            _ => Ok(Message::reply(6, 24, b(1))),
        }
    }

    fn s7f1(&self, list: Option<&[Item]>) -> Answer {
        let l = list.ok_or(Malformed)?;
        let ppid = l.first().and_then(Item::text).ok_or(Malformed)?;
        let len = l.get(1).and_then(Item::as_u64).ok_or(Malformed)?;
        let ppgnt = if !valid_ppid(&ppid) {
            3
        } else if self.eq.process_programs().iter().any(|p| *p == ppid) {
            1
        } else if len as usize > MAX_PP_BYTES {
            2
        } else {
            0
        };
        Ok(Message::reply(7, 2, b(ppgnt)))
    }

    fn s7f3(&mut self, list: Option<&[Item]>) -> Answer {
        let l = list.ok_or(Malformed)?;
        let ppid = l
            .first()
            .and_then(Item::text)
            .ok_or(Malformed)?
            .into_owned();
        let body = l.get(1).and_then(Item::bytes).ok_or(Malformed)?;
        if self.control == ControlState::OnlineLocal {
            self.audit(
                "host",
                GemAction::Refused,
                format!("recipe:{ppid}"),
                String::new(),
                "ACKC7 1: ONLINE-LOCAL".into(),
            );
            return Ok(Message::reply(7, 4, b(1)));
        }
        let ack = if !valid_ppid(&ppid) || body.len() > MAX_PP_BYTES {
            self.audit(
                "host",
                GemAction::Refused,
                format!("recipe:{ppid}"),
                String::new(),
                "ACKC7 6: invalid PPID or too long".into(),
            );
            6
        } else {
            match self.eq.download(&ppid, body) {
                Ok(()) => {
                    self.audit(
                        "host",
                        GemAction::Create,
                        format!("recipe:{ppid}"),
                        String::new(),
                        "draft (S7F3)".into(),
                    );
                    let mut dvs = BTreeMap::new();
                    dvs.insert(dv::PPID, Item::ascii(&ppid));
                    dvs.insert(dv::PP_CHANGE_STATUS, Item::u1(PpChange::Created as u8));
                    self.event(ceid::PP_CHANGED, &dvs);
                    0
                }
                Err(e) => {
                    let ack = match e {
                        crate::port::PpRefusal::Exists(_) => 1,
                        crate::port::PpRefusal::Invalid(_) => 6,
                    };
                    self.audit(
                        "host",
                        GemAction::Refused,
                        format!("recipe:{ppid}"),
                        String::new(),
                        format!("ACKC7 {ack}: {e}"),
                    );
                    ack
                }
            }
        };
        Ok(Message::reply(7, 4, b(ack)))
    }

    fn s7f5(&self, body: Option<&Item>) -> Answer {
        let ppid = body.and_then(Item::text).ok_or(Malformed)?;
        Ok(Message::reply(
            7,
            6,
            match self.eq.process_program(&ppid) {
                Some(doc) => Item::list([Item::ascii(&*ppid), Item::Binary(doc)]),
                None => Item::List(vec![]),
            },
        ))
    }

    fn s10(&mut self, list: Option<&[Item]>, function: u8, multi: bool) -> Answer {
        let l = list.ok_or(Malformed)?;
        let tid = l
            .first()
            .and_then(|i| {
                i.bytes()
                    .and_then(|b| b.first().copied())
                    .or_else(|| i.as_u32().map(|v| v as u8))
            })
            .ok_or(Malformed)?;
        let text = if multi {
            l.get(1)
                .and_then(Item::as_list)
                .ok_or(Malformed)?
                .iter()
                .map(|t| t.text().map(|s| s.into_owned()).ok_or(Malformed))
                .collect::<Result<Vec<_>, _>>()?
                .join("\n")
        } else {
            l.get(1).and_then(Item::text).ok_or(Malformed)?.into_owned()
        };
        tracing::info!(tid, "terminal message from the host: {text}");
        self.terminal = Some(TerminalMessage {
            tid,
            text,
            received: SystemTime::now(),
        });
        Ok(Message::reply(10, function, b(0)))
    }
}

/// `name@version` with a non-empty name and a version ≥ 1.
pub fn valid_ppid(ppid: &str) -> bool {
    match ppid.rsplit_once('@') {
        Some((name, v)) => !name.trim().is_empty() && v.parse::<u32>().is_ok_and(|v| v >= 1),
        None => false,
    }
}
