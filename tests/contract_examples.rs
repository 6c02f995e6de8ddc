//! Every example payload of the gateway contract (`docs/spec/gateway-examples/`) goes
//! through the product's own types and comes back as the same JSON: parsed with the type
//! the station reads it with, serialised with the one it writes it with, and compared as
//! JSON values to the file.
//!
//! The test lists the directory: an example file without a mapping here fails
//! (`every_example_file_has_a_mapping`), so a new example is never silently skipped.
//!
//! How "the same JSON" is read:
//! * numbers compare by value, as JSON does (RFC 8259 has one number type): the file's
//!   `"wire_rate_per_min": 1180` and the product's `1180.0` (an `f64`) are the same;
//! * the recipe document may carry fields the example lacks only where the contract allows
//!   it ("fields may be added, never renamed", `gateway-mqtt.md`): the product adds exactly
//!   one, `capillary_life_touchdowns`, and writes its documented default when the document
//!   has none ([`ADDED_RECIPE_FIELDS`]). Nothing else may differ: no field dropped, none
//!   renamed, no value changed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use bonder_core::recipe::{DEFAULT_CAPILLARY_LIFE, Recipe};
use bonder_gateway::payload::{AlarmMsg, BondsMsg, CmdResult, HealthMsg, StatusMsg, V};
use bonder_gateway::{GatewayCommand, Topic, commands};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// How one example goes through the product: its text in, the product's JSON out.
type RoundTrip = fn(&str) -> Result<Value, String>;

/// One list makes both the table of mappings ([`EXAMPLES`], which the directory listing is
/// checked against) and a `#[test]` per example, so a mapping cannot exist without its
/// test, and a case the product cannot represent is `#[ignore]`d alone.
macro_rules! examples {
    ($($(#[$attr:meta])* $test:ident: $file:literal => $round_trip:expr,)*) => {
        /// Example file → the product's round trip for it.
        const EXAMPLES: &[(&str, RoundTrip)] = &[$(($file, $round_trip)),*];
        $(
            #[test]
            $(#[$attr])*
            fn $test() {
                check_example($file);
            }
        )*
    };
}

/// The round trip through a payload type of `bonder_gateway::payload`: deserialise,
/// serialise.
macro_rules! via_type {
    ($t:ty) => {
        |text: &str| -> Result<Value, String> {
            let msg: $t = serde_json::from_str(text)
                .map_err(|e| format!("does not parse as {}: {e}", stringify!($t)))?;
            serde_json::to_value(&msg).map_err(|e| format!("does not serialise: {e}"))
        }
    };
}

examples! {
    status_example_round_trips: "status.json" => via_type!(StatusMsg),
    bonds_example_round_trips: "bonds.json" => via_type!(BondsMsg),
    alarm_example_round_trips: "alarm.json" => via_type!(AlarmMsg),
    cmd_result_example_round_trips: "cmd-result.json" => via_type!(CmdResult),
    recipe_example_round_trips_through_the_export: "recipe.json" => via_recipe_export,
    cmd_recipe_example_passes_the_command_check_and_round_trips:
        "cmd-recipe.json" => via_recipe_command,
}

/// Fields the product's recipe document adds to the contract's (allowed: "fields may be
/// added"), with the value it writes when the incoming document has none.
const ADDED_RECIPE_FIELDS: &[(&str, u64)] =
    &[("capillary_life_touchdowns", DEFAULT_CAPILLARY_LIFE as u64)];

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/spec/gateway-examples")
}

fn read_example(name: &str) -> String {
    let path = examples_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The recipe document: `Recipe::from_json` (parses and validates) and the export
/// (`Recipe::to_json`), with the added fields taken out again (see [`strip_added`]).
fn via_recipe_export(text: &str) -> Result<Value, String> {
    let recipe = Recipe::from_json(text).map_err(|e| format!("Recipe::from_json: {e}"))?;
    let exported: Value = serde_json::from_str(&recipe.to_json())
        .map_err(|e| format!("Recipe::to_json wrote no JSON: {e}"))?;
    strip_added(exported, &file_value(text))
}

/// `{S}/cmd/recipe`: the station's command check (`commands::check` with the version-1
/// migration switch on, as the example is a version-1 command; it validates the
/// recipe), then the same envelope around the recipe's export. The envelope has no type of
/// its own in the product (the supervisor builds it with `json!` too), so it is rebuilt
/// here from what the parse returned.
fn via_recipe_command(text: &str) -> Result<Value, String> {
    let v1 = commands::CommandPolicy {
        accept_unsigned: true,
        ..commands::CommandPolicy::default()
    };
    let cmd = commands::check(Topic::CmdRecipe, text.as_bytes(), &v1, 0, |_, _| Ok(true))
        .map(|a| a.command)
        .map_err(|e| format!("commands::check refused it: {e}"))?;
    let GatewayCommand::Recipe { request_id, recipe } = cmd else {
        return Err(format!(
            "commands::check gave {cmd:?}, not a recipe command"
        ));
    };
    let exported: Value = serde_json::from_str(&recipe.to_json())
        .map_err(|e| format!("Recipe::to_json wrote no JSON: {e}"))?;
    let recipe_doc = strip_added(exported, &file_value(text)["recipe"])?;
    Ok(json!({"v": V, "request_id": request_id, "recipe": recipe_doc}))
}

/// Takes the product's added recipe fields out of `exported`. Where the incoming document
/// had the field, it stays (and is compared like any other); where it had none, the
/// product must have written the documented default.
fn strip_added(mut exported: Value, incoming: &Value) -> Result<Value, String> {
    let obj = exported
        .as_object_mut()
        .ok_or("the recipe export is not a JSON object")?;
    for &(field, default) in ADDED_RECIPE_FIELDS {
        if incoming.get(field).is_some() {
            continue;
        }
        match obj.remove(field) {
            Some(v) if v.as_u64() == Some(default) => {}
            Some(v) => {
                return Err(format!(
                    "added field {field}: the document has none, so the export must write \
                     the default {default}, wrote {v}"
                ));
            }
            None => {}
        }
    }
    Ok(exported)
}

fn file_value(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("example is not JSON: {e}"))
}

/// Where `product` differs from `file`, as `$.path: …` lines (empty when equal).
fn differences(file: &Value, product: &Value) -> Vec<String> {
    let mut out = Vec::new();
    diff_at("$", file, product, &mut out);
    out
}

fn diff_at(path: &str, file: &Value, product: &Value, out: &mut Vec<String>) {
    match (file, product) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                let p = format!("{path}.{k}");
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => diff_at(&p, x, y, out),
                    (Some(x), None) => out.push(format!("{p}: in the file ({x}), not written")),
                    (None, Some(y)) => out.push(format!("{p}: written ({y}), not in the file")),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                out.push(format!(
                    "{path}: {} items in the file, {} written",
                    a.len(),
                    b.len()
                ));
            }
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff_at(&format!("{path}[{i}]"), x, y, out);
            }
        }
        (Value::Number(a), Value::Number(b)) => {
            let same = match (a.as_i64(), b.as_i64(), a.as_u64(), b.as_u64()) {
                (Some(x), Some(y), _, _) => x == y,
                (_, _, Some(x), Some(y)) => x == y,
                // One side is a float (or out of i64/u64): JSON numbers compare by value.
                _ => a.as_f64() == b.as_f64(),
            };
            if !same {
                out.push(format!("{path}: file {a}, written {b}"));
            }
        }
        (a, b) => {
            if a != b {
                out.push(format!("{path}: file {a}, written {b}"));
            }
        }
    }
}

fn round_trip_of(name: &str) -> RoundTrip {
    EXAMPLES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, f)| f)
        .unwrap_or_else(|| panic!("{name}: no mapping in EXAMPLES"))
}

/// Runs one example through its mapping and fails with every difference.
fn check_example(name: &str) {
    let text = read_example(name);
    let file = file_value(&text);
    let product = round_trip_of(name)(&text).unwrap_or_else(|e| {
        panic!("docs/spec/gateway-examples/{name}: the product's types cannot read it: {e}")
    });
    let diffs = differences(&file, &product);
    assert!(
        diffs.is_empty(),
        "docs/spec/gateway-examples/{name} does not come back the same through the product's \
         types:\n  {}",
        diffs.join("\n  ")
    );
}

/// `{S}/health` is our addition to the contract (`docs/ARCHITECTURE.md`, "Health"): its
/// example lives beside the addition, not among the contract's, and round-trips the same.
#[test]
fn the_health_additions_example_round_trips() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/gateway-additions/health.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let msg: HealthMsg = serde_json::from_str(&text).unwrap();
    let diffs = differences(&file_value(&text), &serde_json::to_value(&msg).unwrap());
    assert!(diffs.is_empty(), "health.json:\n  {}", diffs.join("\n  "));
}

#[test]
fn every_example_file_has_a_mapping() {
    let dir = examples_dir();
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mapped: BTreeSet<String> = EXAMPLES.iter().map(|(n, _)| n.to_string()).collect();
    let unmapped: Vec<&String> = on_disk.difference(&mapped).collect();
    let missing: Vec<&String> = mapped.difference(&on_disk).collect();
    assert!(
        unmapped.is_empty(),
        "example files with no round trip in tests/contract_examples.rs (add a line to \
         `examples!`): {unmapped:?}"
    );
    assert!(
        missing.is_empty(),
        "EXAMPLES names files that docs/spec/gateway-examples/ no longer has: {missing:?}"
    );
}

/// The recipe example is the product's built-in default (`Recipe::default_au` says so):
/// pin that they stay the same document.
#[test]
fn recipe_example_is_the_built_in_default() {
    let r = Recipe::from_json(&read_example("recipe.json")).unwrap();
    assert_eq!(r, Recipe::default_au());
}

/// ```json blocks of the contract's text: each must be a whole payload that one of the
/// mapped types reads and writes back unchanged. (`gateway-mqtt.md` has none today: its
/// payloads are listed by key in tables and given whole in `gateway-examples/`; the test
/// says how many it found.)
#[test]
fn json_blocks_in_the_contract_round_trip() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/spec/gateway-mqtt.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let fence = line.trim_start();
        match current.take() {
            None if fence.starts_with("```json") => current = Some((i + 1, String::new())),
            None => {}
            Some(block) if fence.starts_with("```") => blocks.push(block),
            Some((start, mut body)) => {
                body.push_str(line);
                body.push('\n');
                current = Some((start, body));
            }
        }
    }
    assert!(
        current.is_none(),
        "gateway-mqtt.md: a ```json block is not closed"
    );
    println!("gateway-mqtt.md: {} ```json block(s)", blocks.len());
    for (line, body) in blocks {
        let file = serde_json::from_str::<Value>(&body)
            .unwrap_or_else(|e| panic!("gateway-mqtt.md line {line}: not a JSON document: {e}"));
        let fits = EXAMPLES
            .iter()
            .any(|&(_, f)| f(&body).is_ok_and(|product| differences(&file, &product).is_empty()));
        assert!(
            fits,
            "gateway-mqtt.md line {line}: no payload type of the product reads and writes \
             this block back unchanged"
        );
    }
}
