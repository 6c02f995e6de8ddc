//! Where the bond event stream comes from: TCP or a serial port.

use crate::codec::FrameCodec;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;
use tokio::io::AsyncRead;
use tokio_serial::SerialPortBuilderExt;
use tokio_util::codec::FramedRead;

/// Default serial speed (`controller-link.md`: 921600 baud, 8N1).
pub const DEFAULT_BAUD: u32 = 921_600;

/// A stream endpoint: `tcp://HOST:PORT` or `serial:///dev/ttyX?baud=921600`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEndpoint {
    Tcp(String),
    Serial { path: String, baud: u32 },
}

/// A stream endpoint that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "bad stream endpoint {input:?}: {reason} (expected tcp://HOST:PORT or serial:///dev/ttyX?baud=921600)"
)]
pub struct EndpointError {
    pub input: String,
    pub reason: &'static str,
}

impl FromStr for StreamEndpoint {
    type Err = EndpointError;
    fn from_str(s: &str) -> Result<Self, EndpointError> {
        let err = |reason| EndpointError {
            input: s.to_string(),
            reason,
        };
        if let Some(rest) = s.strip_prefix("tcp://") {
            if rest
                .rsplit_once(':')
                .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())
            {
                return Err(err("missing host or port"));
            }
            return Ok(StreamEndpoint::Tcp(rest.to_string()));
        }
        if let Some(rest) = s.strip_prefix("serial://") {
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            if path.is_empty() {
                return Err(err("missing device path"));
            }
            let mut baud = DEFAULT_BAUD;
            for kv in query.split('&').filter(|kv| !kv.is_empty()) {
                match kv.split_once('=') {
                    Some(("baud", v)) => {
                        baud = v.parse().map_err(|_| err("baud is not a number"))?
                    }
                    _ => return Err(err("unknown option (only baud=N)")),
                }
            }
            return Ok(StreamEndpoint::Serial {
                path: path.to_string(),
                baud,
            });
        }
        Err(err("unknown scheme"))
    }
}

impl fmt::Display for StreamEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamEndpoint::Tcp(a) => write!(f, "tcp://{a}"),
            StreamEndpoint::Serial { path, baud } => write!(f, "serial://{path}?baud={baud}"),
        }
    }
}

/// A byte source of frames.
pub type ByteStream = Box<dyn AsyncRead + Send + Unpin>;

impl StreamEndpoint {
    /// Opens the endpoint (within `timeout` for TCP, with keepalive on).
    pub async fn open(&self, timeout: Duration) -> std::io::Result<ByteStream> {
        match self {
            StreamEndpoint::Tcp(addr) => {
                Ok(Box::new(crate::net::connect(addr.as_str(), timeout).await?))
            }
            StreamEndpoint::Serial { path, baud } => {
                let port = tokio_serial::new(path, *baud)
                    .data_bits(tokio_serial::DataBits::Eight)
                    .parity(tokio_serial::Parity::None)
                    .stop_bits(tokio_serial::StopBits::One)
                    .flow_control(tokio_serial::FlowControl::None)
                    .open_native_async()
                    .map_err(std::io::Error::other)?;
                Ok(Box::new(port))
            }
        }
    }

    /// Opens the endpoint and frames it; `last_seq` continues lost-frame counting.
    pub async fn open_framed(
        &self,
        timeout: Duration,
        last_seq: Option<u32>,
    ) -> std::io::Result<FramedRead<ByteStream, FrameCodec>> {
        let io = self.open(timeout).await?;
        Ok(FramedRead::with_capacity(
            io,
            FrameCodec::with_last_seq(last_seq),
            64 * 1024,
        ))
    }
}
