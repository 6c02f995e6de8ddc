//! What the OPC UA server needs of the station (its port): sign-in against the station's
//! users, the LOCAL/REMOTE switch, the machine commands, recipe drafts, alarm texts and
//! the audit trail ([`Station`]). What the station tells the server — values, bonds,
//! alarms — goes the other way, through [`crate::OpcuaHandle`]. The station implements
//! the port over its runtime, its store and GEM; this crate knows none of them.

use bonder_core::permissions::Role;
use bonder_core::state::MachineState;
use std::future::Future;

/// The `Bonder` object's values at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MachineView {
    /// The controller's machine state; `None` while the controller is offline.
    pub state: Option<MachineState>,
    /// Running recipe, `name@version`, empty when none.
    pub recipe: String,
    pub wires_bonded: u32,
    pub bonds_rejected: u32,
    pub yield_pct: f64,
    pub wire_rate_per_min: u32,
    pub capillary_touchdowns: u32,
    pub heater_temp_c: f64,
    /// Badge of the logged-in operator, empty when none.
    pub operator: String,
    pub work_order: String,
    /// The alarm shown now (the controller's first, else the station's), 0 when none.
    pub active_alarm: u32,
}

/// The `LastBond` object's values.
#[derive(Debug, Clone, PartialEq)]
pub struct LastBond {
    pub seq: u64,
    /// `ball` or `stitch`.
    pub kind: String,
    /// The judgement's verdict name (`ok`, `ball_small` …).
    pub verdict: String,
    pub ball_diameter_um: f64,
    pub placement_dx_um: f64,
    pub placement_dy_um: f64,
    pub peak_force_gf: f64,
    pub us_energy_mj: f64,
    pub deform_um: f64,
    /// When the station read the bond from the controller's stream: the variables'
    /// source timestamp.
    pub received: std::time::SystemTime,
}

/// A method of the `Bonder` object that runs the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MachineMethod {
    Start,
    Stop,
    Pause,
    ResetAlarm,
}

impl MachineMethod {
    /// Every machine method, in the address space's order.
    pub const ALL: [MachineMethod; 4] = [
        MachineMethod::Start,
        MachineMethod::Stop,
        MachineMethod::Pause,
        MachineMethod::ResetAlarm,
    ];

    /// The browse name.
    pub fn name(self) -> &'static str {
        match self {
            MachineMethod::Start => "Start",
            MachineMethod::Stop => "Stop",
            MachineMethod::Pause => "Pause",
            MachineMethod::ResetAlarm => "ResetAlarm",
        }
    }
}

/// A user the station accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub badge: String,
    pub role: Role,
}

/// What the OPC UA server records in the station's audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpcuaAudit {
    /// The badge, `anonymous`, or what the client gave as a user name.
    pub user: String,
    /// The user's role when known.
    pub role: Option<Role>,
    pub action: OpcuaAction,
    /// What was acted on: `opcua:session`, `opcua:method:Stop`, `recipe:AU-25@3`.
    pub object: String,
    /// The client's application URI (empty when not known yet).
    pub client: String,
    /// What happened, in words (a refusal's status code, the session's security).
    pub detail: String,
}

/// The kind of an audited OPC UA action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpcuaAction {
    /// A session activated.
    SessionOpened,
    /// A session closed or expired.
    SessionClosed,
    /// A method carried out.
    Command,
    /// A method, a session or a certificate refused.
    Refused,
    /// A recipe document stored as a draft.
    Create,
}

/// The station, as the OPC UA server uses it.
pub trait Station: Send + Sync + 'static {
    /// Checks a user name (badge) and secret against the station's users with its login
    /// policy and lockout, and audits the attempt itself (`via = opcua`). `Err` is the
    /// refusal in words (logged, never sent to the client).
    fn sign_in(
        &self,
        badge: &str,
        secret: &str,
    ) -> impl Future<Output = Result<SignedIn, String>> + Send;
    /// Whether the operator's LOCAL/REMOTE switch (shared with SECS/GEM) is REMOTE.
    fn is_remote(&self) -> bool;
    /// Carries out a machine command; `Err` is the controller's or the station's refusal.
    fn run(&self, m: MachineMethod) -> impl Future<Output = Result<(), String>> + Send;
    /// Stores a recipe document as a draft awaiting release, validated exactly like the
    /// gateway's `cmd/recipe`; `Ok` is the draft's `name@version`, `Err` the validation
    /// errors (bilingual), and then nothing was written.
    fn submit_recipe(
        &self,
        by: &SignedIn,
        document: &str,
    ) -> impl Future<Output = Result<String, String>> + Send;
    /// An alarm's text in `locale` (`en-US` or `zh-CN`).
    fn alarm_text(&self, code: u32, locale: &str) -> String;
    fn audit(&self, entry: OpcuaAudit);
}
