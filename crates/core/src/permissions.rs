//! Who may do what: the one [`Role`] and the one permission table of the product.
//!
//! Every check — the touch UI, the station's store, the supervisor app, the gateway's
//! commands (and the SECS/GEM and OPC UA interfaces after them) — asks
//! [`Permission::allows`]; nothing else ranks or compares roles. The table is printed as
//! a matrix by [`matrix_markdown`] into `docs/permissions.md`, and a test pins it, so a
//! change of rights is a reviewed change of this file and of that page.
//!
//! Roles are not ordered: an administrator manages users but has no recipe authority, a
//! supervisor runs the shift but does not teach the vision. `System` is the station
//! itself (seeding its recipe library, imports on the gateway's behalf); nobody logs in
//! as `System`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A user's role (or the station itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Runs the machine: starts and stops it, acknowledges alarms, hands over the shift.
    Operator,
    /// Sets machines up: changeovers, vision teach and calibration.
    Technician,
    /// Owns the process: edits, releases and sends recipes.
    Engineer,
    /// Runs the shift and the line: work orders, reports, gateway settings.
    Supervisor,
    /// Manages users and trust (IT); no production or recipe authority.
    Admin,
    /// The station itself or a remote system acting through it; cannot log in.
    System,
}

impl Role {
    /// Every role, in the order the UIs list them.
    pub const ALL: [Role; 6] = [
        Role::Operator,
        Role::Technician,
        Role::Engineer,
        Role::Supervisor,
        Role::Admin,
        Role::System,
    ];

    /// The roles a person can hold (every role but [`Role::System`]).
    pub const PEOPLE: [Role; 5] = [
        Role::Operator,
        Role::Technician,
        Role::Engineer,
        Role::Supervisor,
        Role::Admin,
    ];

    /// Stable name (`operator` …): stored in databases and audit rows, sent in JSON,
    /// and the Fluent key stem `role-<name>`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Technician => "technician",
            Role::Engineer => "engineer",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
            Role::System => "system",
        }
    }

    /// The role of a stored name; `None` for anything else (never a default role).
    pub fn from_name(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == s)
    }

    /// The role of a person's stored name: like [`Role::from_name`], but `system` is not
    /// a role a person holds.
    pub fn person_from_name(s: &str) -> Option<Role> {
        Role::from_name(s).filter(|r| r.is_person())
    }

    /// Whether a person can hold this role (log in with it).
    pub fn is_person(self) -> bool {
        self != Role::System
    }

    /// Whether this role may do `p` (the same as [`Permission::allows`]).
    pub fn may(self, p: Permission) -> bool {
        p.allows(self)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Something a role may or may not do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Start, stop, pause the machine from the panel.
    RunMachine,
    /// Acknowledge an alarm.
    AcknowledgeAlarm,
    /// Close the shift and hand it over with notes.
    HandOverShift,
    /// Run a guided changeover (start, steps, abandon).
    RunChangeover,
    /// Sign a changeover off (the machine goes back to production).
    SignOffChangeover,
    /// Teach the vision template and calibrate the camera.
    TeachVision,
    /// Save a new (draft) recipe version, import a recipe document.
    EditRecipe,
    /// Release or retire a recipe version.
    ReleaseRecipe,
    /// Send a released recipe to stations (supervisor app, gateway `cmd/recipe`).
    SendRecipe,
    /// Send a work order to a station.
    SendWorkOrder,
    /// Ask a station to publish its bonds again.
    RequestBackfill,
    /// Change the plant gateway's connection settings.
    ConfigureGateway,
    /// Add users, change their role, reset passwords, disable them.
    ManageUsers,
    /// Switch the host interface between local and remote (GEM control state).
    SwitchRemote,
    /// Read the audit trail.
    ViewAudit,
    /// Trust a key or certificate (gateway command keys, OPC UA clients).
    ManageTrust,
    /// A fab host (SECS/GEM remote commands, OPC UA methods) runs the machine or selects
    /// the next job — only while the operator's switch is REMOTE. No person has it: a
    /// person at the station uses the station's own buttons.
    RemoteCommand,
    /// Discard the messages spooled for an absent host (GEM panel).
    PurgeSpool,
    /// Start, stop, pause the machine and reset its alarm from a host client in one's own
    /// name (OPC UA methods, signed in with one's badge) — only while REMOTE.
    RunMachineRemotely,
    /// See who is connected to the station's host interfaces (OPC UA sessions: user,
    /// client application, since when) on the GEM panel.
    ViewHostSessions,
    /// Record pull and shear test results (the keypad, a tester file, the watched folder).
    RecordTestResults,
    /// Run a process-window search (test bonds with candidate parameters, machine in
    /// setup) and abandon one; its result is a draft recipe version, released as any.
    SearchProcessWindow,
}

impl Permission {
    /// Every permission, in the order of the matrix.
    pub const ALL: [Permission; 22] = [
        Permission::RunMachine,
        Permission::AcknowledgeAlarm,
        Permission::HandOverShift,
        Permission::RunChangeover,
        Permission::SignOffChangeover,
        Permission::TeachVision,
        Permission::EditRecipe,
        Permission::ReleaseRecipe,
        Permission::SendRecipe,
        Permission::SendWorkOrder,
        Permission::RequestBackfill,
        Permission::ConfigureGateway,
        Permission::ManageUsers,
        Permission::SwitchRemote,
        Permission::ViewAudit,
        Permission::ManageTrust,
        Permission::RemoteCommand,
        Permission::PurgeSpool,
        Permission::RunMachineRemotely,
        Permission::ViewHostSessions,
        Permission::RecordTestResults,
        Permission::SearchProcessWindow,
    ];

    /// The roles that may do this: **the** permission table.
    pub fn roles(self) -> &'static [Role] {
        use Role::*;
        match self {
            Permission::RunMachine | Permission::AcknowledgeAlarm | Permission::HandOverShift => {
                &[Operator, Technician, Engineer, Supervisor]
            }
            Permission::RunChangeover | Permission::SignOffChangeover => &[Technician, Engineer],
            Permission::TeachVision => &[Technician, Engineer, System],
            Permission::EditRecipe => &[Engineer, System],
            Permission::ReleaseRecipe | Permission::SendRecipe => &[Engineer],
            Permission::SendWorkOrder => &[Technician, Engineer, Supervisor],
            Permission::RequestBackfill => &[Engineer, Supervisor, Admin, System],
            Permission::ConfigureGateway => &[Supervisor, Admin],
            Permission::ManageUsers | Permission::ManageTrust => &[Admin],
            Permission::SwitchRemote => &[Technician, Engineer, Supervisor],
            Permission::ViewAudit => &[Engineer, Supervisor, Admin],
            Permission::RemoteCommand => &[System],
            Permission::PurgeSpool => &[Engineer],
            Permission::RunMachineRemotely => &[Technician, Engineer, Supervisor],
            Permission::ViewHostSessions => &[Technician, Engineer, Supervisor, Admin],
            Permission::RecordTestResults => &[Operator, Technician, Engineer, System],
            Permission::SearchProcessWindow => &[Engineer],
        }
    }

    /// Whether `role` may do this.
    pub fn allows(self, role: Role) -> bool {
        self.roles().contains(&role)
    }

    /// Whether `role`, if anybody is logged in, may do this (nobody may do anything).
    pub fn allows_opt(self, role: Option<Role>) -> bool {
        role.is_some_and(|r| self.allows(r))
    }

    /// Stable name (`teach_vision` …): audit rows, error codes, the Fluent key stem
    /// `perm-<name>` with `_` as `-`.
    pub fn name(self) -> &'static str {
        match self {
            Permission::RunMachine => "run_machine",
            Permission::AcknowledgeAlarm => "acknowledge_alarm",
            Permission::HandOverShift => "hand_over_shift",
            Permission::RunChangeover => "run_changeover",
            Permission::SignOffChangeover => "sign_off_changeover",
            Permission::TeachVision => "teach_vision",
            Permission::EditRecipe => "edit_recipe",
            Permission::ReleaseRecipe => "release_recipe",
            Permission::SendRecipe => "send_recipe",
            Permission::SendWorkOrder => "send_work_order",
            Permission::RequestBackfill => "request_backfill",
            Permission::ConfigureGateway => "configure_gateway",
            Permission::ManageUsers => "manage_users",
            Permission::SwitchRemote => "switch_remote",
            Permission::ViewAudit => "view_audit",
            Permission::ManageTrust => "manage_trust",
            Permission::RemoteCommand => "remote_command",
            Permission::PurgeSpool => "purge_spool",
            Permission::RunMachineRemotely => "run_machine_remotely",
            Permission::ViewHostSessions => "view_host_sessions",
            Permission::RecordTestResults => "record_test_results",
            Permission::SearchProcessWindow => "search_process_window",
        }
    }

    /// The first person's role the table allows (for "needs a technician" messages).
    pub fn least_person(self) -> Option<Role> {
        Role::PEOPLE.into_iter().find(|r| self.allows(*r))
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A refused action: who tried and what the table says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a {role} may not {permission} (allowed: {})", allowed(*permission))]
pub struct Forbidden {
    pub permission: Permission,
    pub role: Role,
}

fn allowed(p: Permission) -> String {
    p.roles()
        .iter()
        .map(|r| r.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `Ok(())` when `role` may do `p`, else the refusal.
pub fn check(role: Role, p: Permission) -> Result<(), Forbidden> {
    if p.allows(role) {
        Ok(())
    } else {
        Err(Forbidden {
            permission: p,
            role,
        })
    }
}

/// The table as a Markdown matrix: a row per permission, a column per role, `✔` where
/// allowed. `docs/permissions.md` holds exactly this text between its markers.
pub fn matrix_markdown() -> String {
    let mut s = String::from("| permission |");
    for r in Role::ALL {
        s += &format!(" {} |", r.name());
    }
    s += "\n|---|";
    for _ in Role::ALL {
        s += ":-:|";
    }
    s += "\n";
    for p in Permission::ALL {
        s += &format!("| `{}` |", p.name());
        for r in Role::ALL {
            s += if p.allows(r) { " ✔ |" } else { "   |" };
        }
        s += "\n";
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_system_is_not_a_person() {
        for r in Role::ALL {
            assert_eq!(Role::from_name(r.name()), Some(r));
            assert_eq!(
                serde_json::to_string(&r).unwrap_or_default(),
                format!("\"{}\"", r.name())
            );
        }
        assert_eq!(Role::person_from_name("system"), None);
        assert_eq!(Role::from_name("Operator"), None);
        assert_eq!(Role::from_name(""), None);
        for p in Permission::ALL {
            assert_eq!(
                serde_json::to_string(&p).unwrap_or_default(),
                format!("\"{}\"", p.name())
            );
        }
    }

    /// The table, pinned. Changing a right means changing this matrix (and
    /// `docs/permissions.md`, which another test compares).
    #[test]
    fn the_permission_matrix_is_pinned() {
        let m = matrix_markdown();
        println!("{m}");
        let expected = "\
| permission | operator | technician | engineer | supervisor | admin | system |
|---|:-:|:-:|:-:|:-:|:-:|:-:|
| `run_machine` | ✔ | ✔ | ✔ | ✔ |   |   |
| `acknowledge_alarm` | ✔ | ✔ | ✔ | ✔ |   |   |
| `hand_over_shift` | ✔ | ✔ | ✔ | ✔ |   |   |
| `run_changeover` |   | ✔ | ✔ |   |   |   |
| `sign_off_changeover` |   | ✔ | ✔ |   |   |   |
| `teach_vision` |   | ✔ | ✔ |   |   | ✔ |
| `edit_recipe` |   |   | ✔ |   |   | ✔ |
| `release_recipe` |   |   | ✔ |   |   |   |
| `send_recipe` |   |   | ✔ |   |   |   |
| `send_work_order` |   | ✔ | ✔ | ✔ |   |   |
| `request_backfill` |   |   | ✔ | ✔ | ✔ | ✔ |
| `configure_gateway` |   |   |   | ✔ | ✔ |   |
| `manage_users` |   |   |   |   | ✔ |   |
| `switch_remote` |   | ✔ | ✔ | ✔ |   |   |
| `view_audit` |   |   | ✔ | ✔ | ✔ |   |
| `manage_trust` |   |   |   |   | ✔ |   |
| `remote_command` |   |   |   |   |   | ✔ |
| `purge_spool` |   |   | ✔ |   |   |   |
| `run_machine_remotely` |   | ✔ | ✔ | ✔ |   |   |
| `view_host_sessions` |   | ✔ | ✔ | ✔ | ✔ |   |
| `record_test_results` | ✔ | ✔ | ✔ |   |   | ✔ |
| `search_process_window` |   |   | ✔ |   |   |   |
";
        assert_eq!(m, expected);
    }

    #[test]
    fn every_permission_has_a_person_and_system_cannot_manage_people() {
        for p in Permission::ALL {
            // The host's remote commands are the one right no person holds.
            if p != Permission::RemoteCommand {
                assert!(p.least_person().is_some(), "{p}: nobody may");
            }
        }
        assert!(!Permission::RemoteCommand.allows_opt(Some(Role::Admin)));
        assert!(!Role::System.may(Permission::ManageUsers));
        assert!(!Role::System.may(Permission::ReleaseRecipe));
        let e = check(Role::Supervisor, Permission::TeachVision).unwrap_err();
        assert_eq!(
            e.to_string(),
            "a supervisor may not teach_vision (allowed: technician, engineer, system)"
        );
        assert!(check(Role::Engineer, Permission::ReleaseRecipe).is_ok());
        assert!(!Permission::RunMachine.allows_opt(None));
    }

    /// `docs/permissions.md` and `docs/security.md` show the table as it is.
    #[test]
    fn the_documented_matrix_is_the_table() {
        for doc in ["permissions.md", "security.md"] {
            let path = format!("{}/../../docs/{doc}", env!("CARGO_MANIFEST_DIR"));
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let (_, rest) = text
                .split_once("<!-- matrix:begin -->\n")
                .unwrap_or(("", ""));
            let (table, _) = rest.split_once("<!-- matrix:end -->").unwrap_or(("", ""));
            assert_eq!(
                table,
                matrix_markdown(),
                "docs/{doc} is out of step with bonder_core::permissions: paste the \
                 matrix printed by `cargo test -p bonder-core permission_matrix -- --nocapture`"
            );
        }
    }
}
