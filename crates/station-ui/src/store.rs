//! What the UI needs of the station's storage, as traits: recipe versions, users, shift
//! handovers and the audit trail. The station implements them over its SQLite store
//! (`bonder-station`'s `ui_store`); the UI's tests have their own in-memory doubles.
//!
//! Calls that hash a secret ([`UserDirectory::sign_in`], [`UserDirectory::add`]) are
//! slow by design: the UI makes them off its thread. The others answer from a local
//! SQLite file and may run on the UI thread.

use bonder_core::counters::CounterSnapshot;
pub use bonder_core::login::{LoginPolicy, SecretKind, SecretProblem};
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
    /// A new PIN or password the login policy refuses.
    #[error("{0}")]
    WeakSecret(SecretProblem),
    /// The change would leave the station without an enabled administrator.
    #[error("the station must keep at least one enabled administrator")]
    LastAdmin,
    /// The permission table refuses the actor's role this.
    #[error("{0}")]
    Forbidden(bonder_core::Forbidden),
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

/// What a sign-in attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum SignInAnswer {
    /// Signed in as this user.
    Welcome(UserRecord),
    /// Wrong badge or secret; `left` attempts before the badge locks.
    Wrong { left: u32 },
    /// This attempt locked the badge until then: raise the "login locked" alarm.
    LockedNow { until: SystemTime },
    /// The badge is locked until then (nothing was counted).
    Locked { until: SystemTime },
    /// The secret was right, but the account is disabled.
    Disabled,
}

/// A user as an administrator sees them in the list.
#[derive(Debug, Clone, PartialEq)]
pub struct UserListing {
    pub user: UserRecord,
    pub disabled: bool,
    /// Locked after failed sign-ins until then.
    pub locked_until: Option<SystemTime>,
}

/// A change to an account by an administrator.
#[derive(Debug, Clone, PartialEq)]
pub enum AccountChange {
    Role(Role),
    /// A new PIN or password (checked against the policy; clears a lock).
    Secret(String),
    /// Disable (`true`) or enable.
    Disabled(bool),
}

/// The users of the station. The directory applies the login policy, keeps the
/// lockout and writes the audit rows of sign-ins and account changes itself (in the
/// same transaction as the change): the UI does not audit them again.
pub trait UserDirectory: Send + Sync + std::fmt::Debug {
    /// Whether no user exists (first run: the UI asks for the administrator).
    fn is_empty(&self) -> Result<bool, StoreError>;
    /// The rules new secrets must follow (shown by the UI, applied by the directory).
    fn policy(&self) -> LoginPolicy;
    /// One sign-in attempt. An unknown badge takes as long as a wrong secret and
    /// counts towards a lock the same way. Slow (argon2): call it off the UI thread.
    fn sign_in(&self, badge: &str, secret: &str) -> Result<SignInAnswer, StoreError>;
    /// Adds a user with their secret (checked against the policy, hashed here), by
    /// `by` (an administrator), or with `None` as the first administrator of an empty
    /// station. [`StoreError::Conflict`] when the badge id is taken. Slow: off the UI
    /// thread.
    fn add(&self, user: UserRecord, secret: &str, by: Option<&Actor>) -> Result<(), StoreError>;
    /// Every user, by badge.
    fn list(&self) -> Result<Vec<UserListing>, StoreError>;
    /// Changes an account (role, secret, disabled) by an administrator. Slow for a new
    /// secret: off the UI thread.
    fn change(&self, badge: &str, change: AccountChange, by: &Actor) -> Result<(), StoreError>;
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

/// What the UI audits. Recipe saves, releases, vision setups, sign-ins and account
/// changes are audited by the store itself, in the same transaction as the change, and
/// are not sent here.
#[derive(Debug, Clone, PartialEq)]
pub enum AuditEvent {
    /// The user logged out.
    Logout,
    /// The idle lock logged the user out.
    IdleLock,
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
            AuditEvent::Logout => "logout",
            AuditEvent::IdleLock => "lock.idle",
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
