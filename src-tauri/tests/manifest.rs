//! Every command the app registers is also in the app manifest (`build.rs` COMMANDS) and
//! granted to the main window (`capabilities/main.json`): with an app manifest, a
//! command missing from either is refused in the real webview ("not allowed"), which the
//! mock runtime of the other tests does not see.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::collections::BTreeSet;
use std::path::Path;

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

/// The `commands::<module>::<name>` entries of `generate_handler![…]`.
fn registered() -> BTreeSet<String> {
    let lib = read("src/lib.rs");
    let start = lib
        .find("generate_handler![")
        .expect("generate_handler! in src/lib.rs");
    let body = &lib[start..start + lib[start..].find(']').unwrap()];
    body.split(',')
        .filter_map(|e| e.trim().rsplit("::").next())
        .map(|n| {
            n.trim()
                .trim_start_matches("generate_handler![")
                .to_string()
        })
        .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .collect()
}

#[test]
fn every_registered_command_is_in_the_manifest_and_granted() {
    let commands = registered();
    assert!(commands.len() > 20, "{commands:?}");
    let build = read("build.rs");
    let capability = read("capabilities/main.json");
    let mut missing = Vec::new();
    for c in &commands {
        if !build.contains(&format!("\"{c}\"")) {
            missing.push(format!("{c}: not in build.rs COMMANDS"));
        }
        let allow = format!("\"allow-{}\"", c.replace('_', "-"));
        if !capability.contains(&allow) {
            missing.push(format!("{c}: {allow} not in capabilities/main.json"));
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");
}
