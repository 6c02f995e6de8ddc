//! Excursion scenarios (`--scenario NAME:key=value,...`, repeatable): the process faults
//! a plant really sees, switched on at a wire count so a test knows the truth. Counts are
//! in wires since the simulator started.
//!
//! | scenario | effect |
//! |---|---|
//! | `us-drift:start=W,pct_per_100k=X` | the generator's effective ultrasonic output falls X % per 100 000 wires after W (negative X: rises); the transducer current falls with it, the impedance does not |
//! | `capillary-wear:factor=X` | the capillary wears X times faster (deformation, weld and heel strength fall with wear) |
//! | `heater-drift:start=W,c_per_100k=X` | the heater's actual temperature moves X °C per 100 000 wires after W (the heater reading shows it) |
//! | `lot-change:at=W,bondability=B` | a new lead-frame lot from wire W: the stitch (on the lead) welds B times as well (0 < B ≤ 1); its label changes |
//! | `pad-contamination:at=W,wires=N,severity=S` | for N wires from W, a share S of the balls do not stick (NSOP) and the others weld (1 − S/2) as well, with normal energy |

use std::fmt;

/// One excursion.
#[derive(Debug, Clone, PartialEq)]
pub enum Scenario {
    UsDrift { start: u64, pct_per_100k: f64 },
    CapillaryWear { factor: f64 },
    HeaterDrift { start: u64, c_per_100k: f64 },
    LotChange { at: u64, bondability: f64 },
    PadContamination { at: u64, wires: u64, severity: f64 },
}

/// A scenario that cannot be parsed, with what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--scenario {given}: {why}")]
pub struct ScenarioError {
    pub given: String,
    pub why: String,
}

/// The causes a scenario stands for (the `{S}/health` contract's words).
pub const CAUSES: [&str; 5] = [
    "ultrasonic_output",
    "capillary_wear",
    "heater",
    "material_lot",
    "contamination",
];

impl Scenario {
    /// The cause this scenario is an instance of.
    pub fn cause(&self) -> &'static str {
        match self {
            Scenario::UsDrift { .. } => "ultrasonic_output",
            Scenario::CapillaryWear { .. } => "capillary_wear",
            Scenario::HeaterDrift { .. } => "heater",
            Scenario::LotChange { .. } => "material_lot",
            Scenario::PadContamination { .. } => "contamination",
        }
    }

    /// Whether it acts on wire `w` (counted from 0).
    pub fn active(&self, w: u64) -> bool {
        match *self {
            Scenario::UsDrift { start, .. } | Scenario::HeaterDrift { start, .. } => w >= start,
            Scenario::CapillaryWear { .. } => true,
            Scenario::LotChange { at, .. } => w >= at,
            Scenario::PadContamination { at, wires, .. } => w >= at && w < at.saturating_add(wires),
        }
    }
}

impl std::str::FromStr for Scenario {
    type Err = ScenarioError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |why: String| ScenarioError {
            given: s.to_string(),
            why,
        };
        let (name, args) = s.split_once(':').unwrap_or((s, ""));
        let mut kv = std::collections::BTreeMap::new();
        for part in args.split(',').filter(|p| !p.trim().is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| err(format!("`{part}` is not key=value")))?;
            let v: f64 = v
                .trim()
                .parse()
                .map_err(|_| err(format!("{k}: `{v}` is not a number")))?;
            if !v.is_finite() {
                return Err(err(format!("{k}: not a finite number")));
            }
            kv.insert(k.trim().to_string(), v);
        }
        let mut take = |k: &str| kv.remove(k).ok_or_else(|| err(format!("missing {k}=…")));
        let count = |k: &str, v: f64| {
            if v < 0.0 || v.fract() != 0.0 {
                Err(err(format!("{k}: a wire count (0, 1, 2 …)")))
            } else {
                Ok(v as u64)
            }
        };
        let sc = match name.trim() {
            "us-drift" => {
                let start = take("start")?;
                Scenario::UsDrift {
                    start: count("start", start)?,
                    pct_per_100k: take("pct_per_100k")?,
                }
            }
            "capillary-wear" => {
                let factor = take("factor")?;
                if factor <= 0.0 {
                    return Err(err("factor: above 0".into()));
                }
                Scenario::CapillaryWear { factor }
            }
            "heater-drift" => {
                let start = take("start")?;
                Scenario::HeaterDrift {
                    start: count("start", start)?,
                    c_per_100k: take("c_per_100k")?,
                }
            }
            "lot-change" => {
                let at = take("at")?;
                let b = take("bondability")?;
                if !(b > 0.0 && b <= 1.0) {
                    return Err(err("bondability: 0 < B ≤ 1".into()));
                }
                Scenario::LotChange {
                    at: count("at", at)?,
                    bondability: b,
                }
            }
            "pad-contamination" => {
                let (at, wires, sev) = (take("at")?, take("wires")?, take("severity")?);
                if !(0.0..=1.0).contains(&sev) {
                    return Err(err("severity: 0 ≤ S ≤ 1".into()));
                }
                Scenario::PadContamination {
                    at: count("at", at)?,
                    wires: count("wires", wires)?,
                    severity: sev,
                }
            }
            other => {
                return Err(err(format!(
                    "unknown scenario `{other}` (us-drift, capillary-wear, heater-drift, \
                     lot-change, pad-contamination)"
                )));
            }
        };
        if let Some(k) = kv.keys().next() {
            return Err(err(format!("unknown key {k}")));
        }
        Ok(sc)
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scenario::UsDrift {
                start,
                pct_per_100k,
            } => write!(f, "us-drift:start={start},pct_per_100k={pct_per_100k}"),
            Scenario::CapillaryWear { factor } => write!(f, "capillary-wear:factor={factor}"),
            Scenario::HeaterDrift { start, c_per_100k } => {
                write!(f, "heater-drift:start={start},c_per_100k={c_per_100k}")
            }
            Scenario::LotChange { at, bondability } => {
                write!(f, "lot-change:at={at},bondability={bondability}")
            }
            Scenario::PadContamination {
                at,
                wires,
                severity,
            } => write!(
                f,
                "pad-contamination:at={at},wires={wires},severity={severity}"
            ),
        }
    }
}

/// What the active scenarios do to wire `w`, combined.
#[derive(Debug, Clone, PartialEq)]
pub struct Effects {
    /// Multiplies the effective ultrasonic output (power in the weld and the current).
    pub us_output: f64,
    /// Multiplies the rate of capillary wear.
    pub wear_rate: f64,
    /// Added to the heater's actual temperature, °C.
    pub heater_c: f64,
    /// Multiplies the stitch weld (lead-frame bondability).
    pub bondability: f64,
    /// Probability that the ball does not stick (contamination).
    pub nsop: f64,
    /// Multiplies the ball weld (contamination).
    pub pad: f64,
    /// The lead-frame lot's label.
    pub lot: String,
    /// Causes acting on this wire.
    pub causes: Vec<&'static str>,
}

/// Every scenario's effect on wire `w`.
pub fn effects(scenarios: &[Scenario], w: u64) -> Effects {
    let mut e = Effects {
        us_output: 1.0,
        wear_rate: 1.0,
        heater_c: 0.0,
        bondability: 1.0,
        nsop: 0.0,
        pad: 1.0,
        lot: String::new(),
        causes: Vec::new(),
    };
    let mut lots = 0u32;
    for s in scenarios {
        if !s.active(w) {
            continue;
        }
        match *s {
            Scenario::UsDrift {
                start,
                pct_per_100k,
            } => {
                let f = 1.0 - pct_per_100k / 100.0 * (w - start) as f64 / 100_000.0;
                e.us_output *= f.clamp(0.0, 2.0);
            }
            Scenario::CapillaryWear { factor } => e.wear_rate *= factor,
            Scenario::HeaterDrift { start, c_per_100k } => {
                e.heater_c += c_per_100k * (w - start) as f64 / 100_000.0;
            }
            Scenario::LotChange { bondability, .. } => {
                e.bondability *= bondability;
                lots += 1;
            }
            Scenario::PadContamination { severity, .. } => {
                e.nsop = 1.0 - (1.0 - e.nsop) * (1.0 - severity);
                e.pad *= 1.0 - severity / 2.0;
            }
        }
        if !e.causes.contains(&s.cause()) {
            e.causes.push(s.cause());
        }
    }
    e.lot = format!("LF-{:04}", 1 + lots);
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_parse_round_trip_and_bad_ones_say_why() {
        for s in [
            "us-drift:start=100000,pct_per_100k=2.5",
            "capillary-wear:factor=3",
            "heater-drift:start=0,c_per_100k=-4",
            "lot-change:at=50000,bondability=0.6",
            "pad-contamination:at=10,wires=2000,severity=0.3",
        ] {
            let sc: Scenario = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(sc.to_string(), s);
        }
        for (bad, why) in [
            ("us-drift:start=1", "missing pct_per_100k"),
            ("lot-change:at=1,bondability=1.5", "0 < B ≤ 1"),
            ("pad-contamination:at=-1,wires=2,severity=0.1", "wire count"),
            ("wobble:x=1", "unknown scenario"),
            ("capillary-wear:factor=2,speed=3", "unknown key speed"),
            ("heater-drift:start=0,c_per_100k=hot", "not a number"),
        ] {
            let e = bad.parse::<Scenario>().err().map(|e| e.to_string());
            assert!(
                e.as_deref().is_some_and(|e| e.contains(why)),
                "{bad}: {e:?}"
            );
        }
    }

    #[test]
    fn effects_follow_the_wire_count() {
        let sc: Vec<Scenario> = [
            "us-drift:start=100000,pct_per_100k=10",
            "lot-change:at=5,bondability=0.5",
            "pad-contamination:at=10,wires=5,severity=0.4",
        ]
        .iter()
        .map(|s| s.parse().unwrap_or_else(|e| panic!("{e}")))
        .collect();
        let e = effects(&sc, 0);
        assert_eq!((e.us_output, e.bondability, e.nsop), (1.0, 1.0, 0.0));
        assert_eq!(e.lot, "LF-0001");
        assert!(e.causes.is_empty());
        let e = effects(&sc, 12);
        assert_eq!(e.lot, "LF-0002");
        assert!((e.nsop - 0.4).abs() < 1e-12 && (e.pad - 0.8).abs() < 1e-12);
        assert_eq!(e.causes, ["material_lot", "contamination"]);
        assert_eq!(effects(&sc, 15).nsop, 0.0);
        let e = effects(&sc, 300_000);
        assert!((e.us_output - 0.8).abs() < 1e-12, "{}", e.us_output);
        assert_eq!(e.causes, ["ultrasonic_output", "material_lot"]);
    }
}
