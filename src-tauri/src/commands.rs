//! Commands, one module per domain. Each adapts a `bonder-fleet` function and maps its
//! error to [`crate::CmdError`].

pub mod auth;
pub mod fleet;
pub mod recipes;
pub mod reports;
pub mod settings;
pub mod spc;
