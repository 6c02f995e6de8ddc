//! `bonder-camera`: where the station's camera frames come from.
//!
//! * [`CameraSource`]: a blocking source of 8-bit greyscale [`Frame`]s (run it on a thread
//!   of its own; the camera page's producer).
//! * [`SimCamera`]: the simulator's camera, a TCP client of the frame stream described in
//!   `docs/spec/camera-protocol.md` ([`protocol`] has the header codec, shared with `bondersim`).
//! * `V4lCamera` (cargo feature `v4l`): a V4L2/UVC camera on Linux, greyscale from the Y
//!   plane of YUYV (or GREY directly).

pub mod protocol;
mod sim;
#[cfg(feature = "v4l")]
mod v4l_source;

pub use protocol::{FrameHeader, HEADER_LEN, MAGIC, PixelFormat, VERSION};
pub use sim::SimCamera;
#[cfg(feature = "v4l")]
pub use v4l_source::V4lCamera;

/// The bond a frame shows (the simulator's camera knows it; a plain camera does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BondRef {
    /// Stream frame `seq` of the ball bond's bond frame (controller-link stream).
    pub stream_seq: u32,
    pub unit_no: u32,
    pub wire_no: u16,
}

/// One 8-bit greyscale image, row-major, `width` bytes per row, no padding.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    /// The source's frame counter (wraps).
    pub seq: u32,
    /// Capture time, µs: the controller clock for the simulator (the same clock as the
    /// stream's `time_us`), the driver's timestamp for a V4L2 camera.
    pub timestamp_us: u64,
    /// The bond at the bond site (image centre), when the source knows it.
    pub bond: Option<BondRef>,
    /// `width * height` bytes.
    pub pixels: Vec<u8>,
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("seq", &self.seq)
            .field("timestamp_us", &self.timestamp_us)
            .field("bond", &self.bond)
            .field("pixels", &self.pixels.len())
            .finish()
    }
}

impl Frame {
    /// A black frame.
    pub fn new(width: u32, height: u32) -> Frame {
        Frame {
            width,
            height,
            seq: 0,
            timestamp_us: 0,
            bond: None,
            pixels: vec![0; width as usize * height as usize],
        }
    }

    /// The pixel at (x, y); 0 outside.
    pub fn get(&self, x: u32, y: u32) -> u8 {
        if x >= self.width || y >= self.height {
            return 0;
        }
        self.pixels
            .get(y as usize * self.width as usize + x as usize)
            .copied()
            .unwrap_or(0)
    }

    /// The header this frame is sent with.
    pub fn header(&self) -> Result<FrameHeader, CameraError> {
        FrameHeader::for_frame(self)
    }

    /// Header and pixels as sent on the wire (appended to `out`).
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), CameraError> {
        let h = self.header()?;
        out.reserve(HEADER_LEN + self.pixels.len());
        out.extend_from_slice(&h.encode());
        out.extend_from_slice(&self.pixels);
        Ok(())
    }
}

/// Errors of camera sources and of the frame protocol.
#[derive(Debug, thiserror::Error)]
pub enum CameraError {
    /// The first four bytes of a header are not `BCAM`: the stream is out of step (or not
    /// a camera stream). The client drops the connection and reconnects.
    #[error("frame header: bad magic {0:02x?} (expected \"BCAM\")")]
    BadMagic([u8; 4]),
    #[error("frame header: unsupported protocol version {0} (this client speaks {VERSION})")]
    UnsupportedVersion(u16),
    #[error("frame header: header length {0} (expected {HEADER_LEN})")]
    BadHeaderLength(u16),
    #[error("frame header: CRC mismatch (computed {computed:#010x}, header says {sent:#010x})")]
    HeaderCrc { computed: u32, sent: u32 },
    #[error("frame header: unknown pixel format {0}")]
    UnknownPixelFormat(u16),
    #[error("frame header: payload length {payload_len} does not fit {width}x{height} {format:?}")]
    BadPayloadLength {
        width: u16,
        height: u16,
        format: PixelFormat,
        payload_len: u32,
    },
    /// A consistent header announcing more than [`protocol::MAX_PAYLOAD_BYTES`].
    #[error(
        "frame header: payload of {payload_len} bytes exceeds the maximum of {max} / 图像帧过大：{payload_len} 字节，上限 {max}"
    )]
    PayloadTooLarge { payload_len: u32, max: u32 },
    #[error("frame of {width}x{height} cannot be sent (at most 65535x65535, pixels {pixels})")]
    FrameTooLarge {
        width: u32,
        height: u32,
        pixels: usize,
    },
    /// The server closed the connection (cleanly, between frames, or in the middle of
    /// one). The next `next_frame` reconnects.
    #[error("camera stream closed by the server")]
    Disconnected,
    #[error("cannot connect to the camera at {addr}: {source}")]
    Connect {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("no frame within {0:?}")]
    Timeout(std::time::Duration),
    #[error("camera I/O: {0}")]
    Io(#[from] std::io::Error),
    /// A V4L2 device error (feature `v4l`).
    #[error("camera device: {0}")]
    Device(String),
}

impl CameraError {
    /// Whether the error came from the frame header (the stream is out of step).
    pub fn is_protocol(&self) -> bool {
        matches!(
            self,
            Self::BadMagic(_)
                | Self::UnsupportedVersion(_)
                | Self::BadHeaderLength(_)
                | Self::HeaderCrc { .. }
                | Self::UnknownPixelFormat(_)
                | Self::BadPayloadLength { .. }
                | Self::PayloadTooLarge { .. }
        )
    }
}

/// A source of greyscale frames. Blocking: run it on a thread of its own and hand frames
/// on (the UI's camera page keeps only the newest).
pub trait CameraSource: Send {
    /// The next frame. An error is not final: a source reconnects (or reopens) on the next
    /// call, backing off between attempts.
    fn next_frame(&mut self) -> Result<Frame, CameraError>;

    /// A short description for logs and the UI ("sim tcp://127.0.0.1:1504", "/dev/video0").
    fn describe(&self) -> String;
}

impl<S: CameraSource + ?Sized> CameraSource for Box<S> {
    fn next_frame(&mut self) -> Result<Frame, CameraError> {
        (**self).next_frame()
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
}
