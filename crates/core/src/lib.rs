//! Domain core of the bonder HMI.
//!
//! **Architecture invariant:** this crate does no IO, spawns nothing, knows no UI, no
//! protocol and no database. It takes values and returns decisions; everything else in
//! the workspace depends on it, and it depends on nothing of ours.
//!
//! * [`recipe`]: the recipe document, its controller block and validation;
//! * [`bond`], [`features`], [`envelope`], [`judge`]: a bond, its curve features, the
//!   learned envelope and the station's verdict;
//! * [`alarm`], [`state`]: alarm codes and machine states/commands of the controller;
//! * [`counters`]: wires, rejects, yield, wire rate, UPH;
//! * [`changeover`]: the guided changeover's steps, checks and duration report;
//! * [`spc`]: I-MR charts, Cp/Cpk/Pp/Ppk, Western Electric rules;
//! * [`login`]: the PIN/password rules and the lockout after failed sign-ins;
//! * [`permissions`]: the one [`Role`] and the one permission table that every UI,
//!   store and protocol asks.

pub mod alarm;
pub mod bond;
pub mod cause;
pub mod changeover;
pub mod clock;
pub mod counters;
pub mod drift;
pub mod envelope;
pub mod features;
pub mod forecast;
pub mod health;
pub mod judge;
pub mod login;
pub mod permissions;
pub mod pull_test;
pub mod recipe;
pub mod spc;
pub mod state;
pub mod strength;
pub mod text;
pub mod units;
pub mod window;
pub mod window_session;

pub use alarm::AlarmCode;
pub use bond::{BondEvent, BondKind, ChannelId, Curve, Defect, Verdict};
pub use counters::{CounterSnapshot, Counters};
pub use judge::{Judge, Judgement};
pub use permissions::{Forbidden, Permission, Role};
pub use recipe::{Param, Recipe, RecipeError, Violation, Violations};
pub use state::{Command, CommandRefusal, MachineState};
