//! The bond recipe: the document that the gateway's `cmd/recipe` carries and that a recipe
//! export writes (`docs/spec/gateway-examples/recipe.json`), the controller's recipe
//! block (`controller-link.md`, holding registers 200–215) and the validation of both.

use crate::units::{
    Celsius, GramForce, LitresPerMin, Micrometres, Micros, MilliAmps, Millis, Percent, Unit,
    WholeMicrometres,
};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Version of the recipe document's shape (`"v"`).
pub const RECIPE_DOC_VERSION: u32 = 1;
/// Number of registers in the controller's recipe block (200–215).
pub const BLOCK_LEN: usize = 16;
/// First holding register of the recipe block.
pub const BLOCK_START: u16 = 200;
/// Capillary life used when a recipe does not set one (touchdowns).
pub const DEFAULT_CAPILLARY_LIFE: u32 = 1_000_000;

/// Life cycle of a recipe version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipeState {
    /// Being edited or awaiting release; cannot be sent to a machine.
    #[default]
    Draft,
    /// Released by an engineer; the only state that may be sent to a machine.
    Released,
    /// No longer used.
    Retired,
}

/// Bond wire material (register 201).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WireMaterial {
    /// Gold.
    Au,
    /// Bare copper: needs forming gas.
    Cu,
    /// Palladium-coated copper: needs forming gas.
    PdCu,
    /// Silver alloy.
    Ag,
}

impl WireMaterial {
    /// All materials in register order.
    pub const ALL: [WireMaterial; 4] = [Self::Au, Self::Cu, Self::PdCu, Self::Ag];

    /// The register code (0 Au, 1 Cu, 2 PdCu, 3 Ag alloy).
    pub fn code(self) -> u16 {
        match self {
            Self::Au => 0,
            Self::Cu => 1,
            Self::PdCu => 2,
            Self::Ag => 3,
        }
    }

    /// The material for a register code.
    pub fn from_code(code: u16) -> Option<Self> {
        Self::ALL.get(usize::from(code)).copied()
    }

    /// Whether this wire oxidises at the EFO spark and needs N2/H2 forming gas.
    pub fn needs_forming_gas(self) -> bool {
        matches!(self, Self::Cu | Self::PdCu)
    }
}

impl fmt::Display for WireMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Self::Au => "Au",
            Self::Cu => "Cu",
            Self::PdCu => "PdCu",
            Self::Ag => "Ag",
        };
        f.write_str(s)
    }
}

/// Wire spool on the machine.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Wire {
    pub material: WireMaterial,
    pub diameter_um: Micrometres,
}

/// Electronic flame-off: the spark that melts the free air ball (FAB).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Efo {
    pub current_ma: MilliAmps,
    pub time_us: Micros,
    /// Free air ball diameter the EFO settings aim at.
    pub fab_target_um: Micrometres,
}

/// Ultrasonic power, force and time of one bond (ball or stitch).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BondSettings {
    pub us_power_pct: Percent,
    pub force_gf: GramForce,
    pub time_ms: Millis,
}

/// Quality limits of the recipe (not part of the controller block: the station judges).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Allowed ball diameter, [min, max].
    pub ball_um: [Micrometres; 2],
    /// Largest allowed distance of the ball centre from the pad centre.
    pub placement_um: Micrometres,
    /// Minimum wire pull strength (MIL-STD-883 method 2011).
    pub pull_min_gf: GramForce,
    /// Minimum ball shear strength (JESD22-B116).
    pub shear_min_gf: GramForce,
}

/// How the curve envelope is obtained.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EnvelopeSettings {
    /// The envelope is learned from this many good bonds of each kind.
    pub learn_bonds: u32,
    /// Half width of the band in standard deviations.
    pub k_sigma: f64,
}

/// A bond recipe, one version of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recipe {
    /// Document shape version, [`RECIPE_DOC_VERSION`].
    pub v: u32,
    pub name: String,
    pub version: u32,
    pub device: String,
    pub state: RecipeState,
    pub wire: Wire,
    /// Capillary part number.
    pub capillary: String,
    /// Controller recipe slot.
    pub slot: u16,
    pub heater_temp_c: Celsius,
    pub forming_gas_l_min: LitresPerMin,
    pub efo: Efo,
    pub ball: BondSettings,
    pub stitch: BondSettings,
    pub loop_height_um: WholeMicrometres,
    pub wires_per_unit: u16,
    pub limits: Limits,
    pub envelope: EnvelopeSettings,
    /// Touchdowns after which the capillary must be changed (added field; defaults to
    /// [`DEFAULT_CAPILLARY_LIFE`] when absent).
    #[serde(default = "default_capillary_life")]
    pub capillary_life_touchdowns: u32,
}

fn default_capillary_life() -> u32 {
    DEFAULT_CAPILLARY_LIFE
}

/// A parameter of the controller's recipe block, in register order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Param {
    Slot,
    WireMaterial,
    WireDiameter,
    HeaterTemp,
    EfoCurrent,
    EfoTime,
    FabTarget,
    BallUsPower,
    BallForce,
    BallTime,
    StitchUsPower,
    StitchForce,
    StitchTime,
    LoopHeight,
    WiresPerUnit,
    FormingGas,
}

/// Static description of one block parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamSpec {
    /// Key in the recipe document (dotted path), also the Fluent key's stem.
    pub key: &'static str,
    pub unit: Unit,
    /// Register counts per engineering unit (10 for a 0.1 unit).
    pub counts_per_unit: f64,
    /// Allowed register values, inclusive.
    pub raw_min: u16,
    pub raw_max: u16,
}

impl ParamSpec {
    /// Smallest allowed value in engineering units.
    pub fn min(&self) -> f64 {
        f64::from(self.raw_min) / self.counts_per_unit
    }
    /// Largest allowed value in engineering units.
    pub fn max(&self) -> f64 {
        f64::from(self.raw_max) / self.counts_per_unit
    }
    /// Register value for an engineering value (rounded); `None` when it does not fit a
    /// register at all (negative, too large, not finite).
    pub fn to_raw(&self, value: f64) -> Option<u16> {
        let raw = (value * self.counts_per_unit).round();
        (raw.is_finite() && (0.0..=f64::from(u16::MAX)).contains(&raw)).then_some(raw as u16)
    }
    /// Engineering value of a register value.
    pub fn from_raw(&self, raw: u16) -> f64 {
        f64::from(raw) / self.counts_per_unit
    }
    /// Whether a register value is inside the allowed range.
    pub fn raw_in_range(&self, raw: u16) -> bool {
        (self.raw_min..=self.raw_max).contains(&raw)
    }
}

const fn spec(
    key: &'static str,
    unit: Unit,
    counts_per_unit: f64,
    raw_min: u16,
    raw_max: u16,
) -> ParamSpec {
    ParamSpec {
        key,
        unit,
        counts_per_unit,
        raw_min,
        raw_max,
    }
}

impl Param {
    /// Every parameter in register order (register = 200 + index).
    pub const ALL: [Param; BLOCK_LEN] = [
        Self::Slot,
        Self::WireMaterial,
        Self::WireDiameter,
        Self::HeaterTemp,
        Self::EfoCurrent,
        Self::EfoTime,
        Self::FabTarget,
        Self::BallUsPower,
        Self::BallForce,
        Self::BallTime,
        Self::StitchUsPower,
        Self::StitchForce,
        Self::StitchTime,
        Self::LoopHeight,
        Self::WiresPerUnit,
        Self::FormingGas,
    ];

    /// Position in the block (0..16).
    pub fn index(self) -> usize {
        self as usize
    }

    /// Holding register address.
    pub fn register(self) -> u16 {
        BLOCK_START + self as u16
    }

    /// Key, unit, scale and range. The ranges are the "typical range" column of the
    /// contract; the contract gives none for `fab_target`, so 15..150 µm is used (the FAB
    /// of 0.6–2.0 mil wire is 1.5–3 wire diameters).
    pub fn spec(self) -> ParamSpec {
        use Unit as U;
        match self {
            Self::Slot => spec("slot", U::None, 1.0, 1, 999),
            Self::WireMaterial => spec("wire.material", U::Code, 1.0, 0, 3),
            Self::WireDiameter => spec("wire.diameter_um", U::Micrometres, 10.0, 152, 508),
            Self::HeaterTemp => spec("heater_temp_c", U::Celsius, 10.0, 1200, 2600),
            Self::EfoCurrent => spec("efo.current_ma", U::MilliAmps, 10.0, 100, 800),
            Self::EfoTime => spec("efo.time_us", U::Micros, 1.0, 100, 2000),
            Self::FabTarget => spec("efo.fab_target_um", U::Micrometres, 10.0, 150, 1500),
            Self::BallUsPower => spec("ball.us_power_pct", U::Percent, 10.0, 0, 1000),
            Self::BallForce => spec("ball.force_gf", U::GramForce, 10.0, 50, 1500),
            Self::BallTime => spec("ball.time_ms", U::Millis, 10.0, 10, 500),
            Self::StitchUsPower => spec("stitch.us_power_pct", U::Percent, 10.0, 0, 1000),
            Self::StitchForce => spec("stitch.force_gf", U::GramForce, 10.0, 50, 2000),
            Self::StitchTime => spec("stitch.time_ms", U::Millis, 10.0, 10, 500),
            Self::LoopHeight => spec("loop_height_um", U::Micrometres, 1.0, 50, 800),
            Self::WiresPerUnit => spec("wires_per_unit", U::None, 1.0, 1, 64),
            Self::FormingGas => spec("forming_gas_l_min", U::LitresPerMin, 100.0, 0, 1000),
        }
    }

    /// The parameter with a document key.
    pub fn from_key(key: &str) -> Option<Param> {
        Self::ALL.into_iter().find(|p| p.spec().key == key)
    }
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.spec().key)
    }
}

/// One problem found by validation. `Display` gives a readable English line such as
/// `forming_gas_l_min 12.5 is outside 0..10`; front ends localise from the fields.
#[derive(Debug, Clone, PartialEq)]
pub enum Violation {
    /// A value outside its allowed range.
    OutOfRange {
        field: &'static str,
        value: f64,
        min: f64,
        max: f64,
        unit: Unit,
    },
    /// A value that is wrong for another reason.
    Invalid { field: &'static str, reason: Reason },
}

/// Why a field is invalid (other than its range).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Empty,
    UnknownDocVersion,
    MinNotBelowMax,
    NotPositive,
    NeedsFormingGas,
    FabNotLargerThanWire,
    UnknownMaterialCode,
}

impl Reason {
    /// English text; the Fluent key is `violation-` + the kebab-case variant name.
    pub fn text_en(self) -> &'static str {
        match self {
            Reason::Empty => "must not be empty",
            Reason::UnknownDocVersion => "is not a known document version (expected 1)",
            Reason::MinNotBelowMax => "minimum must be below maximum",
            Reason::NotPositive => "must be greater than zero",
            Reason::NeedsFormingGas => "copper wire needs forming gas (forming_gas_l_min > 0)",
            Reason::FabNotLargerThanWire => "free air ball must be larger than the wire",
            Reason::UnknownMaterialCode => "is not a known wire material code (0..3)",
        }
    }
}

fn fmt_num(v: f64) -> String {
    // Shortest readable form: 12.5, 10, 0.6
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::OutOfRange {
                field,
                value,
                min,
                max,
                ..
            } => write!(
                f,
                "{field} {} is outside {}..{}",
                fmt_num(*value),
                fmt_num(*min),
                fmt_num(*max)
            ),
            Violation::Invalid { field, reason } => write!(f, "{field} {}", reason.text_en()),
        }
    }
}

/// All violations of a recipe, in a stable order.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct Violations(pub Vec<Violation>);

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{v}")?;
        }
        Ok(())
    }
}

impl Recipe {
    /// `name@version`, as the gateway's status shows it.
    pub fn id(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }

    /// Engineering value of a block parameter.
    pub fn value(&self, p: Param) -> f64 {
        match p {
            Param::Slot => f64::from(self.slot),
            Param::WireMaterial => f64::from(self.wire.material.code()),
            Param::WireDiameter => self.wire.diameter_um.0,
            Param::HeaterTemp => self.heater_temp_c.0,
            Param::EfoCurrent => self.efo.current_ma.0,
            Param::EfoTime => f64::from(self.efo.time_us.0),
            Param::FabTarget => self.efo.fab_target_um.0,
            Param::BallUsPower => self.ball.us_power_pct.0,
            Param::BallForce => self.ball.force_gf.0,
            Param::BallTime => self.ball.time_ms.0,
            Param::StitchUsPower => self.stitch.us_power_pct.0,
            Param::StitchForce => self.stitch.force_gf.0,
            Param::StitchTime => self.stitch.time_ms.0,
            Param::LoopHeight => f64::from(self.loop_height_um.0),
            Param::WiresPerUnit => f64::from(self.wires_per_unit),
            Param::FormingGas => self.forming_gas_l_min.0,
        }
    }

    /// Sets a block parameter from an engineering value (as an editor does). Integer
    /// parameters are rounded; the result is not validated (call [`Recipe::validate`]).
    /// Returns `false` for a material code that names no material.
    pub fn set_value(&mut self, p: Param, v: f64) -> bool {
        let whole = |v: f64| v.round().clamp(0.0, f64::from(u32::MAX)) as u32;
        let small = |v: f64| v.round().clamp(0.0, f64::from(u16::MAX)) as u16;
        match p {
            Param::Slot => self.slot = small(v),
            Param::WireMaterial => match WireMaterial::from_code(small(v)) {
                Some(m) => self.wire.material = m,
                None => return false,
            },
            Param::WireDiameter => self.wire.diameter_um = Micrometres(v),
            Param::HeaterTemp => self.heater_temp_c = Celsius(v),
            Param::EfoCurrent => self.efo.current_ma = MilliAmps(v),
            Param::EfoTime => self.efo.time_us = Micros(whole(v)),
            Param::FabTarget => self.efo.fab_target_um = Micrometres(v),
            Param::BallUsPower => self.ball.us_power_pct = Percent(v),
            Param::BallForce => self.ball.force_gf = GramForce(v),
            Param::BallTime => self.ball.time_ms = Millis(v),
            Param::StitchUsPower => self.stitch.us_power_pct = Percent(v),
            Param::StitchForce => self.stitch.force_gf = GramForce(v),
            Param::StitchTime => self.stitch.time_ms = Millis(v),
            Param::LoopHeight => self.loop_height_um = WholeMicrometres(whole(v)),
            Param::WiresPerUnit => self.wires_per_unit = small(v),
            Param::FormingGas => self.forming_gas_l_min = LitresPerMin(v),
        }
        true
    }

    /// Checks every field; returns every violation found (never stops at the first).
    pub fn validate(&self) -> Result<(), Violations> {
        let mut out = Vec::new();
        if self.v != RECIPE_DOC_VERSION {
            out.push(Violation::Invalid {
                field: "v",
                reason: Reason::UnknownDocVersion,
            });
        }
        if self.name.trim().is_empty() {
            out.push(Violation::Invalid {
                field: "name",
                reason: Reason::Empty,
            });
        }
        if self.version == 0 {
            out.push(Violation::Invalid {
                field: "version",
                reason: Reason::NotPositive,
            });
        }
        if self.device.trim().is_empty() {
            out.push(Violation::Invalid {
                field: "device",
                reason: Reason::Empty,
            });
        }
        for p in Param::ALL {
            let s = p.spec();
            let value = self.value(p);
            let ok = s.to_raw(value).is_some_and(|raw| s.raw_in_range(raw));
            if !ok {
                out.push(Violation::OutOfRange {
                    field: s.key,
                    value,
                    min: s.min(),
                    max: s.max(),
                    unit: s.unit,
                });
            }
        }
        if self.wire.material.needs_forming_gas() && self.forming_gas_l_min.0 <= 0.0 {
            out.push(Violation::Invalid {
                field: "forming_gas_l_min",
                reason: Reason::NeedsFormingGas,
            });
        }
        if self.efo.fab_target_um.0 <= self.wire.diameter_um.0 {
            out.push(Violation::Invalid {
                field: "efo.fab_target_um",
                reason: Reason::FabNotLargerThanWire,
            });
        }
        let [lo, hi] = self.limits.ball_um;
        if lo.0.is_nan() || lo.0 <= 0.0 {
            out.push(Violation::Invalid {
                field: "limits.ball_um",
                reason: Reason::NotPositive,
            });
        } else if hi.0.is_nan() || lo.0 >= hi.0 {
            out.push(Violation::Invalid {
                field: "limits.ball_um",
                reason: Reason::MinNotBelowMax,
            });
        }
        let positive = [
            ("limits.placement_um", self.limits.placement_um.0),
            ("limits.pull_min_gf", self.limits.pull_min_gf.0),
            ("limits.shear_min_gf", self.limits.shear_min_gf.0),
            ("envelope.k_sigma", self.envelope.k_sigma),
        ];
        for (field, v) in positive {
            if !(v > 0.0 && v.is_finite()) {
                out.push(Violation::Invalid {
                    field,
                    reason: Reason::NotPositive,
                });
            }
        }
        if self.envelope.learn_bonds == 0 {
            out.push(Violation::Invalid {
                field: "envelope.learn_bonds",
                reason: Reason::NotPositive,
            });
        }
        if self.capillary_life_touchdowns == 0 {
            out.push(Violation::Invalid {
                field: "capillary_life_touchdowns",
                reason: Reason::NotPositive,
            });
        }
        if out.is_empty() {
            Ok(())
        } else {
            Err(Violations(out))
        }
    }

    /// The controller's recipe block (registers 200–215). Values that do not fit a
    /// register are clamped; validate first.
    pub fn to_block(&self) -> [u16; BLOCK_LEN] {
        let mut block = [0u16; BLOCK_LEN];
        for p in Param::ALL {
            let s = p.spec();
            let raw = (self.value(p) * s.counts_per_unit).round();
            block[p.index()] = raw.clamp(0.0, f64::from(u16::MAX)) as u16;
        }
        block
    }

    /// Parses a recipe document (JSON) and validates it.
    pub fn from_json(json: &str) -> Result<Recipe, RecipeError> {
        let r: Recipe = serde_json::from_str(json).map_err(|e| RecipeError::Json(e.to_string()))?;
        r.validate().map_err(RecipeError::Invalid)?;
        Ok(r)
    }

    /// The recipe document as JSON.
    pub fn to_json(&self) -> String {
        // A Recipe has no map with non-string keys; serialisation cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The built-in default: a released Au 25.4 µm recipe (the one the contract's
    /// examples and test vectors use). The simulator starts with it, and the station
    /// uses it when nothing else is configured.
    pub fn default_au() -> Recipe {
        Recipe {
            v: RECIPE_DOC_VERSION,
            name: "SOT23-AU25".into(),
            version: 7,
            device: "SOT23-3L".into(),
            state: RecipeState::Released,
            wire: Wire {
                material: WireMaterial::Au,
                diameter_um: Micrometres(25.4),
            },
            capillary: "1572-15-437GM".into(),
            slot: 42,
            heater_temp_c: Celsius(180.0),
            forming_gas_l_min: LitresPerMin(0.0),
            efo: Efo {
                current_ma: MilliAmps(40.0),
                time_us: Micros(600),
                fab_target_um: Micrometres(48.0),
            },
            ball: BondSettings {
                us_power_pct: Percent(60.0),
                force_gf: GramForce(30.0),
                time_ms: Millis(12.0),
            },
            stitch: BondSettings {
                us_power_pct: Percent(70.0),
                force_gf: GramForce(90.0),
                time_ms: Millis(15.0),
            },
            loop_height_um: WholeMicrometres(250),
            wires_per_unit: 2,
            limits: Limits {
                ball_um: [Micrometres(44.0), Micrometres(52.0)],
                placement_um: Micrometres(3.0),
                pull_min_gf: GramForce(3.0),
                shear_min_gf: GramForce(12.0),
            },
            envelope: EnvelopeSettings {
                learn_bonds: 200,
                k_sigma: 4.0,
            },
            capillary_life_touchdowns: DEFAULT_CAPILLARY_LIFE,
        }
    }

    /// A released Cu 20.3 µm recipe (the contract's `cmd-recipe` example).
    pub fn default_cu() -> Recipe {
        Recipe {
            name: "SOT23-CU20".into(),
            version: 3,
            wire: Wire {
                material: WireMaterial::Cu,
                diameter_um: Micrometres(20.3),
            },
            capillary: "1572-12-437GM".into(),
            slot: 43,
            heater_temp_c: Celsius(200.0),
            forming_gas_l_min: LitresPerMin(0.6),
            efo: Efo {
                current_ma: MilliAmps(55.0),
                time_us: Micros(520),
                fab_target_um: Micrometres(38.0),
            },
            ball: BondSettings {
                us_power_pct: Percent(72.0),
                force_gf: GramForce(24.0),
                time_ms: Millis(10.0),
            },
            stitch: BondSettings {
                us_power_pct: Percent(80.0),
                force_gf: GramForce(110.0),
                time_ms: Millis(14.0),
            },
            loop_height_um: WholeMicrometres(220),
            limits: Limits {
                ball_um: [Micrometres(35.0), Micrometres(41.0)],
                placement_um: Micrometres(2.5),
                pull_min_gf: GramForce(2.5),
                shear_min_gf: GramForce(9.0),
            },
            ..Recipe::default_au()
        }
    }
}

/// The block parameters of a controller recipe block, in engineering units, as a
/// controller (or the simulator) sees them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockValues {
    pub slot: u16,
    pub material: WireMaterial,
    pub wire_diameter_um: f64,
    pub heater_temp_c: f64,
    pub efo_current_ma: f64,
    pub efo_time_us: f64,
    pub fab_target_um: f64,
    pub ball: BondSettings,
    pub stitch: BondSettings,
    pub loop_height_um: f64,
    pub wires_per_unit: u16,
    pub forming_gas_l_min: f64,
}

/// Validates a raw recipe block and converts it to engineering values; every register
/// outside its range is reported.
pub fn parse_block(block: &[u16; BLOCK_LEN]) -> Result<BlockValues, Violations> {
    let mut out = Vec::new();
    for p in Param::ALL {
        let s = p.spec();
        let raw = block[p.index()];
        if !s.raw_in_range(raw) {
            out.push(Violation::OutOfRange {
                field: s.key,
                value: s.from_raw(raw),
                min: s.min(),
                max: s.max(),
                unit: s.unit,
            });
        }
    }
    let material = WireMaterial::from_code(block[Param::WireMaterial.index()]);
    if !out.is_empty() {
        return Err(Violations(out));
    }
    let Some(material) = material else {
        return Err(Violations(vec![Violation::Invalid {
            field: "wire.material",
            reason: Reason::UnknownMaterialCode,
        }]));
    };
    let v = |p: Param| p.spec().from_raw(block[p.index()]);
    let bond = |pw: Param, f: Param, t: Param| BondSettings {
        us_power_pct: Percent(v(pw)),
        force_gf: GramForce(v(f)),
        time_ms: Millis(v(t)),
    };
    Ok(BlockValues {
        slot: block[Param::Slot.index()],
        material,
        wire_diameter_um: v(Param::WireDiameter),
        heater_temp_c: v(Param::HeaterTemp),
        efo_current_ma: v(Param::EfoCurrent),
        efo_time_us: v(Param::EfoTime),
        fab_target_um: v(Param::FabTarget),
        ball: bond(Param::BallUsPower, Param::BallForce, Param::BallTime),
        stitch: bond(Param::StitchUsPower, Param::StitchForce, Param::StitchTime),
        loop_height_um: v(Param::LoopHeight),
        wires_per_unit: block[Param::WiresPerUnit.index()],
        forming_gas_l_min: v(Param::FormingGas),
    })
}

/// Why a recipe document was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RecipeError {
    /// Not a recipe document (malformed JSON, a missing or mistyped field).
    #[error("not a recipe document: {0}")]
    Json(String),
    /// A well-formed document with invalid values.
    #[error("{0}")]
    Invalid(Violations),
}
