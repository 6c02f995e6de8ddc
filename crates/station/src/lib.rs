//! `bonder-station`: the operator station of one wire bonder, as a library whose
//! binary only calls [`run`].
//!
//! * [`cli`]: flags, subcommands, settings (flags over `station.toml` over defaults),
//!   logs; [`run`].
//! * [`wiring`]: a running station — store and its writer, the runtime (link, judge,
//!   counters), the camera feed, the gateway with its store-backed outbox, backfills
//!   and commands, the changeover service — and the headless loop.
//! * [`ui_store`]: the UI's storage traits over the SQLite store.
//! * [`gateway_link`], [`backfill`], [`persist`], [`camera`]: the adapters between the
//!   runtime, the store and the gateway; [`health`], [`strength`], [`pull_tests`]: the
//!   data closed loop (process health, predicted strength, test results);
//!   [`window_search`]: the process-window search on the machine.
//! * [`admin`]: the command line's user administration and audit export (SIEM);
//! * [`export`], [`status`], [`demo`]: CLI commands, the status line, the simulator
//!   demos (screenshots, the camera page's load figures).
//!
//! **Architecture invariant:** this is the only crate that knows every other one; it
//! holds wiring and adapters, no domain rules (those are in `bonder-core`) and no UI
//! (that is `bonder-station-ui`).

pub mod admin;
pub mod backfill;
pub mod camera;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod export;
pub mod gateway_link;
pub mod gem_link;
pub mod health;
pub mod opcua_link;
pub mod persist;
pub mod pull_tests;
pub mod status;
pub mod strength;
pub mod ui_store;
pub mod window_search;
pub mod wiring;

pub use cli::run;
