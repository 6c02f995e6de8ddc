//! SPC of the fleet's measurements: ball diameter and placement offset from the bonds
//! received, first-article pull and shear from changeovers, against the spec limits of
//! the station's recipe (the library's version of it; the built-in recipe's limits if the
//! library does not have it).

use crate::FleetError;
use crate::history::History;
use bonder_core::recipe::Recipe;
use bonder_core::spc::{self, SpecLimits};
use serde::{Deserialize, Serialize};

/// What is charted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Ball diameter of ball bonds, µm (spec: recipe `limits.ball_um`).
    BallDiameter,
    /// Distance of the ball centre from the pad centre, √(dx² + dy²), µm (USL:
    /// `limits.placement_um`).
    PlacementOffset,
    /// First-article minimum pull, gf (LSL: `limits.pull_min_gf`).
    Pull,
    /// First-article minimum shear, gf (LSL: `limits.shear_min_gf`).
    Shear,
}

impl Measure {
    /// Fluent key of the measure's name.
    pub fn key(self) -> &'static str {
        match self {
            Measure::BallDiameter => "sv-spc-ball",
            Measure::PlacementOffset => "sv-spc-placement",
            Measure::Pull => "sv-spc-pull",
            Measure::Shear => "sv-spc-shear",
        }
    }
}

/// Spec limits of a measure from a recipe.
pub fn spec_of(r: &Recipe, m: Measure) -> SpecLimits {
    let l = &r.limits;
    match m {
        Measure::BallDiameter => SpecLimits {
            lsl: Some(l.ball_um[0].0),
            usl: Some(l.ball_um[1].0),
        },
        Measure::PlacementOffset => SpecLimits {
            lsl: None,
            usl: Some(l.placement_um.0),
        },
        Measure::Pull => SpecLimits {
            lsl: Some(l.pull_min_gf.0),
            usl: None,
        },
        Measure::Shear => SpecLimits {
            lsl: Some(l.shear_min_gf.0),
            usl: None,
        },
    }
}

/// The recipe `name@version` from the library: that version, else the newest of that
/// name, else the built-in copper recipe.
pub fn recipe_for(db: &History, id: Option<&str>) -> Result<Recipe, FleetError> {
    if let Some((name, version)) = id.and_then(|i| i.rsplit_once('@')) {
        let version: u32 = version.parse().unwrap_or(0);
        let doc = match db.recipe(name, version)? {
            Some(d) => Some(d),
            None => db
                .recipes()?
                .into_iter()
                .filter(|r| r.name == name)
                .max_by_key(|r| r.version)
                .map(|r| r.doc),
        };
        if let Some(r) = doc.and_then(|d| Recipe::from_json(&d).ok()) {
            return Ok(r);
        }
    }
    Ok(Recipe::default_cu())
}

/// The series of a measure for a station in `[from, to)`, at most `limit` newest points.
pub fn series(
    db: &History,
    station: &str,
    m: Measure,
    from_ms: i64,
    to_ms: i64,
    limit: usize,
) -> Result<Vec<f64>, FleetError> {
    Ok(match m {
        Measure::BallDiameter => db
            .samples(station, from_ms, to_ms, true, limit)?
            .into_iter()
            .filter_map(|s| s.ball_um)
            .collect(),
        Measure::PlacementOffset => db
            .samples(station, from_ms, to_ms, true, limit)?
            .into_iter()
            .map(|s| (s.dx_um * s.dx_um + s.dy_um * s.dy_um).sqrt())
            .collect(),
        Measure::Pull | Measure::Shear => {
            let rows = db.changeovers(station, from_ms, to_ms)?;
            let v: Vec<f64> = rows
                .iter()
                .map(|r| {
                    if m == Measure::Pull {
                        r.msg.first_article.pull_gf_min
                    } else {
                        r.msg.first_article.shear_gf_min
                    }
                })
                .collect();
            let skip = v.len().saturating_sub(limit);
            v[skip..].to_vec()
        }
    })
}

/// Capability and chart of one measure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpcResult {
    pub station: String,
    pub measure: Measure,
    pub recipe: String,
    pub n: usize,
    pub lsl: Option<f64>,
    pub usl: Option<f64>,
    pub mean: Option<f64>,
    pub sigma_within: Option<f64>,
    pub sigma_overall: Option<f64>,
    pub cp: Option<f64>,
    pub cpk: Option<f64>,
    pub pp: Option<f64>,
    pub ppk: Option<f64>,
    /// `(point index, rule number)`.
    pub violations: Vec<(usize, u8)>,
    pub chart: Option<ChartData>,
}

/// Control limits and points.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChartData {
    pub x: Vec<f64>,
    pub mr: Vec<f64>,
    pub x_cl: f64,
    pub x_ucl: f64,
    pub x_lcl: f64,
    pub mr_cl: f64,
    pub mr_ucl: f64,
}

/// SPC of a series against limits.
pub fn analyse(station: &str, m: Measure, recipe: &str, x: &[f64], spec: SpecLimits) -> SpcResult {
    let cap = spc::capability(x, spec);
    let chart = spc::imr(x);
    SpcResult {
        station: station.into(),
        measure: m,
        recipe: recipe.into(),
        n: x.len(),
        lsl: spec.lsl,
        usl: spec.usl,
        mean: cap.map(|c| c.summary.mean),
        sigma_within: cap.map(|c| c.summary.sigma_within),
        sigma_overall: cap.map(|c| c.summary.sigma_overall),
        cp: cap.and_then(|c| c.cp),
        cpk: cap.and_then(|c| c.cpk),
        pp: cap.and_then(|c| c.pp),
        ppk: cap.and_then(|c| c.ppk),
        violations: chart
            .as_ref()
            .map(|c| {
                c.violations
                    .iter()
                    .map(|v| (v.index, v.rule.number()))
                    .collect()
            })
            .unwrap_or_default(),
        chart: chart.map(|c| ChartData {
            x: c.x,
            mr: c.mr,
            x_cl: c.x_cl,
            x_ucl: c.x_ucl,
            x_lcl: c.x_lcl,
            mr_cl: c.mr_cl,
            mr_ucl: c.mr_ucl,
        }),
    }
}

/// Rebuilds the core chart from the result (for drawing).
pub fn chart_of(r: &SpcResult) -> Option<bonder_core::spc::ImrChart> {
    let c = r.chart.as_ref()?;
    let mut chart = spc::imr(&c.x)?;
    chart.violations = spc::western_electric(&c.x, c.x_cl, chart.sigma);
    Some(chart)
}
