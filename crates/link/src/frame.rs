//! Frames of the bond event stream (`controller-link.md`, section 2), byte for byte.
//!
//! This module is the wire level: its types mirror the spec 1:1 with raw integer
//! fields (scaled integers stay scaled, codes stay codes). Turning them into domain
//! values is the caller's business.
//!
//! ```text
//! offset size field
//! 0      2    sync      0xA5 0x5A
//! 2      1    type      frame type
//! 3      2    len       payload length in bytes (u16), at most 16384
//! 5      4    seq       frame sequence number (u32), +1 per frame, wraps
//! 9      len  payload
//! 9+len  2    crc       CRC-16/CCITT-FALSE over type, len, seq, payload
//! ```
//!
//! All fields are little-endian, the CRC included.

use bytes::{BufMut, Bytes, BytesMut};
use crc::{CRC_16_IBM_3740, Crc, Table};

/// The two bytes every frame starts with.
pub const SYNC: [u8; 2] = [0xA5, 0x5A];
/// Largest payload a frame may carry, in bytes.
pub const MAX_PAYLOAD: usize = 16384;
/// Bytes before the payload: sync (2), type (1), len (2), seq (4).
pub const HEADER_LEN: usize = 9;
/// Bytes after the payload: the CRC-16.
pub const CRC_LEN: usize = 2;

/// Frame type of a heartbeat.
pub const TYPE_HEARTBEAT: u8 = 0x01;
/// Frame type of a bond event.
pub const TYPE_BOND: u8 = 0x02;
/// Frame type of an alarm raised / cleared.
pub const TYPE_ALARM: u8 = 0x03;
/// Frame type of a machine state change.
pub const TYPE_STATE: u8 = 0x04;

/// Payload length of a heartbeat frame.
pub const HEARTBEAT_PAYLOAD_LEN: usize = 8;
/// Payload length of an alarm frame.
pub const ALARM_PAYLOAD_LEN: usize = 11;
/// Payload length of a state frame.
pub const STATE_PAYLOAD_LEN: usize = 2;
/// Fixed part of a bond payload, up to and including the `channels` count.
pub const BOND_FIXED_LEN: usize = 27;

/// CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor), which
/// the `crc` catalogue calls `CRC_16_IBM_3740`. Slice-by-16 tables: this is the hot path.
pub const CRC16: Crc<u16, Table<16>> = Crc::<u16, Table<16>>::new(&CRC_16_IBM_3740);

/// CRC-16/CCITT-FALSE of `bytes` (check value 0x29B1 for `b"123456789"`).
///
/// A frame's CRC covers type, len, seq and payload: the frame without its sync and
/// without its CRC.
#[must_use]
pub fn crc16(bytes: &[u8]) -> u16 {
    CRC16.checksum(bytes)
}

/// One frame of the bond event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Frame sequence number: +1 per frame, wraps.
    pub seq: u32,
    /// What the frame carries; its variant decides the frame type.
    pub body: FrameBody,
}

/// The payload of a frame, by frame type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameBody {
    /// Type 0x01: controller time in µs.
    Heartbeat {
        /// Controller clock, µs.
        time_us: u64,
    },
    /// Type 0x02: one bond with its process curves.
    Bond(BondFrame),
    /// Type 0x03: an alarm raised or cleared.
    Alarm(AlarmFrame),
    /// Type 0x04: the machine state changed.
    State {
        /// Same values as Modbus input register 1 (0 idle, 1 running, ...).
        machine_state: u16,
    },
    /// A CRC-valid frame of a type this version does not know. It is kept, not an
    /// error, for forward compatibility.
    ///
    /// Encoding writes `payload` as is under `frame_type`, whatever the type: so this
    /// variant also produces raw frames (e.g. a deliberately malformed bond frame in a
    /// test). The decoder only yields it for types other than 0x01..=0x04.
    Unknown {
        /// The frame's type byte.
        frame_type: u8,
        /// The payload, unparsed.
        payload: Bytes,
    },
}

/// Payload of an alarm frame (type 0x03): `u16 code, u8 raised, u64 time_us`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlarmFrame {
    /// Alarm code (table in `controller-link.md` section 1), e.g. 101 NSOP.
    pub code: u16,
    /// `true` raised (wire byte 1), `false` cleared (wire byte 0).
    pub raised: bool,
    /// Controller clock, µs.
    pub time_us: u64,
}

/// Payload of a bond frame (type 0x02).
///
/// The wire's `n` (samples per channel) and `channels` (count) are not stored: they
/// are derived from `channels` when encoding, which requires every channel to have
/// the same number of samples.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BondFrame {
    /// Controller clock at bond start, µs.
    pub time_us: u64,
    /// Device (unit) index on the strip / lead frame.
    pub unit_no: u32,
    /// Wire index within the unit, from 1.
    pub wire_no: u16,
    /// 1 ball (1st bond), 2 stitch (2nd bond); other values are carried as is.
    pub bond_kind: u8,
    /// 0 ok, else the alarm code's low byte (101 -> 0x65, ...).
    pub ctrl_verdict: u8,
    /// Placement offset x, 0.1 µm.
    pub place_dx_0p1um: i16,
    /// Placement offset y, 0.1 µm.
    pub place_dy_0p1um: i16,
    /// Ball diameter, 0.1 µm (0 for stitch bonds).
    pub ball_diameter_0p1um: u16,
    /// Samples per second / 100 (1000 = 100 kHz).
    pub sample_rate_per_100: u16,
    /// The sampled channels, in wire order.
    pub channels: Vec<ChannelFrame>,
}

/// One sampled channel of a bond frame.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelFrame {
    /// 1 ultrasonic current (0.1 mA), 2 bond force (0.1 gf), 3 z height (0.1 µm),
    /// 4 ultrasonic impedance (0.1 ohm); other values are carried as is.
    pub id: u8,
    /// The samples, raw counts.
    pub samples: Vec<i16>,
}

/// Why a frame cannot be encoded. Nothing is written to the buffer in that case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The payload would exceed [`MAX_PAYLOAD`].
    #[error("payload of {len} bytes exceeds the maximum of {MAX_PAYLOAD}")]
    PayloadTooLong {
        /// Payload length the frame would need.
        len: usize,
    },
    /// A bond frame's channels do not all have the same number of samples.
    #[error(
        "bond frame channel {index} has {found} samples, channel 0 has {expected}: all channels must have the same length"
    )]
    ChannelLengthMismatch {
        /// Index (position, not id) of the first channel that differs.
        index: usize,
        /// Samples in channel 0.
        expected: usize,
        /// Samples in channel `index`.
        found: usize,
    },
    /// A bond frame has more channels than the u8 count can say.
    #[error("bond frame has {count} channels, at most 255 fit")]
    TooManyChannels {
        /// Number of channels.
        count: usize,
    },
}

/// Why a CRC-valid payload does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// The payload's length is not the one its type (and, for bond frames, its `n`
    /// and `channels`) requires.
    #[error("frame type {frame_type:#04x}: payload is {actual} bytes, expected {expected}")]
    WrongLength {
        /// The frame type.
        frame_type: u8,
        /// Length the type (and header fields) require.
        expected: usize,
        /// Length received.
        actual: usize,
    },
    /// A bond payload too short to hold its fixed part.
    #[error("bond payload is {actual} bytes, shorter than its fixed part of {BOND_FIXED_LEN}")]
    BondTooShort {
        /// Length received.
        actual: usize,
    },
    /// An alarm frame whose raised/cleared byte is neither 0 nor 1.
    #[error("alarm frame: raised byte is {0}, expected 0 or 1")]
    BadRaised(u8),
    /// A payload longer than [`MAX_PAYLOAD`] (cannot come off the wire).
    #[error("payload of {0} bytes exceeds the maximum of {MAX_PAYLOAD}")]
    TooLong(usize),
}

impl FrameBody {
    /// The wire frame type of this body.
    #[must_use]
    pub fn frame_type(&self) -> u8 {
        match self {
            FrameBody::Heartbeat { .. } => TYPE_HEARTBEAT,
            FrameBody::Bond(_) => TYPE_BOND,
            FrameBody::Alarm(_) => TYPE_ALARM,
            FrameBody::State { .. } => TYPE_STATE,
            FrameBody::Unknown { frame_type, .. } => *frame_type,
        }
    }

    /// Payload length in bytes. For a bond frame whose channels differ in length this
    /// is the sum of what each channel takes (such a frame does not encode anyway).
    #[must_use]
    pub fn payload_len(&self) -> usize {
        match self {
            FrameBody::Heartbeat { .. } => HEARTBEAT_PAYLOAD_LEN,
            FrameBody::Bond(b) => b.payload_len(),
            FrameBody::Alarm(_) => ALARM_PAYLOAD_LEN,
            FrameBody::State { .. } => STATE_PAYLOAD_LEN,
            FrameBody::Unknown { payload, .. } => payload.len(),
        }
    }

    /// Checks that the body can be encoded; returns its payload length.
    fn validate(&self) -> Result<usize, EncodeError> {
        if let FrameBody::Bond(b) = self {
            b.validate()?;
        }
        let len = self.payload_len();
        if len > MAX_PAYLOAD {
            return Err(EncodeError::PayloadTooLong { len });
        }
        Ok(len)
    }

    /// Writes the payload. The caller has validated the body.
    fn put_payload(&self, dst: &mut BytesMut) {
        match self {
            FrameBody::Heartbeat { time_us } => dst.put_u64_le(*time_us),
            FrameBody::Bond(b) => b.put_payload(dst),
            FrameBody::Alarm(a) => {
                dst.put_u16_le(a.code);
                dst.put_u8(u8::from(a.raised));
                dst.put_u64_le(a.time_us);
            }
            FrameBody::State { machine_state } => dst.put_u16_le(*machine_state),
            FrameBody::Unknown { payload, .. } => dst.extend_from_slice(payload),
        }
    }
}

impl BondFrame {
    /// Samples per channel (`n` on the wire): the first channel's length, 0 without
    /// channels.
    #[must_use]
    pub fn samples_per_channel(&self) -> usize {
        self.channels.first().map_or(0, |c| c.samples.len())
    }

    /// Payload length: 27 + Σ (1 + 2·samples) over the channels.
    #[must_use]
    pub fn payload_len(&self) -> usize {
        self.channels.iter().fold(BOND_FIXED_LEN, |acc, c| {
            acc.saturating_add(c.samples.len().saturating_mul(2).saturating_add(1))
        })
    }

    fn validate(&self) -> Result<(), EncodeError> {
        if self.channels.len() > usize::from(u8::MAX) {
            return Err(EncodeError::TooManyChannels {
                count: self.channels.len(),
            });
        }
        let n = self.samples_per_channel();
        if let Some((index, c)) = self
            .channels
            .iter()
            .enumerate()
            .find(|(_, c)| c.samples.len() != n)
        {
            return Err(EncodeError::ChannelLengthMismatch {
                index,
                expected: n,
                found: c.samples.len(),
            });
        }
        Ok(())
    }

    /// Writes the payload. The caller has validated the frame, so `n` and the channel
    /// count fit their fields (n ≤ 8178 because of [`MAX_PAYLOAD`]).
    fn put_payload(&self, dst: &mut BytesMut) {
        let n = u16::try_from(self.samples_per_channel()).unwrap_or(u16::MAX);
        let count = u8::try_from(self.channels.len()).unwrap_or(u8::MAX);
        dst.put_u64_le(self.time_us);
        dst.put_u32_le(self.unit_no);
        dst.put_u16_le(self.wire_no);
        dst.put_u8(self.bond_kind);
        dst.put_u8(self.ctrl_verdict);
        dst.put_i16_le(self.place_dx_0p1um);
        dst.put_i16_le(self.place_dy_0p1um);
        dst.put_u16_le(self.ball_diameter_0p1um);
        dst.put_u16_le(self.sample_rate_per_100);
        dst.put_u16_le(n);
        dst.put_u8(count);
        for c in &self.channels {
            dst.put_u8(c.id);
            put_samples(dst, &c.samples);
        }
    }
}

/// Writes samples little-endian, a stack block at a time (fewer capacity checks than
/// one `put_i16_le` per sample).
fn put_samples(dst: &mut BytesMut, samples: &[i16]) {
    const BLOCK: usize = 64;
    let mut buf = [0u8; BLOCK * 2];
    for chunk in samples.chunks(BLOCK) {
        for (out, s) in buf.chunks_exact_mut(2).zip(chunk) {
            out.copy_from_slice(&s.to_le_bytes());
        }
        dst.extend_from_slice(buf.get(..chunk.len() * 2).unwrap_or_default());
    }
}

impl Frame {
    /// A frame of `body` with sequence number `seq`.
    #[must_use]
    pub fn new(seq: u32, body: FrameBody) -> Self {
        Frame { seq, body }
    }

    /// The wire frame type (0x01 heartbeat, 0x02 bond, 0x03 alarm, 0x04 state, or an
    /// unknown type's own byte).
    #[must_use]
    pub fn frame_type(&self) -> u8 {
        self.body.frame_type()
    }

    /// Bytes the encoded frame takes, sync to CRC: `HEADER_LEN + payload + CRC_LEN`.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN
            .saturating_add(self.body.payload_len())
            .saturating_add(CRC_LEN)
    }

    /// Appends the encoded frame to `dst`. On error `dst` is left as it was.
    pub fn encode(&self, dst: &mut BytesMut) -> Result<(), EncodeError> {
        let len = self.body.validate()?;
        // `validate` bounds len by MAX_PAYLOAD, which fits u16.
        let len_field = u16::try_from(len).map_err(|_| EncodeError::PayloadTooLong { len })?;
        dst.reserve(HEADER_LEN + len + CRC_LEN);
        let start = dst.len();
        dst.extend_from_slice(&SYNC);
        dst.put_u8(self.frame_type());
        dst.put_u16_le(len_field);
        dst.put_u32_le(self.seq);
        self.body.put_payload(dst);
        debug_assert_eq!(dst.len() - start, HEADER_LEN + len);
        let crc = crc16(dst.get(start + SYNC.len()..).unwrap_or_default());
        dst.put_u16_le(crc);
        Ok(())
    }

    /// The encoded frame as a new buffer.
    pub fn to_bytes(&self) -> Result<Bytes, EncodeError> {
        let mut dst = BytesMut::with_capacity(self.encoded_len());
        self.encode(&mut dst)?;
        Ok(dst.freeze())
    }
}

/// Little-endian reader over a payload whose length the caller has already checked.
/// Reads past the end yield zeros instead of panicking (they cannot happen after the
/// length check, but no input may make this code panic).
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        match self.buf.split_first_chunk::<N>() {
            Some((head, rest)) => {
                self.buf = rest;
                *head
            }
            None => {
                self.buf = &[];
                [0; N]
            }
        }
    }
    fn u8(&mut self) -> u8 {
        u8::from_le_bytes(self.take())
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.take())
    }
    fn i16(&mut self) -> i16 {
        i16::from_le_bytes(self.take())
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }
    fn bytes(&mut self, len: usize) -> &'a [u8] {
        let (head, rest) = self.buf.split_at(len.min(self.buf.len()));
        self.buf = rest;
        head
    }
}

fn exact_len(frame_type: u8, payload: &[u8], expected: usize) -> Result<(), PayloadError> {
    if payload.len() == expected {
        Ok(())
    } else {
        Err(PayloadError::WrongLength {
            frame_type,
            expected,
            actual: payload.len(),
        })
    }
}

/// Decodes the payload of a frame of type `frame_type`.
///
/// The payload's length must be exactly what its type says (for a bond frame:
/// `27 + channels · (1 + 2n)`); an unknown type yields [`FrameBody::Unknown`] with a
/// copy of the payload. An alarm's raised byte must be 0 or 1, so that every decoded
/// frame re-encodes to the same bytes.
pub fn decode_payload(frame_type: u8, payload: &[u8]) -> Result<FrameBody, PayloadError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(PayloadError::TooLong(payload.len()));
    }
    let mut r = Reader { buf: payload };
    match frame_type {
        TYPE_HEARTBEAT => {
            exact_len(frame_type, payload, HEARTBEAT_PAYLOAD_LEN)?;
            Ok(FrameBody::Heartbeat { time_us: r.u64() })
        }
        TYPE_BOND => decode_bond(payload).map(FrameBody::Bond),
        TYPE_ALARM => {
            exact_len(frame_type, payload, ALARM_PAYLOAD_LEN)?;
            let code = r.u16();
            let raised = match r.u8() {
                0 => false,
                1 => true,
                other => return Err(PayloadError::BadRaised(other)),
            };
            Ok(FrameBody::Alarm(AlarmFrame {
                code,
                raised,
                time_us: r.u64(),
            }))
        }
        TYPE_STATE => {
            exact_len(frame_type, payload, STATE_PAYLOAD_LEN)?;
            Ok(FrameBody::State {
                machine_state: r.u16(),
            })
        }
        _ => Ok(FrameBody::Unknown {
            frame_type,
            payload: Bytes::copy_from_slice(payload),
        }),
    }
}

fn decode_bond(payload: &[u8]) -> Result<BondFrame, PayloadError> {
    if payload.len() < BOND_FIXED_LEN {
        return Err(PayloadError::BondTooShort {
            actual: payload.len(),
        });
    }
    let mut r = Reader { buf: payload };
    let time_us = r.u64();
    let unit_no = r.u32();
    let wire_no = r.u16();
    let bond_kind = r.u8();
    let ctrl_verdict = r.u8();
    let place_dx_0p1um = r.i16();
    let place_dy_0p1um = r.i16();
    let ball_diameter_0p1um = r.u16();
    let sample_rate_per_100 = r.u16();
    let n = usize::from(r.u16());
    let count = usize::from(r.u8());
    // Both factors are small (≤ 255 and ≤ 131071): no overflow.
    let expected = BOND_FIXED_LEN + count * (1 + 2 * n);
    exact_len(TYPE_BOND, payload, expected)?;
    let channels = (0..count)
        .map(|_| {
            let id = r.u8();
            let samples = r
                .bytes(2 * n)
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]))
                .collect();
            ChannelFrame { id, samples }
        })
        .collect();
    Ok(BondFrame {
        time_us,
        unit_no,
        wire_no,
        bond_kind,
        ctrl_verdict,
        place_dx_0p1um,
        place_dy_0p1um,
        ball_diameter_0p1um,
        sample_rate_per_100,
        channels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_check_value() {
        assert_eq!(crc16(b"123456789"), 0x29B1);
    }

    #[test]
    fn mismatched_channels_do_not_encode() {
        let f = Frame::new(
            0,
            FrameBody::Bond(BondFrame {
                channels: vec![
                    ChannelFrame {
                        id: 1,
                        samples: vec![1, 2],
                    },
                    ChannelFrame {
                        id: 2,
                        samples: vec![1],
                    },
                ],
                ..BondFrame::default()
            }),
        );
        let mut dst = BytesMut::from(&b"xy"[..]);
        assert_eq!(
            f.encode(&mut dst),
            Err(EncodeError::ChannelLengthMismatch {
                index: 1,
                expected: 2,
                found: 1
            })
        );
        assert_eq!(&dst[..], b"xy", "nothing written on error");
    }

    #[test]
    fn no_channels_is_n_zero() {
        let f = Frame::new(5, FrameBody::Bond(BondFrame::default()));
        let b = f.to_bytes().unwrap();
        assert_eq!(b.len(), HEADER_LEN + BOND_FIXED_LEN + CRC_LEN);
        assert_eq!(f.encoded_len(), b.len());
        // n = 0, channels = 0
        assert_eq!(&b[HEADER_LEN + 24..HEADER_LEN + 27], &[0, 0, 0]);
    }

    #[test]
    fn payload_limit() {
        let max_n = (MAX_PAYLOAD - BOND_FIXED_LEN - 1) / 2;
        let mk = |n: usize| {
            Frame::new(
                0,
                FrameBody::Bond(BondFrame {
                    channels: vec![ChannelFrame {
                        id: 1,
                        samples: vec![7; n],
                    }],
                    ..BondFrame::default()
                }),
            )
        };
        let ok = mk(max_n).to_bytes().unwrap();
        let payload = &ok[HEADER_LEN..ok.len() - CRC_LEN];
        assert_eq!(decode_payload(TYPE_BOND, payload).unwrap(), mk(max_n).body);
        assert_eq!(
            mk(max_n + 1).to_bytes(),
            Err(EncodeError::PayloadTooLong {
                len: BOND_FIXED_LEN + 1 + 2 * (max_n + 1)
            })
        );
        let unknown = Frame::new(
            0,
            FrameBody::Unknown {
                frame_type: 9,
                payload: Bytes::from(vec![0; MAX_PAYLOAD + 1]),
            },
        );
        assert!(matches!(
            unknown.to_bytes(),
            Err(EncodeError::PayloadTooLong { .. })
        ));
        let too_many = Frame::new(
            0,
            FrameBody::Bond(BondFrame {
                channels: vec![ChannelFrame::default(); 256],
                ..BondFrame::default()
            }),
        );
        assert_eq!(
            too_many.to_bytes(),
            Err(EncodeError::TooManyChannels { count: 256 })
        );
    }

    #[test]
    fn wrong_lengths_are_errors() {
        assert!(matches!(
            decode_payload(TYPE_HEARTBEAT, &[0; 7]),
            Err(PayloadError::WrongLength { expected: 8, .. })
        ));
        assert!(matches!(
            decode_payload(TYPE_STATE, &[0; 3]),
            Err(PayloadError::WrongLength { expected: 2, .. })
        ));
        assert!(matches!(
            decode_payload(TYPE_ALARM, &[0; 12]),
            Err(PayloadError::WrongLength { expected: 11, .. })
        ));
        assert_eq!(
            decode_payload(TYPE_ALARM, &[0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(PayloadError::BadRaised(2))
        );
        assert_eq!(
            decode_payload(TYPE_BOND, &[0; 26]),
            Err(PayloadError::BondTooShort { actual: 26 })
        );
        // n = 2, 1 channel → 27 + 5 = 32 bytes; give 31 and 33.
        let mut p = vec![0u8; 32];
        p[24] = 2;
        p[26] = 1;
        assert!(decode_payload(TYPE_BOND, &p).is_ok());
        assert!(matches!(
            decode_payload(TYPE_BOND, &p[..31]),
            Err(PayloadError::WrongLength { expected: 32, .. })
        ));
        p.push(0);
        assert!(matches!(
            decode_payload(TYPE_BOND, &p),
            Err(PayloadError::WrongLength { expected: 32, .. })
        ));
    }

    #[test]
    fn unknown_types_are_kept() {
        assert_eq!(
            decode_payload(0x77, b"abc"),
            Ok(FrameBody::Unknown {
                frame_type: 0x77,
                payload: Bytes::from_static(b"abc")
            })
        );
        assert!(matches!(
            decode_payload(0, b""),
            Ok(FrameBody::Unknown { frame_type: 0, .. })
        ));
    }
}
