//! The supervisor's recipe library: versions imported from files or seen on the gateway,
//! and the parameter diff of two versions.

use crate::FleetError;
use crate::history::History;
use bonder_core::recipe::{Recipe, RecipeState};
use serde::Serialize;
use serde_json::Value;
use sha2::Digest;
use std::collections::BTreeMap;

/// A document as the library keeps it: validated, in canonical form, as a draft (the
/// `state` inside an imported document is ignored: versions are released only by the
/// in-app, role-checked [`release`]).
fn canonical_draft(doc: &str) -> Result<Recipe, FleetError> {
    let mut r = Recipe::from_json(doc).map_err(|e| FleetError::Invalid(e.to_string()))?;
    r.validate()
        .map_err(|v| FleetError::Invalid(format!("recipe {}: {v}", r.id())))?;
    r.state = RecipeState::Draft;
    Ok(r)
}

/// Lowercase hex SHA-256 of a recipe's canonical draft document (what tells two
/// documents of one `name@version` apart).
pub fn doc_sha256(r: &Recipe) -> String {
    let mut d = r.clone();
    d.state = RecipeState::Draft;
    sha2::Sha256::digest(d.to_json().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Adds a recipe document after validating it, as a draft; returns `(name, version,
/// new)`. The same `name@version` again is accepted unchanged when the document is the
/// same (by hash, whatever its `state` says) and refused loudly otherwise
/// ([`FleetError::RecipeConflict`]): a version's content never changes.
pub fn import(
    db: &mut History,
    doc: &str,
    source: &str,
) -> Result<(String, u32, bool), FleetError> {
    let r = canonical_draft(doc)?;
    if let Some(stored) = db.recipe(&r.name, r.version)? {
        let stored = Recipe::from_json(&stored).map_err(|e| FleetError::Invalid(e.to_string()))?;
        let (a, b) = (doc_sha256(&stored), doc_sha256(&r));
        if a != b {
            tracing::error!(recipe = %r.id(), stored = %a, offered = %b, "a different document for an existing version: refused");
            return Err(FleetError::RecipeConflict {
                id: r.id(),
                stored: a,
                offered: b,
            });
        }
        return Ok((r.name.clone(), r.version, false));
    }
    let new = db.put_recipe(&r.name, r.version, "draft", &r.to_json(), source)?;
    Ok((r.name.clone(), r.version, new))
}

/// Releases a draft version (the only state that may be sent), by a user whom the
/// permission table lets release ([`Permission::ReleaseRecipe`]); audited.
pub fn release(
    db: &mut History,
    name: &str,
    version: u32,
    by: &crate::users::Session,
) -> Result<(), FleetError> {
    crate::users::check(by.role, crate::users::Permission::ReleaseRecipe)?;
    let doc = db
        .recipe(name, version)?
        .ok_or_else(|| FleetError::NotFound(format!("{name}@{version}")))?;
    let mut r = Recipe::from_json(&doc).map_err(|e| FleetError::Invalid(e.to_string()))?;
    if r.state != RecipeState::Draft {
        return Err(FleetError::Invalid(format!(
            "{name}@{version} is {:?}, not a draft",
            r.state
        )));
    }
    r.state = RecipeState::Released;
    db.set_recipe_released(name, version, &r.to_json())?;
    crate::users::audit(
        db,
        &by.user,
        Some(by.role),
        "release",
        &format!("recipe:{name}@{version}"),
        Some(doc_sha256(&r)),
    )?;
    Ok(())
}

/// First start: the two built-in recipes, released, so the library is not empty.
pub fn seed(db: &mut History) -> Result<(), FleetError> {
    if db.recipes()?.is_empty() {
        for r in [Recipe::default_cu(), Recipe::default_au()] {
            let mut r = r;
            r.state = RecipeState::Released;
            db.put_recipe(&r.name, r.version, "released", &r.to_json(), "built-in")?;
        }
    }
    Ok(())
}

/// One changed field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldDiff {
    /// Dotted path (`ball.force_gf`, `limits.ball_um[1]`).
    pub key: String,
    pub a: Option<String>,
    pub b: Option<String>,
}

fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&p, x, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), x, out);
            }
        }
        Value::String(s) => {
            out.insert(prefix.into(), s.clone());
        }
        other => {
            out.insert(prefix.into(), other.to_string());
        }
    }
}

/// Every field that differs between two recipe documents, by key. `all` also lists the
/// equal ones (with `a == b`).
pub fn diff(a: &str, b: &str, all: bool) -> Result<Vec<FieldDiff>, FleetError> {
    let pa: Value = serde_json::from_str(a).map_err(|e| FleetError::Invalid(e.to_string()))?;
    let pb: Value = serde_json::from_str(b).map_err(|e| FleetError::Invalid(e.to_string()))?;
    let (mut fa, mut fb) = (BTreeMap::new(), BTreeMap::new());
    flatten("", &pa, &mut fa);
    flatten("", &pb, &mut fb);
    let mut keys: Vec<&String> = fa.keys().chain(fb.keys()).collect();
    keys.sort();
    keys.dedup();
    Ok(keys
        .into_iter()
        .filter_map(|k| {
            let (x, y) = (fa.get(k), fb.get(k));
            (all || x != y).then(|| FieldDiff {
                key: k.clone(),
                a: x.cloned(),
                b: y.cloned(),
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn import_and_diff() {
        let mut db = History::open_in_memory().unwrap();
        seed(&mut db).unwrap();
        let mut r = Recipe::default_cu();
        r.version += 1;
        r.ball.force_gf.0 = 26.0;
        let (name, version, new) = import(&mut db, &r.to_json(), "file").unwrap();
        assert!(new);
        let a = db.recipe(&name, version - 1).unwrap().unwrap();
        let b = db.recipe(&name, version).unwrap().unwrap();
        let d = diff(&a, &b, false).unwrap();
        let keys: Vec<&str> = d.iter().map(|d| d.key.as_str()).collect();
        // The built-in is released, the import a draft.
        assert_eq!(keys, ["ball.force_gf", "state", "version"]);
        assert_eq!(d[0].a.as_deref(), Some("24.0"));
        assert_eq!(d[0].b.as_deref(), Some("26.0"));
        let mut bad = Recipe::default_cu();
        bad.forming_gas_l_min.0 = 12.5;
        assert!(import(&mut db, &bad.to_json(), "file").is_err());
    }

    #[test]
    fn imports_are_drafts_released_in_app_and_a_version_never_changes() {
        let mut db = History::open_in_memory().unwrap();
        let mut r = Recipe::default_cu();
        r.version = 7;
        // A document that says "released" is still imported as a draft.
        r.state = RecipeState::Released;
        let (name, v, new) = import(&mut db, &r.to_json(), "file").unwrap();
        assert!(new);
        let rows = db.recipes().unwrap();
        assert_eq!(rows[0].state, "draft");
        // The same document again (whatever its state): unchanged, not new.
        r.state = RecipeState::Draft;
        assert!(!import(&mut db, &r.to_json(), "file").unwrap().2);
        // A different one for the same version: refused, naming both hashes.
        let mut other = r.clone();
        other.ball.force_gf.0 += 1.0;
        match import(&mut db, &other.to_json(), "file") {
            Err(FleetError::RecipeConflict {
                id,
                stored,
                offered,
            }) => {
                assert_eq!(id, "SOT23-CU20@7");
                assert_eq!((stored.len(), offered.len()), (64, 64));
                assert_ne!(stored, offered);
            }
            e => panic!("{e:?}"),
        }
        // Release: only a role the table allows; audited.
        let op = crate::users::Session {
            user: "wang".into(),
            role: crate::users::Role::Operator,
        };
        assert!(matches!(
            release(&mut db, &name, v, &op),
            Err(FleetError::Forbidden(_))
        ));
        let eng = crate::users::Session {
            user: "li".into(),
            role: crate::users::Role::Engineer,
        };
        release(&mut db, &name, v, &eng).unwrap();
        assert_eq!(db.recipes().unwrap()[0].state, "released");
        let doc: Value = serde_json::from_str(&db.recipe(&name, v).unwrap().unwrap()).unwrap();
        assert_eq!(doc["state"], "released");
        assert!(release(&mut db, &name, v, &eng).is_err(), "released once");
        assert!(
            db.audit(5).unwrap().iter().any(|a| a.action == "release"
                && a.user == "li"
                && a.object == "recipe:SOT23-CU20@7")
        );
    }
}
