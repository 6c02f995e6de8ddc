//! The simulator's camera: a TCP client of the frame stream (docs/spec/camera-protocol.md).

use crate::protocol::read_frame;
use crate::{CameraError, CameraSource, Frame};
use std::io::BufReader;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// A client of `bondersim`'s camera port. Connects lazily; any error (a garbled header,
/// a closed connection, a timeout) drops the connection, and the next
/// [`next_frame`](CameraSource::next_frame) reconnects — the only way back in step with a
/// byte stream — backing off from 100 ms, doubling to 5 s, while connecting fails.
#[derive(Debug)]
pub struct SimCamera {
    addr: SocketAddr,
    read_timeout: Duration,
    conn: Option<BufReader<TcpStream>>,
    backoff: Duration,
    next_attempt: Option<Instant>,
    frames: u64,
    reconnects: u64,
}

impl SimCamera {
    /// A client of the camera at `addr`; nothing is connected until the first frame is
    /// asked for.
    pub fn new(addr: SocketAddr) -> SimCamera {
        SimCamera {
            addr,
            read_timeout: Duration::from_secs(2),
            conn: None,
            backoff: BACKOFF_MIN,
            next_attempt: None,
            frames: 0,
            reconnects: 0,
        }
    }

    /// Connects now (an error if the camera is not there).
    pub fn connect(addr: SocketAddr) -> Result<SimCamera, CameraError> {
        let mut c = SimCamera::new(addr);
        c.open()?;
        Ok(c)
    }

    /// How long a frame may take before [`CameraError::Timeout`] (default 2 s).
    pub fn with_read_timeout(mut self, t: Duration) -> SimCamera {
        self.read_timeout = t.max(Duration::from_millis(1));
        self
    }

    /// The camera's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Frames received so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Connections dropped after an error (each followed by a reconnect).
    pub fn reconnects(&self) -> u64 {
        self.reconnects
    }

    /// Whether a connection is open.
    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    fn open(&mut self) -> Result<(), CameraError> {
        let sock =
            TcpStream::connect_timeout(&self.addr, Duration::from_secs(2)).map_err(|source| {
                CameraError::Connect {
                    addr: self.addr,
                    source,
                }
            })?;
        sock.set_read_timeout(Some(self.read_timeout))?;
        let _ = sock.set_nodelay(true);
        tracing::debug!(addr = %self.addr, "camera connected");
        self.conn = Some(BufReader::with_capacity(1 << 16, sock));
        Ok(())
    }

    fn drop_conn(&mut self, why: &CameraError) {
        if self.conn.take().is_some() {
            self.reconnects += 1;
            tracing::warn!(addr = %self.addr, "camera stream: {why}; reconnecting");
        }
    }
}

impl CameraSource for SimCamera {
    fn next_frame(&mut self) -> Result<Frame, CameraError> {
        if self.conn.is_none() {
            if let Some(t) = self.next_attempt {
                let now = Instant::now();
                if t > now {
                    std::thread::sleep(t - now);
                }
            }
            if let Err(e) = self.open() {
                self.next_attempt = Some(Instant::now() + self.backoff);
                self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
                return Err(e);
            }
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err(CameraError::Disconnected);
        };
        match read_frame(conn) {
            Ok(f) => {
                self.frames += 1;
                self.backoff = BACKOFF_MIN;
                self.next_attempt = None;
                Ok(f)
            }
            Err(e) => {
                let e = match e {
                    CameraError::Io(io)
                        if matches!(
                            io.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        CameraError::Timeout(self.read_timeout)
                    }
                    e => e,
                };
                self.drop_conn(&e);
                // Reconnect at once after a protocol error or a close; the backoff only
                // grows while connecting fails.
                self.next_attempt = Some(Instant::now() + BACKOFF_MIN);
                Err(e)
            }
        }
    }

    fn describe(&self) -> String {
        format!("sim tcp://{}", self.addr)
    }
}
