//! Commands from the gateway (`{S}/cmd/recipe`, `{S}/cmd/workorder`): parsed and checked
//! here; a command that is malformed, of an unknown `v`, or carries an invalid recipe is
//! answered `ok: false` with a readable error and changes nothing.

use crate::payload::{V, WorkOrderCmd};
use crate::topics::Topic;
use bonder_core::recipe::{Recipe, RecipeError};
use serde_json::Value;

/// A command that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub enum GatewayCommand {
    /// Store as a new draft version awaiting an engineer's release. Never applied to a
    /// running machine by this message alone.
    Recipe {
        request_id: String,
        recipe: Box<Recipe>,
    },
    /// Show to the operator as the next job.
    WorkOrder(WorkOrderCmd),
}

impl GatewayCommand {
    /// The request id to answer with.
    pub fn request_id(&self) -> &str {
        match self {
            GatewayCommand::Recipe { request_id, .. } => request_id,
            GatewayCommand::WorkOrder(w) => &w.request_id,
        }
    }
}

/// A refused command: the answer to publish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
pub struct Rejection {
    /// `None` when the payload was too broken to carry one.
    pub request_id: Option<String>,
    pub error: String,
}

/// Parses and checks a command payload.
pub fn parse(topic: Topic, payload: &[u8]) -> Result<GatewayCommand, Rejection> {
    let reject = |request_id: Option<String>, error: String| Rejection { request_id, error };
    let value: Value = serde_json::from_slice(payload)
        .map_err(|e| reject(None, format!("malformed JSON: {e}")))?;
    let Some(obj) = value.as_object() else {
        return Err(reject(None, "malformed command: not a JSON object".into()));
    };
    let request_id = obj
        .get("request_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    match obj.get("v").and_then(Value::as_u64) {
        Some(v) if v == u64::from(V) => {}
        Some(v) => {
            return Err(reject(
                request_id,
                format!("unknown payload version v={v} (this station reads v=1)"),
            ));
        }
        None => return Err(reject(request_id, "missing payload version \"v\"".into())),
    }
    let Some(rid) = request_id.clone() else {
        return Err(reject(None, "missing \"request_id\"".into()));
    };
    match topic {
        Topic::CmdRecipe => {
            let doc = obj
                .get("recipe")
                .ok_or_else(|| reject(request_id.clone(), "missing \"recipe\"".into()))?;
            let recipe: Recipe = serde_json::from_value(doc.clone()).map_err(|e| {
                reject(
                    request_id.clone(),
                    RecipeError::Json(e.to_string()).to_string(),
                )
            })?;
            recipe
                .validate()
                .map_err(|v| reject(request_id.clone(), format!("recipe {}: {v}", recipe.id())))?;
            Ok(GatewayCommand::Recipe {
                request_id: rid,
                recipe: Box::new(recipe),
            })
        }
        Topic::CmdWorkorder => {
            let w: WorkOrderCmd = serde_json::from_value(value.clone())
                .map_err(|e| reject(request_id.clone(), format!("malformed work order: {e}")))?;
            if w.work_order.trim().is_empty() || w.recipe.trim().is_empty() || w.quantity == 0 {
                return Err(reject(
                    request_id,
                    "work order needs work_order, recipe and quantity > 0".into(),
                ));
            }
            Ok(GatewayCommand::WorkOrder(w))
        }
        other => Err(reject(
            request_id,
            format!("{} is not a command topic", other.suffix()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd_recipe(recipe: &Recipe) -> String {
        format!(
            r#"{{"v": 1, "request_id": "r1", "recipe": {}}}"#,
            recipe.to_json()
        )
    }

    #[test]
    fn valid_recipe_and_work_order() {
        let r = Recipe::default_cu();
        match parse(Topic::CmdRecipe, cmd_recipe(&r).as_bytes()).unwrap() {
            GatewayCommand::Recipe { request_id, recipe } => {
                assert_eq!(request_id, "r1");
                assert_eq!(*recipe, r);
            }
            other => panic!("{other:?}"),
        }
        let w = r#"{"v":1,"request_id":"w1","work_order":"WO-1","device":"SOT23-3L","recipe":"SOT23-CU20@3","quantity":5000}"#;
        assert!(matches!(
            parse(Topic::CmdWorkorder, w.as_bytes()),
            Ok(GatewayCommand::WorkOrder(_))
        ));
    }

    #[test]
    fn refusals_are_readable() {
        let mut r = Recipe::default_cu();
        r.forming_gas_l_min.0 = 12.5;
        let e = parse(Topic::CmdRecipe, cmd_recipe(&r).as_bytes()).unwrap_err();
        assert_eq!(e.request_id.as_deref(), Some("r1"));
        assert_eq!(
            e.error,
            "recipe SOT23-CU20@3: forming_gas_l_min 12.5 is outside 0..10"
        );
        let e = parse(Topic::CmdRecipe, b"{not json").unwrap_err();
        assert!(e.error.starts_with("malformed JSON"), "{e}");
        let e = parse(Topic::CmdRecipe, br#"{"v":2,"request_id":"x"}"#).unwrap_err();
        assert_eq!(
            (e.request_id.as_deref(), e.error.as_str()),
            (
                Some("x"),
                "unknown payload version v=2 (this station reads v=1)"
            )
        );
        let e = parse(
            Topic::CmdRecipe,
            br#"{"v":1,"request_id":"x","recipe":{"name":"a"}}"#,
        )
        .unwrap_err();
        assert!(e.error.contains("not a recipe document"), "{e}");
        let e = parse(
            Topic::CmdWorkorder,
            br#"{"v":1,"request_id":"w","work_order":"","device":"d","recipe":"r","quantity":1}"#,
        )
        .unwrap_err();
        assert!(e.error.contains("work order needs"), "{e}");
    }
}
