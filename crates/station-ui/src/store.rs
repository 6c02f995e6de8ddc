//! What the station's store (issue 3) will implement: recipe versions, users, shift
//! handovers and the audit trail, as traits. The UI calls them from its thread, so an
//! implementation must answer quickly (a local SQLite file is fine; a network is not).
//!
//! [`mem`] has **in-memory** implementations backed by `Vec`s: they forget everything when
//! the process ends and exist so the UI works (and is tested) before the store lands.

use bonder_core::counters::CounterSnapshot;
use bonder_core::recipe::{Recipe, RecipeState, Violations};
use bonder_i18n::Lang;
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
    fn save_new_version(
        &self,
        recipe: &Recipe,
        user: &str,
        reason: &str,
    ) -> Result<Recipe, StoreError>;
    /// Marks a draft released (the only state that may be sent to a machine).
    fn release(&self, name: &str, version: u32, user: &str) -> Result<Recipe, StoreError>;
    /// The newest vision setup (taught template, calibration) of the recipe `name` on
    /// this station; `None` when never taught. A stored setup that does not read or
    /// check is an error (`Backend`), not `None`.
    fn vision(&self, name: &str) -> Result<Option<StoredVision>, StoreError>;
    /// Stores a new vision setup for `recipe`'s name, taught by `user` (technicians and
    /// up), audited.
    fn save_vision(
        &self,
        recipe: &Recipe,
        setup: &VisionSetup,
        user: &str,
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

/// The roles of the station, least to most rights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Operator,
    Technician,
    Engineer,
    Supervisor,
    Admin,
}

impl Role {
    /// Every role, in the order the UI lists them.
    pub const ALL: [Role; 5] = [
        Role::Operator,
        Role::Technician,
        Role::Engineer,
        Role::Supervisor,
        Role::Admin,
    ];

    /// Stable name (`operator`…), also the Fluent key stem `role-<name>`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Technician => "technician",
            Role::Engineer => "engineer",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    /// Whether this role may change recipe parameters (saving a draft version).
    pub fn can_edit_recipes(self) -> bool {
        self == Role::Engineer
    }

    /// Whether this role may release a recipe version.
    pub fn can_release_recipes(self) -> bool {
        self == Role::Engineer
    }

    /// Whether this role may add users.
    pub fn can_manage_users(self) -> bool {
        self == Role::Admin
    }
}

/// A user as the directory stores it. The PIN is kept only as an argon2 PHC string.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    /// What the badge scanner types.
    pub badge: String,
    pub name: String,
    pub role: Role,
    /// `$argon2id$…` (see [`crate::users::hash_pin`]).
    pub pin_hash: String,
    /// The language the UI switches to when this user logs in.
    pub lang: Lang,
}

/// The users of the station.
pub trait UserDirectory: Send + Sync + std::fmt::Debug {
    /// Whether no user exists (first run: the UI asks for the administrator).
    fn is_empty(&self) -> Result<bool, StoreError>;
    /// The user with a badge id.
    fn find(&self, badge: &str) -> Result<Option<UserRecord>, StoreError>;
    /// Adds a user; [`StoreError::Conflict`] when the badge id is taken.
    fn add(&self, user: UserRecord) -> Result<(), StoreError>;
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

/// One entry of the audit trail: a login, a gated action, a refusal.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub time: SystemTime,
    /// Badge id (empty when nobody is logged in).
    pub user: String,
    /// Machine-readable action, e.g. `login`, `recipe.save`, `alarm.ack`.
    pub action: String,
    pub detail: String,
}

/// The audit trail (append only).
pub trait AuditLog: Send + Sync + std::fmt::Debug {
    fn record(&self, entry: AuditEntry) -> Result<(), StoreError>;
}

/// In-memory implementations (lost when the process ends) until the store lands.
pub mod mem {
    use super::*;
    use std::sync::{Mutex, MutexGuard};

    fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Recipe versions in a `Vec`.
    #[derive(Debug, Default)]
    pub struct MemRecipeLibrary {
        versions: Mutex<Vec<RecipeVersion>>,
        vision: Mutex<Vec<(String, StoredVision)>>,
    }

    impl MemRecipeLibrary {
        /// A library holding `recipes` as they are (their versions and states kept).
        pub fn new(recipes: impl IntoIterator<Item = Recipe>) -> MemRecipeLibrary {
            let versions = recipes
                .into_iter()
                .map(|recipe| RecipeVersion {
                    recipe,
                    saved_by: String::new(),
                    reason: String::new(),
                    saved_at: SystemTime::now(),
                })
                .collect();
            MemRecipeLibrary {
                versions: Mutex::new(versions),
                vision: Mutex::new(Vec::new()),
            }
        }
    }

    impl RecipeLibrary for MemRecipeLibrary {
        fn versions(&self, name: &str) -> Result<Vec<RecipeVersion>, StoreError> {
            let mut out: Vec<_> = lock(&self.versions)
                .iter()
                .filter(|v| v.recipe.name == name)
                .cloned()
                .collect();
            out.sort_by_key(|v| std::cmp::Reverse(v.recipe.version));
            Ok(out)
        }

        fn get(&self, name: &str, version: u32) -> Result<RecipeVersion, StoreError> {
            lock(&self.versions)
                .iter()
                .find(|v| v.recipe.name == name && v.recipe.version == version)
                .cloned()
                .ok_or_else(|| StoreError::NotFound(format!("{name}@{version}")))
        }

        fn save_new_version(
            &self,
            recipe: &Recipe,
            user: &str,
            reason: &str,
        ) -> Result<Recipe, StoreError> {
            let mut all = lock(&self.versions);
            let next = all
                .iter()
                .filter(|v| v.recipe.name == recipe.name)
                .map(|v| v.recipe.version)
                .max()
                .unwrap_or(0)
                + 1;
            let mut saved = recipe.clone();
            saved.version = next;
            saved.state = RecipeState::Draft;
            saved.validate().map_err(StoreError::Invalid)?;
            all.push(RecipeVersion {
                recipe: saved.clone(),
                saved_by: user.into(),
                reason: reason.into(),
                saved_at: SystemTime::now(),
            });
            Ok(saved)
        }

        fn release(&self, name: &str, version: u32, user: &str) -> Result<Recipe, StoreError> {
            let mut all = lock(&self.versions);
            let v = all
                .iter_mut()
                .find(|v| v.recipe.name == name && v.recipe.version == version)
                .ok_or_else(|| StoreError::NotFound(format!("{name}@{version}")))?;
            if v.recipe.state != RecipeState::Draft {
                return Err(StoreError::Conflict(format!(
                    "{name}@{version} is not a draft"
                )));
            }
            v.recipe.state = RecipeState::Released;
            v.saved_by = user.into();
            Ok(v.recipe.clone())
        }

        fn vision(&self, name: &str) -> Result<Option<StoredVision>, StoreError> {
            Ok(lock(&self.vision)
                .iter()
                .rev()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone()))
        }

        fn save_vision(
            &self,
            recipe: &Recipe,
            setup: &VisionSetup,
            user: &str,
        ) -> Result<(), StoreError> {
            setup
                .check()
                .map_err(|e| StoreError::Conflict(e.to_string()))?;
            lock(&self.vision).push((
                recipe.name.clone(),
                StoredVision {
                    setup: setup.clone(),
                    recipe_version: recipe.version,
                    taught_by: user.into(),
                    taught_at: SystemTime::now(),
                },
            ));
            Ok(())
        }
    }

    /// Users in a `Vec`.
    #[derive(Debug, Default)]
    pub struct MemUserDirectory {
        users: Mutex<Vec<UserRecord>>,
    }

    impl UserDirectory for MemUserDirectory {
        fn is_empty(&self) -> Result<bool, StoreError> {
            Ok(lock(&self.users).is_empty())
        }

        fn find(&self, badge: &str) -> Result<Option<UserRecord>, StoreError> {
            Ok(lock(&self.users).iter().find(|u| u.badge == badge).cloned())
        }

        fn add(&self, user: UserRecord) -> Result<(), StoreError> {
            let mut users = lock(&self.users);
            if users.iter().any(|u| u.badge == user.badge) {
                return Err(StoreError::Conflict(format!("badge {}", user.badge)));
            }
            users.push(user);
            Ok(())
        }

        fn set_language(&self, badge: &str, lang: Lang) -> Result<(), StoreError> {
            let mut users = lock(&self.users);
            let u = users
                .iter_mut()
                .find(|u| u.badge == badge)
                .ok_or_else(|| StoreError::NotFound(format!("badge {badge}")))?;
            u.lang = lang;
            Ok(())
        }
    }

    /// Closed shifts in a `Vec`.
    #[derive(Debug, Default)]
    pub struct MemShiftLog {
        shifts: Mutex<Vec<ShiftRecord>>,
    }

    impl ShiftLog for MemShiftLog {
        fn previous(&self, limit: usize) -> Result<Vec<ShiftRecord>, StoreError> {
            Ok(lock(&self.shifts)
                .iter()
                .rev()
                .take(limit)
                .cloned()
                .collect())
        }

        fn close(&self, shift: ShiftRecord) -> Result<(), StoreError> {
            lock(&self.shifts).push(shift);
            Ok(())
        }
    }

    /// The audit trail in a `Vec`.
    #[derive(Debug, Default)]
    pub struct MemAuditLog {
        entries: Mutex<Vec<AuditEntry>>,
    }

    impl MemAuditLog {
        /// Everything recorded so far, oldest first.
        pub fn entries(&self) -> Vec<AuditEntry> {
            lock(&self.entries).clone()
        }
    }

    impl AuditLog for MemAuditLog {
        fn record(&self, entry: AuditEntry) -> Result<(), StoreError> {
            lock(&self.entries).push(entry);
            Ok(())
        }
    }
}
