//! In-memory doubles of the UI's storage traits for the UI tests (the station's real
//! adapters over SQLite are in `bonder-station`'s `ui_store`). They check the
//! permission table as the store does.
#![allow(dead_code)]

use bonder_core::permissions::{Permission, check};
use bonder_core::recipe::{Recipe, RecipeState};
use bonder_i18n::Lang;
use bonder_runtime::camera_feed::{InspectionLog, VisionRecord};
use bonder_station_ui::store::*;
use bonder_vision::VisionSetup;
use std::time::SystemTime;

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
        by: &Actor,
        reason: &str,
    ) -> Result<Recipe, StoreError> {
        check(by.role, Permission::EditRecipe).map_err(|e| StoreError::Conflict(e.to_string()))?;
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
            saved_by: by.user.clone(),
            reason: reason.into(),
            saved_at: SystemTime::now(),
        });
        Ok(saved)
    }

    fn release(&self, name: &str, version: u32, by: &Actor) -> Result<Recipe, StoreError> {
        check(by.role, Permission::ReleaseRecipe)
            .map_err(|e| StoreError::Conflict(e.to_string()))?;
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
        v.saved_by = by.user.clone();
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
        by: &Actor,
    ) -> Result<(), StoreError> {
        check(by.role, Permission::TeachVision).map_err(|e| StoreError::Conflict(e.to_string()))?;
        setup
            .check()
            .map_err(|e| StoreError::Conflict(e.to_string()))?;
        lock(&self.vision).push((
            recipe.name.clone(),
            StoredVision {
                setup: setup.clone(),
                recipe_version: recipe.version,
                taught_by: by.user.clone(),
                taught_at: SystemTime::now(),
            },
        ));
        Ok(())
    }
}

/// Users in a `Vec`, secrets hashed by `bonder-credentials` and sign-ins judged by
/// `bonder_core::login` (the default policy) as the station's store does; the lockout
/// counts per badge string. Every attempt's outcome is kept in `attempts`.
#[derive(Debug, Default)]
pub struct MemUserDirectory {
    users: Mutex<Vec<(UserRecord, String, bool)>>,
    failures: Mutex<std::collections::HashMap<String, bonder_core::login::FailureState>>,
    pub attempts: Mutex<Vec<(String, SignInAnswer)>>,
}

fn ms(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn at(ms: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(ms as u64)
}

impl MemUserDirectory {
    /// The outcomes of sign-in attempts with `badge`, oldest first.
    pub fn attempts_of(&self, badge: &str) -> Vec<SignInAnswer> {
        lock(&self.attempts)
            .iter()
            .filter(|(b, _)| b == badge)
            .map(|(_, a)| a.clone())
            .collect()
    }
}

impl UserDirectory for MemUserDirectory {
    fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(lock(&self.users).is_empty())
    }

    fn policy(&self) -> LoginPolicy {
        LoginPolicy::default()
    }

    fn sign_in(&self, badge: &str, secret: &str) -> Result<SignInAnswer, StoreError> {
        use bonder_core::login::Attempt;
        let found = lock(&self.users)
            .iter()
            .find(|(u, _, _)| u.badge == badge)
            .cloned();
        let ok =
            bonder_credentials::verify_user(secret, found.as_ref().map(|(_, h, _)| h.as_str()));
        let disabled = found.as_ref().is_some_and(|(_, _, d)| *d);
        let mut failures = lock(&self.failures);
        let before = failures.get(badge).copied().unwrap_or_default();
        let (after, attempt) = self
            .policy()
            .judge(before, ms(SystemTime::now()), ok, disabled);
        failures.insert(badge.to_string(), after);
        let answer = match attempt {
            Attempt::Accepted => {
                SignInAnswer::Welcome(found.map(|(u, _, _)| u).unwrap_or_else(|| unreachable!()))
            }
            Attempt::Disabled => SignInAnswer::Disabled,
            Attempt::Wrong { left } => SignInAnswer::Wrong { left },
            Attempt::LockedNow { until_ms } => SignInAnswer::LockedNow {
                until: at(until_ms),
            },
            Attempt::Locked { until_ms } => SignInAnswer::Locked {
                until: at(until_ms),
            },
        };
        lock(&self.attempts).push((badge.to_string(), answer.clone()));
        Ok(answer)
    }

    fn add(&self, user: UserRecord, secret: &str, by: Option<&Actor>) -> Result<(), StoreError> {
        let mut users = lock(&self.users);
        match by {
            Some(a) => check(a.role, Permission::ManageUsers).map_err(StoreError::Forbidden)?,
            None if !users.is_empty() || user.role != Role::Admin => {
                return Err(StoreError::Conflict(
                    "first user must be an administrator".into(),
                ));
            }
            None => {}
        }
        self.policy()
            .check_new_secret(user.role, secret)
            .map_err(StoreError::WeakSecret)?;
        let hash =
            bonder_credentials::hash(secret).map_err(|e| StoreError::Backend(e.to_string()))?;
        if users.iter().any(|(u, _, _)| u.badge == user.badge) {
            return Err(StoreError::Conflict(format!("badge {}", user.badge)));
        }
        users.push((user, hash, false));
        Ok(())
    }

    fn list(&self) -> Result<Vec<UserListing>, StoreError> {
        let failures = lock(&self.failures);
        let now = ms(SystemTime::now());
        let mut out: Vec<UserListing> = lock(&self.users)
            .iter()
            .map(|(u, _, d)| UserListing {
                user: u.clone(),
                disabled: *d,
                locked_until: failures
                    .get(&u.badge)
                    .and_then(|f| f.locked_until_ms)
                    .filter(|t| *t > now)
                    .map(at),
            })
            .collect();
        out.sort_by(|a, b| a.user.badge.cmp(&b.user.badge));
        Ok(out)
    }

    fn change(&self, badge: &str, change: AccountChange, by: &Actor) -> Result<(), StoreError> {
        check(by.role, Permission::ManageUsers).map_err(StoreError::Forbidden)?;
        let mut users = lock(&self.users);
        let admins = users
            .iter()
            .filter(|(u, _, d)| u.role == Role::Admin && !d && u.badge != badge)
            .count();
        let (u, hash, disabled) = users
            .iter_mut()
            .find(|(u, _, _)| u.badge == badge)
            .ok_or_else(|| StoreError::NotFound(format!("badge {badge}")))?;
        let demotes = matches!(change, AccountChange::Role(r) if r != Role::Admin)
            || change == AccountChange::Disabled(true);
        if u.role == Role::Admin && demotes && admins == 0 {
            return Err(StoreError::LastAdmin);
        }
        match change {
            AccountChange::Role(r) => u.role = r,
            AccountChange::Secret(s) => {
                self.policy()
                    .check_new_secret(u.role, &s)
                    .map_err(StoreError::WeakSecret)?;
                *hash =
                    bonder_credentials::hash(&s).map_err(|e| StoreError::Backend(e.to_string()))?;
                lock(&self.failures).remove(badge);
            }
            AccountChange::Disabled(d) => *disabled = d,
        }
        Ok(())
    }

    fn set_language(&self, badge: &str, lang: Lang) -> Result<(), StoreError> {
        let mut users = lock(&self.users);
        let (u, _, _) = users
            .iter_mut()
            .find(|(u, _, _)| u.badge == badge)
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

/// Inspections kept in memory (the station stores them in its SQLite file).
#[derive(Debug, Default)]
pub struct MemInspectionLog(Mutex<Vec<VisionRecord>>);

impl MemInspectionLog {
    /// Everything recorded so far.
    pub fn records(&self) -> Vec<VisionRecord> {
        lock(&self.0).clone()
    }
}

impl InspectionLog for MemInspectionLog {
    fn record(&self, rec: VisionRecord) {
        lock(&self.0).push(rec);
    }
}
