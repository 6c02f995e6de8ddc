//! The camera frame stream (docs/spec/camera-protocol.md): every frame is a 48-byte
//! little-endian header followed by its pixels.
//!
//! | offset | size | field | |
//! |---|---|---|---|
//! | 0 | 4 | magic | `"BCAM"` |
//! | 4 | 2 | version | 1 |
//! | 6 | 2 | header_len | 48 |
//! | 8 | 2 | width | px |
//! | 10 | 2 | height | px |
//! | 12 | 2 | pixel_format | 1 = GREY8 |
//! | 14 | 2 | flags | 0 (reserved) |
//! | 16 | 4 | frame_no | wraps |
//! | 20 | 8 | timestamp_us | controller clock |
//! | 28 | 4 | bond_seq | stream seq of the ball bond in view; `0xFFFF_FFFF`: none |
//! | 32 | 4 | unit_no | |
//! | 36 | 2 | wire_no | |
//! | 38 | 2 | reserved | 0 |
//! | 40 | 4 | payload_len | bytes of pixels that follow |
//! | 44 | 4 | header_crc | CRC-32 (ISO-HDLC) of bytes 0..44 |

use crate::{BondRef, CameraError, Frame};
use std::io::Read;

/// First bytes of every frame header.
pub const MAGIC: [u8; 4] = *b"BCAM";
/// Protocol version this crate speaks.
pub const VERSION: u16 = 1;
/// Bytes of a version-1 header.
pub const HEADER_LEN: usize = 48;
/// Largest payload a client takes: 4096 × 4096 GREY8 (16 MiB). A header announcing
/// more (up to 4 GiB fit its fields) is refused before anything is allocated.
pub const MAX_PAYLOAD_BYTES: u32 = 4096 * 4096;
/// `bond_seq` when no bond is in view.
pub const NO_BOND: u32 = u32::MAX;

/// How the payload's pixels are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    /// 8-bit greyscale, one byte a pixel, rows top to bottom without padding.
    Grey8,
}

impl PixelFormat {
    pub fn code(self) -> u16 {
        match self {
            Self::Grey8 => 1,
        }
    }
    pub fn from_code(c: u16) -> Option<Self> {
        match c {
            1 => Some(Self::Grey8),
            _ => None,
        }
    }
    /// Payload bytes of a frame.
    pub fn payload_len(self, width: u16, height: u16) -> u64 {
        match self {
            Self::Grey8 => u64::from(width) * u64::from(height),
        }
    }
}

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub width: u16,
    pub height: u16,
    pub format: PixelFormat,
    pub flags: u16,
    pub frame_no: u32,
    pub timestamp_us: u64,
    pub bond_seq: u32,
    pub unit_no: u32,
    pub wire_no: u16,
    pub payload_len: u32,
}

impl FrameHeader {
    /// The header of a frame (GREY8).
    pub fn for_frame(f: &Frame) -> Result<FrameHeader, CameraError> {
        let too_large = || CameraError::FrameTooLarge {
            width: f.width,
            height: f.height,
            pixels: f.pixels.len(),
        };
        let width = u16::try_from(f.width).map_err(|_| too_large())?;
        let height = u16::try_from(f.height).map_err(|_| too_large())?;
        let len = PixelFormat::Grey8.payload_len(width, height);
        if len != f.pixels.len() as u64 {
            return Err(too_large());
        }
        let payload_len = u32::try_from(len).map_err(|_| too_large())?;
        let (bond_seq, unit_no, wire_no) = f
            .bond
            .map_or((NO_BOND, 0, 0), |b| (b.stream_seq, b.unit_no, b.wire_no));
        Ok(FrameHeader {
            width,
            height,
            format: PixelFormat::Grey8,
            flags: 0,
            frame_no: f.seq,
            timestamp_us: f.timestamp_us,
            bond_seq,
            unit_no,
            wire_no,
            payload_len,
        })
    }

    /// The 48 header bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..4].copy_from_slice(&MAGIC);
        b[4..6].copy_from_slice(&VERSION.to_le_bytes());
        b[6..8].copy_from_slice(&(HEADER_LEN as u16).to_le_bytes());
        b[8..10].copy_from_slice(&self.width.to_le_bytes());
        b[10..12].copy_from_slice(&self.height.to_le_bytes());
        b[12..14].copy_from_slice(&self.format.code().to_le_bytes());
        b[14..16].copy_from_slice(&self.flags.to_le_bytes());
        b[16..20].copy_from_slice(&self.frame_no.to_le_bytes());
        b[20..28].copy_from_slice(&self.timestamp_us.to_le_bytes());
        b[28..32].copy_from_slice(&self.bond_seq.to_le_bytes());
        b[32..36].copy_from_slice(&self.unit_no.to_le_bytes());
        b[36..38].copy_from_slice(&self.wire_no.to_le_bytes());
        // 38..40 reserved, zero.
        b[40..44].copy_from_slice(&self.payload_len.to_le_bytes());
        let crc = crc32fast::hash(&b[0..44]);
        b[44..48].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Checks and decodes 48 header bytes: magic, version, length, CRC, pixel format and
    /// payload length, in that order.
    pub fn decode(b: &[u8; HEADER_LEN]) -> Result<FrameHeader, CameraError> {
        let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let magic = [b[0], b[1], b[2], b[3]];
        if magic != MAGIC {
            return Err(CameraError::BadMagic(magic));
        }
        let version = u16_at(4);
        if version != VERSION {
            return Err(CameraError::UnsupportedVersion(version));
        }
        let header_len = u16_at(6);
        if usize::from(header_len) != HEADER_LEN {
            return Err(CameraError::BadHeaderLength(header_len));
        }
        let sent = u32_at(44);
        let computed = crc32fast::hash(&b[0..44]);
        if sent != computed {
            return Err(CameraError::HeaderCrc { computed, sent });
        }
        let code = u16_at(12);
        let format = PixelFormat::from_code(code).ok_or(CameraError::UnknownPixelFormat(code))?;
        let (width, height, payload_len) = (u16_at(8), u16_at(10), u32_at(40));
        if format.payload_len(width, height) != u64::from(payload_len) {
            return Err(CameraError::BadPayloadLength {
                width,
                height,
                format,
                payload_len,
            });
        }
        if payload_len > MAX_PAYLOAD_BYTES {
            return Err(CameraError::PayloadTooLarge {
                payload_len,
                max: MAX_PAYLOAD_BYTES,
            });
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&b[20..28]);
        Ok(FrameHeader {
            width,
            height,
            format,
            flags: u16_at(14),
            frame_no: u32_at(16),
            timestamp_us: u64::from_le_bytes(ts),
            bond_seq: u32_at(28),
            unit_no: u32_at(32),
            wire_no: u16_at(36),
            payload_len,
        })
    }

    /// The bond in view, if any.
    pub fn bond(&self) -> Option<BondRef> {
        (self.bond_seq != NO_BOND).then_some(BondRef {
            stream_seq: self.bond_seq,
            unit_no: self.unit_no,
            wire_no: self.wire_no,
        })
    }
}

/// Reads one frame (header and payload) from a byte stream. A clean end of the stream
/// before or inside a frame is [`CameraError::Disconnected`].
pub fn read_frame<R: Read>(r: &mut R) -> Result<Frame, CameraError> {
    let mut hb = [0u8; HEADER_LEN];
    read_exact(r, &mut hb)?;
    let h = FrameHeader::decode(&hb)?;
    let mut pixels = vec![0u8; h.payload_len as usize];
    read_exact(r, &mut pixels)?;
    Ok(Frame {
        width: u32::from(h.width),
        height: u32::from(h.height),
        seq: h.frame_no,
        timestamp_us: h.timestamp_us,
        bond: h.bond(),
        pixels,
    })
}

fn read_exact<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<(), CameraError> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => CameraError::Disconnected,
        _ => CameraError::Io(e),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn frame() -> Frame {
        let mut f = Frame::new(4, 3);
        f.seq = 9;
        f.timestamp_us = 123_456_789;
        f.bond = Some(BondRef {
            stream_seq: 77,
            unit_no: 5,
            wire_no: 2,
        });
        f.pixels = (0..12).collect();
        f
    }

    #[test]
    fn round_trip() {
        let f = frame();
        let mut bytes = Vec::new();
        f.encode(&mut bytes).unwrap();
        assert_eq!(bytes.len(), HEADER_LEN + 12);
        assert_eq!(&bytes[0..4], b"BCAM");
        let back = read_frame(&mut bytes.as_slice()).unwrap();
        assert_eq!(back, f);
    }

    #[test]
    fn garbled_headers() {
        let f = frame();
        let mut good = Vec::new();
        f.encode(&mut good).unwrap();
        let mut b = good.clone();
        b[0] = b'X';
        assert!(matches!(
            read_frame(&mut b.as_slice()),
            Err(CameraError::BadMagic(_))
        ));
        let mut b = good.clone();
        b[4] = 2;
        assert!(matches!(
            read_frame(&mut b.as_slice()),
            Err(CameraError::UnsupportedVersion(2))
        ));
        let mut b = good.clone();
        b[17] ^= 0x40;
        assert!(matches!(
            read_frame(&mut b.as_slice()),
            Err(CameraError::HeaderCrc { .. })
        ));
        assert!(matches!(
            read_frame(&mut &good[..20]),
            Err(CameraError::Disconnected)
        ));
        assert!(matches!(
            read_frame(&mut &good[..HEADER_LEN + 5]),
            Err(CameraError::Disconnected)
        ));
        // A consistent header whose payload length does not match its size.
        let mut h = f.header().unwrap();
        h.payload_len = 11;
        let b = h.encode();
        let e = read_frame(&mut b.as_slice()).unwrap_err();
        assert!(matches!(e, CameraError::BadPayloadLength { .. }), "{e}");
        assert!(e.is_protocol());
    }

    #[test]
    fn an_oversized_header_is_refused_before_its_payload_is_read() {
        // A consistent header for 65535 x 65535 (4 GiB of pixels), and no payload: the
        // refusal comes from the header alone (reading or allocating the payload would
        // end in `Disconnected` or an allocation failure).
        let mut h = frame().header().unwrap();
        h.width = u16::MAX;
        h.height = u16::MAX;
        h.payload_len = u32::from(u16::MAX) * u32::from(u16::MAX);
        let b = h.encode();
        let e = read_frame(&mut b.as_slice()).unwrap_err();
        assert!(
            matches!(
                e,
                CameraError::PayloadTooLarge {
                    payload_len: 4_294_836_225,
                    max: MAX_PAYLOAD_BYTES
                }
            ),
            "{e}"
        );
        assert!(e.is_protocol());
        // The largest allowed size still passes the header check.
        h.width = 4096;
        h.height = 4096;
        h.payload_len = MAX_PAYLOAD_BYTES;
        assert!(FrameHeader::decode(&h.encode()).is_ok());
    }
}
