//! SML, the text form of SECS-II messages used in logs, on the GEM panel and in tests:
//! `S1F3 W <L [1] <U4 1002>>`.
//!
//! [`to_sml`] writes one line; [`parse_message`] and [`parse_item`] read it back (also
//! the common multi-line layout with a trailing `.`). Text is written between double
//! quotes with `\"`, `\\` and `\xNN` escapes for quotes, backslashes, control bytes and
//! bytes that are not UTF-8; binary as `0x..` bytes; booleans as `TRUE`/`FALSE`.

use crate::item::{Format, Item};
use crate::message::Message;
use std::fmt::Write;

/// A message in SML on one line.
pub fn to_sml(m: &Message) -> String {
    let mut s = format!("S{}F{}", m.stream, m.function);
    if m.w {
        s.push_str(" W");
    }
    if let Some(body) = &m.body {
        s.push(' ');
        write_item(&mut s, body);
    }
    s
}

/// An item in SML on one line.
pub fn item_to_sml(i: &Item) -> String {
    let mut s = String::new();
    write_item(&mut s, i);
    s
}

/// [`to_sml`] cut to at most `max_chars` characters (with `…` when cut).
pub fn to_sml_cut(m: &Message, max_chars: usize) -> String {
    let s = to_sml(m);
    if s.chars().count() <= max_chars {
        return s;
    }
    let mut cut: String = s.chars().take(max_chars.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

fn write_item(s: &mut String, i: &Item) {
    s.push('<');
    s.push_str(i.format().sml_name());
    match i {
        Item::List(v) => {
            let _ = write!(s, " [{}]", v.len());
            for e in v {
                s.push(' ');
                write_item(s, e);
            }
        }
        Item::Ascii(b) | Item::Jis8(b) => {
            s.push(' ');
            write_text(s, b);
        }
        Item::Binary(b) => b.iter().for_each(|x| {
            let _ = write!(s, " 0x{x:02X}");
        }),
        Item::Boolean(b) => b.iter().for_each(|x| {
            s.push_str(if *x { " TRUE" } else { " FALSE" });
        }),
        Item::I1(v) => nums(s, v),
        Item::I2(v) => nums(s, v),
        Item::I4(v) => nums(s, v),
        Item::I8(v) => nums(s, v),
        Item::U1(v) => nums(s, v),
        Item::U2(v) => nums(s, v),
        Item::U4(v) => nums(s, v),
        Item::U8(v) => nums(s, v),
        Item::F4(v) => floats(s, v.iter().map(|&x| x.to_string())),
        Item::F8(v) => floats(s, v.iter().map(|&x| x.to_string())),
    }
    s.push('>');
}

fn nums<T: std::fmt::Display>(s: &mut String, v: &[T]) {
    for x in v {
        let _ = write!(s, " {x}");
    }
}

fn floats(s: &mut String, v: impl Iterator<Item = String>) {
    for x in v {
        s.push(' ');
        s.push_str(&x);
    }
}

fn write_text(s: &mut String, b: &[u8]) {
    s.push('"');
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => s.push_str("\\\""),
                '\\' => s.push_str("\\\\"),
                c if (c as u32) < 0x20 || c == '\u{7f}' => {
                    let _ = write!(s, "\\x{:02X}", c as u32);
                }
                c => s.push(c),
            }
        }
        for x in chunk.invalid() {
            let _ = write!(s, "\\x{x:02X}");
        }
    }
    s.push('"');
}

/// Why SML text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SML at character {at}: {what}")]
pub struct SmlError {
    pub at: usize,
    pub what: String,
}

struct Parser<'a> {
    src: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn err<T>(&self, what: impl Into<String>) -> Result<T, SmlError> {
        Err(SmlError {
            at: self.at,
            what: what.into(),
        })
    }

    fn skip_ws(&mut self) {
        while self.at < self.src.len() && self.src[self.at].is_ascii_whitespace() {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.src.get(self.at).copied()
    }

    fn word(&mut self) -> &str {
        self.skip_ws();
        let start = self.at;
        while self.at < self.src.len() {
            let c = self.src[self.at];
            if c.is_ascii_whitespace() || c == b'<' || c == b'>' || c == b'[' || c == b'"' {
                break;
            }
            self.at += 1;
        }
        std::str::from_utf8(&self.src[start..self.at]).unwrap_or("")
    }

    fn item(&mut self) -> Result<Item, SmlError> {
        if self.peek() != Some(b'<') {
            return self.err("expected '<'");
        }
        self.at += 1;
        let name = self.word().to_string();
        let Some(format) = Format::from_sml_name(&name) else {
            return self.err(format!("unknown format {name:?}"));
        };
        // An optional element count: `[3]` (checked for lists).
        let mut count = None;
        if self.peek() == Some(b'[') {
            self.at += 1;
            let n = self.word().trim_end_matches(']').to_string();
            if self.peek() == Some(b']') {
                self.at += 1;
            }
            count = Some(n.parse::<usize>().or_else(|_| self.err("bad count"))?);
        }
        let item = match format {
            Format::List => {
                let mut v = Vec::new();
                while self.peek() == Some(b'<') {
                    v.push(self.item()?);
                }
                if let Some(n) = count {
                    if n != v.len() {
                        return self.err(format!("list says [{n}] but has {}", v.len()));
                    }
                }
                Item::List(v)
            }
            Format::Ascii | Format::Jis8 => {
                let mut b = Vec::new();
                while self.peek() == Some(b'"') {
                    b.extend(self.text()?);
                }
                if format == Format::Ascii {
                    Item::Ascii(b)
                } else {
                    Item::Jis8(b)
                }
            }
            _ => {
                let mut words = Vec::new();
                while !matches!(self.peek(), Some(b'>') | None) {
                    words.push(self.word().to_string());
                    if words.last().is_some_and(String::is_empty) {
                        return self.err("unexpected character");
                    }
                }
                self.values(format, &words)?
            }
        };
        if self.peek() != Some(b'>') {
            return self.err("expected '>'");
        }
        self.at += 1;
        Ok(item)
    }

    fn text(&mut self) -> Result<Vec<u8>, SmlError> {
        self.at += 1; // the opening quote
        let mut out = Vec::new();
        loop {
            match self.src.get(self.at).copied() {
                None => return self.err("unterminated text"),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    match self.src.get(self.at + 1).copied() {
                        Some(b'x') => {
                            let hex = self
                                .src
                                .get(self.at + 2..self.at + 4)
                                .and_then(|h| std::str::from_utf8(h).ok())
                                .and_then(|h| u8::from_str_radix(h, 16).ok());
                            match hex {
                                Some(b) => out.push(b),
                                None => return self.err("bad \\x escape"),
                            }
                            self.at += 4;
                            continue;
                        }
                        Some(c) => out.push(c),
                        None => return self.err("unterminated text"),
                    }
                    self.at += 2;
                }
                Some(c) => {
                    out.push(c);
                    self.at += 1;
                }
            }
        }
    }

    fn values(&self, format: Format, words: &[String]) -> Result<Item, SmlError> {
        fn all<T>(w: &[String], f: impl Fn(&str) -> Option<T>) -> Option<Vec<T>> {
            w.iter().map(|s| f(s)).collect()
        }
        fn int<T: TryFrom<i128>>(s: &str) -> Option<T> {
            let v = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                i128::from_str_radix(h, 16).ok()?
            } else {
                s.parse::<i128>().ok()?
            };
            T::try_from(v).ok()
        }
        let item = match format {
            Format::Binary => all(words, int::<u8>).map(Item::Binary),
            Format::Boolean => all(words, |s| match s.to_ascii_uppercase().as_str() {
                "TRUE" | "T" | "1" => Some(true),
                "FALSE" | "F" | "0" => Some(false),
                _ => None,
            })
            .map(Item::Boolean),
            Format::I1 => all(words, int::<i8>).map(Item::I1),
            Format::I2 => all(words, int::<i16>).map(Item::I2),
            Format::I4 => all(words, int::<i32>).map(Item::I4),
            Format::I8 => all(words, int::<i64>).map(Item::I8),
            Format::U1 => all(words, int::<u8>).map(Item::U1),
            Format::U2 => all(words, int::<u16>).map(Item::U2),
            Format::U4 => all(words, int::<u32>).map(Item::U4),
            Format::U8 => all(words, int::<u64>).map(Item::U8),
            Format::F4 => all(words, |s| s.parse::<f32>().ok()).map(Item::F4),
            Format::F8 => all(words, |s| s.parse::<f64>().ok()).map(Item::F8),
            Format::List | Format::Ascii | Format::Jis8 => None,
        };
        match item {
            Some(i) => Ok(i),
            None => self.err(format!("bad {format} value in {words:?}")),
        }
    }
}

/// Reads one item.
pub fn parse_item(text: &str) -> Result<Item, SmlError> {
    let mut p = Parser {
        src: text.as_bytes(),
        at: 0,
    };
    let i = p.item()?;
    if p.peek().is_some_and(|c| c != b'.') {
        return p.err("text after the item");
    }
    Ok(i)
}

/// Reads a message: `SxFy [W] [item] [.]`.
pub fn parse_message(text: &str) -> Result<Message, SmlError> {
    let mut p = Parser {
        src: text.as_bytes(),
        at: 0,
    };
    let head = p.word().to_ascii_uppercase();
    let parsed = head.strip_prefix('S').and_then(|r| {
        let (s, f) = r.split_once('F')?;
        Some((s.parse::<u8>().ok()?, f.parse::<u8>().ok()?))
    });
    let Some((stream, function)) = parsed.filter(|(s, _)| *s < 128) else {
        return p.err(format!("expected SxFy, found {head:?}"));
    };
    let mut w = false;
    if p.peek() == Some(b'W') || p.peek() == Some(b'w') {
        p.at += 1;
        w = true;
    }
    let body = if p.peek() == Some(b'<') {
        Some(p.item()?)
    } else {
        None
    };
    if p.peek() == Some(b'.') {
        p.at += 1;
    }
    if p.peek().is_some() {
        return p.err("text after the message");
    }
    Ok(Message {
        stream,
        function,
        w,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manuals_example() {
        let m = Message::request(1, 3, Item::list([Item::u4(1002)]));
        assert_eq!(to_sml(&m), "S1F3 W <L [1] <U4 1002>>");
        assert_eq!(parse_message("S1F3 W <L [1] <U4 1002>>").unwrap(), m);
    }

    #[test]
    fn multi_line_layout_and_text_escapes() {
        let m = parse_message("S10F3 W\n<L [2]\n  <B 0x00>\n  <A \"换线 \\\"A\\\" \\x01\">\n>\n.")
            .unwrap();
        assert_eq!(
            m.body,
            Some(Item::list([
                Item::Binary(vec![0]),
                Item::Ascii("换线 \"A\" \u{1}".as_bytes().to_vec())
            ]))
        );
        assert_eq!(
            to_sml(&m),
            "S10F3 W <L [2] <B 0x00> <A \"换线 \\\"A\\\" \\x01\">>"
        );
        // Bytes that are not UTF-8 survive the round trip.
        let odd = Item::Ascii(vec![b'a', 0xFF, b'b']);
        assert_eq!(item_to_sml(&odd), "<A \"a\\xFFb\">");
        assert_eq!(parse_item(&item_to_sml(&odd)).unwrap(), odd);
    }

    #[test]
    fn bad_sml_is_an_error() {
        for bad in [
            "S1F3 W <L [2] <U4 1>>",
            "S1F3 <U4 x>",
            "S1F3 <Q 1>",
            "S1F3 <A \"open",
            "S200F1",
            "S1F3 <U1 256>",
        ] {
            assert!(parse_message(bad).is_err(), "{bad}");
        }
    }
}
