//! Commands from the gateway (`{S}/cmd/recipe`, `{S}/cmd/workorder`, `{S}/cmd/backfill`):
//! checked here in the order of the contract (version 2: `too_large` and `rate_limited`
//! in the link, then [`check`]: `unsigned`, `unknown_key`, `bad_signature`, `expired`,
//! `replayed`, `forbidden`, then the version-1 checks). A command that fails any check is
//! answered `ok: false` with a readable error starting with its code and changes nothing.

use crate::payload::{V, WorkOrderCmd};
use crate::signed::{self, RefusalCode, Signer, TrustStore, V2};
use crate::topics::Topic;
use bonder_core::permissions::Permission;
use bonder_core::recipe::{Recipe, RecipeError};
use serde_json::Value;

/// Most bonds one backfill request may ask for.
pub const MAX_BACKFILL_RANGE: u64 = 1_000_000;

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
    /// Publish the stored bonds `from_seq..=to_seq` again.
    Backfill {
        request_id: String,
        from_seq: u64,
        to_seq: u64,
    },
}

impl GatewayCommand {
    /// The request id to answer with.
    pub fn request_id(&self) -> &str {
        match self {
            GatewayCommand::Recipe { request_id, .. }
            | GatewayCommand::Backfill { request_id, .. } => request_id,
            GatewayCommand::WorkOrder(w) => &w.request_id,
        }
    }

    /// The topic it came on.
    pub fn topic(&self) -> Topic {
        match self {
            GatewayCommand::Recipe { .. } => Topic::CmdRecipe,
            GatewayCommand::WorkOrder(_) => Topic::CmdWorkorder,
            GatewayCommand::Backfill { .. } => Topic::CmdBackfill,
        }
    }
}

/// The permission a command topic needs of its signer (the contract's `forbidden` rule,
/// which the one permission table of `bonder-core` holds).
pub fn permission_for(topic: Topic) -> Option<Permission> {
    match topic {
        Topic::CmdRecipe => Some(Permission::SendRecipe),
        Topic::CmdWorkorder => Some(Permission::SendWorkOrder),
        Topic::CmdBackfill => Some(Permission::RequestBackfill),
        _ => None,
    }
}

/// A command that passed every check, with who sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    pub command: GatewayCommand,
    /// `None`: a version-1 command taken because `accept_unsigned` is on.
    pub signer: Option<Signer>,
}

/// A refused command: the answer to publish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
pub struct Rejection {
    /// `None` when the payload was too broken to carry one (or was not parsed).
    pub request_id: Option<String>,
    /// The contract's code (`None`: a version-1 content check).
    pub code: Option<RefusalCode>,
    /// Starts with the code when there is one.
    pub error: String,
    /// Who signed it, when the signature checked out.
    pub signer: Option<Signer>,
}

impl Rejection {
    fn content(request_id: Option<String>, signer: Option<Signer>, error: String) -> Rejection {
        Rejection {
            request_id,
            code: None,
            error,
            signer,
        }
    }

    /// A refusal with one of the contract's codes.
    pub fn coded(code: RefusalCode, request_id: Option<String>, reason: &str) -> Rejection {
        Rejection {
            request_id,
            code: Some(code),
            error: format!("{code}: {reason}"),
            signer: None,
        }
    }
}

impl From<signed::EnvelopeError> for Rejection {
    fn from(e: signed::EnvelopeError) -> Rejection {
        Rejection {
            error: e.to_string(),
            request_id: e.request_id,
            code: Some(e.code),
            signer: e.signer,
        }
    }
}

/// What the station checks commands against.
#[derive(Debug, Clone, Default)]
pub struct CommandPolicy {
    pub trust: TrustStore,
    /// Takes version-1 unsigned commands (a migration aid; off by default).
    pub accept_unsigned: bool,
}

/// Checks a command payload (already within [`signed::MAX_COMMAND_BYTES`]) in the
/// contract's order. `claim_nonce(nonce, until_s)` remembers a nonce durably and says
/// whether it was new; an error there refuses the command (nothing changes).
pub fn check(
    topic: Topic,
    payload: &[u8],
    policy: &CommandPolicy,
    now_s: i64,
    claim_nonce: impl FnOnce(&str, i64) -> Result<bool, String>,
) -> Result<Accepted, Rejection> {
    let opened = signed::verify(&policy.trust, policy.accept_unsigned, payload, now_s)?;
    let rid = opened
        .command
        .get("request_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    let signer = opened.signer.clone();
    if let Some((nonce, until)) = &opened.nonce {
        match claim_nonce(nonce, *until) {
            Ok(true) => {}
            Ok(false) => {
                return Err(Rejection {
                    signer,
                    ..Rejection::coded(
                        RefusalCode::Replayed,
                        rid,
                        "this command's nonce was seen before",
                    )
                });
            }
            Err(e) => {
                return Err(Rejection::content(
                    rid,
                    signer,
                    format!("cannot check the nonce (store: {e}); nothing was changed"),
                ));
            }
        }
    }
    if let (Some(s), Some(p)) = (&signer, permission_for(topic)) {
        if !p.allows(s.role) {
            let roles: Vec<&str> = p
                .roles()
                .iter()
                .filter(|r| r.is_person())
                .map(|r| r.name())
                .collect();
            let reason = format!(
                "{} needs the role {} (signed by {} as {})",
                topic.suffix(),
                roles.join(" or "),
                s.by,
                s.role.name()
            );
            return Err(Rejection {
                signer,
                ..Rejection::coded(RefusalCode::Forbidden, rid, &reason)
            });
        }
    }
    let version = if signer.is_some() { V2 } else { V };
    let command = parse_content(topic, &opened.command, version)
        .map_err(|(rid, e)| Rejection::content(rid, signer.clone(), e))?;
    Ok(Accepted { command, signer })
}

/// The version-1 checks of a command object whose `v` must be `version`.
fn parse_content(
    topic: Topic,
    value: &Value,
    version: u32,
) -> Result<GatewayCommand, (Option<String>, String)> {
    let Some(obj) = value.as_object() else {
        return Err((None, "malformed command: not a JSON object".into()));
    };
    let request_id = obj
        .get("request_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    let reject = |e: String| (request_id.clone(), e);
    match obj.get("v").and_then(Value::as_u64) {
        Some(v) if v == u64::from(version) => {}
        Some(v) => {
            return Err(reject(format!(
                "unknown payload version v={v} (expected v={version} here)"
            )));
        }
        None => return Err(reject("missing payload version \"v\"".into())),
    }
    let Some(rid) = request_id.clone() else {
        return Err((None, "missing \"request_id\"".into()));
    };
    match topic {
        Topic::CmdRecipe => {
            let doc = obj
                .get("recipe")
                .ok_or_else(|| reject("missing \"recipe\"".into()))?;
            let recipe: Recipe = serde_json::from_value(doc.clone())
                .map_err(|e| reject(RecipeError::Json(e.to_string()).to_string()))?;
            recipe
                .validate()
                .map_err(|v| reject(format!("recipe {}: {v}", recipe.id())))?;
            Ok(GatewayCommand::Recipe {
                request_id: rid,
                recipe: Box::new(recipe),
            })
        }
        Topic::CmdWorkorder => {
            let w: WorkOrderCmd = serde_json::from_value(value.clone())
                .map_err(|e| reject(format!("malformed work order: {e}")))?;
            if w.work_order.trim().is_empty() || w.recipe.trim().is_empty() || w.quantity == 0 {
                return Err(reject(
                    "work order needs work_order, recipe and quantity > 0".into(),
                ));
            }
            Ok(GatewayCommand::WorkOrder(w))
        }
        Topic::CmdBackfill => {
            let seq = |k: &str| obj.get(k).and_then(Value::as_u64);
            let (Some(from_seq), Some(to_seq)) = (seq("from_seq"), seq("to_seq")) else {
                return Err(reject(
                    "malformed backfill request: from_seq and to_seq are required".into(),
                ));
            };
            if from_seq == 0 || to_seq < from_seq {
                return Err(reject("backfill needs 1 <= from_seq <= to_seq".into()));
            }
            if to_seq - from_seq >= MAX_BACKFILL_RANGE {
                return Err(reject(format!(
                    "backfill of more than {MAX_BACKFILL_RANGE} bonds"
                )));
            }
            Ok(GatewayCommand::Backfill {
                request_id: rid,
                from_seq,
                to_seq,
            })
        }
        other => Err(reject(format!("{} is not a command topic", other.suffix()))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use bonder_core::permissions::Role;
    use ed25519_dalek::SigningKey;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;

    fn v1() -> CommandPolicy {
        CommandPolicy {
            accept_unsigned: true,
            ..CommandPolicy::default()
        }
    }

    fn parse(topic: Topic, payload: &[u8]) -> Result<GatewayCommand, Rejection> {
        check(topic, payload, &v1(), NOW, |_, _| Ok(true)).map(|a| a.command)
    }

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
        assert!(
            e.error.starts_with("unsigned: not a JWS (malformed JSON"),
            "{e}"
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
        let e = parse(
            Topic::CmdBackfill,
            br#"{"v":1,"request_id":"b","from_seq":9,"to_seq":5}"#,
        )
        .unwrap_err();
        assert_eq!(e.request_id.as_deref(), Some("b"));
        assert!(e.error.contains("from_seq <= to_seq"), "{e}");
        // Unsigned commands are refused by default.
        let e = check(
            Topic::CmdRecipe,
            cmd_recipe(&Recipe::default_cu()).as_bytes(),
            &CommandPolicy::default(),
            NOW,
            |_, _| Ok(true),
        )
        .unwrap_err();
        assert_eq!(
            (e.code, e.request_id.as_deref()),
            (Some(RefusalCode::Unsigned), Some("r1"))
        );
    }

    fn signed_policy() -> (SigningKey, CommandPolicy) {
        let key = SigningKey::from_bytes(&[7; 32]);
        let mut p = CommandPolicy::default();
        p.trust.insert("sv", key.verifying_key());
        (key, p)
    }

    fn signed_recipe(key: &SigningKey, role: Role) -> String {
        let cmd = json!({"request_id": "r2", "recipe": serde_json::from_str::<Value>(&Recipe::default_cu().to_json()).unwrap()});
        signed::sign(key, "sv", &signed::with_claims(cmd, "E7", role, NOW, 60))
    }

    #[test]
    fn a_signed_command_checks_replay_before_role_and_names_its_signer() {
        let (key, p) = signed_policy();
        let mut seen = std::collections::HashSet::new();
        let mut claim = |n: &str, _until: i64| Ok(seen.insert(n.to_string()));
        let jws = signed_recipe(&key, Role::Engineer);
        let a = check(Topic::CmdRecipe, jws.as_bytes(), &p, NOW, &mut claim).unwrap();
        assert_eq!(
            a.signer.as_ref().map(|s| (s.by.as_str(), s.role)),
            Some(("E7", Role::Engineer))
        );
        assert!(matches!(a.command, GatewayCommand::Recipe { .. }));
        let e = check(Topic::CmdRecipe, jws.as_bytes(), &p, NOW, &mut claim).unwrap_err();
        assert_eq!(e.code, Some(RefusalCode::Replayed));
        assert!(e.error.starts_with("replayed: "), "{e}");
        let op = signed_recipe(&key, Role::Operator);
        let e = check(Topic::CmdRecipe, op.as_bytes(), &p, NOW, &mut claim).unwrap_err();
        assert_eq!(e.code, Some(RefusalCode::Forbidden));
        assert_eq!(e.signer.as_ref().map(|s| s.role), Some(Role::Operator));
        assert!(e.error.contains("needs the role engineer"), "{e}");
        // A store that cannot remember the nonce refuses the command.
        let again = signed_recipe(&key, Role::Engineer);
        let e = check(Topic::CmdRecipe, again.as_bytes(), &p, NOW, |_, _| {
            Err("disk full".into())
        })
        .unwrap_err();
        assert!(e.error.contains("disk full"), "{e}");
    }

    #[test]
    fn the_forbidden_rule_is_the_contracts() {
        let roles = |t| {
            let p = permission_for(t).unwrap();
            Role::PEOPLE
                .iter()
                .filter(|r| p.allows(**r))
                .map(|r| r.name())
                .collect::<Vec<_>>()
        };
        assert_eq!(roles(Topic::CmdRecipe), ["engineer"]);
        assert_eq!(
            roles(Topic::CmdWorkorder),
            ["technician", "engineer", "supervisor"]
        );
        assert_eq!(
            roles(Topic::CmdBackfill),
            ["engineer", "supervisor", "admin"]
        );
    }
}
