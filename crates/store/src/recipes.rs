//! Recipes: named, versioned, never overwritten, audited.
//!
//! * [`RecipeRepo::create`] stores version 1 of a new name as a draft.
//! * [`RecipeRepo::edit`] and [`RecipeRepo::import_json`] store a *new* version (the
//!   highest so far + 1) as a draft, with the parameter-level diff against the version
//!   it came from; nothing is ever updated in place (SQL triggers refuse it).
//! * Life cycle: draft → released → retired, or draft → retired. Releasing and retiring
//!   need [`Permission::ReleaseRecipe`]. Only a released version is [sendable](RecipeRepo::sendable).
//! * Creating, editing and importing need [`Permission::EditRecipe`] (engineers, and the
//!   station itself for the gateway's `cmd/recipe`).
//! * Every change needs a reason and appends an audit row in the same transaction.
//!
//! Recipes change rarely, so the repository writes synchronously through the store's
//! own connection, each change in one `IMMEDIATE` transaction; invalid input is
//! refused before the transaction starts, so a refused change writes nothing.

use crate::audit::{self, AuditAction, AuditRecord};
use crate::timefmt::{from_unix_ms, unix_ms};
use crate::{Store, StoreError};
use bonder_core::recipe::{Param, Recipe, RecipeError, RecipeState};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use time::OffsetDateTime;

pub use bonder_core::permissions::{Permission, Role};

/// Who does something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// User id (badge number, login name).
    pub user: String,
    /// The role the user acts in.
    pub role: Role,
}

impl Actor {
    /// An actor.
    pub fn new(user: impl Into<String>, role: Role) -> Actor {
        Actor {
            user: user.into(),
            role,
        }
    }
}

/// One changed field of a recipe, old → new, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamChange {
    /// Document key: a block parameter's key (`ball.force_gf`) or one of `name`,
    /// `device`, `capillary`, `limits.ball_um.min`, `limits.ball_um.max`,
    /// `limits.placement_um`, `limits.pull_min_gf`, `limits.shear_min_gf`,
    /// `envelope.learn_bonds`, `envelope.k_sigma`, `capillary_life_touchdowns`.
    pub key: String,
    /// Value in the older version.
    pub old_value: String,
    /// Value in the newer version.
    pub new_value: String,
}

/// Every compared field of a recipe, in display order, as `(key, text)`. Numbers use
/// the shortest text that reads back to the same `f64` (`30`, `25.4`); the wire
/// material is its name (`Au`).
fn fields(r: &Recipe) -> Vec<(&'static str, String)> {
    let mut out = vec![
        ("name", r.name.clone()),
        ("device", r.device.clone()),
        ("capillary", r.capillary.clone()),
    ];
    for p in Param::ALL {
        let text = if p == Param::WireMaterial {
            r.wire.material.to_string()
        } else {
            r.value(p).to_string()
        };
        out.push((p.spec().key, text));
    }
    let l = &r.limits;
    out.extend([
        ("limits.ball_um.min", l.ball_um[0].0.to_string()),
        ("limits.ball_um.max", l.ball_um[1].0.to_string()),
        ("limits.placement_um", l.placement_um.0.to_string()),
        ("limits.pull_min_gf", l.pull_min_gf.0.to_string()),
        ("limits.shear_min_gf", l.shear_min_gf.0.to_string()),
        ("envelope.learn_bonds", r.envelope.learn_bonds.to_string()),
        ("envelope.k_sigma", r.envelope.k_sigma.to_string()),
        (
            "capillary_life_touchdowns",
            r.capillary_life_touchdowns.to_string(),
        ),
    ]);
    out
}

/// The fields that differ between two recipes (document version, recipe version and
/// state are metadata, not compared).
pub fn recipe_diff(old: &Recipe, new: &Recipe) -> Vec<ParamChange> {
    fields(old)
        .into_iter()
        .zip(fields(new))
        .filter(|((_, a), (_, b))| a != b)
        .map(|((key, a), (_, b))| ParamChange {
            key: key.to_owned(),
            old_value: a,
            new_value: b,
        })
        .collect()
}

/// One stored version of a recipe, without its document.
#[derive(Debug, Clone, PartialEq)]
pub struct RecipeVersionInfo {
    /// Recipe name.
    pub name: String,
    /// Version number (1, 2, 3…).
    pub version: u32,
    /// Life-cycle state now.
    pub state: RecipeState,
    /// The version this one was edited from (`None` for a first version).
    pub base_version: Option<u32>,
    /// When the version was stored.
    pub created: OffsetDateTime,
    /// Who stored it.
    pub created_by: String,
    /// Why it was made.
    pub reason: String,
    /// When and by whom it was released.
    pub released: Option<(OffsetDateTime, String)>,
    /// When and by whom it was retired.
    pub retired: Option<(OffsetDateTime, String)>,
}

impl RecipeVersionInfo {
    /// `name@version`.
    pub fn id(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

fn state_name(s: RecipeState) -> &'static str {
    match s {
        RecipeState::Draft => "draft",
        RecipeState::Released => "released",
        RecipeState::Retired => "retired",
    }
}

fn state_from_name(s: &str) -> Result<RecipeState, StoreError> {
    match s {
        "draft" => Ok(RecipeState::Draft),
        "released" => Ok(RecipeState::Released),
        "retired" => Ok(RecipeState::Retired),
        other => Err(StoreError::Corrupt(format!("recipe state {other:?}"))),
    }
}

fn required_reason(reason: &str) -> Result<&str, StoreError> {
    let r = reason.trim();
    if r.is_empty() {
        Err(StoreError::ReasonRequired)
    } else {
        Ok(r)
    }
}

fn version_u32(v: i64) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("recipe version {v}")))
}

fn changes_json(changes: &[ParamChange], side: fn(&ParamChange) -> &str) -> String {
    let map: serde_json::Map<String, serde_json::Value> = changes
        .iter()
        .map(|c| (c.key.clone(), serde_json::Value::from(side(c))))
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// A recipe's vision setup as stored (the newest teach of its name): the JSON is
/// bonder-vision's `VisionSetup`, which the store does not interpret.
#[derive(Debug, Clone, PartialEq)]
pub struct RecipeVisionRow {
    /// The recipe's name (all its versions share the setup).
    pub recipe_name: String,
    /// The version that was running when it was taught.
    pub recipe_version: u32,
    /// When it was stored.
    pub taught_at: OffsetDateTime,
    /// Who taught it.
    pub taught_by: String,
    /// `VisionSetup` as JSON.
    pub setup_json: String,
}

/// Recipe repository on the store's own connection; get one with [`Store::recipes`].
#[derive(Debug, Clone, Copy)]
pub struct RecipeRepo<'a> {
    store: &'a Store,
}

impl<'a> RecipeRepo<'a> {
    pub(crate) fn new(store: &'a Store) -> Self {
        RecipeRepo { store }
    }

    /// Stores version 1 of a new recipe as a draft (the document's version and state
    /// are ignored). Refused when the name exists, the recipe is invalid or the reason
    /// is empty.
    pub fn create(
        &self,
        recipe: &Recipe,
        actor: &Actor,
        reason: &str,
    ) -> Result<RecipeVersionInfo, StoreError> {
        bonder_core::permissions::check(actor.role, Permission::EditRecipe)?;
        let reason = required_reason(reason)?;
        let r = as_draft(recipe, 1)?;
        let mut conn = self.store.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if latest_version(&tx, &r.name)?.is_some() {
            return Err(StoreError::RecipeExists(r.name));
        }
        insert_version(&tx, &r, None, actor, reason)?;
        tx.commit()?;
        info(&conn, &r.name, 1)
    }

    /// Stores an edit as a new draft version (the highest version + 1), with its diff
    /// against `base_version`. `edited` is the base with changes applied: its `name`
    /// selects the recipe; its `version` and `state` are ignored.
    pub fn edit(
        &self,
        base_version: u32,
        edited: &Recipe,
        actor: &Actor,
        reason: &str,
    ) -> Result<RecipeVersionInfo, StoreError> {
        bonder_core::permissions::check(actor.role, Permission::EditRecipe)?;
        let reason = required_reason(reason)?;
        let mut conn = self.store.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let base = get(&tx, &edited.name, base_version)?;
        let next = latest_version(&tx, &edited.name)?.unwrap_or(0) + 1;
        let r = as_draft(edited, next)?;
        if recipe_diff(&base, &r).is_empty() {
            return Err(StoreError::NoChanges(format!("{}@{base_version}", r.name)));
        }
        insert_version(&tx, &r, Some(&base), actor, reason)?;
        tx.commit()?;
        info(&conn, &r.name, next)
    }

    /// Imports a recipe document (JSON, as the gateway's `cmd/recipe` carries it and
    /// [`export_json`](Self::export_json) writes it). The core validates it; a
    /// malformed or invalid document is refused with every problem listed and nothing
    /// is written. An accepted document always becomes a new draft version: version 1
    /// of a new name, or the highest version + 1 (diffed against that highest version).
    pub fn import_json(
        &self,
        json: &str,
        actor: &Actor,
        reason: &str,
    ) -> Result<RecipeVersionInfo, StoreError> {
        self.import(json, actor, reason, false)
    }

    /// Imports a document that names its own version (a SECS/GEM S7F3 download, whose
    /// PPID is `name@version`): validated exactly as [`import_json`](Self::import_json),
    /// and stored as a draft only as that very version. Refused with nothing written:
    /// [`StoreError::RecipeExists`] when `name@version` is stored already (versions are
    /// never overwritten), [`StoreError::VersionNotNext`] when it is not the next one.
    pub fn import_json_exact(
        &self,
        json: &str,
        actor: &Actor,
        reason: &str,
    ) -> Result<RecipeVersionInfo, StoreError> {
        self.import(json, actor, reason, true)
    }

    /// Both imports; `exact`: the document's version must be the next one.
    fn import(
        &self,
        json: &str,
        actor: &Actor,
        reason: &str,
        exact: bool,
    ) -> Result<RecipeVersionInfo, StoreError> {
        bonder_core::permissions::check(actor.role, Permission::EditRecipe)?;
        let doc = Recipe::from_json(json)?;
        let reason = required_reason(reason)?;
        let mut conn = self.store.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let latest = latest_version(&tx, &doc.name)?;
        let next = latest.unwrap_or(0) + 1;
        if exact && latest.is_some_and(|l| doc.version <= l) {
            return Err(StoreError::RecipeExists(format!(
                "{}@{}",
                doc.name, doc.version
            )));
        }
        if exact && doc.version != next {
            return Err(StoreError::VersionNotNext {
                recipe: format!("{}@{}", doc.name, doc.version),
                next,
            });
        }
        let base = latest.map(|v| get(&tx, &doc.name, v)).transpose()?;
        let r = as_draft(&doc, next)?;
        insert_version(&tx, &r, base.as_ref(), actor, reason)?;
        tx.commit()?;
        info(&conn, &r.name, next)
    }

    /// The recipe document of a version, as JSON (state and version as stored).
    pub fn export_json(&self, name: &str, version: u32) -> Result<String, StoreError> {
        Ok(self.get(name, version)?.to_json())
    }

    /// Releases a draft. Needs [`Permission::ReleaseRecipe`].
    pub fn release(
        &self,
        name: &str,
        version: u32,
        actor: &Actor,
        reason: &str,
    ) -> Result<(), StoreError> {
        self.transition(name, version, RecipeState::Released, actor, reason)
    }

    /// Retires a released version or a draft. Needs [`Permission::ReleaseRecipe`].
    pub fn retire(
        &self,
        name: &str,
        version: u32,
        actor: &Actor,
        reason: &str,
    ) -> Result<(), StoreError> {
        self.transition(name, version, RecipeState::Retired, actor, reason)
    }

    fn transition(
        &self,
        name: &str,
        version: u32,
        to: RecipeState,
        actor: &Actor,
        reason: &str,
    ) -> Result<(), StoreError> {
        let action = match to {
            RecipeState::Released => AuditAction::Release,
            _ => AuditAction::Retire,
        };
        bonder_core::permissions::check(actor.role, Permission::ReleaseRecipe)?;
        let reason = required_reason(reason)?;
        let mut conn = self.store.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let from = state_of(&tx, name, version)?;
        let allowed = matches!(
            (from, to),
            (RecipeState::Draft, RecipeState::Released)
                | (
                    RecipeState::Draft | RecipeState::Released,
                    RecipeState::Retired
                )
        );
        let recipe = format!("{name}@{version}");
        if !allowed {
            return Err(StoreError::BadTransition { recipe, from, to });
        }
        let now = OffsetDateTime::now_utc();
        let sql = match to {
            RecipeState::Released => {
                "UPDATE recipe_versions SET state = ?3, released_ms = ?4, released_by = ?5
                 WHERE name = ?1 AND version = ?2"
            }
            _ => {
                "UPDATE recipe_versions SET state = ?3, retired_ms = ?4, retired_by = ?5
                 WHERE name = ?1 AND version = ?2"
            }
        };
        tx.execute(
            sql,
            params![name, version, state_name(to), unix_ms(now), actor.user],
        )?;
        audit::append(
            &tx,
            &AuditRecord {
                time: now,
                user: actor.user.clone(),
                role: Some(actor.role),
                action,
                object: format!("recipe:{recipe}"),
                old_value: Some(state_name(from).into()),
                new_value: Some(state_name(to).into()),
                reason: Some(reason.into()),
            },
        )?;
        tx.commit()?;
        tracing::info!(%recipe, to = state_name(to), user = %actor.user, "recipe state changed");
        Ok(())
    }

    /// Stores a new vision setup (taught template, calibration) for the recipe `name`,
    /// taught while `version` ran: a new row (the newest counts) and an audit row with
    /// `summary` and the SHA-256 of the JSON, in one transaction. Technicians,
    /// engineers and the system only.
    pub fn save_vision(
        &self,
        name: &str,
        version: u32,
        setup_json: &str,
        summary: &str,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        bonder_core::permissions::check(actor.role, Permission::TeachVision)?;
        let now = OffsetDateTime::now_utc();
        let digest = {
            use sha2::Digest;
            audit::hex(&sha2::Sha256::digest(setup_json.as_bytes()))
        };
        let mut conn = self.store.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let old: Option<String> = tx
            .query_row(
                "SELECT setup_json FROM recipe_vision WHERE recipe_name = ?1
                 ORDER BY id DESC LIMIT 1",
                params![name],
                |r| r.get(0),
            )
            .optional()?;
        tx.execute(
            "INSERT INTO recipe_vision (recipe_name, recipe_version, taught_ms, taught_by, setup_json)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![name, version, unix_ms(now), actor.user, setup_json],
        )?;
        let old_value = old.map(|o| {
            use sha2::Digest;
            format!("sha256:{}", audit::hex(&sha2::Sha256::digest(o.as_bytes())))
        });
        audit::append(
            &tx,
            &AuditRecord {
                time: now,
                user: actor.user.clone(),
                role: Some(actor.role),
                action: AuditAction::Modify,
                object: format!("recipe-vision:{name}"),
                old_value,
                new_value: Some(format!("sha256:{digest}")),
                reason: Some(summary.into()),
            },
        )?;
        tx.commit()?;
        tracing::info!(recipe = name, version, user = %actor.user, %summary, "vision setup stored");
        Ok(())
    }

    /// The newest vision setup of the recipe `name` (`None`: never taught here).
    pub fn vision(&self, name: &str) -> Result<Option<RecipeVisionRow>, StoreError> {
        let conn = self.store.lock();
        let row = conn
            .query_row(
                "SELECT recipe_name, recipe_version, taught_ms, taught_by, setup_json
                 FROM recipe_vision WHERE recipe_name = ?1 ORDER BY id DESC LIMIT 1",
                params![name],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                },
            )
            .optional()?;
        row.map(|(recipe_name, v, ms, taught_by, setup_json)| {
            Ok(RecipeVisionRow {
                recipe_name,
                recipe_version: version_u32(v)?,
                taught_at: from_unix_ms(ms),
                taught_by,
                setup_json,
            })
        })
        .transpose()
    }

    /// A version that may be sent to a machine: `NotReleased` unless it is released.
    pub fn sendable(&self, name: &str, version: u32) -> Result<Recipe, StoreError> {
        let r = self.get(name, version)?;
        if r.state != RecipeState::Released {
            return Err(StoreError::NotReleased {
                recipe: r.id(),
                state: r.state,
            });
        }
        Ok(r)
    }

    /// Every recipe name, sorted.
    pub fn names(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.store.lock();
        let mut stmt = conn.prepare("SELECT DISTINCT name FROM recipe_versions ORDER BY name")?;
        let names = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(names)
    }

    /// Every version of a recipe, oldest first (empty for an unknown name).
    pub fn versions(&self, name: &str) -> Result<Vec<RecipeVersionInfo>, StoreError> {
        let conn = self.store.lock();
        let mut stmt = conn.prepare(&format!("{SELECT_INFO} WHERE name = ?1 ORDER BY version"))?;
        let rows = stmt.query_map([name], info_row)?;
        rows.map(|r| r?).collect()
    }

    /// One version's document (state and version as stored).
    pub fn get(&self, name: &str, version: u32) -> Result<Recipe, StoreError> {
        get(&self.store.lock(), name, version)
    }

    /// The diff stored with a version (against its base version; empty for a first).
    pub fn changes(&self, name: &str, version: u32) -> Result<Vec<ParamChange>, StoreError> {
        let conn = self.store.lock();
        let mut stmt = conn.prepare(
            "SELECT key, old_value, new_value FROM recipe_changes
             WHERE name = ?1 AND version = ?2 ORDER BY ord",
        )?;
        let rows = stmt.query_map(params![name, version], |r| {
            Ok(ParamChange {
                key: r.get(0)?,
                old_value: r.get(1)?,
                new_value: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The diff between any two versions of a recipe, `from` → `to`.
    pub fn diff(&self, name: &str, from: u32, to: u32) -> Result<Vec<ParamChange>, StoreError> {
        let conn = self.store.lock();
        Ok(recipe_diff(
            &get(&conn, name, from)?,
            &get(&conn, name, to)?,
        ))
    }
}

/// The recipe as a draft of `version`, validated.
fn as_draft(recipe: &Recipe, version: u32) -> Result<Recipe, StoreError> {
    let mut r = recipe.clone();
    r.version = version;
    r.state = RecipeState::Draft;
    r.validate().map_err(RecipeError::Invalid)?;
    Ok(r)
}

fn latest_version(conn: &Connection, name: &str) -> Result<Option<u32>, StoreError> {
    let v: Option<i64> = conn.query_row(
        "SELECT MAX(version) FROM recipe_versions WHERE name = ?1",
        [name],
        |r| r.get(0),
    )?;
    v.map(version_u32).transpose()
}

fn state_of(conn: &Connection, name: &str, version: u32) -> Result<RecipeState, StoreError> {
    let s: Option<String> = conn
        .query_row(
            "SELECT state FROM recipe_versions WHERE name = ?1 AND version = ?2",
            params![name, version],
            |r| r.get(0),
        )
        .optional()?;
    let s = s.ok_or_else(|| StoreError::RecipeNotFound(format!("{name}@{version}")))?;
    state_from_name(&s)
}

fn get(conn: &Connection, name: &str, version: u32) -> Result<Recipe, StoreError> {
    let row: Option<(String, String)> = conn
        .query_row(
            "SELECT doc, state FROM recipe_versions WHERE name = ?1 AND version = ?2",
            params![name, version],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (doc, state) =
        row.ok_or_else(|| StoreError::RecipeNotFound(format!("{name}@{version}")))?;
    let mut r: Recipe = serde_json::from_str(&doc)
        .map_err(|e| StoreError::Corrupt(format!("recipe {name}@{version}: {e}")))?;
    r.state = state_from_name(&state)?;
    r.version = version;
    Ok(r)
}

fn insert_version(
    conn: &Connection,
    r: &Recipe,
    base: Option<&Recipe>,
    actor: &Actor,
    reason: &str,
) -> Result<(), StoreError> {
    let now = OffsetDateTime::now_utc();
    conn.execute(
        "INSERT INTO recipe_versions (name, version, state, doc, base_version, created_ms,
                                      created_by, created_role, reason)
         VALUES (?1, ?2, 'draft', ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            r.name,
            r.version,
            r.to_json(),
            base.map(|b| b.version),
            unix_ms(now),
            actor.user,
            actor.role.name(),
            reason
        ],
    )?;
    let changes = base.map(|b| recipe_diff(b, r)).unwrap_or_default();
    let mut stmt = conn.prepare_cached(
        "INSERT INTO recipe_changes (name, version, ord, key, old_value, new_value)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (ord, c) in changes.iter().enumerate() {
        stmt.execute(params![
            r.name,
            r.version,
            i64::try_from(ord).unwrap_or(i64::MAX),
            c.key,
            c.old_value,
            c.new_value
        ])?;
    }
    let (action, old_value, new_value) = match base {
        None => (AuditAction::Create, None, r.to_json()),
        Some(_) => (
            AuditAction::Modify,
            Some(changes_json(&changes, |c| &c.old_value)),
            changes_json(&changes, |c| &c.new_value),
        ),
    };
    audit::append(
        conn,
        &AuditRecord {
            time: now,
            user: actor.user.clone(),
            role: Some(actor.role),
            action,
            object: format!("recipe:{}", r.id()),
            old_value,
            new_value: Some(new_value),
            reason: Some(reason.into()),
        },
    )?;
    tracing::info!(recipe = %r.id(), user = %actor.user, changes = changes.len(), "recipe version stored");
    Ok(())
}

const SELECT_INFO: &str = "SELECT name, version, state, base_version, created_ms, created_by, reason, \
     released_ms, released_by, retired_ms, retired_by FROM recipe_versions";

fn info_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<RecipeVersionInfo, StoreError>> {
    let name: String = r.get(0)?;
    let version: i64 = r.get(1)?;
    let state: String = r.get(2)?;
    let base: Option<i64> = r.get(3)?;
    let created_ms: i64 = r.get(4)?;
    let created_by: String = r.get(5)?;
    let reason: String = r.get(6)?;
    let when_by =
        |ms: Option<i64>, by: Option<String>| ms.zip(by).map(|(ms, by)| (from_unix_ms(ms), by));
    let released = when_by(r.get(7)?, r.get(8)?);
    let retired = when_by(r.get(9)?, r.get(10)?);
    Ok((|| {
        Ok(RecipeVersionInfo {
            name,
            version: version_u32(version)?,
            state: state_from_name(&state)?,
            base_version: base.map(version_u32).transpose()?,
            created: from_unix_ms(created_ms),
            created_by,
            reason,
            released,
            retired,
        })
    })())
}

fn info(conn: &Connection, name: &str, version: u32) -> Result<RecipeVersionInfo, StoreError> {
    conn.query_row(
        &format!("{SELECT_INFO} WHERE name = ?1 AND version = ?2"),
        params![name, version],
        info_row,
    )?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_lists_changed_fields_in_order_with_material_names() {
        let a = Recipe::default_au();
        let mut b = a.clone();
        b.ball.force_gf.0 = 32.5;
        b.wire.material = bonder_core::recipe::WireMaterial::PdCu;
        b.limits.ball_um[1].0 = 53.0;
        b.version = 99;
        let d = recipe_diff(&a, &b);
        let keys: Vec<_> = d.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(
            keys,
            ["wire.material", "ball.force_gf", "limits.ball_um.max"]
        );
        assert_eq!(
            (d[0].old_value.as_str(), d[0].new_value.as_str()),
            ("Au", "PdCu")
        );
        assert_eq!(
            (d[1].old_value.as_str(), d[1].new_value.as_str()),
            ("30", "32.5")
        );
    }
}
