//! What GEM needs of the station (ports): its status, its alarms, its recipe library,
//! its commands, its audit trail ([`Equipment`]); and where the host's configuration and
//! the spool are kept ([`GemStore`]). The station implements both over its runtime and
//! its SQLite store; GEM knows neither.

use crate::config::HostConfig;
use bonder_core::state::MachineState;
use std::future::Future;

/// The station at one moment, as the status variables show it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StationStatus {
    /// The controller's machine state; `None` while the controller is offline.
    pub machine_state: Option<MachineState>,
    pub controller_online: bool,
    /// Running recipe, `name@version`.
    pub recipe_id: String,
    pub wires_bonded: u32,
    pub bonds_rejected: u32,
    pub yield_pct: f32,
    pub wire_rate_per_min: u32,
    pub capillary_touchdowns: u32,
    pub heater_temp_c: f32,
    /// Alarm codes set now.
    pub alarms_set: Vec<u32>,
    pub operator_id: String,
    pub lot_id: String,
    pub work_order: String,
}

/// What happened on the station that a host may be told of.
#[derive(Debug, Clone, PartialEq)]
pub enum StationEvent {
    MachineState(Option<MachineState>),
    UnitCompleted {
        unit: u32,
        wires: u32,
        rejects: u32,
    },
    BondRejected {
        seq: u64,
        unit: u32,
        verdict: String,
        ball_um: f32,
        dx_um: f32,
        dy_um: f32,
    },
    AlarmSet(u32),
    AlarmCleared(u32),
    PpChanged {
        ppid: String,
        change: PpChange,
    },
    PpSelected(String),
    ChangeoverStarted(String),
    ChangeoverCompleted {
        ppid: String,
        minutes: f32,
        first_article_passed: bool,
    },
    OperatorLoggedIn(String),
}

/// DV 2012.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum PpChange {
    Created = 1,
    Edited = 2,
    Released = 3,
    Retired = 4,
}

/// An alarm the station knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmInfo {
    pub alid: u32,
    /// English name, at most 120 characters.
    pub text: String,
    /// E5 ALCD category, 1..=7.
    pub category: u8,
}

/// A host's remote command, checked by GEM (state, REMOTE, parameters) before the
/// station runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteCommand {
    Start,
    Stop,
    Pause,
    /// Start from paused.
    Resume,
    /// A released `name@version` becomes the next job.
    PpSelect(String),
}

impl RemoteCommand {
    pub fn name(&self) -> &'static str {
        match self {
            RemoteCommand::Start => "START",
            RemoteCommand::Stop => "STOP",
            RemoteCommand::Pause => "PAUSE",
            RemoteCommand::Resume => "RESUME",
            RemoteCommand::PpSelect(_) => "PP-SELECT",
        }
    }
}

/// Why a process program download was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PpRefusal {
    #[error("{0} exists already (versions are never overwritten)")]
    Exists(String),
    #[error("{0}")]
    Invalid(String),
}

/// What GEM records in the station's audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GemAudit {
    /// `host`, or the operator who switched.
    pub who: String,
    /// `system` for the host; the operator's role for a panel action.
    pub role: Option<bonder_core::permissions::Role>,
    pub action: GemAction,
    /// What was acted on: `rcmd:START`, `ec:3003`, `recipe:AU-25@3`, `gem:control`.
    pub object: String,
    pub old: String,
    pub new: String,
}

/// The kind of an audited GEM action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GemAction {
    /// A host command carried out, or a setting changed.
    Command,
    /// A host command or peer refused.
    Refused,
    /// A process program stored as a draft.
    Create,
    /// The spool purged.
    Delete,
}

/// A failure of a port (the store, the station).
#[derive(Debug, thiserror::Error)]
#[error("{what}")]
pub struct PortError {
    pub what: String,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl PortError {
    pub fn new(
        what: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> PortError {
        PortError {
            what: what.into(),
            source: Some(Box::new(source)),
        }
    }
}

/// The station, as GEM uses it.
pub trait Equipment: Send + Sync + 'static {
    fn status(&self) -> StationStatus;
    /// Every alarm the station knows.
    fn alarms(&self) -> Vec<AlarmInfo>;
    /// Carries out a command GEM has accepted; `Err` says why it could not be done now.
    fn remote_command(&self, cmd: RemoteCommand)
    -> impl Future<Output = Result<(), String>> + Send;
    /// `name@version` of every version in the library.
    fn process_programs(&self) -> Vec<String>;
    /// A version's recipe document.
    fn process_program(&self, ppid: &str) -> Option<Vec<u8>>;
    /// Whether `ppid` is a released version.
    fn is_released(&self, ppid: &str) -> bool;
    /// Stores a downloaded document as a draft named `ppid` (validated as an import).
    fn download(&self, ppid: &str, body: &[u8]) -> Result<(), PpRefusal>;
    fn audit(&self, entry: GemAudit);
}

/// A spooled primary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spooled {
    pub stream: u8,
    pub function: u8,
    pub w: bool,
    /// The encoded SECS-II body (empty: none).
    pub body: Vec<u8>,
    pub time_ms: i64,
}

/// What a spool write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpoolPush {
    Stored,
    /// Full: the oldest was discarded to make room (OverWriteSpool).
    StoredDiscardingOldest,
    /// Full: this one was discarded.
    Discarded,
}

/// Where the host's configuration and the spool persist.
pub trait GemStore: Send + Sync + 'static {
    fn load(&self) -> Result<HostConfig, PortError>;
    /// Replaces the stored configuration with `cfg` (one transaction).
    fn save(&self, cfg: &HostConfig) -> Result<(), PortError>;
    fn spool_push(&self, m: &Spooled, max: u64, overwrite: bool) -> Result<SpoolPush, PortError>;
    /// The oldest `n` spooled messages with their ids.
    fn spool_oldest(&self, n: usize) -> Result<Vec<(i64, Spooled)>, PortError>;
    fn spool_delete(&self, id: i64) -> Result<(), PortError>;
    /// Deletes every spooled message; returns how many.
    fn spool_purge(&self) -> Result<u64, PortError>;
    fn spool_len(&self) -> Result<u64, PortError>;
}
