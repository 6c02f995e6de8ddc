//! `bonder-secs`: SECS-II (SEMI E5) items and their SML text form, and HSMS-SS (E37,
//! E37.1) sessions over TCP with their timers — the protocol only. It knows nothing of
//! GEM (that is `bonder-gem`), as tokio-modbus knows nothing of our registers.
//!
//! Written by hand: no Rust crate implements single-session HSMS with its timers
//! (`semi_e5`/`semi_e37` are early, need nightly and lack HSMS-SS).
//!
//! * [`item`]: [`Item`] and its formats, encode, and a decoder that checks every length
//!   against what is left before allocating (random bytes never panic).
//! * [`sml`]: one-line SML for logs and the GEM panel, and a parser for tests.
//! * [`message`]: the HSMS header, [`Message`], control messages and [`FrameDecoder`],
//!   which never holds more than `max_message` bytes of one message.
//! * [`session`]: [`Session`], passive or active, replies matched to requests before any
//!   handler runs.

pub mod item;
pub mod message;
pub mod session;
pub mod sml;

pub use item::{DecodeError, Format, Item};
pub use message::{Frame, FrameDecoder, Header, Message, SType};
pub use session::{
    CloseReason, ConfigError, Event, HsmsConfig, LinkState, Mode, Primary, Refusal, ReplyToken,
    RequestError, Session, StartError, Timers,
};
