//! The station's guided recipe changeover (issue 7).
//!
//! [`ChangeoverService`] drives the steps of [`bonder_core::changeover`] against the
//! real controller through the station runtime (stop and enter setup, download with CRC
//! read-back, wait for the heater and forming gas to settle, bond the first unit, back
//! to production) and persists the wizard's state to the store after **every** change
//! (flushed before the call returns), so a station restart resumes at the same step.
//! When a changeover is signed off, its record goes to the store (steps with their
//! outcome, first-article results, an audit row) and to the gateway's outbox as
//! `{S}/changeovers`. Abandoning one rolls the machine back to the previous recipe,
//! verified by CRC.
//!
//! Front ends read [`ChangeoverService::view`] (a cheap clone of the latest state) and
//! show errors from [`ChangeoverError::key`]/[`ChangeoverError::args`] through Fluent.

pub use bonder_core::changeover as model;

mod error;
mod report;
mod service;

pub use error::ChangeoverError;
pub use report::{step_report, write_report_csv};
pub use service::{ChangeoverService, FirstArticleBond, Refusal, ServiceConfig, View};
