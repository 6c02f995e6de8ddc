//! Client side of the bonder controller link (`docs/spec/controller-link.md`).
//!
//! * [`frame`] and [`codec`]: the bond event stream's frames, byte for byte;
//! * [`convert`]: bond frames ↔ the domain's `BondEvent`;
//! * [`controller`]: the Modbus TCP client (status, commands, recipe download);
//! * [`stream`]: opening the event stream over TCP or a serial port;
//! * [`net`]: the socket options (keepalive) of every TCP connection we open.
//!
//! **Architecture invariant:** this crate knows the wire formats and nothing about what
//! the station does with a bond. It never panics on input from the wire.

pub mod codec;
pub mod controller;
pub mod convert;
pub mod frame;
pub mod net;
pub mod stream;

pub use controller::{Controller, DownloadFault, LinkError, LinkResult, Status, block_crc};
pub use stream::StreamEndpoint;
