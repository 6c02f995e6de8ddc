//! The error every command returns: `{code, detail}` (a stable machine code for the
//! front end to translate or branch on, and a readable detail).

use bonder_fleet::FleetError;
use serde::Serialize;

/// A command error, serialized as `{"code": "...", "detail": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct CmdError {
    pub code: String,
    pub detail: String,
    /// Values the front end formats its message with (`left`, `until_ms`), flattened
    /// beside `code` and `detail`.
    #[serde(flatten, skip_serializing_if = "serde_json::Map::is_empty")]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl CmdError {
    /// An error with a code.
    pub fn new(code: &str, detail: impl Into<String>) -> CmdError {
        CmdError {
            code: code.into(),
            detail: detail.into(),
            extra: serde_json::Map::new(),
        }
    }

    /// The error with a value for the front end's message.
    pub fn with(mut self, key: &str, value: serde_json::Value) -> CmdError {
        self.extra.insert(key.into(), value);
        self
    }

    /// The user is not signed in.
    pub fn login() -> CmdError {
        CmdError::new("login_required", "sign in first")
    }

    /// The user's role may not do this.
    pub fn forbidden(what: &str) -> CmdError {
        CmdError::new("forbidden", what)
    }
}

impl From<FleetError> for CmdError {
    fn from(e: FleetError) -> CmdError {
        let code = match &e {
            FleetError::Db(_) => "history",
            FleetError::NewerSchema { .. } => "history_newer",
            FleetError::Config(_) => "settings",
            FleetError::NotConnected => "not_connected",
            FleetError::Mqtt(_) => "gateway",
            FleetError::Invalid(_) => "invalid",
            FleetError::NotFound(_) => "not_found",
            FleetError::Export(_) => "export",
            FleetError::Forbidden(_) => "forbidden",
            FleetError::RecipeConflict { .. } => "recipe_conflict",
        };
        CmdError::new(code, e.to_string())
    }
}

/// Result of a command.
pub type CmdResult<T> = Result<T, CmdError>;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn json_shape_is_pinned() {
        let e = CmdError::new("forbidden", "only engineers send recipes");
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"code":"forbidden","detail":"only engineers send recipes"}"#
        );
        let e: CmdError = FleetError::NotConnected.into();
        assert_eq!(e.code, "not_connected");
    }
}
