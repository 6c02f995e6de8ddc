//! The identifiers of the GEM manual (`docs/spec/secs-gem.md` §3–§5): status variables,
//! data values, equipment constants and collection events. An id here never changes
//! meaning; new ones are added.

/// Status variables (S1F3, S1F11).
pub mod sv {
    pub const CLOCK: u32 = 1001;
    pub const CONTROL_STATE: u32 = 1002;
    pub const PROCESS_STATE: u32 = 1003;
    pub const PREVIOUS_PROCESS_STATE: u32 = 1004;
    pub const PP_EXEC_NAME: u32 = 1005;
    pub const WIRES_BONDED: u32 = 1006;
    pub const BONDS_REJECTED: u32 = 1007;
    pub const YIELD_PCT: u32 = 1008;
    pub const WIRE_RATE_PER_MIN: u32 = 1009;
    pub const CAPILLARY_TOUCHDOWNS: u32 = 1010;
    pub const HEATER_TEMP_C: u32 = 1011;
    pub const ALARMS_SET: u32 = 1012;
    pub const OPERATOR_ID: u32 = 1013;
    pub const LOT_ID: u32 = 1014;
    pub const WORK_ORDER: u32 = 1015;
    pub const SPOOL_COUNT_ACTUAL: u32 = 1016;
    pub const SPOOL_COUNT_TOTAL: u32 = 1017;
    pub const CONTROLLER_ONLINE: u32 = 1018;
}

/// Data values: valid in the reports of the events that name them.
pub mod dv {
    pub const UNIT_ID: u32 = 2001;
    pub const UNIT_WIRES: u32 = 2002;
    pub const UNIT_REJECTS: u32 = 2003;
    pub const BOND_SEQ: u32 = 2004;
    pub const BOND_VERDICT: u32 = 2005;
    pub const BALL_DIAMETER_UM: u32 = 2006;
    pub const PLACEMENT_DX_UM: u32 = 2007;
    pub const PLACEMENT_DY_UM: u32 = 2008;
    pub const ALID: u32 = 2009;
    pub const ALTX: u32 = 2010;
    pub const PPID: u32 = 2011;
    pub const PP_CHANGE_STATUS: u32 = 2012;
    pub const CHANGEOVER_MINUTES: u32 = 2013;
    pub const FIRST_ARTICLE_PASSED: u32 = 2014;
    pub const ECID: u32 = 2015;
    pub const PREVIOUS_CONTROL_STATE: u32 = 2016;
    pub const TERMINAL_TEXT: u32 = 2017;
}

/// Equipment constants.
pub mod ec {
    pub const ESTABLISH_COMMUNICATIONS_TIMEOUT: u32 = 3001;
    pub const TIME_FORMAT: u32 = 3002;
    pub const CONFIG_SPOOL: u32 = 3003;
    pub const MAX_SPOOL_TRANSMIT: u32 = 3004;
    pub const OVERWRITE_SPOOL: u32 = 3005;
    pub const MAX_SPOOL_MESSAGES: u32 = 3006;
    pub const ONLINE_SUBSTATE: u32 = 3007;
    pub const INIT_CONTROL_STATE: u32 = 3008;
    pub const CAPILLARY_LIFE_LIMIT: u32 = 3009;
    pub const YIELD_ALARM_PCT: u32 = 3010;
}

/// Collection events.
pub mod ceid {
    pub const CONTROL_STATE_CHANGED: u32 = 100;
    pub const PROCESS_STATE_CHANGED: u32 = 101;
    pub const PP_SELECTED: u32 = 102;
    pub const PP_CHANGED: u32 = 103;
    pub const ALARM_SET: u32 = 104;
    pub const ALARM_CLEARED: u32 = 105;
    pub const UNIT_COMPLETED: u32 = 106;
    pub const BOND_REJECTED: u32 = 107;
    pub const CHANGEOVER_STARTED: u32 = 108;
    pub const CHANGEOVER_COMPLETED: u32 = 109;
    pub const TERMINAL_MESSAGE_ACKNOWLEDGED: u32 = 110;
    pub const SPOOLING_ACTIVATED: u32 = 111;
    pub const SPOOLING_DEACTIVATED: u32 = 112;
    pub const EQUIPMENT_CONSTANT_CHANGED: u32 = 113;
    pub const OPERATOR_LOGGED_IN: u32 = 114;
}

/// A variable's name, units and format as S1F12 / S1F24 list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VarInfo {
    pub id: u32,
    pub name: &'static str,
    pub units: &'static str,
}

const fn var(id: u32, name: &'static str, units: &'static str) -> VarInfo {
    VarInfo { id, name, units }
}

/// Every status variable.
pub const SVS: &[VarInfo] = &[
    var(sv::CLOCK, "Clock", ""),
    var(sv::CONTROL_STATE, "ControlState", ""),
    var(sv::PROCESS_STATE, "ProcessState", ""),
    var(sv::PREVIOUS_PROCESS_STATE, "PreviousProcessState", ""),
    var(sv::PP_EXEC_NAME, "PPExecName", ""),
    var(sv::WIRES_BONDED, "WiresBonded", "wires"),
    var(sv::BONDS_REJECTED, "BondsRejected", "bonds"),
    var(sv::YIELD_PCT, "YieldPct", "%"),
    var(sv::WIRE_RATE_PER_MIN, "WireRatePerMin", "1/min"),
    var(sv::CAPILLARY_TOUCHDOWNS, "CapillaryTouchdowns", "bonds"),
    var(sv::HEATER_TEMP_C, "HeaterTempC", "degC"),
    var(sv::ALARMS_SET, "AlarmsSet", ""),
    var(sv::OPERATOR_ID, "OperatorID", ""),
    var(sv::LOT_ID, "LotID", ""),
    var(sv::WORK_ORDER, "WorkOrder", ""),
    var(sv::SPOOL_COUNT_ACTUAL, "SpoolCountActual", "messages"),
    var(sv::SPOOL_COUNT_TOTAL, "SpoolCountTotal", "messages"),
    var(sv::CONTROLLER_ONLINE, "ControllerOnline", ""),
];

/// Every data value.
pub const DVS: &[VarInfo] = &[
    var(dv::UNIT_ID, "UnitID", ""),
    var(dv::UNIT_WIRES, "UnitWires", "wires"),
    var(dv::UNIT_REJECTS, "UnitRejects", "bonds"),
    var(dv::BOND_SEQ, "BondSeq", ""),
    var(dv::BOND_VERDICT, "BondVerdict", ""),
    var(dv::BALL_DIAMETER_UM, "BallDiameterUm", "um"),
    var(dv::PLACEMENT_DX_UM, "PlacementDxUm", "um"),
    var(dv::PLACEMENT_DY_UM, "PlacementDyUm", "um"),
    var(dv::ALID, "ALID", ""),
    var(dv::ALTX, "ALTX", ""),
    var(dv::PPID, "PPID", ""),
    var(dv::PP_CHANGE_STATUS, "PPChangeStatus", ""),
    var(dv::CHANGEOVER_MINUTES, "ChangeoverMinutes", "min"),
    var(dv::FIRST_ARTICLE_PASSED, "FirstArticlePassed", ""),
    var(dv::ECID, "ECID", ""),
    var(dv::PREVIOUS_CONTROL_STATE, "PreviousControlState", ""),
    var(dv::TERMINAL_TEXT, "TerminalText", ""),
];

/// A collection event and the data values that may be linked to it (any SV may be too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventInfo {
    pub ceid: u32,
    pub name: &'static str,
    pub dvs: &'static [u32],
}

const fn event(ceid: u32, name: &'static str, dvs: &'static [u32]) -> EventInfo {
    EventInfo { ceid, name, dvs }
}

/// Every collection event.
pub const EVENTS: &[EventInfo] = &[
    event(
        ceid::CONTROL_STATE_CHANGED,
        "ControlStateChanged",
        &[sv::CONTROL_STATE, dv::PREVIOUS_CONTROL_STATE],
    ),
    event(
        ceid::PROCESS_STATE_CHANGED,
        "ProcessStateChanged",
        &[sv::PROCESS_STATE, sv::PREVIOUS_PROCESS_STATE],
    ),
    event(
        ceid::PP_SELECTED,
        "PPSelected",
        &[sv::PP_EXEC_NAME, dv::PPID],
    ),
    event(
        ceid::PP_CHANGED,
        "PPChanged",
        &[dv::PPID, dv::PP_CHANGE_STATUS],
    ),
    event(ceid::ALARM_SET, "AlarmSet", &[dv::ALID, dv::ALTX]),
    event(ceid::ALARM_CLEARED, "AlarmCleared", &[dv::ALID, dv::ALTX]),
    event(
        ceid::UNIT_COMPLETED,
        "UnitCompleted",
        &[dv::UNIT_ID, dv::UNIT_WIRES, dv::UNIT_REJECTS],
    ),
    event(
        ceid::BOND_REJECTED,
        "BondRejected",
        &[
            dv::BOND_SEQ,
            dv::UNIT_ID,
            dv::BOND_VERDICT,
            dv::BALL_DIAMETER_UM,
            dv::PLACEMENT_DX_UM,
            dv::PLACEMENT_DY_UM,
        ],
    ),
    event(ceid::CHANGEOVER_STARTED, "ChangeoverStarted", &[dv::PPID]),
    event(
        ceid::CHANGEOVER_COMPLETED,
        "ChangeoverCompleted",
        &[dv::PPID, dv::CHANGEOVER_MINUTES, dv::FIRST_ARTICLE_PASSED],
    ),
    event(
        ceid::TERMINAL_MESSAGE_ACKNOWLEDGED,
        "TerminalMessageAcknowledged",
        &[dv::TERMINAL_TEXT],
    ),
    event(ceid::SPOOLING_ACTIVATED, "SpoolingActivated", &[]),
    event(ceid::SPOOLING_DEACTIVATED, "SpoolingDeactivated", &[]),
    event(
        ceid::EQUIPMENT_CONSTANT_CHANGED,
        "EquipmentConstantChanged",
        &[dv::ECID],
    ),
    event(
        ceid::OPERATOR_LOGGED_IN,
        "OperatorLoggedIn",
        &[sv::OPERATOR_ID],
    ),
];

pub fn event_info(ceid: u32) -> Option<&'static EventInfo> {
    EVENTS.iter().find(|e| e.ceid == ceid)
}

pub fn is_sv(id: u32) -> bool {
    SVS.iter().any(|v| v.id == id)
}

pub fn is_dv(id: u32) -> bool {
    DVS.iter().any(|v| v.id == id)
}
