//! Machine states (input register 1, stream frame 0x04) and commands (holding register 100).

use serde::{Deserialize, Serialize};

/// State of the bonder, as the controller reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MachineState {
    Idle,
    Running,
    Paused,
    Alarm,
    /// Changeover.
    Setup,
    #[serde(rename = "estop")]
    EStop,
}

impl MachineState {
    /// Every state in register order.
    pub const ALL: [MachineState; 6] = [
        Self::Idle,
        Self::Running,
        Self::Paused,
        Self::Alarm,
        Self::Setup,
        Self::EStop,
    ];

    /// The state for a register value.
    pub fn from_u16(v: u16) -> Option<Self> {
        Self::ALL.get(usize::from(v)).copied()
    }

    /// The register value.
    pub fn as_u16(self) -> u16 {
        self as u16
    }

    /// Name on the gateway (`{S}/status` `state`) and Fluent key stem (`state-<name>`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Alarm => "alarm",
            Self::Setup => "setup",
            Self::EStop => "estop",
        }
    }

    /// ISA-101: only these states are abnormal and get colour.
    pub fn is_abnormal(self) -> bool {
        matches!(self, Self::Alarm | Self::EStop)
    }

    /// Whether a command is accepted in this state, and the state it leads to
    /// (`controller-link.md`, command table). `None`: refused (`command_result` 1).
    pub fn accept(self, cmd: Command) -> Option<MachineState> {
        use MachineState as S;
        match (cmd, self) {
            (Command::Start, S::Idle | S::Paused) => Some(S::Running),
            (Command::Stop, S::Running | S::Paused) => Some(S::Idle),
            (Command::Pause, S::Running) => Some(S::Paused),
            (Command::ResetAlarm, S::Alarm) => Some(S::Idle),
            (Command::ApplyRecipe, S::Idle | S::Setup) => Some(self),
            (Command::EnterSetup, S::Idle | S::Paused) => Some(S::Setup),
            (Command::LeaveSetup, S::Setup) => Some(S::Idle),
            _ => None,
        }
    }
}

/// A command written to holding register 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    Start,
    Stop,
    Pause,
    ResetAlarm,
    ApplyRecipe,
    EnterSetup,
    LeaveSetup,
}

impl Command {
    /// Every command in register order.
    pub const ALL: [Command; 7] = [
        Self::Start,
        Self::Stop,
        Self::Pause,
        Self::ResetAlarm,
        Self::ApplyRecipe,
        Self::EnterSetup,
        Self::LeaveSetup,
    ];

    /// The register value (1..7).
    pub fn code(self) -> u16 {
        self as u16 + 1
    }

    /// The command for a register value.
    pub fn from_code(code: u16) -> Option<Command> {
        code.checked_sub(1)
            .and_then(|i| Self::ALL.get(usize::from(i)).copied())
    }
}

/// Result of a command (holding register 103).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum CommandRefusal {
    #[error("refused in this machine state")]
    WrongState,
    #[error("recipe block invalid")]
    InvalidRecipe,
    #[error("unknown command")]
    Unknown,
    #[error("unknown command result code {0}")]
    Other(u16),
}

impl CommandRefusal {
    /// `Ok` for result 0, the refusal otherwise.
    pub fn from_result(code: u16) -> Result<(), CommandRefusal> {
        match code {
            0 => Ok(()),
            1 => Err(Self::WrongState),
            2 => Err(Self::InvalidRecipe),
            3 => Err(Self::Unknown),
            c => Err(Self::Other(c)),
        }
    }

    /// The register value.
    pub fn code(self) -> u16 {
        match self {
            Self::WrongState => 1,
            Self::InvalidRecipe => 2,
            Self::Unknown => 3,
            Self::Other(c) => c,
        }
    }
}
