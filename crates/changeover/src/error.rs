//! Why a changeover action was refused, with its Fluent key and arguments.

use bonder_core::changeover::{Blocked, FirstArticleFault, ScanError, Step};
use bonder_store::StoreError;

/// Why a changeover action was refused. Nothing changes when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum ChangeoverError {
    #[error("changeover #{0} is already open")]
    AlreadyOpen(i64),
    #[error("no changeover is open")]
    NotOpen,
    #[error("the wizard is at step {at}, not {}", expected.name())]
    WrongStep { expected: Step, at: String },
    #[error("recipe {0} is not a released version")]
    NotReleased(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Blocked(#[from] Blocked),
    #[error("{0}")]
    Scan(#[from] ScanError),
    #[error("confirm that the last strip is out of the machine first")]
    StripNotConfirmed,
    #[error("controller refused or did not answer: {0}")]
    Controller(String),
    #[error("recipe download stopped: CRC read back {actual:#010x}, block sent {expected:#010x}")]
    Crc { expected: u32, actual: u32 },
    #[error("recipe download stopped: {0}")]
    Download(String),
    #[error(
        "not settled after {secs} s: heater {heater:.1} °C (target {heater_target:.1} ± {heater_band:.1}), forming gas {gas:.2} L/min (target {gas_target:.2})"
    )]
    NotSettled {
        secs: u64,
        heater: f64,
        heater_target: f64,
        heater_band: f64,
        gas: f64,
        gas_target: f64,
    },
    #[error("the machine bonded no first article within {0} s")]
    NoFirstArticle(u64),
    #[error("first article: {0}")]
    FirstArticle(FirstArticleFault),
    /// The permission table refuses the role (sign-off, abandon).
    #[error(transparent)]
    Forbidden(#[from] bonder_core::Forbidden),
    #[error("rollback to the previous recipe failed: {0}")]
    Rollback(String),
}

impl ChangeoverError {
    /// Fluent key of the message (`co-err-*`, or the core's `co-scan-*`/`co-fa-*`).
    pub fn key(&self) -> &'static str {
        match self {
            Self::AlreadyOpen(_) => "co-err-already-open",
            Self::NotOpen => "co-err-not-open",
            Self::WrongStep { .. } => "co-err-wrong-step",
            Self::NotReleased(_) => "co-err-not-released",
            Self::Store(_) => "co-err-store",
            Self::Blocked(Blocked::Scan(_)) => "co-err-scan-missing",
            Self::Blocked(Blocked::Kit(_)) => "co-err-kit-missing",
            Self::Blocked(Blocked::NotDownloaded) => "co-err-not-downloaded",
            Self::Blocked(Blocked::FirstArticle(f)) | Self::FirstArticle(f) => f.key(),
            Self::Blocked(Blocked::NoFirstArticle) => "co-err-no-results",
            Self::Blocked(Blocked::Finished) => "co-err-not-open",
            Self::Scan(s) => s.key(),
            Self::StripNotConfirmed => "co-err-strip",
            Self::Controller(_) => "co-err-controller",
            Self::Crc { .. } => "co-err-crc",
            Self::Download(_) => "co-err-download",
            Self::NotSettled { .. } => "co-err-not-settled",
            Self::NoFirstArticle(_) => "co-err-no-first-article",
            Self::Forbidden(_) => "co-err-role",
            Self::Rollback(_) => "co-err-rollback",
        }
    }

    /// Fluent arguments of the message.
    pub fn args(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::AlreadyOpen(id) => vec![("id", id.to_string())],
            Self::WrongStep { expected, at } => {
                vec![("expected", expected.name().into()), ("at", at.clone())]
            }
            Self::NotReleased(r) => vec![("recipe", r.clone())],
            Self::Store(e) => vec![("detail", e.to_string())],
            Self::Blocked(Blocked::Scan(m)) => vec![("material", m.name().into())],
            Self::Blocked(Blocked::Kit(k)) => vec![("item", (*k).into())],
            Self::Blocked(Blocked::FirstArticle(f)) | Self::FirstArticle(f) => f.args(),
            Self::Scan(s) => s.args(),
            Self::Controller(d) | Self::Download(d) | Self::Rollback(d) => {
                vec![("detail", d.clone())]
            }
            Self::Crc { expected, actual } => vec![
                ("expected", format!("{expected:#010x}")),
                ("actual", format!("{actual:#010x}")),
            ],
            Self::NotSettled {
                secs,
                heater,
                heater_target,
                heater_band,
                gas,
                gas_target,
            } => vec![
                ("secs", secs.to_string()),
                ("heater", format!("{heater:.1}")),
                ("heater_target", format!("{heater_target:.1}")),
                ("heater_band", format!("{heater_band:.1}")),
                ("gas", format!("{gas:.2}")),
                ("gas_target", format!("{gas_target:.2}")),
            ],
            Self::NoFirstArticle(s) => vec![("secs", s.to_string())],
            Self::Forbidden(f) => vec![("role", f.role.name().into())],
            _ => vec![],
        }
    }
}
