//! An in-process TCP fault proxy: put it between a client and a server and break the
//! connection the way plants break it — a pulled cable (bytes vanish both ways, nothing
//! closes), a slow or trickling sender, a half-closed or reset connection, a flipped
//! byte.
//!
//! ```no_run
//! # async fn demo(upstream: std::net::SocketAddr) -> std::io::Result<()> {
//! use bonder_testkit::fault_proxy::{Fault, FaultProxy};
//! let proxy = FaultProxy::start(upstream).await?;
//! // connect the client to proxy.addr() instead of upstream …
//! proxy.set_current(Fault::Blackhole); // the cable of today's connections is cut
//! proxy.reset_all(); // or: every open connection gets a TCP reset
//! # Ok(()) }
//! ```
//!
//! A fault set with [`FaultProxy::set`] applies to every connection, open or future;
//! [`FaultProxy::set_current`] only to those open now (later ones pass), which is how a
//! dead cable on one connection looks to a client that reconnects. Faults act on the
//! bytes as they are forwarded, in both directions.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy does to the bytes it forwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    /// Forward as they come.
    #[default]
    Pass,
    /// Hold every chunk this long before forwarding it.
    Delay(Duration),
    /// Read and drop everything, both ways, without closing: a pulled cable (no FIN,
    /// no RST) as far as either end can tell.
    Blackhole,
    /// Forward one byte per period (a sender trickling bytes).
    Trickle(Duration),
    /// Forward, flipping every bit of one byte in every `n` bytes.
    Corrupt {
        /// One corrupted byte per this many forwarded (≥ 1).
        one_in: u64,
    },
}

/// A one-off action on the connections open now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// Shut down the write side towards the client (the client reads EOF), keep the
    /// rest open.
    HalfClose,
    /// Close both sides with a TCP reset (linger 0).
    Reset,
}

/// Counters of what went through.
#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    forwarded: AtomicU64,
    dropped: AtomicU64,
    corrupted: AtomicU64,
}

#[derive(Debug)]
struct Conn {
    fault: watch::Sender<Fault>,
    action: watch::Sender<Option<Action>>,
}

#[derive(Debug)]
struct Shared {
    upstream: SocketAddr,
    /// Fault of connections accepted from now on.
    new_fault: Mutex<Fault>,
    conns: Mutex<Vec<Conn>>,
    counters: Counters,
}

/// A running proxy; dropping it stops accepting (open connections end with it).
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.reset_all();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl FaultProxy {
    /// Listens on an ephemeral loopback port and forwards each connection to `upstream`.
    pub async fn start(upstream: SocketAddr) -> io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream,
            new_fault: Mutex::new(Fault::Pass),
            conns: Mutex::new(Vec::new()),
            counters: Counters::default(),
        });
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(FaultProxy {
            addr,
            shared,
            accept,
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Applies `fault` to every connection, open now or accepted later.
    pub fn set(&self, fault: Fault) {
        *lock(&self.shared.new_fault) = fault;
        self.set_current(fault);
    }

    /// Applies `fault` to the connections open now only.
    pub fn set_current(&self, fault: Fault) {
        let mut conns = lock(&self.shared.conns);
        conns.retain(|c| !c.fault.is_closed());
        for c in conns.iter() {
            c.fault.send_replace(fault);
        }
    }

    /// Half-closes every open connection towards its client (the client reads end of
    /// stream; the server side stays open and unread).
    pub fn half_close_all(&self) {
        self.act(Action::HalfClose);
    }

    /// Resets every open connection (both ends see `ECONNRESET`).
    pub fn reset_all(&self) {
        self.act(Action::Reset);
    }

    fn act(&self, a: Action) {
        let mut conns = lock(&self.shared.conns);
        conns.retain(|c| !c.action.is_closed());
        for c in conns.iter() {
            c.action.send_replace(Some(a));
        }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.shared.counters.accepted.load(Ordering::Relaxed)
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        let mut conns = lock(&self.shared.conns);
        conns.retain(|c| !c.fault.is_closed());
        conns.len()
    }

    /// Bytes forwarded, dropped (blackholed) and corrupted so far, both ways.
    pub fn bytes(&self) -> (u64, u64, u64) {
        let c = &self.shared.counters;
        (
            c.forwarded.load(Ordering::Relaxed),
            c.dropped.load(Ordering::Relaxed),
            c.corrupted.load(Ordering::Relaxed),
        )
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        shared.counters.accepted.fetch_add(1, Ordering::Relaxed);
        let fault = *lock(&shared.new_fault);
        let (fault_tx, fault_rx) = watch::channel(fault);
        let (action_tx, action_rx) = watch::channel(None);
        lock(&shared.conns).push(Conn {
            fault: fault_tx,
            action: action_tx,
        });
        let shared = shared.clone();
        tokio::spawn(async move {
            // Keep the senders alive in `conns`; this task holds the receivers.
            match TcpStream::connect(shared.upstream).await {
                Ok(server) => run_conn(client, server, fault_rx, action_rx, &shared).await,
                Err(e) => tracing::debug!("fault proxy: upstream {}: {e}", shared.upstream),
            }
        });
    }
}

async fn run_conn(
    mut client: TcpStream,
    mut server: TcpStream,
    fault: watch::Receiver<Fault>,
    mut action: watch::Receiver<Option<Action>>,
    shared: &Shared,
) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let reset = {
        let (client_r, client_w) = client.split();
        let (server_r, server_w) = server.split();
        let (half_tx, half_rx) = watch::channel(false);
        let up = pump(client_r, server_w, fault.clone(), None, shared);
        let down = pump(server_r, client_w, fault, Some(half_rx), shared);
        let act = async {
            loop {
                if action.changed().await.is_err() {
                    return std::future::pending::<()>().await;
                }
                match *action.borrow_and_update() {
                    Some(Action::HalfClose) => {
                        let _ = half_tx.send(true);
                    }
                    Some(Action::Reset) => return,
                    None => {}
                }
            }
        };
        tokio::select! {
            _ = async { tokio::join!(up, down) } => false,
            () = act => true,
        }
    };
    if reset {
        // Linger 0: closing sends RST instead of FIN, to both ends.
        for s in [&client, &server] {
            let _ = socket2::SockRef::from(s).set_linger(Some(Duration::ZERO));
        }
    }
}

/// Copies `from` to `to` through the current fault. `half`: on `true`, shut down `to`
/// (the direction towards the client) and drop what comes from then on.
async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    fault: watch::Receiver<Fault>,
    mut half: Option<watch::Receiver<bool>>,
    shared: &Shared,
) -> io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut corrupt_count: u64 = 0;
    let mut half_closed = false;
    loop {
        let n = tokio::select! {
            r = from.read(&mut buf) => r?,
            () = async {
                match half.as_mut() {
                    Some(h) if !half_closed => { let _ = h.wait_for(|v| *v).await; }
                    _ => std::future::pending().await,
                }
            } => {
                half_closed = true;
                to.shutdown().await?;
                continue;
            }
        };
        if n == 0 {
            let _ = to.shutdown().await;
            return Ok(());
        }
        if half_closed {
            shared
                .counters
                .dropped
                .fetch_add(n as u64, Ordering::Relaxed);
            continue;
        }
        let chunk = &mut buf[..n];
        let f = *fault.borrow();
        match f {
            Fault::Pass => to.write_all(chunk).await?,
            Fault::Delay(d) => {
                tokio::time::sleep(d).await;
                to.write_all(chunk).await?;
            }
            Fault::Blackhole => {
                shared
                    .counters
                    .dropped
                    .fetch_add(n as u64, Ordering::Relaxed);
                continue;
            }
            Fault::Trickle(period) => {
                for i in 0..n {
                    if *fault.borrow() != f {
                        to.write_all(&chunk[i..]).await?;
                        break;
                    }
                    to.write_all(&chunk[i..=i]).await?;
                    tokio::time::sleep(period).await;
                }
            }
            Fault::Corrupt { one_in } => {
                let one_in = one_in.max(1);
                for b in chunk.iter_mut() {
                    corrupt_count += 1;
                    if corrupt_count % one_in == 0 {
                        *b = !*b;
                        shared.counters.corrupted.fetch_add(1, Ordering::Relaxed);
                    }
                }
                to.write_all(chunk).await?;
            }
        }
        shared
            .counters
            .forwarded
            .fetch_add(n as u64, Ordering::Relaxed);
    }
}
