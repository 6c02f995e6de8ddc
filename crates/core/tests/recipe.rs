//! Recipe document, block mapping and validation.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use bonder_core::recipe::{BLOCK_LEN, Param, Recipe, RecipeError, Violation, parse_block};

const RECIPE_JSON: &str = include_str!("data/recipe.json");
const RECIPE_CU_JSON: &str = include_str!("data/recipe-cu.json");

#[test]
fn contract_examples_parse_validate_and_match_the_builtins() {
    let au = Recipe::from_json(RECIPE_JSON).unwrap();
    assert_eq!(au, Recipe::default_au());
    let cu = Recipe::from_json(RECIPE_CU_JSON).unwrap();
    assert_eq!(cu, Recipe::default_cu());
    // Round trip through our own export.
    assert_eq!(Recipe::from_json(&au.to_json()).unwrap(), au);
}

#[test]
fn export_keeps_integer_fields_integer() {
    let v: serde_json::Value = serde_json::from_str(&Recipe::default_au().to_json()).unwrap();
    assert!(v["efo"]["time_us"].is_u64());
    assert!(v["loop_height_um"].is_u64());
    assert!(v["slot"].is_u64());
    assert_eq!(v["wire"]["material"], "Au");
    assert_eq!(v["state"], "released");
}

#[test]
fn block_of_the_contract_vector() {
    let block = Recipe::default_au().to_block();
    assert_eq!(
        block,
        [
            42, 0, 254, 1800, 400, 600, 480, 600, 300, 120, 700, 900, 150, 250, 2, 0
        ]
    );
    let v = parse_block(&block).unwrap();
    assert_eq!(v.slot, 42);
    assert!((v.wire_diameter_um - 25.4).abs() < 1e-9);
    assert!((v.ball.force_gf.0 - 30.0).abs() < 1e-9);
}

/// Sets one parameter to a raw register value (via its engineering value).
fn with_raw(p: Param, raw: i64) -> Recipe {
    let mut r = Recipe::default_au();
    let s = p.spec();
    assert!(r.set_value(p, raw as f64 / s.counts_per_unit) || p == Param::WireMaterial);
    // Keep the cross-field rules out of the way of the range being tested.
    if p == Param::WireDiameter {
        r.efo.fab_target_um.0 = 149.0;
    }
    r
}

fn range_violations(r: &Recipe) -> Vec<&'static str> {
    match r.validate() {
        Ok(()) => vec![],
        Err(v) => {
            v.0.into_iter()
                .filter_map(|v| match v {
                    Violation::OutOfRange { field, .. } => Some(field),
                    Violation::Invalid { .. } => None,
                })
                .collect()
        }
    }
}

#[test]
fn every_parameter_at_inside_and_outside_its_range() {
    for p in Param::ALL {
        let s = p.spec();
        let (lo, hi) = (i64::from(s.raw_min), i64::from(s.raw_max));
        for raw in [lo, lo + 1, hi - 1, hi] {
            let r = with_raw(p, raw);
            assert!(
                range_violations(&r).is_empty(),
                "{p} at raw {raw} must be accepted: {:?}",
                r.validate()
            );
        }
        for raw in [lo - 1, hi + 1] {
            if p == Param::WireMaterial {
                continue; // no f64 value names a material outside 0..3: set_value refuses it
            }
            let r = with_raw(p, raw);
            assert_eq!(
                range_violations(&r),
                vec![s.key],
                "{p} at raw {raw} must be refused"
            );
            // The violation names the value and the allowed range.
            let msg = r.validate().unwrap_err().to_string();
            let expect = format!("{} {}", s.key, fmt(raw as f64 / s.counts_per_unit));
            assert!(msg.contains(&expect), "{msg:?} should contain {expect:?}");
            assert!(
                msg.contains(&format!("outside {}..{}", fmt(s.min()), fmt(s.max()))),
                "{msg}"
            );
        }
    }
}

fn fmt(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[test]
fn wire_material_outside_its_codes_is_refused_in_a_block() {
    let mut block = Recipe::default_au().to_block();
    block[Param::WireMaterial.index()] = 4;
    let err = parse_block(&block).unwrap_err();
    assert_eq!(err.0.len(), 1);
    assert!(
        err.to_string()
            .starts_with("wire.material 4 is outside 0..3"),
        "{err}"
    );
    assert!(!Recipe::default_au().set_value(Param::WireMaterial, 4.0));
}

#[test]
fn every_violation_is_listed_not_just_the_first() {
    let mut r = Recipe::default_cu();
    r.forming_gas_l_min.0 = 12.5;
    r.ball.us_power_pct.0 = 120.0;
    r.name = " ".into();
    r.limits.ball_um[0].0 = 45.0; // above max 41
    let err = r.validate().unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("forming_gas_l_min 12.5 is outside 0..10"),
        "{text}"
    );
    assert!(
        text.contains("ball.us_power_pct 120 is outside 0..100"),
        "{text}"
    );
    assert!(text.contains("name must not be empty"), "{text}");
    assert!(
        text.contains("limits.ball_um minimum must be below maximum"),
        "{text}"
    );
    assert_eq!(err.0.len(), 4, "{text}");
}

#[test]
fn copper_without_forming_gas_is_refused() {
    let mut r = Recipe::default_cu();
    r.forming_gas_l_min.0 = 0.0;
    assert!(
        r.validate()
            .unwrap_err()
            .to_string()
            .contains("copper wire needs forming gas")
    );
}

#[test]
fn malformed_documents_are_refused_with_a_reason() {
    for (doc, needle) in [
        ("{", "EOF"),
        (r#"{"v":1}"#, "missing field"),
        (&RECIPE_JSON.replace("\"Au\"", "\"Zn\""), "unknown variant"),
        (
            &RECIPE_JSON.replace("\"time_us\": 600", "\"time_us\": -5"),
            "invalid value",
        ),
    ] {
        match Recipe::from_json(doc) {
            Err(RecipeError::Json(m)) => assert!(m.contains(needle), "{m:?} lacks {needle:?}"),
            other => panic!("{doc}: {other:?}"),
        }
    }
    assert!(matches!(
        Recipe::from_json(&RECIPE_JSON.replace("\"v\": 1", "\"v\": 2")),
        Err(RecipeError::Invalid(_))
    ));
}

#[test]
fn block_len_matches_param_table() {
    assert_eq!(Param::ALL.len(), BLOCK_LEN);
    for (i, p) in Param::ALL.into_iter().enumerate() {
        assert_eq!(p.index(), i);
        assert_eq!(p.register(), 200 + i as u16);
        assert_eq!(Param::from_key(p.spec().key), Some(p));
    }
}
