//! `bonder-gem`: the station as SECS/GEM equipment (SEMI E30) over `bonder-secs`, as
//! `docs/spec/secs-gem.md` (the equipment's GEM manual) describes it.
//!
//! * [`ids`]: the SVIDs, DVIDs, ECIDs and CEIDs of the manual; [`config`]: the
//!   equipment constants with their ranges and what the host configures
//!   ([`HostConfig`]).
//! * [`port`]: what GEM needs of the station ([`Equipment`]) and of storage
//!   ([`GemStore`]) — the station implements them over its runtime and SQLite store.
//! * [`equipment`]: the state models (communication, control, processing), the host's
//!   primaries, event reports, alarms, remote commands, process programs, terminal
//!   services and spooling, in one task; [`GemHandle`] for the station's panel.
//!
//! **Architecture invariant:** GEM knows no store, runtime or UI: only its ports.

pub mod config;
pub mod equipment;
pub mod ids;
pub mod port;

pub use config::{EcValue, HostConfig};
pub use equipment::{
    CommState, ControlState, GemHandle, GemIdentity, GemStatus, PanelError, TerminalMessage, start,
};
pub use port::{
    AlarmInfo, Equipment, GemAction, GemAudit, GemStore, PortError, PpChange, PpRefusal,
    RemoteCommand, SpoolPush, Spooled, StationEvent, StationStatus,
};
