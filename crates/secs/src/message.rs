//! HSMS messages (E37 §8): the 4-byte length, the 10-byte header, the SECS-II body; the
//! control messages; and [`FrameDecoder`], which reads frames from a byte stream without
//! ever holding more than the configured maximum of one message.

use crate::item::{EncodeError, Item};
use bytes::{Buf, Bytes, BytesMut};

/// HSMS header length.
pub const HEADER_LEN: usize = 10;
/// Session id of control messages (E37.1: 0xFFFF).
pub const CONTROL_SESSION: u16 = 0xFFFF;

/// Session types (header byte 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum SType {
    Data = 0,
    SelectReq = 1,
    SelectRsp = 2,
    DeselectReq = 3,
    DeselectRsp = 4,
    LinktestReq = 5,
    LinktestRsp = 6,
    RejectReq = 7,
    SeparateReq = 9,
}

impl SType {
    pub fn from_u8(v: u8) -> Option<SType> {
        Some(match v {
            0 => SType::Data,
            1 => SType::SelectReq,
            2 => SType::SelectRsp,
            3 => SType::DeselectReq,
            4 => SType::DeselectRsp,
            5 => SType::LinktestReq,
            6 => SType::LinktestRsp,
            7 => SType::RejectReq,
            9 => SType::SeparateReq,
            _ => return None,
        })
    }
}

/// Select.rsp status (E37 §7.3.2).
pub mod select_status {
    pub const OK: u8 = 0;
    pub const ALREADY_ACTIVE: u8 = 1;
    pub const NOT_READY: u8 = 2;
    pub const EXHAUSTED: u8 = 3;
}

/// Reject.req reason codes (E37 §7.7).
pub mod reject_reason {
    pub const STYPE_NOT_SUPPORTED: u8 = 1;
    pub const PTYPE_NOT_SUPPORTED: u8 = 2;
    pub const TRANSACTION_NOT_OPEN: u8 = 3;
    pub const NOT_SELECTED: u8 = 4;
}

/// The 10-byte HSMS message header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Session id: the device id for data messages, 0xFFFF for control.
    pub session_id: u16,
    /// Data: W-bit and stream. Control: per message (status / rejected type).
    pub byte2: u8,
    /// Data: function. Control: per message.
    pub byte3: u8,
    /// Presentation type; 0 = SECS-II.
    pub ptype: u8,
    pub stype: u8,
    /// System bytes: matches a reply to its request.
    pub system: u32,
}

impl Header {
    pub fn data(device_id: u16, m: &Message, system: u32) -> Header {
        Header {
            session_id: device_id,
            byte2: (u8::from(m.w) << 7) | (m.stream & 0x7F),
            byte3: m.function,
            ptype: 0,
            stype: SType::Data as u8,
            system,
        }
    }

    pub fn control(stype: SType, system: u32) -> Header {
        Header {
            session_id: CONTROL_SESSION,
            byte2: 0,
            byte3: 0,
            ptype: 0,
            stype: stype as u8,
            system,
        }
    }

    pub fn stream(&self) -> u8 {
        self.byte2 & 0x7F
    }
    pub fn function(&self) -> u8 {
        self.byte3
    }
    pub fn w(&self) -> bool {
        self.byte2 & 0x80 != 0
    }
    pub fn is_data(&self) -> bool {
        self.stype == SType::Data as u8
    }

    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let [s0, s1] = self.session_id.to_be_bytes();
        let [y0, y1, y2, y3] = self.system.to_be_bytes();
        [
            s0, s1, self.byte2, self.byte3, self.ptype, self.stype, y0, y1, y2, y3,
        ]
    }

    pub fn from_bytes(b: &[u8; HEADER_LEN]) -> Header {
        Header {
            session_id: u16::from_be_bytes([b[0], b[1]]),
            byte2: b[2],
            byte3: b[3],
            ptype: b[4],
            stype: b[5],
            system: u32::from_be_bytes([b[6], b[7], b[8], b[9]]),
        }
    }
}

/// A SECS-II message: stream, function, wait bit and an optional body.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub stream: u8,
    pub function: u8,
    /// Reply expected.
    pub w: bool,
    pub body: Option<Item>,
}

impl Message {
    /// A primary that expects a reply.
    pub fn request(stream: u8, function: u8, body: Item) -> Message {
        Message {
            stream,
            function,
            w: true,
            body: Some(body),
        }
    }

    /// A message without the W bit (a reply, or a primary that wants none).
    pub fn reply(stream: u8, function: u8, body: Item) -> Message {
        Message {
            stream,
            function,
            w: false,
            body: Some(body),
        }
    }

    /// A message without a body (S1F1, S1F17 …): header only.
    pub fn header_only(stream: u8, function: u8, w: bool) -> Message {
        Message {
            stream,
            function,
            w,
            body: None,
        }
    }

    /// SxF0: the abort transaction reply.
    pub fn abort(stream: u8) -> Message {
        Message::header_only(stream, 0, false)
    }

    pub fn is_primary(&self) -> bool {
        self.function % 2 == 1
    }

    /// `SxFy` (for logs and errors).
    pub fn name(&self) -> String {
        format!("S{}F{}", self.stream, self.function)
    }
}

/// A whole HSMS frame, length prefix included.
pub fn encode_frame(header: &Header, body: Option<&Item>) -> Result<Vec<u8>, EncodeError> {
    let body_len = body.map_or(0, Item::encoded_len);
    let mut out = Vec::with_capacity(4 + HEADER_LEN + body_len);
    out.extend_from_slice(&((HEADER_LEN + body_len) as u32).to_be_bytes());
    out.extend_from_slice(&header.to_bytes());
    if let Some(b) = body {
        b.encode_into(&mut out)?;
    }
    Ok(out)
}

/// What [`FrameDecoder`] yields.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// A whole message: its header and undecoded body.
    Message { header: Header, body: Bytes },
    /// A message longer than the maximum: its header, and the length it announced. Its
    /// body is being skipped as it arrives, never held.
    TooLong { header: Header, length: u32 },
}

/// A frame the stream cannot go on from (the connection closes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("HSMS message length {0} is shorter than its 10-byte header")]
pub struct FrameError(pub u32);

/// Reads HSMS frames from bytes as they arrive.
#[derive(Debug)]
pub struct FrameDecoder {
    max_message: usize,
    /// Bytes of an oversized message still to skip.
    skipping: u64,
}

impl FrameDecoder {
    /// `max_message`: the largest message (header and body) that is buffered.
    pub fn new(max_message: usize) -> FrameDecoder {
        FrameDecoder {
            max_message: max_message.max(HEADER_LEN),
            skipping: 0,
        }
    }

    /// Whether a message has begun and not ended (T8 runs between its bytes).
    pub fn in_message(&self, buf: &BytesMut) -> bool {
        self.skipping > 0 || !buf.is_empty()
    }

    /// How many more bytes are worth reading now: never more than the rest of the
    /// current message (or a header), so the buffer stays within the maximum.
    pub fn want(&self, buf: &BytesMut) -> usize {
        if self.skipping > 0 {
            return usize::try_from(self.skipping)
                .unwrap_or(usize::MAX)
                .min(64 * 1024);
        }
        if buf.len() < 4 {
            return 4 - buf.len();
        }
        let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        let whole = 4 + len.min(self.max_message.max(HEADER_LEN));
        whole.saturating_sub(buf.len()).clamp(1, 64 * 1024)
    }

    /// Takes one frame off `buf` when it is there.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        if self.skipping > 0 {
            let n = (buf.len() as u64).min(self.skipping);
            buf.advance(n as usize);
            self.skipping -= n;
            if self.skipping > 0 {
                return Ok(None);
            }
        }
        if buf.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
        if (len as usize) < HEADER_LEN {
            return Err(FrameError(len));
        }
        if buf.len() < 4 + HEADER_LEN {
            return Ok(None);
        }
        let mut h = [0u8; HEADER_LEN];
        h.copy_from_slice(&buf[4..4 + HEADER_LEN]);
        let header = Header::from_bytes(&h);
        if len as usize > self.max_message {
            buf.advance(4 + HEADER_LEN);
            self.skipping = u64::from(len) - HEADER_LEN as u64;
            let n = (buf.len() as u64).min(self.skipping);
            buf.advance(n as usize);
            self.skipping -= n;
            return Ok(Some(Frame::TooLong {
                header,
                length: len,
            }));
        }
        if buf.len() < 4 + len as usize {
            return Ok(None);
        }
        buf.advance(4 + HEADER_LEN);
        let body = buf.split_to(len as usize - HEADER_LEN).freeze();
        Ok(Some(Frame::Message { header, body }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s1f1_frame_is_what_e37_shows() {
        let m = Message::header_only(1, 1, true);
        let f = encode_frame(&Header::data(0, &m, 1), None).unwrap();
        assert_eq!(f, [0, 0, 0, 10, 0, 0, 0x81, 1, 0, 0, 0, 0, 0, 1]);
        let sel = encode_frame(&Header::control(SType::SelectReq, 7), None).unwrap();
        assert_eq!(sel, [0, 0, 0, 10, 0xFF, 0xFF, 0, 0, 0, 1, 0, 0, 0, 7]);
    }

    #[test]
    fn frames_come_out_whole_whatever_the_chunks() {
        let m = Message::request(1, 3, Item::list([Item::u4(1002), Item::u4(1003)]));
        let mut wire = encode_frame(&Header::data(0, &m, 9), m.body.as_ref()).unwrap();
        wire.extend(encode_frame(&Header::control(SType::LinktestReq, 10), None).unwrap());
        for chunk in 1..wire.len() {
            let mut d = FrameDecoder::new(1024);
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            for c in wire.chunks(chunk) {
                buf.extend_from_slice(c);
                while let Some(f) = d.decode(&mut buf).unwrap() {
                    got.push(f);
                }
            }
            assert_eq!(got.len(), 2, "chunk {chunk}");
            assert!(!d.in_message(&buf));
        }
    }

    #[test]
    fn an_oversized_message_is_announced_then_skipped_unbuffered() {
        let big = Message::request(7, 3, Item::Binary(vec![0xAB; 5000]));
        let mut wire = encode_frame(&Header::data(0, &big, 4), big.body.as_ref()).unwrap();
        let small = Message::header_only(1, 1, true);
        wire.extend(encode_frame(&Header::data(0, &small, 5), None).unwrap());
        let mut d = FrameDecoder::new(1000);
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        let mut most = 0;
        for c in wire.chunks(100) {
            buf.extend_from_slice(c);
            while let Some(f) = d.decode(&mut buf).unwrap() {
                got.push(f);
            }
            most = most.max(buf.len());
        }
        assert!(most <= 100, "held {most} bytes");
        assert!(
            matches!(got[0], Frame::TooLong { length, header } if length == 10 + 3 + 5000 && header.stream() == 7)
        );
        assert!(matches!(&got[1], Frame::Message { header, .. } if header.system == 5));
    }

    #[test]
    fn a_length_below_the_header_is_an_error() {
        let mut d = FrameDecoder::new(1000);
        let mut buf = BytesMut::from(&[0u8, 0, 0, 3, 1, 2, 3][..]);
        assert_eq!(d.decode(&mut buf), Err(FrameError(3)));
    }
}
