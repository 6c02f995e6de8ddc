//! What the store keeps: bond records, alarms, shifts, notes, events, E10 states,
//! changeovers. These are written through the writer ([`WriteOp`](crate::WriteOp)) and
//! read back by the [`Reader`](crate::Reader).

use bonder_core::permissions::Role;
use bonder_core::{AlarmCode, BondEvent, BondKind, Curve, Judgement, MachineState, Verdict};
use time::OffsetDateTime;

/// One bond's summary, and its curve when the station has one.
///
/// Stored in fixed point: placements, ball, deformation and tail to 1 nm, force to
/// 1 mgf, energy to 1 µJ, impedance drop to 0.01 %. Read back, the values differ from
/// the written `f32`s by at most half of that step (a non-finite value reads back as
/// NaN, or `None` for the optional ones).
#[derive(Debug, Clone, PartialEq)]
pub struct BondRecord {
    /// The station's record number (the gateway's `seq`), unique, increasing.
    pub seq: u64,
    /// Station clock when the bond was received.
    pub time: OffsetDateTime,
    /// Unit (device) number from the controller.
    pub unit: u32,
    /// Wire number within the unit.
    pub wire: u16,
    /// Ball or stitch bond.
    pub kind: BondKind,
    /// The station's verdict.
    pub verdict: Verdict,
    /// The controller's own verdict byte (recorded for comparison only).
    pub ctrl_verdict: u8,
    /// Placement offset from the pad centre, X.
    pub dx_um: f32,
    /// Placement offset from the pad centre, Y.
    pub dy_um: f32,
    /// Ball diameter (ball bonds).
    pub ball_um: Option<f32>,
    /// Highest bond force.
    pub peak_force_gf: f32,
    /// Ultrasonic energy delivered.
    pub us_energy_mj: f32,
    /// Z sink during the bond.
    pub deform_um: f32,
    /// Drop of the ultrasonic impedance over the bond, % of its start value.
    pub impedance_drop_pct: f32,
    /// Tail length (stitch bonds, when the break was seen).
    pub tail_um: Option<f32>,
    /// The recipe as `name@version`.
    pub recipe: String,
    /// The shift the bond was made in.
    pub shift_id: Option<i64>,
    /// The curve. On write, the writer keeps it for every rejected bond and one in
    /// [`WriterConfig::good_curve_every`](crate::WriterConfig::good_curve_every) good
    /// ones; records read back never carry it (see
    /// [`Reader::curve`](crate::Reader::curve)).
    pub curve: Option<Curve>,
}

impl BondRecord {
    /// The record of a judged bond; `recipe_id` is `name@version`, `time` the station
    /// clock when the bond arrived. The curve is included (the writer decides whether
    /// to keep it).
    pub fn from_judged(
        seq: u64,
        event: &BondEvent,
        judgement: &Judgement,
        recipe_id: &str,
        shift_id: Option<i64>,
        time: OffsetDateTime,
    ) -> BondRecord {
        let f = &judgement.features;
        BondRecord {
            seq,
            time,
            unit: event.unit_no,
            wire: event.wire_no,
            kind: event.kind,
            verdict: judgement.verdict,
            ctrl_verdict: event.ctrl_verdict,
            dx_um: event.place_dx_um,
            dy_um: event.place_dy_um,
            ball_um: event.ball_diameter_um,
            peak_force_gf: f.peak_force_gf,
            us_energy_mj: f.us_energy_mj,
            deform_um: f.deform_um,
            impedance_drop_pct: f.impedance_drop_pct,
            tail_um: f.tail_um,
            recipe: recipe_id.to_owned(),
            shift_id,
            curve: Some(event.curve.clone()),
        }
    }
}

/// An alarm raised or cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlarmRecord {
    /// The alarm.
    pub code: AlarmCode,
    /// `true`: raised (a new history row); `false`: cleared (closes the newest open
    /// row of the code).
    pub raised: bool,
    /// Station clock at the raise or clear.
    pub time: OffsetDateTime,
}

/// An alarm acknowledgement: marks the newest unacknowledged row of the code and
/// appends an audit row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmAck {
    /// The alarm acknowledged.
    pub code: AlarmCode,
    /// Station clock at the acknowledgement.
    pub time: OffsetDateTime,
    /// Who acknowledged.
    pub user: String,
    /// In which role.
    pub role: Role,
}

/// One alarm in the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmEntry {
    /// Row id (also in the audit row's object, `alarm:<code>#<id>`).
    pub id: i64,
    /// The alarm.
    pub code: AlarmCode,
    /// When it was raised.
    pub raised: OffsetDateTime,
    /// When it was acknowledged.
    pub acked: Option<OffsetDateTime>,
    /// Who acknowledged it.
    pub acked_by: Option<String>,
    /// When it was cleared.
    pub cleared: Option<OffsetDateTime>,
}

/// The start of a shift. The caller chooses the id (so that bonds can carry it before
/// the writer has committed the start): at start-up `Reader::max_shift_id()` + 1,
/// then + 1 per shift.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShiftStart {
    /// Shift id chosen by the caller.
    pub id: i64,
    /// Start time.
    pub time: OffsetDateTime,
    /// Operator id.
    pub operator: String,
    /// Team (crew) name.
    pub team: String,
}

/// A shift as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shift {
    /// Shift id.
    pub id: i64,
    /// Start time.
    pub started: OffsetDateTime,
    /// End time (`None` while the shift is open).
    pub ended: Option<OffsetDateTime>,
    /// Operator id.
    pub operator: String,
    /// Team (crew) name.
    pub team: String,
}

/// A handover note (free text, any language).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShiftNote {
    /// The shift the note belongs to.
    pub shift_id: i64,
    /// When it was written.
    pub time: OffsetDateTime,
    /// Who wrote it.
    pub author: String,
    /// The note (any language).
    pub text: String,
}

/// An entry of the events timeline (`kind` is a short machine name such as
/// `recipe_applied` or `capillary_changed`; `text` is free).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEvent {
    /// When it happened.
    pub time: OffsetDateTime,
    /// Short machine name of the kind of event.
    pub kind: String,
    /// Free text.
    pub text: String,
}

/// Equipment states of SEMI E10, which the shift summary's time accounting uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum E10State {
    /// Making product.
    Productive,
    /// Available, but not running (no operator, no material, paused).
    Standby,
    /// Running experiments or qualifications.
    Engineering,
    /// Planned down: preventive maintenance, setup/changeover, consumables.
    ScheduledDown,
    /// Unplanned down: alarms, repairs, emergency stop.
    UnscheduledDown,
    /// Not scheduled for production (no shift, holidays, installation).
    NonScheduled,
}

impl E10State {
    /// Every state.
    pub const ALL: [E10State; 6] = [
        Self::Productive,
        Self::Standby,
        Self::Engineering,
        Self::ScheduledDown,
        Self::UnscheduledDown,
        Self::NonScheduled,
    ];

    /// Stored name, and Fluent key stem (`e10-<name with - for _>`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Productive => "productive",
            Self::Standby => "standby",
            Self::Engineering => "engineering",
            Self::ScheduledDown => "scheduled_down",
            Self::UnscheduledDown => "unscheduled_down",
            Self::NonScheduled => "non_scheduled",
        }
    }

    /// The state of a stored name.
    pub fn from_name(s: &str) -> Option<E10State> {
        Self::ALL.into_iter().find(|e| e.name() == s)
    }

    /// The E10 state a machine state implies: running → productive; idle and paused →
    /// standby; setup (changeover) → scheduled down; alarm and e-stop → unscheduled
    /// down. Engineering and non-scheduled time are never implied by the machine; a
    /// supervisor or engineer declares them.
    pub fn from_machine(s: MachineState) -> E10State {
        match s {
            MachineState::Running => Self::Productive,
            MachineState::Idle | MachineState::Paused => Self::Standby,
            MachineState::Setup => Self::ScheduledDown,
            MachineState::Alarm | MachineState::EStop => Self::UnscheduledDown,
        }
    }
}

/// The equipment entered an E10 state at `time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateChange {
    /// When the state was entered.
    pub time: OffsetDateTime,
    /// The state entered.
    pub state: E10State,
}

/// The start of a changeover. The caller chooses the id, as for shifts
/// (`Reader::max_changeover_id()` + 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeoverStart {
    /// Changeover id chosen by the caller.
    pub id: i64,
    /// Start time.
    pub time: OffsetDateTime,
    /// `name@version`, when a recipe was active.
    pub from_recipe: Option<String>,
    /// `name@version` of the recipe changed to.
    pub to_recipe: String,
    /// Who started it.
    pub user: String,
}

/// One finished step of a changeover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeoverStep {
    /// The changeover this step belongs to.
    pub changeover_id: i64,
    /// Step name (Fluent key stem of the changeover UI).
    pub name: String,
    /// Start of the step.
    pub started: OffsetDateTime,
    /// End of the step.
    pub ended: OffsetDateTime,
    /// Who did it.
    pub by: String,
    /// What came of it (`ok`, the CRC read back, a scanned label…).
    pub outcome: String,
}

/// First-article check at the end of a changeover.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FirstArticle {
    /// Whether the first article passed.
    pub passed: bool,
    /// Lowest wire pull measured.
    pub pull_gf_min: f32,
    /// Lowest ball shear measured.
    pub shear_gf_min: f32,
}

/// The end of a changeover; appends an audit row (`changeover`, from → to recipe).
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeoverEnd {
    /// The changeover's id.
    pub id: i64,
    /// End time.
    pub time: OffsetDateTime,
    /// Who ended it.
    pub user: String,
    /// In which role.
    pub role: Role,
    /// The first-article check, when one was made.
    pub first_article: Option<FirstArticle>,
    /// Abandoned (machine left on the previous recipe) rather than completed.
    pub abandoned: bool,
}

/// The wizard's state of an open changeover (opaque JSON, replaced on every change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeoverProgress {
    /// The changeover's id.
    pub id: i64,
    /// When it changed.
    pub time: OffsetDateTime,
    /// The wizard's state.
    pub state_json: String,
}

/// A changeover as stored, with its steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Changeover {
    /// Changeover id.
    pub id: i64,
    /// `name@version` before (none when no recipe was active).
    pub from_recipe: Option<String>,
    /// `name@version` after.
    pub to_recipe: String,
    /// Start time.
    pub started: OffsetDateTime,
    /// Who started it.
    pub started_by: String,
    /// End time (`None` while in progress).
    pub ended: Option<OffsetDateTime>,
    /// Who ended it.
    pub ended_by: Option<String>,
    /// The first-article check, when one was made.
    pub first_article: Option<FirstArticle>,
    /// `completed` or `abandoned` once ended.
    pub outcome: Option<String>,
    /// Its steps, by start time.
    pub steps: Vec<ChangeoverStep>,
}

/// The station's vision inspection of a ball bond (`bonder-vision`), kept beside the bond
/// record with the same `seq`. Lengths in µm, as measured on the camera picture.
#[derive(Debug, Clone, PartialEq)]
pub struct VisionInspection {
    /// The bond's record number.
    pub seq: u64,
    /// When it was inspected.
    pub time: OffsetDateTime,
    /// The camera frame it was measured on.
    pub frame_no: u32,
    /// `ok`, `off_pad`, `ball_size`, `missing` or `no_pad` (`VisionVerdict::name`).
    pub verdict: String,
    /// How sure the verdict is, 0..1.
    pub confidence: f32,
    /// Ball diameter (`None`: no ball found).
    pub ball_um: Option<f64>,
    /// Ball centre − pad centre, x.
    pub dx_um: Option<f64>,
    /// Ball centre − pad centre, y.
    pub dy_um: Option<f64>,
    /// NCC score of the pad match (`None`: no pad found).
    pub pad_score: Option<f32>,
}

/// The predicted strength of a wire (`bond_predictions`), keyed by its ball bond.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BondPrediction {
    /// The ball bond's record number.
    pub seq: u64,
    /// Predicted shear and its standard uncertainty, gf, and the model version.
    pub shear: Option<(f64, f64, i64)>,
    /// Predicted pull and its standard uncertainty, gf, and the model version.
    pub pull: Option<(f64, f64, i64)>,
}
