//! [`FrameCodec`]: the bond event stream as a `tokio_util` codec.
//!
//! The decoder follows `controller-link.md` section 2: a bad CRC or an impossible
//! length is counted, bytes are dropped up to the next sync and decoding goes on; a
//! gap in `seq` is counted as lost frames. Nothing in the input is ever fatal: the
//! decoder never returns an error and never panics, whatever the bytes.
//!
//! Resynchronisation drops *one* byte after a rejected candidate (not the whole span
//! its `len` claimed), so a frame hidden inside a bogus span (e.g. behind a corrupted
//! `len` byte that claims a longer frame) is still found.
//!
//! Every byte fed in ends up in exactly one place: a frame returned (counted in
//! [`DecodeStats::frames_ok`]), a CRC-valid frame dropped as malformed
//! ([`DecodeStats::malformed`]), [`DecodeStats::bytes_skipped`], or still buffered.

use std::io;

use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::frame::{CRC_LEN, Frame, HEADER_LEN, MAX_PAYLOAD, SYNC, crc16, decode_payload};

/// What the decoder has met so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Frames decoded and returned (unknown types included).
    pub frames_ok: u64,
    /// Candidates (a sync with a possible length) whose CRC did not match.
    pub bad_crc: u64,
    /// Candidates whose length is impossible: over [`MAX_PAYLOAD`], or (at end of
    /// stream, in [`Decoder::decode_eof`]) longer than the bytes that are left.
    pub bad_length: u64,
    /// CRC-valid frames whose payload does not match their type; dropped whole.
    pub malformed: u64,
    /// Frames missing according to `seq` (forward gaps).
    pub lost_frames: u64,
    /// Times `seq` jumped backwards (or forward by 2^31 or more): the controller
    /// restarted; counted here instead of as lost frames.
    pub seq_resets: u64,
    /// Bytes discarded: before a sync, and the first byte of every rejected
    /// candidate (bad CRC, bad length).
    pub bytes_skipped: u64,
}

/// Decoder and encoder of bond-event-stream frames.
///
/// ```
/// use bonder_link::codec::FrameCodec;
/// use bonder_link::frame::{Frame, FrameBody};
/// use bytes::BytesMut;
/// use tokio_util::codec::{Decoder, Encoder};
///
/// let mut codec = FrameCodec::new();
/// let mut buf = BytesMut::new();
/// let frame = Frame { seq: 7, body: FrameBody::State { machine_state: 1 } };
/// codec.encode(&frame, &mut buf).unwrap();
/// assert_eq!(codec.decode(&mut buf).unwrap(), Some(frame));
/// assert_eq!(codec.stats().frames_ok, 1);
/// ```
#[derive(Debug, Clone, Default)]
pub struct FrameCodec {
    last_seq: Option<u32>,
    stats: DecodeStats,
}

/// Where the scan for a frame ended.
enum Step {
    /// A frame decoded.
    Frame(Frame),
    /// More bytes needed; the buffer starts with a sync or holds a lone first sync
    /// byte, or is empty.
    NeedMore,
}

impl FrameCodec {
    /// A codec that has seen no frame yet: the first frame's `seq` is taken as is.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A codec that continues `seq` tracking from `last_seq` (e.g. the last frame
    /// seen before a reconnect), so frames missed in between count as lost.
    #[must_use]
    pub fn with_last_seq(last_seq: Option<u32>) -> Self {
        FrameCodec {
            last_seq,
            stats: DecodeStats::default(),
        }
    }

    /// `seq` of the last CRC-valid frame (returned or malformed), if any.
    #[must_use]
    pub fn last_seq(&self) -> Option<u32> {
        self.last_seq
    }

    /// Counters since the codec was made.
    #[must_use]
    pub fn stats(&self) -> &DecodeStats {
        &self.stats
    }

    fn skip(&mut self, src: &mut BytesMut, n: usize) {
        let n = n.min(src.len());
        src.advance(n);
        self.stats.bytes_skipped += n as u64;
    }

    fn track_seq(&mut self, seq: u32) {
        if let Some(last) = self.last_seq {
            let expected = last.wrapping_add(1);
            if seq != expected {
                let d = seq.wrapping_sub(expected);
                if d < 0x8000_0000 {
                    self.stats.lost_frames += u64::from(d);
                } else {
                    self.stats.seq_resets += 1;
                }
            }
        }
        self.last_seq = Some(seq);
    }

    fn step(&mut self, src: &mut BytesMut) -> Step {
        loop {
            // 1. Find a sync; drop what comes before it.
            match find_sync(src) {
                Some(0) => {}
                Some(i) => self.skip(src, i),
                None => {
                    // Keep a trailing first sync byte: its second may be on its way.
                    let keep = usize::from(src.last() == Some(&SYNC[0]));
                    let drop = src.len() - keep;
                    self.skip(src, drop);
                    return Step::NeedMore;
                }
            }
            // 2. Header.
            let Some(header) = src.first_chunk::<HEADER_LEN>() else {
                src.reserve(HEADER_LEN - src.len());
                return Step::NeedMore;
            };
            let frame_type = header[2];
            let len = usize::from(u16::from_le_bytes([header[3], header[4]]));
            let seq = u32::from_le_bytes([header[5], header[6], header[7], header[8]]);
            if len > MAX_PAYLOAD {
                self.stats.bad_length += 1;
                self.skip(src, 1);
                continue;
            }
            // 3. Whole frame, CRC.
            let total = HEADER_LEN + len + CRC_LEN;
            if src.len() < total {
                src.reserve(total - src.len());
                return Step::NeedMore;
            }
            let (Some(covered), Some(crc_bytes)) = (
                src.get(SYNC.len()..HEADER_LEN + len),
                src.get(HEADER_LEN + len..total),
            ) else {
                // Unreachable: `total` bytes are buffered.
                return Step::NeedMore;
            };
            let crc_rx = u16::from_le_bytes([
                crc_bytes.first().copied().unwrap_or(0),
                crc_bytes.get(1).copied().unwrap_or(0),
            ]);
            if crc16(covered) != crc_rx {
                self.stats.bad_crc += 1;
                self.skip(src, 1);
                continue;
            }
            // 4. Payload. Its boundary is trustworthy now: drop the whole frame.
            let body = decode_payload(frame_type, covered.get(HEADER_LEN - 2..).unwrap_or(&[]));
            src.advance(total);
            self.track_seq(seq);
            match body {
                Ok(body) => {
                    self.stats.frames_ok += 1;
                    return Step::Frame(Frame { seq, body });
                }
                Err(_) => {
                    self.stats.malformed += 1;
                }
            }
        }
    }
}

/// Position of the first sync word in `buf`.
fn find_sync(buf: &[u8]) -> Option<usize> {
    let mut from = 0;
    loop {
        let i = from + find_byte(SYNC[0], buf.get(from..)?)?;
        match buf.get(i + 1) {
            Some(&b) if b == SYNC[1] => return Some(i),
            Some(_) => from = i + 1,
            None => return None,
        }
    }
}

/// memchr, eight bytes at a time (SWAR), in safe code.
fn find_byte(needle: u8, hay: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let pattern = LO * u64::from(needle);
    let mut chunks = hay.chunks_exact(8);
    let mut base = 0;
    for chunk in chunks.by_ref() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word) ^ pattern;
        // A zero byte in x is a match; the lowest flagged byte is exact.
        let found = x.wrapping_sub(LO) & !x & HI;
        if found != 0 {
            return Some(base + (found.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == needle)
        .map(|i| base + i)
}

impl Decoder for FrameCodec {
    type Item = Frame;
    type Error = io::Error;

    /// Never returns an error: garbage is counted and skipped.
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, io::Error> {
        Ok(match self.step(src) {
            Step::Frame(f) => Some(f),
            Step::NeedMore => None,
        })
    }

    /// At end of stream, a buffered partial frame (a sync whose header or `len` asks
    /// for more bytes than are left) can never complete: it is counted as
    /// `bad_length`, its first byte dropped and the rest rescanned, so frames after it
    /// are still returned. A lone trailing first sync byte is just skipped. Returns
    /// `Ok(None)` once the buffer is empty; never an error.
    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, io::Error> {
        loop {
            if let Step::Frame(f) = self.step(buf) {
                return Ok(Some(f));
            }
            match buf.len() {
                0 => return Ok(None),
                1 => {
                    // A lone 0xA5: not a frame of any length.
                    self.skip(buf, 1);
                    return Ok(None);
                }
                _ => {
                    self.stats.bad_length += 1;
                    self.skip(buf, 1);
                }
            }
        }
    }
}

impl Encoder<&Frame> for FrameCodec {
    type Error = io::Error;

    /// Appends the frame; an unencodable frame (see
    /// [`EncodeError`](crate::frame::EncodeError)) is an `InvalidInput` error and
    /// writes nothing.
    fn encode(&mut self, item: &Frame, dst: &mut BytesMut) -> Result<(), io::Error> {
        item.encode(dst)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
    }
}

impl Encoder<Frame> for FrameCodec {
    type Error = io::Error;

    fn encode(&mut self, item: Frame, dst: &mut BytesMut) -> Result<(), io::Error> {
        Encoder::<&Frame>::encode(self, &item, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_byte_matches_naive() {
        let hay: Vec<u8> = (0..200u32).map(|i| (i * 37 % 251) as u8).collect();
        for start in 0..hay.len() {
            for needle in [0u8, 0xA5, 0x5A, 0x80, 0x7F, 0xFF, 3] {
                let h = &hay[start..];
                assert_eq!(
                    find_byte(needle, h),
                    h.iter().position(|&b| b == needle),
                    "start {start} needle {needle}"
                );
            }
        }
        // Bytes that differ from the needle by the high bit only, next to a match.
        let h = [0x25, 0xA5 ^ 0x80, 0x24, 0x00, 0x01, 0xA4, 0xA6, 0x5A, 0xA5];
        assert_eq!(find_byte(0xA5, &h), Some(8));
    }

    #[test]
    fn find_sync_skips_lone_first_bytes() {
        assert_eq!(find_sync(&[0xA5, 0xA5, 0x5A]), Some(1));
        assert_eq!(find_sync(&[0xA5, 0x00, 0xA5]), None);
        assert_eq!(find_sync(&[]), None);
    }
}
