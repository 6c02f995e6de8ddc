//! SECS-II data items (SEMI E5 §9): the formats, their binary encoding and a decoder that
//! checks every length against what is left of the message before it allocates.
//!
//! An item is a format byte (format code in the upper six bits, the number of length
//! bytes, 1–3, in the lower two), the length (big-endian; for a list the number of
//! elements, else the number of bytes) and the data, big-endian.

use std::borrow::Cow;
use std::fmt;

/// A SECS-II item.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    List(Vec<Item>),
    Binary(Vec<u8>),
    Boolean(Vec<bool>),
    /// Text. E5 says 7-bit ASCII; operator-entered text (notes in Chinese) arrives as
    /// UTF-8, so the bytes are kept as received and read with [`Item::text`].
    Ascii(Vec<u8>),
    /// JIS-8 text, kept as bytes.
    Jis8(Vec<u8>),
    I1(Vec<i8>),
    I2(Vec<i16>),
    I4(Vec<i32>),
    I8(Vec<i64>),
    U1(Vec<u8>),
    U2(Vec<u16>),
    U4(Vec<u32>),
    U8(Vec<u64>),
    F4(Vec<f32>),
    F8(Vec<f64>),
}

/// The item formats, with their E5 format codes (octal in the standard).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    List,
    Binary,
    Boolean,
    Ascii,
    Jis8,
    I1,
    I2,
    I4,
    I8,
    U1,
    U2,
    U4,
    U8,
    F4,
    F8,
}

impl Format {
    pub const ALL: [Format; 15] = [
        Format::List,
        Format::Binary,
        Format::Boolean,
        Format::Ascii,
        Format::Jis8,
        Format::I1,
        Format::I2,
        Format::I4,
        Format::I8,
        Format::U1,
        Format::U2,
        Format::U4,
        Format::U8,
        Format::F4,
        Format::F8,
    ];

    /// The six-bit format code.
    pub fn code(self) -> u8 {
        match self {
            Format::List => 0o00,
            Format::Binary => 0o10,
            Format::Boolean => 0o11,
            Format::Ascii => 0o20,
            Format::Jis8 => 0o21,
            Format::I8 => 0o30,
            Format::I1 => 0o31,
            Format::I2 => 0o32,
            Format::I4 => 0o34,
            Format::F8 => 0o40,
            Format::F4 => 0o44,
            Format::U8 => 0o50,
            Format::U1 => 0o51,
            Format::U2 => 0o52,
            Format::U4 => 0o54,
        }
    }

    pub fn from_code(code: u8) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.code() == code)
    }

    /// Bytes per element (a list's elements are items: 0).
    pub fn element_size(self) -> usize {
        match self {
            Format::List => 0,
            Format::Binary
            | Format::Boolean
            | Format::Ascii
            | Format::Jis8
            | Format::I1
            | Format::U1 => 1,
            Format::I2 | Format::U2 => 2,
            Format::I4 | Format::U4 | Format::F4 => 4,
            Format::I8 | Format::U8 | Format::F8 => 8,
        }
    }

    /// The name in SML (`L`, `B`, `BOOLEAN`, `A`, `J`, `I1`, …).
    pub fn sml_name(self) -> &'static str {
        match self {
            Format::List => "L",
            Format::Binary => "B",
            Format::Boolean => "BOOLEAN",
            Format::Ascii => "A",
            Format::Jis8 => "J",
            Format::I1 => "I1",
            Format::I2 => "I2",
            Format::I4 => "I4",
            Format::I8 => "I8",
            Format::U1 => "U1",
            Format::U2 => "U2",
            Format::U4 => "U4",
            Format::U8 => "U8",
            Format::F4 => "F4",
            Format::F8 => "F8",
        }
    }

    pub fn from_sml_name(name: &str) -> Option<Format> {
        let upper = name.to_ascii_uppercase();
        Format::ALL
            .into_iter()
            .find(|f| f.sml_name() == upper || (upper == "BOOL" && *f == Format::Boolean))
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sml_name())
    }
}

/// The largest length three length bytes can say.
pub const MAX_ITEM_LENGTH: usize = 0x00FF_FFFF;
/// Lists nested deeper than this are refused (a crafted message must not exhaust the
/// stack).
pub const MAX_DEPTH: usize = 64;

/// Why a body could not be decoded (the receiver answers S9F7).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("item at byte {at}: format code {code:#o} is not a SECS-II format")]
    UnknownFormat { at: usize, code: u8 },
    #[error("item at byte {at}: zero length bytes")]
    NoLengthBytes { at: usize },
    #[error("item at byte {at}: {needed} bytes needed, {left} left in the message")]
    Truncated {
        at: usize,
        needed: usize,
        left: usize,
    },
    #[error("item at byte {at}: {len} bytes is not a whole number of {format} elements")]
    Ragged {
        at: usize,
        format: Format,
        len: usize,
    },
    #[error("item at byte {at}: lists nested deeper than {MAX_DEPTH}")]
    TooDeep { at: usize },
    #[error("{0} bytes after the item")]
    Trailing(usize),
}

/// Why an item cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {format} item of length {len} is longer than SECS-II allows ({MAX_ITEM_LENGTH})")]
pub struct EncodeError {
    pub format: Format,
    pub len: usize,
}

impl Item {
    pub fn format(&self) -> Format {
        match self {
            Item::List(_) => Format::List,
            Item::Binary(_) => Format::Binary,
            Item::Boolean(_) => Format::Boolean,
            Item::Ascii(_) => Format::Ascii,
            Item::Jis8(_) => Format::Jis8,
            Item::I1(_) => Format::I1,
            Item::I2(_) => Format::I2,
            Item::I4(_) => Format::I4,
            Item::I8(_) => Format::I8,
            Item::U1(_) => Format::U1,
            Item::U2(_) => Format::U2,
            Item::U4(_) => Format::U4,
            Item::U8(_) => Format::U8,
            Item::F4(_) => Format::F4,
            Item::F8(_) => Format::F8,
        }
    }

    /// The length field: elements of a list, else bytes.
    pub fn length(&self) -> usize {
        match self {
            Item::List(v) => v.len(),
            Item::Binary(v) | Item::Ascii(v) | Item::Jis8(v) | Item::U1(v) => v.len(),
            Item::Boolean(v) => v.len(),
            Item::I1(v) => v.len(),
            Item::I2(v) => v.len() * 2,
            Item::U2(v) => v.len() * 2,
            Item::I4(v) => v.len() * 4,
            Item::U4(v) => v.len() * 4,
            Item::F4(v) => v.len() * 4,
            Item::I8(v) => v.len() * 8,
            Item::U8(v) => v.len() * 8,
            Item::F8(v) => v.len() * 8,
        }
    }

    // --- constructors -------------------------------------------------------------

    pub fn list(items: impl IntoIterator<Item = Item>) -> Item {
        Item::List(items.into_iter().collect())
    }
    pub fn ascii(text: impl AsRef<str>) -> Item {
        Item::Ascii(text.as_ref().as_bytes().to_vec())
    }
    pub fn binary(b: u8) -> Item {
        Item::Binary(vec![b])
    }
    pub fn boolean(b: bool) -> Item {
        Item::Boolean(vec![b])
    }
    pub fn u1(v: u8) -> Item {
        Item::U1(vec![v])
    }
    pub fn u2(v: u16) -> Item {
        Item::U2(vec![v])
    }
    pub fn u4(v: u32) -> Item {
        Item::U4(vec![v])
    }
    pub fn f4(v: f32) -> Item {
        Item::F4(vec![v])
    }

    // --- readers ------------------------------------------------------------------

    pub fn as_list(&self) -> Option<&[Item]> {
        match self {
            Item::List(v) => Some(v),
            _ => None,
        }
    }

    /// The text of an A (or J) item, UTF-8 read leniently.
    pub fn text(&self) -> Option<Cow<'_, str>> {
        match self {
            Item::Ascii(b) | Item::Jis8(b) => Some(String::from_utf8_lossy(b)),
            _ => None,
        }
    }

    /// The bytes of a B, A or J item.
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Item::Binary(b) | Item::Ascii(b) | Item::Jis8(b) => Some(b),
            _ => None,
        }
    }

    /// A single unsigned or non-negative signed integer of any width (E5 lets a host
    /// send an id in any integer format).
    pub fn as_u64(&self) -> Option<u64> {
        let one = |n: usize| (n == 1).then_some(());
        match self {
            Item::U1(v) => one(v.len()).map(|_| u64::from(v[0])),
            Item::U2(v) => one(v.len()).map(|_| u64::from(v[0])),
            Item::U4(v) => one(v.len()).map(|_| u64::from(v[0])),
            Item::U8(v) => one(v.len()).map(|_| v[0]),
            Item::I1(v) => one(v.len()).and_then(|_| u64::try_from(v[0]).ok()),
            Item::I2(v) => one(v.len()).and_then(|_| u64::try_from(v[0]).ok()),
            Item::I4(v) => one(v.len()).and_then(|_| u64::try_from(v[0]).ok()),
            Item::I8(v) => one(v.len()).and_then(|_| u64::try_from(v[0]).ok()),
            _ => None,
        }
    }

    /// [`Item::as_u64`] narrowed to `u32` (the ids of the GEM manual).
    pub fn as_u32(&self) -> Option<u32> {
        self.as_u64().and_then(|v| u32::try_from(v).ok())
    }

    /// A single number of any numeric format, as `f64`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Item::F4(v) if v.len() == 1 => Some(f64::from(v[0])),
            Item::F8(v) if v.len() == 1 => Some(v[0]),
            Item::I1(v) if v.len() == 1 => Some(f64::from(v[0])),
            Item::I2(v) if v.len() == 1 => Some(f64::from(v[0])),
            Item::I4(v) if v.len() == 1 => Some(f64::from(v[0])),
            Item::I8(v) if v.len() == 1 => Some(v[0] as f64),
            _ => self.as_u64().map(|v| v as f64),
        }
    }

    /// A single BOOLEAN (or a one-byte B/U1: 0 false, else true).
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Item::Boolean(v) if v.len() == 1 => Some(v[0]),
            Item::Binary(v) | Item::U1(v) if v.len() == 1 => Some(v[0] != 0),
            _ => None,
        }
    }

    /// The element of a list at `i`.
    pub fn at(&self, i: usize) -> Option<&Item> {
        self.as_list().and_then(|l| l.get(i))
    }

    // --- encoding -----------------------------------------------------------------

    /// The encoded size in bytes.
    pub fn encoded_len(&self) -> usize {
        let len = self.length();
        let header = 1 + length_bytes(len);
        match self {
            Item::List(v) => header + v.iter().map(Item::encoded_len).sum::<usize>(),
            _ => header + len,
        }
    }

    /// Appends the encoding to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let len = self.length();
        if len > MAX_ITEM_LENGTH {
            return Err(EncodeError {
                format: self.format(),
                len,
            });
        }
        let n = length_bytes(len);
        out.push((self.format().code() << 2) | n as u8);
        out.extend_from_slice(&(len as u32).to_be_bytes()[4 - n..]);
        match self {
            Item::List(v) => {
                for i in v {
                    i.encode_into(out)?;
                }
            }
            Item::Binary(v) | Item::Ascii(v) | Item::Jis8(v) | Item::U1(v) => {
                out.extend_from_slice(v)
            }
            Item::Boolean(v) => out.extend(v.iter().map(|&b| u8::from(b))),
            Item::I1(v) => out.extend(v.iter().map(|&x| x as u8)),
            Item::I2(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_be_bytes())),
            Item::I4(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_be_bytes())),
            Item::I8(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_be_bytes())),
            Item::U2(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_be_bytes())),
            Item::U4(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_be_bytes())),
            Item::U8(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_be_bytes())),
            Item::F4(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_be_bytes())),
            Item::F8(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_be_bytes())),
        }
        Ok(())
    }

    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out)?;
        Ok(out)
    }

    // --- decoding -----------------------------------------------------------------

    /// Decodes one item that must fill `bytes` exactly.
    pub fn decode(bytes: &[u8]) -> Result<Item, DecodeError> {
        let mut at = 0;
        let item = decode_at(bytes, &mut at, 0)?;
        if at != bytes.len() {
            return Err(DecodeError::Trailing(bytes.len() - at));
        }
        Ok(item)
    }
}

/// Length bytes needed for `len` (at least one).
fn length_bytes(len: usize) -> usize {
    if len <= 0xFF {
        1
    } else if len <= 0xFFFF {
        2
    } else {
        3
    }
}

fn take<'a>(
    bytes: &'a [u8],
    at: &mut usize,
    n: usize,
    item_at: usize,
) -> Result<&'a [u8], DecodeError> {
    let left = bytes.len() - *at;
    if n > left {
        return Err(DecodeError::Truncated {
            at: item_at,
            needed: n,
            left,
        });
    }
    let s = &bytes[*at..*at + n];
    *at += n;
    Ok(s)
}

fn decode_at(bytes: &[u8], at: &mut usize, depth: usize) -> Result<Item, DecodeError> {
    let start = *at;
    let head = take(bytes, at, 1, start)?[0];
    let code = head >> 2;
    let n = usize::from(head & 0b11);
    if n == 0 {
        return Err(DecodeError::NoLengthBytes { at: start });
    }
    let format = Format::from_code(code).ok_or(DecodeError::UnknownFormat { at: start, code })?;
    let len = take(bytes, at, n, start)?
        .iter()
        .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    if format == Format::List {
        if depth >= MAX_DEPTH {
            return Err(DecodeError::TooDeep { at: start });
        }
        // Every element takes at least two bytes: never reserve more than what is left
        // could hold.
        let left = bytes.len() - *at;
        if len > left / 2 {
            return Err(DecodeError::Truncated {
                at: start,
                needed: len * 2,
                left,
            });
        }
        let mut v = Vec::with_capacity(len);
        for _ in 0..len {
            v.push(decode_at(bytes, at, depth + 1)?);
        }
        return Ok(Item::List(v));
    }
    let size = format.element_size();
    if len % size != 0 {
        return Err(DecodeError::Ragged {
            at: start,
            format,
            len,
        });
    }
    let data = take(bytes, at, len, start)?;
    fn be<const N: usize, T>(data: &[u8], f: impl Fn([u8; N]) -> T) -> Vec<T> {
        data.chunks_exact(N)
            .map(|c| {
                let mut a = [0u8; N];
                a.copy_from_slice(c);
                f(a)
            })
            .collect()
    }
    Ok(match format {
        Format::List => unreachable!("lists are decoded above"),
        Format::Binary => Item::Binary(data.to_vec()),
        Format::Boolean => Item::Boolean(data.iter().map(|&b| b != 0).collect()),
        Format::Ascii => Item::Ascii(data.to_vec()),
        Format::Jis8 => Item::Jis8(data.to_vec()),
        Format::U1 => Item::U1(data.to_vec()),
        Format::I1 => Item::I1(data.iter().map(|&b| b as i8).collect()),
        Format::I2 => Item::I2(be(data, i16::from_be_bytes)),
        Format::I4 => Item::I4(be(data, i32::from_be_bytes)),
        Format::I8 => Item::I8(be(data, i64::from_be_bytes)),
        Format::U2 => Item::U2(be(data, u16::from_be_bytes)),
        Format::U4 => Item::U4(be(data, u32::from_be_bytes)),
        Format::U8 => Item::U8(be(data, u64::from_be_bytes)),
        Format::F4 => Item::F4(be(data, f32::from_be_bytes)),
        Format::F8 => Item::F8(be(data, f64::from_be_bytes)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_bytes_are_those_of_e5() {
        // Format byte with one length byte, as E5's table lists them.
        let expect = [
            (Format::List, 0x01),
            (Format::Binary, 0x21),
            (Format::Boolean, 0x25),
            (Format::Ascii, 0x41),
            (Format::Jis8, 0x45),
            (Format::I8, 0x61),
            (Format::I1, 0x65),
            (Format::I2, 0x69),
            (Format::I4, 0x71),
            (Format::F8, 0x81),
            (Format::F4, 0x91),
            (Format::U8, 0xA1),
            (Format::U1, 0xA5),
            (Format::U2, 0xA9),
            (Format::U4, 0xB1),
        ];
        for (f, b) in expect {
            assert_eq!((f.code() << 2) | 1, b, "{f}");
        }
    }

    #[test]
    fn known_encodings() {
        assert_eq!(
            Item::list([Item::u4(1002)]).encode().unwrap(),
            [0x01, 0x01, 0xB1, 0x04, 0x00, 0x00, 0x03, 0xEA]
        );
        assert_eq!(
            Item::ascii("OK").encode().unwrap(),
            [0x41, 0x02, b'O', b'K']
        );
        assert_eq!(Item::List(vec![]).encode().unwrap(), [0x01, 0x00]);
        // 300 bytes take two length bytes, 70 000 three.
        let b = Item::Binary(vec![7; 300]).encode().unwrap();
        assert_eq!(&b[..3], [0x22, 0x01, 0x2C]);
        let b = Item::Binary(vec![7; 70_000]).encode().unwrap();
        assert_eq!(&b[..4], [0x23, 0x01, 0x11, 0x70]);
        assert_eq!(Item::decode(&b).unwrap(), Item::Binary(vec![7; 70_000]));
    }

    #[test]
    fn any_integer_width_reads_as_an_id() {
        for i in [
            Item::u1(5),
            Item::u2(5),
            Item::u4(5),
            Item::U8(vec![5]),
            Item::I1(vec![5]),
            Item::I2(vec![5]),
            Item::I4(vec![5]),
            Item::I8(vec![5]),
        ] {
            assert_eq!(i.as_u32(), Some(5), "{i:?}");
        }
        assert_eq!(Item::I4(vec![-1]).as_u32(), None);
        assert_eq!(Item::U4(vec![1, 2]).as_u32(), None);
    }

    #[test]
    fn bad_bodies_are_errors_not_panics() {
        // A list of 1 000 000 elements in 6 bytes: refused before reserving anything.
        assert!(matches!(
            Item::decode(&[0x03, 0x0F, 0x42, 0x40, 0xB1, 0x04]),
            Err(DecodeError::Truncated { .. })
        ));
        assert_eq!(
            Item::decode(&[0xB1, 0x03, 0, 0, 0]),
            Err(DecodeError::Ragged {
                at: 0,
                format: Format::U4,
                len: 3
            })
        );
        assert_eq!(
            Item::decode(&[0x40, 0x00]),
            Err(DecodeError::NoLengthBytes { at: 0 })
        );
        assert!(matches!(
            Item::decode(&[0xFD, 0x00]),
            Err(DecodeError::UnknownFormat { .. })
        ));
        let deep: Vec<u8> = std::iter::repeat_n([0x01, 0x01], 100).flatten().collect();
        assert!(matches!(
            Item::decode(&deep),
            Err(DecodeError::TooDeep { .. } | DecodeError::Truncated { .. })
        ));
        assert_eq!(
            Item::decode(&[0xA5, 0x01, 9, 0xFF]),
            Err(DecodeError::Trailing(1))
        );
    }
}
