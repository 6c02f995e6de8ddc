//! Unit-carrying newtypes. The recipe and the bond record use these so that a force can
//! never be passed where a length is expected; JSON sees plain numbers (`serde(transparent)`).

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! unit {
    ($(#[$m:meta])* $name:ident, $t:ty, $sym:expr) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub $t);

        impl $name {
            /// The unit's symbol, as shown next to a value.
            pub const SYMBOL: &'static str = $sym;
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{} {}", self.0, Self::SYMBOL)
            }
        }
    };
}

unit!(
    /// Length in micrometres.
    Micrometres, f64, "µm");
unit!(
    /// Force in gram-force.
    GramForce, f64, "gf");
unit!(
    /// Duration in milliseconds.
    Millis, f64, "ms");
unit!(
    /// Duration in whole microseconds.
    Micros, u32, "µs");
unit!(
    /// Length in whole micrometres (loop height).
    WholeMicrometres, u32, "µm");
unit!(
    /// Current in milliamperes.
    MilliAmps, f64, "mA");
unit!(
    /// Percent of full scale.
    Percent, f64, "%");
unit!(
    /// Temperature in degrees Celsius.
    Celsius, f64, "°C");
unit!(
    /// Gas flow in litres per minute.
    LitresPerMin, f64, "L/min");

/// The unit of a recipe parameter, for display and for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A plain count or an index.
    None,
    /// An enumerated code (wire material).
    Code,
    Micrometres,
    GramForce,
    Millis,
    Micros,
    MilliAmps,
    Percent,
    Celsius,
    LitresPerMin,
}

impl Unit {
    /// The symbol shown after a value ("" for counts and codes).
    pub fn symbol(self) -> &'static str {
        match self {
            Unit::None | Unit::Code => "",
            Unit::Micrometres => Micrometres::SYMBOL,
            Unit::GramForce => GramForce::SYMBOL,
            Unit::Millis => Millis::SYMBOL,
            Unit::Micros => Micros::SYMBOL,
            Unit::MilliAmps => MilliAmps::SYMBOL,
            Unit::Percent => Percent::SYMBOL,
            Unit::Celsius => Celsius::SYMBOL,
            Unit::LitresPerMin => LitresPerMin::SYMBOL,
        }
    }
}
