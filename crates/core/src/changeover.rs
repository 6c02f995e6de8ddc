//! Guided recipe changeover: the steps, their standard times, the checks that gate each
//! step (material scans, kit checklist, first article) and the per-step duration
//! report.
//!
//! Pure: times are Unix milliseconds given by the caller; the station's changeover
//! service does the controller IO (stop, setup, download, settle) and persists
//! [`Changeover`] (serde) after every change so a restart resumes at the same step.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::recipe::{Recipe, WireMaterial};

/// The wizard's steps, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Choose the released target recipe; see what changes.
    Select,
    /// Stop, enter setup; confirm the last strip is out.
    Setup,
    /// Scan wire spool, capillary and lead-frame lot.
    Materials,
    /// The mechanical kit change, as a checklist.
    Kit,
    /// Write the recipe block, apply it, read back and compare the CRC.
    Download,
    /// Heater (and forming gas for Cu) settle into their bands.
    Settle,
    /// Pattern recognition teach / verify.
    PrTeach,
    /// Bond one unit; enter pull and shear results.
    FirstArticle,
    /// A technician or engineer signs off; back to production.
    SignOff,
}

impl Step {
    /// Every step in order.
    pub const ALL: [Step; 9] = [
        Self::Select,
        Self::Setup,
        Self::Materials,
        Self::Kit,
        Self::Download,
        Self::Settle,
        Self::PrTeach,
        Self::FirstArticle,
        Self::SignOff,
    ];

    /// Stable name (stored, published in `{S}/changeovers`, Fluent key stem
    /// `co-step-<name>`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Select => "select",
            Self::Setup => "setup",
            Self::Materials => "materials",
            Self::Kit => "kit",
            Self::Download => "download",
            Self::Settle => "settle",
            Self::PrTeach => "pr_teach",
            Self::FirstArticle => "first_article",
            Self::SignOff => "sign_off",
        }
    }

    /// The step with a stored name.
    pub fn from_name(s: &str) -> Option<Step> {
        Self::ALL.into_iter().find(|x| x.name() == s)
    }

    /// Position (0-based).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The next step, `None` after sign-off.
    pub fn next(self) -> Option<Step> {
        Self::ALL.get(self.index() + 1).copied()
    }

    /// Standard time in minutes (the plan the wizard shows elapsed time against). The kit
    /// step's time is the sum of its checklist items.
    pub fn standard_minutes(self) -> f64 {
        match self {
            Self::Select => 2.0,
            Self::Setup => 3.0,
            Self::Materials => 3.0,
            Self::Kit => KIT.iter().map(|k| k.minutes).sum(),
            Self::Download => 1.0,
            Self::Settle => 5.0,
            Self::PrTeach => 4.0,
            Self::FirstArticle => 6.0,
            Self::SignOff => 2.0,
        }
    }
}

/// The changeover's time budget, minutes.
pub const TARGET_MINUTES: f64 = 60.0;

/// Planned total of the standard times, minutes.
pub fn planned_minutes() -> f64 {
    Step::ALL.iter().map(|s| s.standard_minutes()).sum()
}

/// One mechanical step of the kit change.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KitItem {
    /// Stable name (Fluent key `co-kit-<name>`).
    pub name: &'static str,
    /// Standard minutes.
    pub minutes: f64,
}

/// The kit checklist, in the order a technician does it.
pub const KIT: [KitItem; 4] = [
    KitItem {
        name: "capillary",
        minutes: 6.0,
    },
    KitItem {
        name: "clamp",
        minutes: 4.0,
    },
    KitItem {
        name: "heater_block",
        minutes: 5.0,
    },
    KitItem {
        name: "magazine",
        minutes: 3.0,
    },
];

/// What a scanned label identifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Material {
    /// Wire spool: `WS:<material>:<diameter µm>:<lot>`, e.g. `WS:Cu:20:L2311-07`.
    Wire,
    /// Capillary: `CAP:<part number>:<lot>`, e.g. `CAP:1572-15-437GM:C88`.
    Capillary,
    /// Lead frame magazine: `LF:<device>:<lot>`, e.g. `LF:SOT23-3L:F1203`.
    LeadFrame,
}

impl Material {
    /// Every material to scan.
    pub const ALL: [Material; 3] = [Self::Wire, Self::Capillary, Self::LeadFrame];

    /// Stable name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Wire => "wire",
            Self::Capillary => "capillary",
            Self::LeadFrame => "lead_frame",
        }
    }

    /// The material a label is for, from its prefix (so labels can be scanned in any
    /// order); `None` for an unknown prefix.
    pub fn from_label(label: &str) -> Option<Material> {
        let prefix = label.trim().split(':').next()?;
        Self::ALL
            .into_iter()
            .find(|m| m.prefix().eq_ignore_ascii_case(prefix))
    }

    fn prefix(self) -> &'static str {
        match self {
            Self::Wire => "WS",
            Self::Capillary => "CAP",
            Self::LeadFrame => "LF",
        }
    }
}

/// Wire diameter tolerance when checking a spool label against the recipe, µm.
pub const WIRE_DIAMETER_TOL_UM: f64 = 0.6;

/// Why a scanned label is refused. Front ends localise from the variant and fields
/// (Fluent keys `co-scan-<kind>`); `Display` is the English line for logs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScanError {
    /// Not a label of the expected shape.
    #[error("label {label:?} is not a {expected} label ({format})")]
    Format {
        label: String,
        expected: &'static str,
        format: &'static str,
    },
    /// Wire of another material than the recipe's.
    #[error("wire {scanned} on a {required} recipe")]
    WireMaterial { scanned: String, required: String },
    /// Wire of another diameter.
    #[error("wire diameter {scanned} µm, recipe needs {required} µm")]
    WireDiameter { scanned: f64, required: f64 },
    /// Another capillary part number.
    #[error("capillary {scanned}, recipe needs {required}")]
    Capillary { scanned: String, required: String },
    /// Lead frame of another device.
    #[error("lead frame for {scanned}, recipe is for {required}")]
    Device { scanned: String, required: String },
}

impl ScanError {
    /// Fluent key of the message.
    pub fn key(&self) -> &'static str {
        match self {
            Self::Format { .. } => "co-scan-format",
            Self::WireMaterial { .. } => "co-scan-wire-material",
            Self::WireDiameter { .. } => "co-scan-wire-diameter",
            Self::Capillary { .. } => "co-scan-wrong-capillary",
            Self::Device { .. } => "co-scan-device",
        }
    }

    /// Fluent arguments of the message.
    pub fn args(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::Format {
                label,
                expected,
                format,
            } => vec![
                ("label", label.clone()),
                ("expected", (*expected).to_string()),
                ("format", (*format).to_string()),
            ],
            Self::WireMaterial { scanned, required } => {
                vec![("scanned", scanned.clone()), ("required", required.clone())]
            }
            Self::WireDiameter { scanned, required } => vec![
                ("scanned", format!("{scanned:.1}")),
                ("required", format!("{required:.1}")),
            ],
            Self::Capillary { scanned, required } | Self::Device { scanned, required } => {
                vec![("scanned", scanned.clone()), ("required", required.clone())]
            }
        }
    }
}

/// A label that matched the recipe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanOk {
    pub material: Material,
    /// The label as scanned.
    pub label: String,
    /// Its lot.
    pub lot: String,
}

fn format_of(m: Material) -> &'static str {
    match m {
        Material::Wire => "WS:<material>:<diameter µm>:<lot>",
        Material::Capillary => "CAP:<part number>:<lot>",
        Material::LeadFrame => "LF:<device>:<lot>",
    }
}

/// Checks a scanned label (typed by a barcode scanner) against the target recipe.
pub fn check_scan(material: Material, label: &str, recipe: &Recipe) -> Result<ScanOk, ScanError> {
    let label = label.trim();
    let bad = || ScanError::Format {
        label: label.to_string(),
        expected: material.name(),
        format: format_of(material),
    };
    let parts: Vec<&str> = label.split(':').map(str::trim).collect();
    if parts
        .first()
        .is_none_or(|p| !p.eq_ignore_ascii_case(material.prefix()))
    {
        return Err(bad());
    }
    let ok = |lot: &str| ScanOk {
        material,
        label: label.to_string(),
        lot: lot.to_string(),
    };
    match (material, parts.as_slice()) {
        (Material::Wire, [_, mat, dia, lot]) if !lot.is_empty() => {
            let scanned = WireMaterial::ALL
                .into_iter()
                .find(|m| m.to_string().eq_ignore_ascii_case(mat))
                .ok_or_else(bad)?;
            let d: f64 = dia.parse().map_err(|_| bad())?;
            if scanned != recipe.wire.material {
                return Err(ScanError::WireMaterial {
                    scanned: scanned.to_string(),
                    required: recipe.wire.material.to_string(),
                });
            }
            let want = recipe.wire.diameter_um.0;
            if (d - want).abs() > WIRE_DIAMETER_TOL_UM {
                return Err(ScanError::WireDiameter {
                    scanned: d,
                    required: want,
                });
            }
            Ok(ok(lot))
        }
        (Material::Capillary, [_, rest @ .., lot]) if !rest.is_empty() && !lot.is_empty() => {
            let part = rest.join(":");
            if !part.eq_ignore_ascii_case(&recipe.capillary) {
                return Err(ScanError::Capillary {
                    scanned: part,
                    required: recipe.capillary.clone(),
                });
            }
            Ok(ok(lot))
        }
        (Material::LeadFrame, [_, device, lot]) if !lot.is_empty() => {
            if !device.eq_ignore_ascii_case(&recipe.device) {
                return Err(ScanError::Device {
                    scanned: (*device).to_string(),
                    required: recipe.device.clone(),
                });
            }
            Ok(ok(lot))
        }
        _ => Err(bad()),
    }
}

/// Minimum wire pull (gf) of MIL-STD-883 method 2011 (pre-seal, gold; copper is held to
/// the same figures) for a wire diameter, interpolated linearly between the table's
/// diameters and clamped at its ends. The table points used: 18 µm 1.5 gf, 25 µm 3.0 gf,
/// 33 µm 4.0 gf, 38 µm 5.0 gf, 51 µm 8.0 gf.
pub fn mil_std_883_min_pull_gf(diameter_um: f64) -> f64 {
    const T: [(f64, f64); 5] = [
        (18.0, 1.5),
        (25.0, 3.0),
        (33.0, 4.0),
        (38.0, 5.0),
        (51.0, 8.0),
    ];
    if diameter_um <= T[0].0 {
        return T[0].1;
    }
    for w in T.windows(2) {
        let ((d0, f0), (d1, f1)) = (w[0], w[1]);
        if diameter_um <= d1 {
            return f0 + (f1 - f0) * (diameter_um - d0) / (d1 - d0);
        }
    }
    T[T.len() - 1].1
}

/// Pull tests required at first article.
pub const FA_PULLS: usize = 5;
/// Ball shear tests (JESD22-B116) required at first article.
pub const FA_SHEARS: usize = 3;

/// First-article test results and their verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirstArticle {
    /// Wire pull results, gf.
    pub pulls_gf: Vec<f64>,
    /// Ball shear results, gf.
    pub shears_gf: Vec<f64>,
    /// Minimum pull required: the larger of the recipe's and MIL-STD-883 2011's.
    pub pull_required_gf: f64,
    /// Minimum shear required (the recipe's JESD22-B116 criterion).
    pub shear_required_gf: f64,
}

/// Why a first article does not pass.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FirstArticleFault {
    #[error("{needed} pull and {needed_shear} shear results needed, {pulls} and {shears} given")]
    TooFew {
        needed: usize,
        needed_shear: usize,
        pulls: usize,
        shears: usize,
    },
    #[error("a test value is not a positive number")]
    NotANumber,
    #[error("lowest pull {min:.2} gf is below the minimum {required:.2} gf")]
    Pull { min: f64, required: f64 },
    #[error("lowest shear {min:.2} gf is below the minimum {required:.2} gf")]
    Shear { min: f64, required: f64 },
}

impl FirstArticleFault {
    /// Fluent key of the message.
    pub fn key(&self) -> &'static str {
        match self {
            Self::TooFew { .. } => "co-fa-too-few",
            Self::NotANumber => "co-fa-nan",
            Self::Pull { .. } => "co-fa-pull",
            Self::Shear { .. } => "co-fa-shear",
        }
    }

    /// Fluent arguments.
    pub fn args(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::TooFew {
                needed,
                needed_shear,
                pulls,
                shears,
            } => vec![
                ("needed", needed.to_string()),
                ("needed_shear", needed_shear.to_string()),
                ("pulls", pulls.to_string()),
                ("shears", shears.to_string()),
            ],
            Self::NotANumber => vec![],
            Self::Pull { min, required } | Self::Shear { min, required } => vec![
                ("min", format!("{min:.2}")),
                ("required", format!("{required:.2}")),
            ],
        }
    }
}

impl FirstArticle {
    /// Results against the target recipe's limits.
    pub fn new(recipe: &Recipe, pulls_gf: Vec<f64>, shears_gf: Vec<f64>) -> FirstArticle {
        FirstArticle {
            pulls_gf,
            shears_gf,
            pull_required_gf: recipe
                .limits
                .pull_min_gf
                .0
                .max(mil_std_883_min_pull_gf(recipe.wire.diameter_um.0)),
            shear_required_gf: recipe.limits.shear_min_gf.0,
        }
    }

    /// Lowest pull, gf (NaN when none).
    pub fn pull_min(&self) -> f64 {
        self.pulls_gf.iter().copied().fold(f64::NAN, f64::min)
    }

    /// Lowest shear, gf (NaN when none).
    pub fn shear_min(&self) -> f64 {
        self.shears_gf.iter().copied().fold(f64::NAN, f64::min)
    }

    /// Passes when enough tests were made and the lowest of each meets its minimum.
    pub fn verdict(&self) -> Result<(), FirstArticleFault> {
        if self
            .pulls_gf
            .iter()
            .chain(&self.shears_gf)
            .any(|v| !v.is_finite() || *v <= 0.0)
        {
            return Err(FirstArticleFault::NotANumber);
        }
        if self.pulls_gf.len() < FA_PULLS || self.shears_gf.len() < FA_SHEARS {
            return Err(FirstArticleFault::TooFew {
                needed: FA_PULLS,
                needed_shear: FA_SHEARS,
                pulls: self.pulls_gf.len(),
                shears: self.shears_gf.len(),
            });
        }
        if self.pull_min() < self.pull_required_gf {
            return Err(FirstArticleFault::Pull {
                min: self.pull_min(),
                required: self.pull_required_gf,
            });
        }
        if self.shear_min() < self.shear_required_gf {
            return Err(FirstArticleFault::Shear {
                min: self.shear_min(),
                required: self.shear_required_gf,
            });
        }
        Ok(())
    }
}

/// One finished step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    pub step: Step,
    pub started_ms: i64,
    pub ended_ms: i64,
    pub by: String,
    /// What happened (e.g. `ok`, `crc 0x1234abcd`, `scanned WS:Cu:20:L1`).
    pub outcome: String,
}

/// What blocks leaving the current step.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Blocked {
    #[error("scan {0:?} first")]
    Scan(Material),
    #[error("tick kit item {0} first")]
    Kit(&'static str),
    #[error("the recipe has not been downloaded and verified")]
    NotDownloaded,
    #[error("first article: {0}")]
    FirstArticle(FirstArticleFault),
    #[error("first article results not entered")]
    NoFirstArticle,
    #[error("the changeover is finished")]
    Finished,
}

/// A changeover in progress (or finished), as persisted after every change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Changeover {
    pub id: i64,
    /// `name@version` running before (none when no recipe was active).
    pub from_recipe: Option<String>,
    /// `name@version` being changed to.
    pub to_recipe: String,
    /// The work order that asked for it, if any.
    pub work_order: Option<String>,
    pub started_ms: i64,
    pub started_by: String,
    /// The step being worked on; `None` once signed off.
    pub step: Option<Step>,
    pub step_started_ms: i64,
    /// Finished steps in order.
    pub done: Vec<StepRecord>,
    /// Accepted scans.
    pub scans: BTreeMap<Material, ScanOk>,
    /// Kit items ticked.
    pub kit_done: Vec<String>,
    /// CRC read back after the download, when it matched.
    pub downloaded_crc: Option<u32>,
    pub first_article: Option<FirstArticle>,
}

impl Changeover {
    /// Starts at [`Step::Select`] (done by the caller choosing `to_recipe`).
    pub fn new(
        id: i64,
        from_recipe: Option<String>,
        to_recipe: String,
        work_order: Option<String>,
        by: &str,
        now_ms: i64,
    ) -> Changeover {
        Changeover {
            id,
            from_recipe,
            to_recipe,
            work_order,
            started_ms: now_ms,
            started_by: by.to_string(),
            step: Some(Step::Select),
            step_started_ms: now_ms,
            done: Vec::new(),
            scans: BTreeMap::new(),
            kit_done: Vec::new(),
            downloaded_crc: None,
            first_article: None,
        }
    }

    /// Whether it has been signed off.
    pub fn finished(&self) -> bool {
        self.step.is_none()
    }

    /// Minutes since the start.
    pub fn elapsed_minutes(&self, now_ms: i64) -> f64 {
        (now_ms - self.started_ms) as f64 / 60_000.0
    }

    /// Seconds in the current step.
    pub fn step_elapsed_s(&self, now_ms: i64) -> f64 {
        (now_ms - self.step_started_ms) as f64 / 1000.0
    }

    /// The data checks of the current step (the caller checks the machine-side ones:
    /// setup state, settle bands, sign-off role).
    pub fn gate(&self) -> Result<(), Blocked> {
        match self.step {
            None => Err(Blocked::Finished),
            Some(Step::Materials) => {
                match Material::ALL.iter().find(|m| !self.scans.contains_key(m)) {
                    Some(m) => Err(Blocked::Scan(*m)),
                    None => Ok(()),
                }
            }
            Some(Step::Kit) => match KIT
                .iter()
                .find(|k| !self.kit_done.iter().any(|d| d == k.name))
            {
                Some(k) => Err(Blocked::Kit(k.name)),
                None => Ok(()),
            },
            Some(Step::Download) => self
                .downloaded_crc
                .map(|_| ())
                .ok_or(Blocked::NotDownloaded),
            Some(Step::FirstArticle) | Some(Step::SignOff) => match &self.first_article {
                None => Err(Blocked::NoFirstArticle),
                Some(fa) => fa.verdict().map_err(Blocked::FirstArticle),
            },
            Some(_) => Ok(()),
        }
    }

    /// Finishes the current step (after [`Changeover::gate`]) and moves to the next.
    pub fn complete_step(
        &mut self,
        now_ms: i64,
        by: &str,
        outcome: impl Into<String>,
    ) -> Result<Option<Step>, Blocked> {
        self.gate()?;
        let step = self.step.ok_or(Blocked::Finished)?;
        self.done.push(StepRecord {
            step,
            started_ms: self.step_started_ms,
            ended_ms: now_ms,
            by: by.to_string(),
            outcome: outcome.into(),
        });
        self.step = step.next();
        self.step_started_ms = now_ms;
        Ok(self.step)
    }

    /// Records a scan; a refused label changes nothing.
    pub fn scan(
        &mut self,
        material: Material,
        label: &str,
        recipe: &Recipe,
    ) -> Result<&ScanOk, ScanError> {
        let ok = check_scan(material, label, recipe)?;
        let slot = self.scans.entry(material).or_insert_with(|| ok.clone());
        *slot = ok;
        Ok(slot)
    }

    /// Ticks (or unticks) a kit item; unknown names are ignored.
    pub fn tick_kit(&mut self, name: &str, done: bool) {
        if !KIT.iter().any(|k| k.name == name) {
            return;
        }
        self.kit_done.retain(|d| d != name);
        if done {
            self.kit_done.push(name.to_string());
        }
    }
}

/// Durations of one step over several changeovers.
#[derive(Debug, Clone, PartialEq)]
pub struct StepStat {
    /// Step name as stored.
    pub name: String,
    /// Changeovers that had it.
    pub count: usize,
    pub median_min: f64,
    pub p90_min: f64,
    /// Its standard time (0 when unknown).
    pub standard_min: f64,
}

/// Percentile (nearest rank) of sorted values; NaN when empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// Per-step median and p90 minutes over the given changeovers, each a list of
/// `(step name, duration minutes)`; slowest (by median) first.
pub fn step_report<'a>(
    changeovers: impl IntoIterator<Item = &'a [(String, f64)]>,
) -> Vec<StepStat> {
    let mut by: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for c in changeovers {
        for (name, min) in c {
            by.entry(name.as_str()).or_default().push(*min);
        }
    }
    let mut out: Vec<StepStat> = by
        .into_iter()
        .map(|(name, mut v)| {
            v.sort_by(f64::total_cmp);
            let median = if v.len() % 2 == 1 {
                v[v.len() / 2]
            } else {
                (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
            };
            StepStat {
                name: name.to_string(),
                count: v.len(),
                median_min: median,
                p90_min: percentile(&v, 90.0),
                standard_min: Step::from_name(name).map_or(0.0, Step::standard_minutes),
            }
        })
        .collect();
    out.sort_by(|a, b| b.median_min.total_cmp(&a.median_min));
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn plan_fits_the_seed_target() {
        assert!(planned_minutes() <= 45.0, "{}", planned_minutes());
        assert_eq!(Step::Kit.standard_minutes(), 18.0);
    }

    #[test]
    fn copper_wire_on_a_gold_recipe_is_refused() {
        let au = Recipe::default_au();
        assert_eq!(Material::from_label(" cap:X:1"), Some(Material::Capillary));
        assert_eq!(Material::from_label("XX:1"), None);
        let e = check_scan(Material::Wire, "WS:Cu:20:L1", &au).unwrap_err();
        assert!(matches!(e, ScanError::WireMaterial { .. }), "{e}");
        assert_eq!(e.key(), "co-scan-wire-material");
        let cu = Recipe::default_cu();
        let d = cu.wire.diameter_um.0;
        assert!(check_scan(Material::Wire, &format!("WS:Cu:{d}:L1"), &cu).is_ok());
        assert!(matches!(
            check_scan(Material::Wire, "WS:Cu:25:L1", &cu),
            Err(ScanError::WireDiameter { .. })
        ));
        assert!(matches!(
            check_scan(Material::Wire, "garbage", &cu),
            Err(ScanError::Format { .. })
        ));
        let cap = format!("CAP:{}:C9", cu.capillary);
        assert_eq!(
            check_scan(Material::Capillary, &cap, &cu).unwrap().lot,
            "C9"
        );
        assert!(matches!(
            check_scan(Material::Capillary, "CAP:OTHER:C9", &cu),
            Err(ScanError::Capillary { .. })
        ));
        let lf = format!("LF:{}:F1", cu.device);
        assert!(check_scan(Material::LeadFrame, &lf, &cu).is_ok());
        assert!(matches!(
            check_scan(Material::LeadFrame, "LF:QFN48:F1", &cu),
            Err(ScanError::Device { .. })
        ));
    }

    #[test]
    fn mil_std_pull_table() {
        assert_eq!(mil_std_883_min_pull_gf(25.0), 3.0);
        assert_eq!(mil_std_883_min_pull_gf(10.0), 1.5);
        assert!((mil_std_883_min_pull_gf(21.5) - 2.25).abs() < 1e-9);
        assert_eq!(mil_std_883_min_pull_gf(80.0), 8.0);
    }

    #[test]
    fn first_article_gates_sign_off() {
        let r = Recipe::default_au();
        let fa = FirstArticle::new(&r, vec![4.0; 5], vec![20.0; 3]);
        assert_eq!(fa.verdict(), Ok(()));
        let low = FirstArticle::new(&r, vec![4.0, 4.0, 1.0, 4.0, 4.0], vec![20.0; 3]);
        assert!(matches!(low.verdict(), Err(FirstArticleFault::Pull { .. })));
        let few = FirstArticle::new(&r, vec![4.0; 2], vec![20.0; 3]);
        assert!(matches!(
            few.verdict(),
            Err(FirstArticleFault::TooFew { .. })
        ));
        let shear = FirstArticle::new(&r, vec![4.0; 5], vec![20.0, 2.0, 20.0]);
        assert!(matches!(
            shear.verdict(),
            Err(FirstArticleFault::Shear { .. })
        ));
    }

    #[test]
    fn steps_gate_and_advance() {
        let to = Recipe::default_cu();
        let mut c = Changeover::new(1, None, to.id(), None, "t1", 0);
        c.complete_step(60_000, "t1", "ok").unwrap();
        c.complete_step(120_000, "t1", "ok").unwrap();
        assert_eq!(c.step, Some(Step::Materials));
        assert_eq!(c.gate(), Err(Blocked::Scan(Material::Wire)));
        assert!(c.scan(Material::Wire, "WS:Au:25:L", &to).is_err());
        assert!(c.scans.is_empty());
        let d = to.wire.diameter_um.0;
        c.scan(Material::Wire, &format!("WS:Cu:{d}:L"), &to)
            .unwrap();
        c.scan(Material::Capillary, &format!("CAP:{}:C", to.capillary), &to)
            .unwrap();
        c.scan(Material::LeadFrame, &format!("LF:{}:F", to.device), &to)
            .unwrap();
        c.complete_step(130_000, "t1", "ok").unwrap();
        assert_eq!(c.gate(), Err(Blocked::Kit("capillary")));
        for k in KIT {
            c.tick_kit(k.name, true);
        }
        c.complete_step(140_000, "t1", "ok").unwrap();
        assert_eq!(c.gate(), Err(Blocked::NotDownloaded));
        c.downloaded_crc = Some(1);
        c.complete_step(150_000, "t1", "ok").unwrap();
        c.complete_step(160_000, "t1", "ok").unwrap();
        c.complete_step(170_000, "t1", "ok").unwrap();
        assert_eq!(c.step, Some(Step::FirstArticle));
        assert_eq!(c.gate(), Err(Blocked::NoFirstArticle));
        c.first_article = Some(FirstArticle::new(&to, vec![1.0; 5], vec![20.0; 3]));
        assert!(matches!(c.gate(), Err(Blocked::FirstArticle(_))));
        c.first_article = Some(FirstArticle::new(&to, vec![4.0; 5], vec![20.0; 3]));
        c.complete_step(180_000, "t1", "ok").unwrap();
        assert_eq!(c.complete_step(190_000, "e1", "signed").unwrap(), None);
        assert!(c.finished());
        assert_eq!(c.done.len(), 9);
        let json = serde_json::to_string(&c).unwrap();
        let back: Changeover = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn report_sorts_slowest_first() {
        let a = vec![("kit".to_string(), 20.0), ("download".to_string(), 1.0)];
        let b = vec![("kit".to_string(), 30.0), ("download".to_string(), 2.0)];
        let c = vec![("kit".to_string(), 25.0)];
        let r = step_report([a.as_slice(), b.as_slice(), c.as_slice()]);
        assert_eq!(r[0].name, "kit");
        assert_eq!(r[0].median_min, 25.0);
        assert_eq!(r[0].p90_min, 30.0);
        assert_eq!(r[1].median_min, 1.5);
        assert_eq!(r[1].count, 2);
    }
}
