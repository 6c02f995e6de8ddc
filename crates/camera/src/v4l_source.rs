//! A V4L2/UVC camera (cargo feature `v4l`): greyscale from the Y plane of YUYV, or GREY
//! as it comes.

use crate::{CameraError, CameraSource, Frame};
use std::time::{Duration, Instant};
use v4l::buffer::Type;
use v4l::io::mmap::Stream;
use v4l::io::traits::CaptureStream;
use v4l::video::Capture;
use v4l::{Device, FourCC};

const BUFFERS: u32 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Y0 U Y1 V: luma at every even byte.
    Yuyv,
    /// One byte a pixel.
    Grey,
}

/// A USB (UVC) or other V4L2 capture device, e.g. `/dev/video0`. Opens the device, asks
/// for YUYV at the wanted size (the driver picks the nearest it has) and streams through
/// memory-mapped buffers. After an error the next [`next_frame`](CameraSource::next_frame)
/// reopens the device (backing off from 100 ms to 5 s).
pub struct V4lCamera {
    path: String,
    want: (u32, u32, u32),
    open: Option<Open>,
    backoff: Duration,
    next_attempt: Option<Instant>,
}

struct Open {
    // Dropped first: the stream's buffers belong to the device.
    stream: Stream<'static>,
    _dev: Device,
    width: u32,
    height: u32,
    stride: u32,
    layout: Layout,
}

impl std::fmt::Debug for V4lCamera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("V4lCamera")
            .field("path", &self.path)
            .field("want", &self.want)
            .field("open", &self.open.is_some())
            .finish()
    }
}

fn dev_err(what: &str, e: std::io::Error) -> CameraError {
    CameraError::Device(format!("{what}: {e}"))
}

impl V4lCamera {
    /// Opens `path` (e.g. `/dev/video0`) asking for `width`×`height` at `fps`.
    pub fn open(path: &str, width: u32, height: u32, fps: u32) -> Result<V4lCamera, CameraError> {
        let mut c = V4lCamera {
            path: path.to_string(),
            want: (width, height, fps),
            open: None,
            backoff: Duration::from_millis(100),
            next_attempt: None,
        };
        c.open = Some(c.open_device()?);
        Ok(c)
    }

    /// The size the driver gave, once open.
    pub fn size(&self) -> Option<(u32, u32)> {
        self.open.as_ref().map(|o| (o.width, o.height))
    }

    fn open_device(&self) -> Result<Open, CameraError> {
        let dev = Device::with_path(&self.path).map_err(|e| dev_err(&self.path, e))?;
        let mut fmt = dev.format().map_err(|e| dev_err("get format", e))?;
        fmt.width = self.want.0;
        fmt.height = self.want.1;
        fmt.fourcc = FourCC::new(b"YUYV");
        let fmt = dev.set_format(&fmt).map_err(|e| dev_err("set format", e))?;
        let layout = match &fmt.fourcc.repr {
            b"YUYV" => Layout::Yuyv,
            b"GREY" => Layout::Grey,
            other => {
                return Err(CameraError::Device(format!(
                    "{}: pixel format {} (need YUYV or GREY)",
                    self.path,
                    String::from_utf8_lossy(other)
                )));
            }
        };
        if self.want.2 > 0 {
            let params = v4l::video::capture::Parameters::with_fps(self.want.2);
            if let Err(e) = dev.set_params(&params) {
                tracing::debug!("{}: cannot set {} fps: {e}", self.path, self.want.2);
            }
        }
        let mut stream = Stream::with_buffers(&dev, Type::VideoCapture, BUFFERS)
            .map_err(|e| dev_err("buffers", e))?;
        stream.set_timeout(Duration::from_secs(2));
        let min_stride = match layout {
            Layout::Yuyv => fmt.width * 2,
            Layout::Grey => fmt.width,
        };
        tracing::info!(path = %self.path, fmt.width, fmt.height, ?layout, "camera opened");
        Ok(Open {
            stream,
            _dev: dev,
            width: fmt.width,
            height: fmt.height,
            stride: fmt.stride.max(min_stride),
            layout,
        })
    }
}

/// Copies the luma of one captured buffer into a greyscale image.
fn luma(buf: &[u8], width: u32, height: u32, stride: u32, layout: Layout) -> Vec<u8> {
    let (w, h, stride) = (width as usize, height as usize, stride as usize);
    let mut out = vec![0u8; w * h];
    for (y, row) in out.chunks_exact_mut(w).enumerate().take(h) {
        let Some(src) = buf.get(y * stride..) else {
            break;
        };
        match layout {
            Layout::Yuyv => {
                for (d, s) in row.iter_mut().zip(src.iter().step_by(2)) {
                    *d = *s;
                }
            }
            Layout::Grey => {
                let n = w.min(src.len());
                row[..n].copy_from_slice(&src[..n]);
            }
        }
    }
    out
}

impl CameraSource for V4lCamera {
    fn next_frame(&mut self) -> Result<Frame, CameraError> {
        if self.open.is_none() {
            if let Some(t) = self.next_attempt {
                let now = Instant::now();
                if t > now {
                    std::thread::sleep(t - now);
                }
            }
            match self.open_device() {
                Ok(o) => self.open = Some(o),
                Err(e) => {
                    self.next_attempt = Some(Instant::now() + self.backoff);
                    self.backoff = (self.backoff * 2).min(Duration::from_secs(5));
                    return Err(e);
                }
            }
        }
        let Some(o) = self.open.as_mut() else {
            return Err(CameraError::Disconnected);
        };
        let r = o.stream.next().map(|(buf, meta)| {
            let used = (meta.bytesused as usize).min(buf.len());
            let pixels = luma(&buf[..used], o.width, o.height, o.stride, o.layout);
            let ts = meta.timestamp;
            Frame {
                width: o.width,
                height: o.height,
                seq: meta.sequence,
                timestamp_us: (ts.sec.max(0) as u64) * 1_000_000 + ts.usec.max(0) as u64,
                bond: None,
                pixels,
            }
        });
        match r {
            Ok(f) => {
                self.backoff = Duration::from_millis(100);
                Ok(f)
            }
            Err(e) => {
                tracing::warn!(path = %self.path, "camera: {e}; reopening");
                self.open = None;
                self.next_attempt = Some(Instant::now() + Duration::from_millis(100));
                Err(dev_err("capture", e))
            }
        }
    }

    fn describe(&self) -> String {
        self.path.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuyv_luma() {
        // 2x2, stride 6 (2 bytes of padding a row).
        let buf = [10, 0, 11, 0, 99, 99, 20, 0, 21, 0, 99, 99];
        assert_eq!(luma(&buf, 2, 2, 6, Layout::Yuyv), vec![10, 11, 20, 21]);
        assert_eq!(luma(&[1, 2, 3, 4], 2, 2, 2, Layout::Grey), vec![1, 2, 3, 4]);
    }

    /// A camera that is not there, or a device that is no camera, is a `Device` error
    /// naming what failed (the station logs it and runs without the camera).
    #[test]
    fn a_missing_or_wrong_device_is_a_clear_error() {
        match V4lCamera::open("/dev/video-not-here", 1024, 768, 30) {
            Err(CameraError::Device(m)) => assert!(m.contains("/dev/video-not-here"), "{m}"),
            other => panic!("{other:?}"),
        }
        match V4lCamera::open("/dev/null", 1024, 768, 30) {
            Err(CameraError::Device(m)) => assert!(m.contains("format"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}
