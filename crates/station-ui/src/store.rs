//! What the UI needs of the station's storage, as traits: recipe versions, users, shift
//! handovers and the audit trail. The station implements them over its SQLite store
//! (`bonder-station`'s `ui_store`); the UI's tests have their own in-memory doubles.
//!
//! Calls that hash a PIN ([`UserDirectory::authenticate`], [`UserDirectory::add`]) are
//! slow by design: the UI makes them off its thread. The others answer from a local
//! SQLite file and may run on the UI thread.

use bonder_core::counters::CounterSnapshot;
pub use bonder_core::permissions::{Permission, Role};
use bonder_core::recipe::{Recipe, Violations};
use bonder_core::state::Command;
use bonder_i18n::Lang;
pub use bonder_store::Actor;
use bonder_vision::VisionSetup;
use std::time::SystemTime;

/// Why a store refused or failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// No such recipe version or user.
    #[error("not found: {0}")]
    NotFound(String),
    /// The thing exists already (a badge id taken) or is in the wrong state (releasing a
    /// released version).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A recipe that does not validate.
    #[error("invalid recipe: {0}")]
    Invalid(Violations),
    /// The storage itself failed (disk, database).
    #[error("storage: {0}")]
    Backend(String),
}

/// One saved version of a recipe and who made it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecipeVersion {
    pub recipe: Recipe,
    pub saved_by: String,
    pub reason: String,
    pub saved_at: SystemTime,
}

/// Recipe versions: list, get, save a new version, release.
pub trait RecipeLibrary: Send + Sync + std::fmt::Debug {
    /// Every version of the recipe `name`, newest first.
    fn versions(&self, name: &str) -> Result<Vec<RecipeVersion>, StoreError>;
    /// One version.
    fn get(&self, name: &str, version: u32) -> Result<RecipeVersion, StoreError>;
    /// Saves `recipe` as the next version of its name (highest + 1), as a draft, after
    /// validating it; returns the saved recipe (with its new version number).
    /// The store checks `by`'s role against the permission table and audits the save.
    fn save_new_version(
        &self,
        recipe: &Recipe,
        by: &Actor,
        reason: &str,
    ) -> Result<Recipe, StoreError>;
    /// Marks a draft released (the only state that may be sent to a machine); checked
    /// and audited like a save.
    fn release(&self, name: &str, version: u32, by: &Actor) -> Result<Recipe, StoreError>;
    /// The newest vision setup (taught template, calibration) of the recipe `name` on
    /// this station; `None` when never taught. A stored setup that does not read or
    /// check is an error (`Backend`), not `None`.
    fn vision(&self, name: &str) -> Result<Option<StoredVision>, StoreError>;
    /// Stores a new vision setup for `recipe`'s name, taught by `by`
    /// ([`Permission::TeachVision`]), audited.
    fn save_vision(
        &self,
        recipe: &Recipe,
        setup: &VisionSetup,
        by: &Actor,
    ) -> Result<(), StoreError>;
}

/// A recipe's vision setup as stored, with who taught it when.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredVision {
    pub setup: VisionSetup,
    /// The version that ran when it was taught.
    pub recipe_version: u32,
    pub taught_by: String,
    pub taught_at: SystemTime,
}

/// A user as the UI sees them. The PIN never leaves the directory: it keeps only a
/// hash made by `bonder-credentials`.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    /// What the badge scanner types.
    pub badge: String,
    pub name: String,
    pub role: Role,
    /// The language the UI switches to when this user logs in.
    pub lang: Lang,
}

/// The users of the station.
pub trait UserDirectory: Send + Sync + std::fmt::Debug {
    /// Whether no user exists (first run: the UI asks for the administrator).
    fn is_empty(&self) -> Result<bool, StoreError>;
    /// The user of `badge` if `pin` is theirs; `None` otherwise. An unknown badge takes
    /// as long as a wrong PIN (`bonder_credentials::verify_user`). Slow: call it off the
    /// UI thread.
    fn authenticate(&self, badge: &str, pin: &str) -> Result<Option<UserRecord>, StoreError>;
    /// Adds a user with their PIN (hashed here); [`StoreError::Conflict`] when the
    /// badge id is taken. Slow: call it off the UI thread.
    fn add(&self, user: UserRecord, pin: &str) -> Result<(), StoreError>;
    /// Remembers a user's language.
    fn set_language(&self, badge: &str, lang: Lang) -> Result<(), StoreError>;
}

/// A closed shift, as handed over.
#[derive(Debug, Clone, PartialEq)]
pub struct ShiftRecord {
    pub started_at: SystemTime,
    pub ended_at: SystemTime,
    /// Who was logged in when the shift started (empty: nobody).
    pub started_by: String,
    pub ended_by: String,
    /// The counters over the shift (end minus start).
    pub counters: CounterSnapshot,
    pub notes: String,
}

/// Shift handovers.
pub trait ShiftLog: Send + Sync + std::fmt::Debug {
    /// The last `limit` closed shifts, newest first.
    fn previous(&self, limit: usize) -> Result<Vec<ShiftRecord>, StoreError>;
    /// Records a closed shift.
    fn close(&self, shift: ShiftRecord) -> Result<(), StoreError>;
}

/// What the UI audits. Recipe saves, releases and vision setups are audited by the
/// store itself, in the same transaction as the change, and are not sent here.
#[derive(Debug, Clone, PartialEq)]
pub enum AuditEvent {
    /// The entry's user logged in.
    Login,
    /// A badge and PIN that did not match (or an unknown badge).
    LoginFailed { badge: String },
    /// The user logged out.
    Logout,
    /// The idle lock logged the user out.
    IdleLock,
    /// The first administrator was created (first run).
    AdminCreated { badge: String },
    /// An administrator added a user.
    UserAdded { badge: String, role: Role },
    /// An active alarm acknowledged.
    AlarmAck { code: u16 },
    /// A machine command sent from the panel.
    MachineCommand(Command),
    /// The shift closed and handed over.
    ShiftHandover,
    /// A pad template taught (what, where).
    VisionTaught { detail: String },
    /// The camera calibrated (scale, angle, from what).
    VisionCalibrated { detail: String },
    /// A gated action the permission table refused; `what` names the object.
    Refused {
        permission: Permission,
        what: String,
    },
}

impl AuditEvent {
    /// A stable name for logs and tests (`login`, `alarm.ack`, …).
    pub fn name(&self) -> &'static str {
        match self {
            AuditEvent::Login => "login",
            AuditEvent::LoginFailed { .. } => "login.failed",
            AuditEvent::Logout => "logout",
            AuditEvent::IdleLock => "lock.idle",
            AuditEvent::AdminCreated { .. } => "user.create-admin",
            AuditEvent::UserAdded { .. } => "user.add",
            AuditEvent::AlarmAck { .. } => "alarm.ack",
            AuditEvent::MachineCommand(_) => "machine.command",
            AuditEvent::ShiftHandover => "shift.handover",
            AuditEvent::VisionTaught { .. } => "vision.teach",
            AuditEvent::VisionCalibrated { .. } => "vision.calibrate",
            AuditEvent::Refused { .. } => "refused",
        }
    }
}

/// One entry of the audit trail, as the UI hands it over.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub time: SystemTime,
    /// Badge id of the logged-in user (empty when nobody is).
    pub user: String,
    /// Their role (`None` when nobody is logged in).
    pub role: Option<Role>,
    pub event: AuditEvent,
}

/// The audit trail (append only). An entry that cannot be recorded is an error, never
/// dropped silently.
pub trait AuditLog: Send + Sync + std::fmt::Debug {
    fn record(&self, entry: AuditEntry) -> Result<(), StoreError>;
}
