//! The UI's storage traits over the station's SQLite store: recipe versions (versioned,
//! diffed and audited by the store) with each recipe's vision setup, users, shift
//! handovers and the audit trail.

use bonder_core::login::{Attempt, LoginPolicy};
use bonder_core::recipe::Recipe;
use bonder_station_ui::store::{
    AccountChange as UiAccountChange, AuditEntry, AuditEvent, AuditLog, RecipeLibrary,
    RecipeVersion, SignInAnswer, StoreError as UiError, StoredVision, UserDirectory, UserListing,
    UserRecord,
};
use bonder_store::{
    AccountChange, Actor, AuditAction, AuditRecord, NewUser, Role, Store, StoreError, WriteOp,
    WriterHandle,
};
use bonder_vision::VisionSetup;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use time::OffsetDateTime;

mod shifts;
pub use shifts::{CurrentShift, StoreShifts, queue_shift_report, shift_msg};

fn ui_err(e: StoreError) -> UiError {
    match e {
        StoreError::InvalidRecipe(bonder_core::RecipeError::Invalid(v)) => UiError::Invalid(v),
        StoreError::RecipeNotFound(m) => UiError::NotFound(m),
        e @ (StoreError::Forbidden { .. }
        | StoreError::BadTransition { .. }
        | StoreError::RecipeExists(_)) => UiError::Conflict(e.to_string()),
        other => UiError::Backend(other.to_string()),
    }
}

/// Recipe versions in the store.
#[derive(Debug)]
pub struct StoreRecipes {
    pub store: Arc<Store>,
}

impl StoreRecipes {
    fn version(&self, info: bonder_store::RecipeVersionInfo) -> Result<RecipeVersion, UiError> {
        Ok(RecipeVersion {
            recipe: self
                .store
                .recipes()
                .get(&info.name, info.version)
                .map_err(ui_err)?,
            saved_by: info.created_by,
            reason: info.reason,
            saved_at: SystemTime::from(info.created),
        })
    }
}

impl RecipeLibrary for StoreRecipes {
    fn versions(&self, name: &str) -> Result<Vec<RecipeVersion>, UiError> {
        let mut infos = self.store.recipes().versions(name).map_err(ui_err)?;
        infos.sort_by_key(|v| std::cmp::Reverse(v.version));
        infos.into_iter().map(|i| self.version(i)).collect()
    }

    fn get(&self, name: &str, version: u32) -> Result<RecipeVersion, UiError> {
        let info = self
            .store
            .recipes()
            .versions(name)
            .map_err(ui_err)?
            .into_iter()
            .find(|v| v.version == version);
        self.version(info.ok_or_else(|| UiError::NotFound(format!("{name}@{version}")))?)
    }

    fn save_new_version(
        &self,
        recipe: &Recipe,
        who: &Actor,
        reason: &str,
    ) -> Result<Recipe, UiError> {
        recipe.validate().map_err(UiError::Invalid)?;
        let repo = self.store.recipes();
        let base = repo
            .versions(&recipe.name)
            .map_err(ui_err)?
            .iter()
            .map(|v| v.version)
            .max();
        let info = match base {
            Some(b) => repo.edit(b, recipe, who, reason),
            None => repo.create(recipe, who, reason),
        }
        .map_err(ui_err)?;
        repo.get(&info.name, info.version).map_err(ui_err)
    }

    fn release(&self, name: &str, version: u32, who: &Actor) -> Result<Recipe, UiError> {
        let repo = self.store.recipes();
        repo.release(name, version, who, "released on the station")
            .map_err(ui_err)?;
        repo.get(name, version).map_err(ui_err)
    }

    fn vision(&self, name: &str) -> Result<Option<StoredVision>, UiError> {
        let Some(row) = self.store.recipes().vision(name).map_err(ui_err)? else {
            return Ok(None);
        };
        let setup = VisionSetup::from_json(&row.setup_json).map_err(|e| {
            UiError::Backend(format!(
                "the stored vision setup of {name} is not usable: {e}"
            ))
        })?;
        Ok(Some(StoredVision {
            setup,
            recipe_version: row.recipe_version,
            taught_by: row.taught_by,
            taught_at: SystemTime::from(row.taught_at),
        }))
    }

    fn save_vision(
        &self,
        recipe: &Recipe,
        setup: &VisionSetup,
        who: &Actor,
    ) -> Result<(), UiError> {
        setup
            .check()
            .map_err(|e| UiError::Conflict(e.to_string()))?;
        self.store
            .recipes()
            .save_vision(
                &recipe.name,
                recipe.version,
                &setup.to_json(),
                &setup.summary(),
                who,
            )
            .map_err(ui_err)
    }
}

/// Seeds the store with the station's recipe (as a released version) when it does not
/// know it yet, so the recipes page shows it.
pub fn seed_recipe(store: &Store, recipe: &Recipe) -> Result<(), StoreError> {
    let repo = store.recipes();
    if !repo.versions(&recipe.name)?.is_empty() {
        return Ok(());
    }
    let system = Actor::new("station", Role::System);
    repo.create(recipe, &system, "recipe the station was started with")?;
    let engineer = Actor::new("station", Role::Engineer);
    repo.release(
        &recipe.name,
        1,
        &engineer,
        "recipe the station was started with",
    )?;
    Ok(())
}

/// The newest released library version with the same name and the same controller block
/// as `recipe` (so the station shows and records the library's `name@version`, not the
/// version number inside a recipe file).
pub fn library_version(store: &Store, recipe: &Recipe) -> Result<Option<Recipe>, StoreError> {
    let repo = store.recipes();
    let mut versions = repo.versions(&recipe.name)?;
    versions.reverse();
    for v in versions {
        if v.state != bonder_core::recipe::RecipeState::Released {
            continue;
        }
        let r = repo.get(&recipe.name, v.version)?;
        if r.to_block() == recipe.to_block() {
            return Ok(Some(r));
        }
    }
    Ok(None)
}

/// The recipe the machine ran when the station last stopped: the one recorded as
/// running ([`Store::set_running_recipe`], kept at every start and recipe change), or,
/// for a store from before that record, the target of the newest completed changeover by
/// its id (not its date: a wrong clock must not pick an older one). `None` when neither
/// names a recipe in the library.
pub fn running_recipe(store: &Store) -> Result<Option<Recipe>, StoreError> {
    let id = match store.running_recipe()? {
        Some(id) => Some(id),
        None => store
            .reader()?
            .changeovers(
                OffsetDateTime::UNIX_EPOCH,
                OffsetDateTime::UNIX_EPOCH + time::Duration::days(365 * 1000),
            )?
            .into_iter()
            .filter(|c| c.outcome.as_deref() == Some("completed"))
            .max_by_key(|c| c.id)
            .map(|c| c.to_recipe),
    };
    let Some((name, v)) = id.as_deref().and_then(|id| id.rsplit_once('@')) else {
        return Ok(None);
    };
    let Ok(v) = v.parse::<u32>() else {
        return Ok(None);
    };
    match store.recipes().get(name, v) {
        Ok(r) => Ok(Some(r)),
        Err(StoreError::RecipeNotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The UI's audit entries into the store's hash-chained trail (through the writer), as
/// the role the UI's session holds (never looked up or guessed from a badge). Recipe
/// saves, releases and vision setups are audited by the store itself.
#[derive(Debug)]
pub struct StoreAudit {
    pub writer: WriterHandle,
}

/// The store's action, object and value of a UI audit event.
fn audit_row(e: &AuditEntry) -> (AuditAction, String, Option<String>) {
    let user = || format!("user:{}", e.user);
    match &e.event {
        AuditEvent::Logout => (AuditAction::Logout, user(), None),
        AuditEvent::IdleLock => (AuditAction::Logout, user(), Some("idle lock".into())),
        AuditEvent::AlarmAck { code } => (AuditAction::AlarmAck, format!("alarm:{code}"), None),
        AuditEvent::MachineCommand(c) => (
            AuditAction::Command,
            "machine".into(),
            Some(format!("{c:?}")),
        ),
        AuditEvent::ShiftHandover => (AuditAction::Modify, "shift".into(), None),
        AuditEvent::VisionTaught { detail } => (
            AuditAction::Modify,
            "vision:template".into(),
            Some(detail.clone()),
        ),
        AuditEvent::VisionCalibrated { detail } => (
            AuditAction::Modify,
            "vision:calibration".into(),
            Some(detail.clone()),
        ),
        AuditEvent::Refused { permission, what } => {
            (AuditAction::Refused, format!("{permission}:{what}"), None)
        }
    }
}

impl AuditLog for StoreAudit {
    fn record(&self, e: AuditEntry) -> Result<(), UiError> {
        let backend = |e: StoreError| UiError::Backend(e.to_string());
        let time = OffsetDateTime::from(e.time);
        // An acknowledgement marks the alarm's history row (who, when); the store's
        // writer appends its audit row.
        if let (AuditEvent::AlarmAck { code }, Some(role)) = (&e.event, e.role) {
            return self
                .writer
                .send(WriteOp::AlarmAck(bonder_store::AlarmAck {
                    code: bonder_core::AlarmCode::from_code(*code)
                        .unwrap_or(bonder_core::AlarmCode::Other(*code)),
                    time,
                    user: e.user,
                    role,
                }))
                .map_err(backend);
        }
        let (action, object, new_value) = audit_row(&e);
        self.writer
            .send(WriteOp::Audit(AuditRecord {
                time,
                user: e.user,
                role: e.role,
                action,
                object,
                old_value: None,
                new_value,
                reason: None,
            }))
            .map_err(backend)
    }
}

/// The station's users in the store, under the configured login policy. Sign-ins and
/// account changes are audited by the store.
#[derive(Debug)]
pub struct StoreUsers {
    pub store: Arc<Store>,
    pub policy: LoginPolicy,
}

fn ui_user(u: bonder_store::UserRow) -> UserRecord {
    UserRecord {
        badge: u.badge,
        name: u.name,
        role: u.role,
        lang: bonder_i18n::Lang::from_code(&u.lang).unwrap_or(bonder_i18n::Lang::EnUs),
    }
}

fn system_time(ms: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// The store's errors of account administration, as the UI shows them.
fn account_err(e: StoreError) -> UiError {
    match e {
        StoreError::UserExists(b) => UiError::Conflict(format!("badge {b} is taken")),
        StoreError::UserNotFound(b) => UiError::NotFound(format!("badge {b}")),
        StoreError::WeakSecret(p) => UiError::WeakSecret(p),
        StoreError::LastAdmin => UiError::LastAdmin,
        StoreError::Forbidden(f) => UiError::Forbidden(f),
        other => ui_err(other),
    }
}

impl UserDirectory for StoreUsers {
    fn is_empty(&self) -> Result<bool, UiError> {
        Ok(self.store.user_count().map_err(ui_err)? == 0)
    }

    fn policy(&self) -> LoginPolicy {
        self.policy
    }

    fn sign_in(&self, badge: &str, secret: &str) -> Result<SignInAnswer, UiError> {
        let s = self
            .store
            .sign_in(
                badge,
                secret,
                &self.policy,
                OffsetDateTime::now_utc(),
                "panel",
            )
            .map_err(ui_err)?;
        Ok(match (s.attempt, s.user) {
            (Attempt::Accepted, Some(u)) => SignInAnswer::Welcome(ui_user(u)),
            (Attempt::Accepted, None) => SignInAnswer::Wrong { left: 0 },
            (Attempt::Disabled, _) => SignInAnswer::Disabled,
            (Attempt::Wrong { left }, _) => SignInAnswer::Wrong { left },
            (Attempt::LockedNow { until_ms }, _) => SignInAnswer::LockedNow {
                until: system_time(until_ms),
            },
            (Attempt::Locked { until_ms }, _) => SignInAnswer::Locked {
                until: system_time(until_ms),
            },
        })
    }

    fn add(&self, u: UserRecord, secret: &str, by: Option<&Actor>) -> Result<(), UiError> {
        let new = NewUser {
            badge: u.badge,
            name: u.name,
            role: u.role,
            lang: u.lang.code().into(),
        };
        self.store
            .create_user(&new, secret, &self.policy, by)
            .map_err(account_err)
    }

    fn list(&self) -> Result<Vec<UserListing>, UiError> {
        Ok(self
            .store
            .list_users(OffsetDateTime::now_utc())
            .map_err(ui_err)?
            .into_iter()
            .map(|u| UserListing {
                user: UserRecord {
                    badge: u.badge,
                    name: u.name,
                    role: u.role,
                    lang: bonder_i18n::Lang::from_code(&u.lang).unwrap_or(bonder_i18n::Lang::EnUs),
                },
                disabled: u.disabled,
                locked_until: u.locked_until_ms.map(system_time),
            })
            .collect())
    }

    fn change(&self, badge: &str, change: UiAccountChange, by: &Actor) -> Result<(), UiError> {
        let change = match change {
            UiAccountChange::Role(r) => AccountChange::Role(r),
            UiAccountChange::Secret(s) => AccountChange::Secret(s),
            UiAccountChange::Disabled(d) => AccountChange::Disabled(d),
        };
        self.store
            .change_user(badge, &change, &self.policy, by)
            .map_err(account_err)
    }

    fn set_language(&self, badge: &str, lang: bonder_i18n::Lang) -> Result<(), UiError> {
        match self
            .store
            .set_user_language(badge, lang.code())
            .map_err(ui_err)?
        {
            true => Ok(()),
            false => Err(UiError::NotFound(badge.into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engineer() -> Actor {
        Actor::new("E7", Role::Engineer)
    }

    fn operator() -> Actor {
        Actor::new("OP1", Role::Operator)
    }

    /// The camera page's setup goes to the file and back; an operator may not store one;
    /// a stored setup that does not read is an error naming the recipe, not a silent
    /// "never taught".
    #[test]
    fn vision_setups_round_trip_through_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path().join("s.sqlite")).unwrap());
        let lib = StoreRecipes {
            store: store.clone(),
        };
        let recipe = Recipe::default_au();
        assert_eq!(lib.vision(&recipe.name).unwrap(), None);
        let mut setup = VisionSetup::new(bonder_vision::Calibration::uniform(0.65));
        setup.pad_pitch_um = Some(60.0);
        lib.save_vision(&recipe, &setup, &engineer()).unwrap();
        let back = lib.vision(&recipe.name).unwrap().unwrap();
        assert_eq!((back.setup, back.taught_by.as_str()), (setup.clone(), "E7"));
        assert!(matches!(
            lib.save_vision(&recipe, &setup, &operator()),
            Err(UiError::Conflict(_))
        ));
        let mut bad = setup.clone();
        bad.calibration.um_per_px_x = -1.0;
        assert!(matches!(
            lib.save_vision(&recipe, &bad, &engineer()),
            Err(UiError::Conflict(_))
        ));
        // A file edited by hand (or a broken write) holds something unreadable.
        store
            .recipes()
            .save_vision(
                &recipe.name,
                1,
                "{not json",
                "hand edit",
                &Actor::new("E7", Role::Engineer),
            )
            .unwrap();
        match lib.vision(&recipe.name) {
            Err(UiError::Backend(m)) => assert!(m.contains(&recipe.name), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn ui_recipe_edits_and_audit_go_to_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path().join("s.sqlite")).unwrap());
        let recipe = Recipe::default_au();
        seed_recipe(&store, &recipe).unwrap();
        seed_recipe(&store, &recipe).unwrap(); // once only
        // The running recipe is known by its library name@version.
        let lib = library_version(&store, &recipe).unwrap().unwrap();
        assert_eq!(lib.id(), format!("{}@1", recipe.name));
        let mut other = recipe.clone();
        other.ball.force_gf.0 += 1.0;
        assert!(library_version(&store, &other).unwrap().is_none());
        let lib = StoreRecipes {
            store: store.clone(),
        };
        assert_eq!(lib.versions("SOT23-AU25").unwrap().len(), 1);

        let mut edited = recipe.clone();
        edited.ball.us_power_pct.0 = 62.0;
        let saved = lib
            .save_new_version(&edited, &engineer(), "NSOP trend")
            .unwrap();
        assert_eq!(
            (saved.version, saved.state),
            (2, bonder_core::recipe::RecipeState::Draft)
        );
        let v = lib.versions("SOT23-AU25").unwrap();
        assert_eq!(
            (
                v[0].recipe.version,
                v[0].saved_by.as_str(),
                v[0].reason.as_str()
            ),
            (2, "E7", "NSOP trend")
        );
        assert!(
            matches!(
                lib.release("SOT23-AU25", 2, &operator()),
                Err(UiError::Conflict(_))
            ),
            "an operator cannot release"
        );
        lib.release("SOT23-AU25", 2, &engineer()).unwrap();
        assert!(store.recipes().sendable("SOT23-AU25", 2).is_ok());

        let writer = store
            .spawn_writer(bonder_store::WriterConfig::default())
            .unwrap();
        let audit = StoreAudit {
            writer: writer.clone(),
        };
        audit
            .record(AuditEntry {
                time: SystemTime::now(),
                user: "OP1".into(),
                role: Some(Role::Operator),
                event: AuditEvent::Logout,
            })
            .unwrap();
        // Nobody logged in: a refused action is stored as such, with no role made up.
        audit
            .record(AuditEntry {
                time: SystemTime::now(),
                user: String::new(),
                role: None,
                event: AuditEvent::Refused {
                    permission: bonder_core::Permission::RunMachine,
                    what: "start".into(),
                },
            })
            .unwrap();
        writer.close().await.unwrap();
        let rows = store.reader().unwrap().audit(0, 100).unwrap();
        assert!(
            rows.iter().any(|r| r.action == AuditAction::Logout.name()
                && r.user == "OP1"
                && r.role == "operator"),
            "{rows:?}"
        );
        assert!(
            rows.iter().any(|r| r.action == AuditAction::Refused.name()
                && r.object == "run_machine:start"
                && r.role == bonder_store::audit::NO_ROLE),
            "{rows:?}"
        );
        assert_eq!(
            Store::verify_audit(store.path()).unwrap().rows as usize,
            rows.len()
        );
    }
}

#[cfg(test)]
mod user_tests {
    use super::*;
    use bonder_station_ui::store::UserRecord;

    const ADMIN_PASSWORD: &str = "wire-bond-4711";

    #[tokio::test]
    async fn users_survive_in_the_store_and_alarm_acks_mark_the_alarm() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        {
            let store = Arc::new(Store::open(&path).unwrap());
            let users = StoreUsers {
                store: store.clone(),
                policy: LoginPolicy::default(),
            };
            assert!(users.is_empty().unwrap());
            let admin = UserRecord {
                badge: "A1".into(),
                name: "王工".into(),
                role: Role::Admin,
                lang: bonder_i18n::Lang::ZhCn,
            };
            // An administrator signs in with a password of ten characters or more.
            assert!(matches!(
                users.add(admin.clone(), "4711", None),
                Err(UiError::WeakSecret(_))
            ));
            users.add(admin.clone(), ADMIN_PASSWORD, None).unwrap();
            // Only the first administrator is added without an administrator.
            let op = UserRecord {
                badge: "OP1".into(),
                name: "Li".into(),
                role: Role::Operator,
                lang: bonder_i18n::Lang::ZhCn,
            };
            assert!(matches!(
                users.add(op.clone(), "123456", None),
                Err(UiError::Forbidden(_))
            ));
            let by = Actor::new("A1", Role::Admin);
            assert!(matches!(
                users.add(admin, ADMIN_PASSWORD, Some(&by)),
                Err(UiError::Conflict(_))
            ));
            users.add(op, "123456", Some(&by)).unwrap();
            // The secret is stored as an argon2id hash of the one parameter set.
            let row = store.find_user("A1").unwrap().unwrap();
            assert!(row.pin_hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
            assert_eq!(
                users.sign_in("A1", "0000").unwrap(),
                SignInAnswer::Wrong { left: 4 }
            );
            assert_eq!(
                users.sign_in("nobody", ADMIN_PASSWORD).unwrap(),
                SignInAnswer::Wrong { left: 4 }
            );
            // The last administrator stays.
            assert_eq!(
                users.change("A1", UiAccountChange::Disabled(true), &by),
                Err(UiError::LastAdmin)
            );
            users
                .change("OP1", UiAccountChange::Disabled(true), &by)
                .unwrap();
            assert_eq!(
                users.sign_in("OP1", "123456").unwrap(),
                SignInAnswer::Disabled
            );
            let listed = users.list().unwrap();
            assert_eq!(listed.len(), 2);
            assert!(listed[1].disabled && listed[1].user.badge == "OP1");
            users.set_language("A1", bonder_i18n::Lang::EnUs).unwrap();

            let writer = store
                .spawn_writer(bonder_store::WriterConfig::default())
                .unwrap();
            let now = OffsetDateTime::now_utc();
            writer
                .send(WriteOp::Alarm(bonder_store::AlarmRecord {
                    code: bonder_core::AlarmCode::WireBroken,
                    raised: true,
                    time: now,
                }))
                .unwrap();
            let audit = StoreAudit {
                writer: writer.clone(),
            };
            audit
                .record(AuditEntry {
                    time: SystemTime::now(),
                    user: "A1".into(),
                    role: Some(Role::Admin),
                    event: AuditEvent::AlarmAck { code: 104 },
                })
                .unwrap();
            writer.close().await.unwrap();
            let alarms = store
                .reader()
                .unwrap()
                .alarms(
                    now - time::Duration::minutes(1),
                    now + time::Duration::minutes(1),
                )
                .unwrap();
            assert_eq!(alarms[0].acked_by.as_deref(), Some("A1"));
        }
        // A restart finds the user, with the language they chose.
        let store = Arc::new(Store::open(&path).unwrap());
        let users = StoreUsers {
            store,
            policy: LoginPolicy::default(),
        };
        let SignInAnswer::Welcome(u) = users.sign_in("A1", ADMIN_PASSWORD).unwrap() else {
            panic!("the administrator signs in after a restart");
        };
        assert_eq!(
            (u.name.as_str(), u.role, u.lang),
            ("王工", Role::Admin, bonder_i18n::Lang::EnUs)
        );
    }
}
