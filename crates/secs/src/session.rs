//! HSMS-SS sessions (E37, E37.1): one TCP connection at a time, passive (listen) or
//! active (connect), with the select procedure, linktest, separate, reject and the
//! timers T3, T5, T6, T7, T8.
//!
//! A [`Session`] is a cheap handle; the connection runs in its own task. Every frame
//! read is handled there first: a reply is matched to its request (by system bytes)
//! and handed to the waiting caller, control messages are answered, and only then are
//! primaries passed on as [`Event::Primary`]. A slow event handler therefore never
//! delays a reply, a linktest or a timer.
//!
//! What the session answers itself, without the application: control messages, data
//! while not selected (Reject.req), a wrong device id (S9F1), a body that is not
//! SECS-II (S9F7), a message over the maximum (S9F11, skipped unbuffered), a primary of
//! ours unanswered within T3 (S9F9 to the peer, [`RequestError::ReplyTimeout`] to the
//! caller). Unknown streams and functions (S9F3/S9F5) are the application's to say:
//! only it knows which it supports ([`Session::send_s9`]).

use crate::item::Item;
use crate::message::{
    CONTROL_SESSION, Frame, FrameDecoder, Header, Message, SType, encode_frame, reject_reason,
    select_status,
};
use crate::sml;
use bytes::BytesMut;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, sleep_until};

/// The HSMS timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// Reply timeout of a data primary.
    pub t3: Duration,
    /// Connection separation: the pause between connect attempts (active mode).
    pub t5: Duration,
    /// Control transaction timeout (select, linktest, deselect).
    pub t6: Duration,
    /// Not selected: a connection not selected within T7 is closed.
    pub t7: Duration,
    /// Between bytes of one message.
    pub t8: Duration,
    /// Linktest period; `None` = off.
    pub linktest: Option<Duration>,
}

impl Default for Timers {
    /// The GEM manual's defaults: T3 45 s, T5 10 s, T6 5 s, T7 10 s, T8 5 s, linktest 60 s.
    fn default() -> Timers {
        Timers {
            t3: Duration::from_secs(45),
            t5: Duration::from_secs(10),
            t6: Duration::from_secs(5),
            t7: Duration::from_secs(10),
            t8: Duration::from_secs(5),
            linktest: Some(Duration::from_secs(60)),
        }
    }
}

/// The longest a timer may be set to.
pub const MAX_TIMER: Duration = Duration::from_secs(240);

impl Timers {
    /// Each timer > 0 and ≤ 240 s (the linktest period may be off).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut all = vec![
            ("t3", self.t3),
            ("t5", self.t5),
            ("t6", self.t6),
            ("t7", self.t7),
            ("t8", self.t8),
        ];
        if let Some(l) = self.linktest {
            all.push(("linktest", l));
        }
        for (name, d) in all {
            if d.is_zero() || d > MAX_TIMER {
                return Err(ConfigError::Timer { name, value: d });
            }
        }
        Ok(())
    }
}

/// Passive: the station listens; active: it connects to the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Passive { listen: SocketAddr },
    Active { connect: SocketAddr },
}

/// A session's configuration.
#[derive(Debug, Clone)]
pub struct HsmsConfig {
    pub mode: Mode,
    /// Session id of data messages.
    pub device_id: u16,
    pub timers: Timers,
    /// The largest message buffered (header and body); longer ones get S9F11.
    pub max_message: usize,
    /// Peers allowed to connect; empty = any.
    pub allowed_hosts: Vec<IpAddr>,
    /// Messages kept for [`Session::recent`].
    pub keep_recent: usize,
}

impl HsmsConfig {
    pub fn passive(listen: SocketAddr) -> HsmsConfig {
        HsmsConfig {
            mode: Mode::Passive { listen },
            device_id: 0,
            timers: Timers::default(),
            max_message: 16 * 1024 * 1024,
            allowed_hosts: Vec::new(),
            keep_recent: 100,
        }
    }

    pub fn active(connect: SocketAddr) -> HsmsConfig {
        HsmsConfig {
            mode: Mode::Active { connect },
            ..HsmsConfig::passive(connect)
        }
    }
}

/// A configuration that cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "HSMS timer {name} = {value:?}: must be more than 0 and at most 240 s / HSMS 计时器 {name} = {value:?}：须大于 0 且不超过 240 秒"
    )]
    Timer { name: &'static str, value: Duration },
}

/// Why the session could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot listen on {addr} / 无法监听 {addr}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer closed the TCP connection.
    PeerClosed,
    /// The peer sent Separate.req.
    Separated,
    /// No Select.req (passive) within T7.
    T7NotSelected,
    /// A control transaction (select, linktest, deselect) unanswered within T6.
    T6ControlTimeout(&'static str),
    /// A message stopped arriving mid-way for longer than T8.
    T8InterCharacter,
    /// Our Select.req was answered with a non-zero status.
    SelectRefused(u8),
    /// The frame length was below the header's.
    Framing(String),
    Io(String),
    /// Closed by this side ([`Session::close`] or the session was dropped).
    Local,
}

/// Why a peer was turned away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not in `allowed_hosts`: closed before select.
    NotAllowed,
    /// A session is selected already: Select.rsp status 1, then closed.
    AlreadySelected,
}

/// What the session tells the application, in the order it happened.
#[derive(Debug)]
pub enum Event {
    Connected {
        peer: SocketAddr,
    },
    Selected {
        peer: SocketAddr,
    },
    Deselected {
        peer: SocketAddr,
    },
    Closed {
        peer: SocketAddr,
        reason: CloseReason,
    },
    Refused {
        peer: SocketAddr,
        why: Refusal,
    },
    /// A data primary from the peer. Reply with [`Session::reply`] when `w` is set.
    Primary(Primary),
}

/// A primary message received.
#[derive(Debug)]
pub struct Primary {
    pub header: Header,
    pub message: Message,
    pub token: ReplyToken,
}

/// Names the transaction a reply belongs to (and the connection it came on: a reply
/// after a reconnect goes nowhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyToken {
    connection: u64,
    system: u32,
    stream: u8,
    function: u8,
}

impl ReplyToken {
    pub fn stream(&self) -> u8 {
        self.stream
    }
    pub fn function(&self) -> u8 {
        self.function
    }
}

/// Why a request got no reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("no HSMS session is selected / 无已选择的 HSMS 会话")]
    NotSelected,
    #[error("the HSMS connection closed before the reply / 回复前 HSMS 连接已关闭")]
    Closed,
    #[error("no reply within T3 (S9F9 sent) / T3 内无回复（已发送 S9F9）")]
    ReplyTimeout,
    #[error("the reply is not SECS-II: {0} (S9F7 sent)")]
    BadReply(String),
    #[error("cannot encode: {0}")]
    Encode(String),
}

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Received,
    Sent,
}

/// One data message exchanged, in SML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Traffic {
    pub time: SystemTime,
    pub direction: Direction,
    pub system: u32,
    pub sml: String,
}

/// The link as it is now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkState {
    pub peer: Option<SocketAddr>,
    pub selected: bool,
    /// Connections so far.
    pub connections: u64,
}

/// Longest SML kept per message in [`Session::recent`].
const TRAFFIC_SML_CHARS: usize = 2000;

enum Cmd {
    Send {
        message: Message,
        done: oneshot::Sender<Result<Option<Message>, RequestError>>,
    },
    Reply {
        system: u32,
        message: Message,
    },
    Raw(Header, Option<Item>),
    Close,
}

struct Current {
    id: u64,
    tx: mpsc::Sender<Cmd>,
}

struct Shared {
    cfg: HsmsConfig,
    state: watch::Sender<LinkState>,
    current: Mutex<Option<Current>>,
    traffic: Mutex<VecDeque<Traffic>>,
    system: AtomicU32,
    ids: AtomicU64,
    events: mpsc::Sender<Event>,
}

impl Shared {
    fn next_system(&self) -> u32 {
        self.system.fetch_add(1, Ordering::Relaxed).wrapping_add(1)
    }

    fn record(&self, direction: Direction, system: u32, m: &Message) {
        if self.cfg.keep_recent == 0 && !tracing::enabled!(tracing::Level::DEBUG) {
            return;
        }
        let text = sml::to_sml_cut(m, TRAFFIC_SML_CHARS);
        tracing::debug!(?direction, system, "{text}");
        if self.cfg.keep_recent == 0 {
            return;
        }
        let mut t = self.traffic.lock().unwrap_or_else(|p| p.into_inner());
        if t.len() >= self.cfg.keep_recent {
            t.pop_front();
        }
        t.push_back(Traffic {
            time: SystemTime::now(),
            direction,
            system,
            sml: text,
        });
    }

    fn current_tx(&self) -> Option<(u64, mpsc::Sender<Cmd>)> {
        self.current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|c| (c.id, c.tx.clone()))
    }
}

/// Stops the driver when the last handle goes.
struct Driver {
    task: tokio::task::JoinHandle<()>,
    shared: Arc<Shared>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.task.abort();
        if let Some((_, tx)) = self.shared.current_tx() {
            let _ = tx.try_send(Cmd::Close);
        }
    }
}

/// A handle on an HSMS-SS session (cheap to clone).
#[derive(Clone)]
pub struct Session {
    shared: Arc<Shared>,
    _driver: Arc<Driver>,
    local: Option<SocketAddr>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("mode", &self.shared.cfg.mode)
            .field("state", &*self.shared.state.borrow())
            .finish()
    }
}

/// Events of the session: at most this many wait for the application; past that a
/// primary is answered SxF0 (abort) and dropped.
pub const EVENT_QUEUE: usize = 1024;

impl Session {
    /// Starts the session: binds the listener (passive) or starts connecting (active).
    pub async fn start(cfg: HsmsConfig) -> Result<(Session, mpsc::Receiver<Event>), StartError> {
        cfg.timers.validate()?;
        let (events, rx) = mpsc::channel(EVENT_QUEUE);
        let shared = Arc::new(Shared {
            cfg: cfg.clone(),
            state: watch::Sender::new(LinkState::default()),
            current: Mutex::new(None),
            traffic: Mutex::new(VecDeque::new()),
            system: AtomicU32::new(0),
            ids: AtomicU64::new(0),
            events,
        });
        let (task, local) = match cfg.mode {
            Mode::Passive { listen } => {
                let l = TcpListener::bind(listen)
                    .await
                    .map_err(|source| StartError::Listen {
                        addr: listen,
                        source,
                    })?;
                let local = l.local_addr().ok();
                (tokio::spawn(accept_loop(shared.clone(), l)), local)
            }
            Mode::Active { connect } => (tokio::spawn(connect_loop(shared.clone(), connect)), None),
        };
        let driver = Arc::new(Driver {
            task,
            shared: shared.clone(),
        });
        Ok((
            Session {
                shared,
                _driver: driver,
                local,
            },
            rx,
        ))
    }

    /// The address listened on (passive mode).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local
    }

    pub fn device_id(&self) -> u16 {
        self.shared.cfg.device_id
    }

    pub fn state(&self) -> watch::Receiver<LinkState> {
        self.shared.state.subscribe()
    }

    /// The last data messages exchanged, oldest first.
    pub fn recent(&self) -> Vec<Traffic> {
        self.shared
            .traffic
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    async fn submit(&self, message: Message) -> Result<Option<Message>, RequestError> {
        let Some((_, tx)) = self.shared.current_tx() else {
            return Err(RequestError::NotSelected);
        };
        let (done, rx) = oneshot::channel();
        tx.send(Cmd::Send { message, done })
            .await
            .map_err(|_| RequestError::Closed)?;
        rx.await.map_err(|_| RequestError::Closed)?
    }

    /// Sends a primary with the W bit and waits for its reply (at most T3).
    pub async fn request(&self, mut message: Message) -> Result<Message, RequestError> {
        message.w = true;
        self.submit(message).await?.ok_or(RequestError::Closed)
    }

    /// Sends a message without waiting for any reply.
    pub async fn send(&self, mut message: Message) -> Result<(), RequestError> {
        message.w = false;
        self.submit(message).await.map(|_| ())
    }

    /// Replies to a primary (nothing happens when its connection has gone).
    pub fn reply(&self, token: &ReplyToken, message: Message) {
        match self.shared.current_tx() {
            Some((id, tx)) if id == token.connection => {
                if tx
                    .try_send(Cmd::Reply {
                        system: token.system,
                        message,
                    })
                    .is_err()
                {
                    tracing::warn!(
                        "HSMS: reply to S{}F{} dropped: connection busy or closing",
                        token.stream,
                        token.function
                    );
                }
            }
            _ => tracing::debug!("HSMS: reply for a connection that has gone"),
        }
    }

    /// Answers a primary with SxF0 (abort transaction).
    pub fn abort(&self, token: &ReplyToken) {
        self.reply(token, Message::abort(token.stream));
    }

    /// Sends S9F`function` with the 10-byte header of the offending message.
    pub fn send_s9(&self, function: u8, offending: &Header) {
        if let Some((_, tx)) = self.shared.current_tx() {
            let m = s9(function, offending);
            let header = Header::data(self.shared.cfg.device_id, &m, self.shared.next_system());
            self.shared.record(Direction::Sent, header.system, &m);
            let _ = tx.try_send(Cmd::Raw(header, m.body));
        }
    }

    /// Closes the current connection (Separate.req first); the session goes on
    /// listening or reconnecting.
    pub fn close(&self) {
        if let Some((_, tx)) = self.shared.current_tx() {
            let _ = tx.try_send(Cmd::Close);
        }
    }
}

/// The S9 message for `function` with `offending`'s header as MHEAD/SHEAD.
pub fn s9(function: u8, offending: &Header) -> Message {
    Message::reply(9, function, Item::Binary(offending.to_bytes().to_vec()))
}

fn prepare(stream: &TcpStream) {
    let _ = stream.set_nodelay(true);
    let params = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(5))
        .with_interval(Duration::from_secs(1))
        .with_retries(3);
    if let Err(e) = socket2::SockRef::from(stream).set_tcp_keepalive(&params) {
        tracing::warn!("HSMS: TCP keepalive not set: {e}");
    }
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("HSMS accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        prepare(&stream);
        let allowed = &shared.cfg.allowed_hosts;
        if !allowed.is_empty() && !allowed.contains(&peer.ip()) {
            tracing::warn!(%peer, "HSMS: connection from a host not in allowed_hosts closed");
            drop(stream);
            let _ = shared
                .events
                .send(Event::Refused {
                    peer,
                    why: Refusal::NotAllowed,
                })
                .await;
            continue;
        }
        if shared.current_tx().is_some() {
            tokio::spawn(refuse_second(shared.clone(), stream, peer));
            continue;
        }
        spawn_connection(&shared, stream, peer, false);
    }
}

/// A second connection while one is current: its Select.req (within T7) is answered
/// status 1 (already active), then it is closed.
async fn refuse_second(shared: Arc<Shared>, mut stream: TcpStream, peer: SocketAddr) {
    let t7 = shared.cfg.timers.t7;
    let mut dec = FrameDecoder::new(1024);
    let mut buf = BytesMut::new();
    let _ = tokio::time::timeout(t7, async {
        loop {
            let want = dec.want(&buf);
            match (&mut stream).take(want as u64).read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            while let Ok(Some(f)) = dec.decode(&mut buf) {
                if let Frame::Message { header, .. } = f {
                    if header.stype == SType::SelectReq as u8 {
                        let mut rsp = Header::control(SType::SelectRsp, header.system);
                        rsp.byte3 = select_status::ALREADY_ACTIVE;
                        if let Ok(b) = encode_frame(&rsp, None) {
                            let _ = stream.write_all(&b).await;
                        }
                        return;
                    }
                }
            }
        }
    })
    .await;
    tracing::warn!(%peer, "HSMS: second connection refused (a session is selected already)");
    let _ = stream.shutdown().await;
    let _ = shared
        .events
        .send(Event::Refused {
            peer,
            why: Refusal::AlreadySelected,
        })
        .await;
}

async fn connect_loop(shared: Arc<Shared>, addr: SocketAddr) {
    loop {
        match tokio::time::timeout(shared.cfg.timers.t5, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                prepare(&stream);
                let done = spawn_connection(&shared, stream, addr, true);
                let _ = done.await;
            }
            Ok(Err(e)) => tracing::debug!(%addr, "HSMS connect: {e}"),
            Err(_) => tracing::debug!(%addr, "HSMS connect timed out"),
        }
        // T5: the pause between a separation and the next attempt.
        tokio::time::sleep(shared.cfg.timers.t5).await;
    }
}

fn spawn_connection(
    shared: &Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    active: bool,
) -> tokio::task::JoinHandle<()> {
    let id = shared.ids.fetch_add(1, Ordering::Relaxed) + 1;
    let (tx, rx) = mpsc::channel(256);
    *shared.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(Current { id, tx });
    shared.state.send_modify(|s| {
        s.peer = Some(peer);
        s.selected = false;
        s.connections += 1;
    });
    let shared = shared.clone();
    tokio::spawn(async move {
        let _ = shared.events.send(Event::Connected { peer }).await;
        let conn = Conn::new(shared.clone(), peer, active, id);
        let reason = conn.run(stream, rx).await;
        {
            let mut cur = shared.current.lock().unwrap_or_else(|p| p.into_inner());
            if cur.as_ref().is_some_and(|c| c.id == id) {
                *cur = None;
            }
        }
        shared.state.send_modify(|s| {
            s.peer = None;
            s.selected = false;
        });
        tracing::info!(%peer, ?reason, "HSMS connection closed");
        let _ = shared.events.send(Event::Closed { peer, reason }).await;
    })
}

struct Pending {
    header: Header,
    deadline: Instant,
    done: oneshot::Sender<Result<Option<Message>, RequestError>>,
}

struct Conn {
    shared: Arc<Shared>,
    peer: SocketAddr,
    active: bool,
    id: u64,
    selected: bool,
    t7_deadline: Instant,
    control: Option<(SType, u32, Instant)>,
    pending: HashMap<u32, Pending>,
    next_linktest: Option<Instant>,
    out: Option<mpsc::Sender<Vec<u8>>>,
}

/// A far-away instant for timers that are off.
fn far() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

impl Conn {
    fn new(shared: Arc<Shared>, peer: SocketAddr, active: bool, id: u64) -> Conn {
        let t7 = shared.cfg.timers.t7;
        Conn {
            shared,
            peer,
            active,
            id,
            selected: false,
            t7_deadline: Instant::now() + t7,
            control: None,
            pending: HashMap::new(),
            next_linktest: None,
            out: None,
        }
    }

    async fn write(&self, header: &Header, body: Option<&Item>) -> Result<(), CloseReason> {
        let bytes = encode_frame(header, body).map_err(|e| CloseReason::Io(e.to_string()))?;
        match &self.out {
            Some(tx) => tx
                .send(bytes)
                .await
                .map_err(|_| CloseReason::Io("writer stopped".into())),
            None => Err(CloseReason::Io("no writer".into())),
        }
    }

    async fn control(&mut self, stype: SType) -> Result<(), CloseReason> {
        let system = self.shared.next_system();
        self.write(&Header::control(stype, system), None).await?;
        self.control = Some((stype, system, Instant::now() + self.shared.cfg.timers.t6));
        Ok(())
    }

    fn set_selected(&mut self) {
        self.selected = true;
        self.next_linktest = self.shared.cfg.timers.linktest.map(|p| Instant::now() + p);
        self.shared.state.send_modify(|s| s.selected = true);
        tracing::info!(peer = %self.peer, "HSMS selected");
    }

    async fn run(mut self, stream: TcpStream, mut rx: mpsc::Receiver<Cmd>) -> CloseReason {
        let (mut rd, mut wr) = stream.into_split();
        let (out, mut out_rx) = mpsc::channel::<Vec<u8>>(64);
        self.out = Some(out);
        let mut writer = tokio::spawn(async move {
            while let Some(b) = out_rx.recv().await {
                if let Err(e) = wr.write_all(&b).await {
                    return e.to_string();
                }
            }
            let _ = wr.shutdown().await;
            "closed".to_string()
        });
        let reason = self.drive(&mut rd, &mut rx, &mut writer).await;
        // Whatever waits for a reply on this connection learns it closed.
        for (_, p) in self.pending.drain() {
            let _ = p.done.send(Err(RequestError::Closed));
        }
        rx.close();
        while let Ok(cmd) = rx.try_recv() {
            if let Cmd::Send { done, .. } = cmd {
                let _ = done.send(Err(RequestError::Closed));
            }
        }
        // Let the writer flush what was queued (a Separate.req), briefly.
        self.out = None;
        let _ = tokio::time::timeout(Duration::from_secs(1), &mut writer).await;
        writer.abort();
        reason
    }

    async fn drive(
        &mut self,
        rd: &mut tokio::net::tcp::OwnedReadHalf,
        rx: &mut mpsc::Receiver<Cmd>,
        writer: &mut tokio::task::JoinHandle<String>,
    ) -> CloseReason {
        let timers = self.shared.cfg.timers;
        let mut dec = FrameDecoder::new(self.shared.cfg.max_message);
        let mut buf = BytesMut::with_capacity(16 * 1024);
        let mut t8: Option<Instant> = None;
        if self.active {
            if let Err(r) = self.control(SType::SelectReq).await {
                return r;
            }
        }
        loop {
            let t3_next = self.pending.values().map(|p| p.deadline).min();
            let want = dec.want(&buf) as u64;
            let mut limited = (&mut *rd).take(want);
            tokio::select! {
                r = limited.read_buf(&mut buf) => {
                    match r {
                        Ok(0) => return CloseReason::PeerClosed,
                        Err(e) => return CloseReason::Io(e.to_string()),
                        Ok(_) => {}
                    }
                    loop {
                        match dec.decode(&mut buf) {
                            Ok(Some(frame)) => {
                                if let Err(r) = self.on_frame(frame).await {
                                    return r;
                                }
                            }
                            Ok(None) => break,
                            Err(e) => return CloseReason::Framing(e.to_string()),
                        }
                    }
                    t8 = dec.in_message(&buf).then(|| Instant::now() + timers.t8);
                }
                cmd = rx.recv() => {
                    let Some(cmd) = cmd else { return CloseReason::Local };
                    if let Err(r) = self.on_cmd(cmd).await {
                        return r;
                    }
                }
                _ = sleep_until(t8.unwrap_or_else(far)), if t8.is_some() => {
                    return CloseReason::T8InterCharacter;
                }
                _ = sleep_until(self.t7_deadline), if !self.selected && !self.active => {
                    return CloseReason::T7NotSelected;
                }
                _ = sleep_until(self.control.map_or_else(far, |c| c.2)), if self.control.is_some() => {
                    let what = match self.control.map(|c| c.0) {
                        Some(SType::SelectReq) => "select",
                        Some(SType::DeselectReq) => "deselect",
                        _ => "linktest",
                    };
                    return CloseReason::T6ControlTimeout(what);
                }
                _ = sleep_until(self.next_linktest.unwrap_or_else(far)),
                    if self.selected && self.next_linktest.is_some() && self.control.is_none() => {
                    self.next_linktest = timers.linktest.map(|p| Instant::now() + p);
                    if let Err(r) = self.control(SType::LinktestReq).await {
                        return r;
                    }
                }
                _ = sleep_until(t3_next.unwrap_or_else(far)), if t3_next.is_some() => {
                    self.expire_t3().await;
                }
                w = &mut *writer => {
                    return CloseReason::Io(w.unwrap_or_else(|e| e.to_string()));
                }
            }
        }
    }

    async fn expire_t3(&mut self) {
        let now = Instant::now();
        let late: Vec<u32> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(s, _)| *s)
            .collect();
        for system in late {
            if let Some(p) = self.pending.remove(&system) {
                tracing::warn!(
                    peer = %self.peer,
                    "HSMS: S{}F{} unanswered within T3: S9F9 sent, transaction dropped",
                    p.header.stream(),
                    p.header.function()
                );
                let _ = p.done.send(Err(RequestError::ReplyTimeout));
                self.send_s9(9, &p.header).await;
            }
        }
    }

    async fn send_s9(&self, function: u8, offending: &Header) {
        let m = s9(function, offending);
        let header = Header::data(self.shared.cfg.device_id, &m, self.shared.next_system());
        self.shared.record(Direction::Sent, header.system, &m);
        let _ = self.write(&header, m.body.as_ref()).await;
    }

    async fn on_cmd(&mut self, cmd: Cmd) -> Result<(), CloseReason> {
        match cmd {
            Cmd::Close => {
                let _ = self
                    .write(
                        &Header::control(SType::SeparateReq, self.shared.next_system()),
                        None,
                    )
                    .await;
                Err(CloseReason::Local)
            }
            Cmd::Raw(header, body) => self.write(&header, body.as_ref()).await,
            Cmd::Reply { system, message } => {
                let header = Header::data(self.shared.cfg.device_id, &message, system);
                self.shared.record(Direction::Sent, system, &message);
                self.write(&header, message.body.as_ref()).await
            }
            Cmd::Send { message, done } => {
                if !self.selected {
                    let _ = done.send(Err(RequestError::NotSelected));
                    return Ok(());
                }
                let system = self.shared.next_system();
                let header = Header::data(self.shared.cfg.device_id, &message, system);
                let bytes = match encode_frame(&header, message.body.as_ref()) {
                    Ok(b) => b,
                    Err(e) => {
                        let _ = done.send(Err(RequestError::Encode(e.to_string())));
                        return Ok(());
                    }
                };
                self.shared.record(Direction::Sent, system, &message);
                if message.w {
                    self.pending.insert(
                        system,
                        Pending {
                            header,
                            deadline: Instant::now() + self.shared.cfg.timers.t3,
                            done,
                        },
                    );
                    self.raw(bytes).await
                } else {
                    let r = self.raw(bytes).await;
                    let _ = done.send(if r.is_ok() {
                        Ok(None)
                    } else {
                        Err(RequestError::Closed)
                    });
                    r
                }
            }
        }
    }

    async fn raw(&self, bytes: Vec<u8>) -> Result<(), CloseReason> {
        match &self.out {
            Some(tx) => tx
                .send(bytes)
                .await
                .map_err(|_| CloseReason::Io("writer stopped".into())),
            None => Err(CloseReason::Io("no writer".into())),
        }
    }

    async fn reject(&self, of: &Header, reason: u8) -> Result<(), CloseReason> {
        let mut h = Header::control(SType::RejectReq, of.system);
        h.byte2 = if reason == reject_reason::PTYPE_NOT_SUPPORTED {
            of.ptype
        } else {
            of.stype
        };
        h.byte3 = reason;
        self.write(&h, None).await
    }

    async fn on_frame(&mut self, frame: Frame) -> Result<(), CloseReason> {
        let (header, body) = match frame {
            Frame::TooLong { header, length } => {
                tracing::warn!(peer = %self.peer, length, "HSMS: message over max_message skipped: S9F11");
                if header.is_data() {
                    self.send_s9(11, &header).await;
                }
                return Ok(());
            }
            Frame::Message { header, body } => (header, body),
        };
        if header.ptype != 0 {
            return self
                .reject(&header, reject_reason::PTYPE_NOT_SUPPORTED)
                .await;
        }
        let Some(stype) = SType::from_u8(header.stype) else {
            return self
                .reject(&header, reject_reason::STYPE_NOT_SUPPORTED)
                .await;
        };
        match stype {
            SType::Data => self.on_data(header, &body).await,
            SType::SelectReq => {
                let mut rsp = Header::control(SType::SelectRsp, header.system);
                if self.selected {
                    rsp.byte3 = select_status::ALREADY_ACTIVE;
                    self.write(&rsp, None).await
                } else if self.active {
                    // HSMS-SS: the active side selects; a passive host asking too is
                    // answered (simultaneous select) and the session is selected.
                    self.write(&rsp, None).await?;
                    self.control = None;
                    self.select_done().await;
                    Ok(())
                } else {
                    self.write(&rsp, None).await?;
                    self.select_done().await;
                    Ok(())
                }
            }
            SType::SelectRsp => match self.control {
                Some((SType::SelectReq, sys, _)) if sys == header.system => {
                    self.control = None;
                    if header.byte3 != select_status::OK {
                        return Err(CloseReason::SelectRefused(header.byte3));
                    }
                    if !self.selected {
                        self.select_done().await;
                    }
                    Ok(())
                }
                _ => {
                    self.reject(&header, reject_reason::TRANSACTION_NOT_OPEN)
                        .await
                }
            },
            SType::DeselectReq => {
                let rsp = Header::control(SType::DeselectRsp, header.system);
                self.write(&rsp, None).await?;
                if self.selected {
                    self.selected = false;
                    self.next_linktest = None;
                    self.t7_deadline = Instant::now() + self.shared.cfg.timers.t7;
                    self.shared.state.send_modify(|s| s.selected = false);
                    let _ = self
                        .shared
                        .events
                        .send(Event::Deselected { peer: self.peer })
                        .await;
                }
                Ok(())
            }
            SType::DeselectRsp | SType::LinktestRsp => match self.control {
                Some((_, sys, _)) if sys == header.system => {
                    self.control = None;
                    Ok(())
                }
                _ => {
                    self.reject(&header, reject_reason::TRANSACTION_NOT_OPEN)
                        .await
                }
            },
            SType::LinktestReq => {
                self.write(&Header::control(SType::LinktestRsp, header.system), None)
                    .await
            }
            SType::RejectReq => {
                tracing::warn!(peer = %self.peer, reason = header.byte3, "HSMS: the peer rejected a message");
                if let Some((_, sys, _)) = self.control {
                    if sys == header.system {
                        self.control = None;
                    }
                }
                if let Some(p) = self.pending.remove(&header.system) {
                    let _ = p.done.send(Err(RequestError::Closed));
                }
                Ok(())
            }
            SType::SeparateReq => Err(CloseReason::Separated),
        }
    }

    async fn select_done(&mut self) {
        self.set_selected();
        let _ = self
            .shared
            .events
            .send(Event::Selected { peer: self.peer })
            .await;
    }

    async fn on_data(&mut self, header: Header, body: &[u8]) -> Result<(), CloseReason> {
        if !self.selected {
            return self.reject(&header, reject_reason::NOT_SELECTED).await;
        }
        if header.session_id != self.shared.cfg.device_id || header.session_id == CONTROL_SESSION {
            tracing::warn!(peer = %self.peer, device = header.session_id, "HSMS: wrong device id: S9F1");
            self.send_s9(1, &header).await;
            return Ok(());
        }
        let decoded = if body.is_empty() {
            Ok(None)
        } else {
            Item::decode(body).map(Some)
        };
        let message = match decoded {
            Ok(b) => Message {
                stream: header.stream(),
                function: header.function(),
                w: header.w(),
                body: b,
            },
            Err(e) => {
                tracing::warn!(peer = %self.peer, "HSMS: S{}F{} body is not SECS-II ({e}): S9F7", header.stream(), header.function());
                if header.function() % 2 == 0 {
                    if let Some(p) = self.pending.remove(&header.system) {
                        let _ = p.done.send(Err(RequestError::BadReply(e.to_string())));
                    }
                }
                self.send_s9(7, &header).await;
                return Ok(());
            }
        };
        self.shared
            .record(Direction::Received, header.system, &message);
        if header.function() % 2 == 0 {
            // A reply (or SxF0): to its waiting request, before anything else runs.
            match self.pending.remove(&header.system) {
                Some(p) => {
                    let _ = p.done.send(Ok(Some(message)));
                }
                None => tracing::warn!(
                    peer = %self.peer,
                    "HSMS: {} matches no open transaction; dropped",
                    message.name()
                ),
            }
            return Ok(());
        }
        let token = ReplyToken {
            connection: self.id,
            system: header.system,
            stream: header.stream(),
            function: header.function(),
        };
        let w = message.w;
        let event = Event::Primary(Primary {
            header,
            message,
            token,
        });
        if let Err(e) = self.shared.events.try_send(event) {
            tracing::error!(peer = %self.peer, "HSMS: the application is {EVENT_QUEUE} events behind: primary aborted");
            drop(e);
            if w {
                let m = Message::abort(header.stream());
                let h = Header::data(self.shared.cfg.device_id, &m, header.system);
                self.write(&h, None).await?;
            }
        }
        Ok(())
    }
}
