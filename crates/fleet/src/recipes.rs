//! The supervisor's recipe library: versions imported from files or seen on the gateway,
//! and the parameter diff of two versions.

use crate::FleetError;
use crate::history::History;
use bonder_core::recipe::{Recipe, RecipeState};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Adds a recipe document after validating it; returns `(name, version, new)`.
pub fn import(
    db: &mut History,
    doc: &str,
    source: &str,
) -> Result<(String, u32, bool), FleetError> {
    let r = Recipe::from_json(doc).map_err(|e| FleetError::Invalid(e.to_string()))?;
    r.validate()
        .map_err(|v| FleetError::Invalid(format!("recipe {}: {v}", r.id())))?;
    let state = match r.state {
        RecipeState::Draft => "draft",
        RecipeState::Released => "released",
        RecipeState::Retired => "retired",
    };
    let new = db.put_recipe(&r.name, r.version, state, &r.to_json(), source)?;
    Ok((r.name.clone(), r.version, new))
}

/// First start: the two built-in recipes, so the library is not empty.
pub fn seed(db: &mut History) -> Result<(), FleetError> {
    if db.recipes()?.is_empty() {
        for r in [Recipe::default_cu(), Recipe::default_au()] {
            import(db, &r.to_json(), "built-in")?;
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
        assert_eq!(keys, ["ball.force_gf", "version"]);
        assert_eq!(d[0].a.as_deref(), Some("24.0"));
        assert_eq!(d[0].b.as_deref(), Some("26.0"));
        let mut bad = Recipe::default_cu();
        bad.forming_gas_l_min.0 = 12.5;
        assert!(import(&mut db, &bad.to_json(), "file").is_err());
    }
}
