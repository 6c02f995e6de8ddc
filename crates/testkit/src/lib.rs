//! What the station's fault tests and scenarios share (a dev-dependency only; nothing
//! here ships): [`fault_proxy`], a TCP proxy that cuts, slows, trickles, half-closes,
//! resets and corrupts connections on command.

pub mod fault_proxy;
