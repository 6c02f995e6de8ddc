//! The dependency rules of `docs/ARCHITECTURE.md`, checked over `cargo metadata`: each rule
//! is a test whose failure names the crate that breaks it and the rule.
//!
//! Only *normal* dependencies count (`kind: null` in the metadata: what a crate's library
//! or binaries link); dev-dependencies and build-dependencies are free. A dependency is a
//! package name, so a renamed dependency (`foo = { package = "bar" }`) counts as `bar`.
//!
//! `cargo test -p bonder-e2e --test dependency_rules -- --nocapture` prints the graph of the
//! workspace (each member → its normal dependencies inside the workspace).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// A workspace member, as the rules see it.
#[derive(Debug)]
struct Member {
    /// Normal dependencies (package names), inside the workspace or not.
    normal: BTreeSet<String>,
    /// No target of kind "bin": a library (plus its tests, benches, examples) only.
    lib_only: bool,
}

#[derive(Debug)]
struct Workspace {
    members: BTreeMap<String, Member>,
}

impl Workspace {
    /// `cargo metadata --no-deps` of the workspace this crate belongs to.
    fn load() -> Workspace {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let cargo = std::env::var("CARGO")
            .ok()
            .or_else(|| option_env!("CARGO").map(str::to_string))
            .unwrap_or_else(|| "cargo".into());
        let out = Command::new(&cargo)
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--manifest-path",
            ])
            .arg(root.join("Cargo.toml"))
            .output()
            .unwrap_or_else(|e| panic!("running {cargo} metadata: {e}"));
        assert!(
            out.status.success(),
            "{cargo} metadata failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata JSON");
        let ids: BTreeSet<&str> = meta["workspace_members"]
            .as_array()
            .expect("workspace_members")
            .iter()
            .map(|id| id.as_str().expect("member id"))
            .collect();
        let mut members = BTreeMap::new();
        for p in meta["packages"].as_array().expect("packages") {
            if !ids.contains(p["id"].as_str().expect("package id")) {
                continue;
            }
            let name = p["name"].as_str().expect("package name").to_string();
            let normal = p["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().expect("dependency name").to_string())
                .collect();
            let lib_only = !p["targets"].as_array().expect("targets").iter().any(|t| {
                t["kind"]
                    .as_array()
                    .expect("target kind")
                    .iter()
                    .any(|k| k == "bin")
            });
            members.insert(name, Member { normal, lib_only });
        }
        assert_eq!(
            members.len(),
            ids.len(),
            "every workspace member is in the metadata"
        );
        let ws = Workspace { members };
        println!("{}", ws.graph());
        ws
    }

    /// Loaded once per test binary (the tests run in parallel threads).
    fn get() -> &'static Workspace {
        static WS: OnceLock<Workspace> = OnceLock::new();
        WS.get_or_init(Workspace::load)
    }

    /// A member by name; panics if the workspace has none (a rule must not pass because a
    /// crate it names was renamed).
    fn member(&self, name: &str) -> &Member {
        self.members.get(name).unwrap_or_else(|| {
            panic!(
                "the rules name {name}, which is not a workspace member (renamed?): {:?}",
                self.members.keys().collect::<Vec<_>>()
            )
        })
    }

    /// The member's normal dependencies inside the workspace.
    fn internal(&self, name: &str) -> BTreeSet<&str> {
        self.member(name)
            .normal
            .iter()
            .filter(|d| self.members.contains_key(d.as_str()))
            .map(String::as_str)
            .collect()
    }

    /// Every workspace crate `name` reaches over normal dependencies (not itself).
    fn reaches(&self, name: &str) -> BTreeSet<&str> {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&str> = self.internal(name).into_iter().collect();
        while let Some(n) = todo.pop() {
            if seen.insert(n) {
                todo.extend(self.internal(n));
            }
        }
        seen
    }

    fn graph(&self) -> String {
        let mut s = String::from("workspace crate graph (normal dependencies):\n");
        for (name, m) in &self.members {
            let deps: Vec<&str> = self.internal(name).into_iter().collect();
            let kind = if m.lib_only { "lib" } else { "bin" };
            s.push_str(&format!("  {name} [{kind}] -> {}\n", deps.join(", ")));
        }
        s
    }

    /// Violations of "`crate_name` has no normal dependency on any of `forbidden`".
    fn forbidden_deps(&self, crate_name: &str, forbidden: &[&str]) -> Vec<String> {
        let m = self.member(crate_name);
        forbidden
            .iter()
            .filter(|f| m.normal.contains(**f))
            .map(|f| format!("{crate_name} depends on {f}"))
            .collect()
    }
}

fn assert_none(rule: &str, violations: Vec<String>) {
    assert!(
        violations.is_empty(),
        "{rule} is broken:\n  {}",
        violations.join("\n  ")
    );
}

/// External crates that do IO or drive a UI.
const IO_CRATES: &[&str] = &[
    "tokio",
    "rusqlite",
    "rumqttc",
    "rumqttd",
    "slint",
    "tokio-modbus",
    "tokio-serial",
    "tauri",
];

#[test]
fn a_core_is_the_pure_domain_core() {
    let rule = "rule a (bonder-core is the pure domain core: no crate of ours, no IO)";
    let ws = Workspace::get();
    let mut v: Vec<String> = ws
        .internal("bonder-core")
        .into_iter()
        .map(|d| format!("bonder-core depends on the workspace crate {d}"))
        .collect();
    v.extend(ws.forbidden_deps("bonder-core", IO_CRATES));
    assert_none(rule, v);
}

#[test]
fn b_only_the_station_and_the_tests_embed_the_simulator() {
    let rule = "rule b (bondersim is a normal dependency of bonder-station and bonder-e2e only; \
                others may have it as a dev-dependency)";
    let ws = Workspace::get();
    let allowed = ["bonder-station", "bonder-e2e"];
    for a in allowed {
        ws.member(a);
    }
    ws.member("bondersim");
    let v = ws
        .members
        .iter()
        .filter(|(name, m)| !allowed.contains(&name.as_str()) && m.normal.contains("bondersim"))
        .map(|(name, _)| format!("{name} depends on bondersim"))
        .collect();
    assert_none(rule, v);
}

/// Expected to fail until `bonder-station-ui` has lost `bondersim` (its demo) and `argon2`
/// (password hashing on the UI thread): issue 13.
#[test]
fn c_the_station_ui_is_only_ui() {
    let rule = "rule c (bonder-station-ui is only UI: no storage, network, protocol, \
                password hashing or simulator)";
    let ws = Workspace::get();
    let v = ws.forbidden_deps(
        "bonder-station-ui",
        &[
            "rusqlite",
            "rumqttc",
            "rumqttd",
            "bonder-gateway",
            "bonder-link",
            "tokio-modbus",
            "tokio-serial",
            "argon2",
            "bondersim",
        ],
    );
    assert_none(rule, v);
}

#[test]
fn d_protocol_and_storage_crates_know_no_ui_app_or_runtime() {
    let rule = "rule d (protocol and storage crates know no UI, no app and not the runtime)";
    let ws = Workspace::get();
    // bonder-store gets no exception: none of these is allowed for it either.
    let v = [
        "bonder-link",
        "bonder-gateway",
        "bonder-store",
        "bonder-camera",
        "bonder-vision",
        "bonder-secs",
        "bonder-gem",
    ]
    .iter()
    .flat_map(|c| {
        ws.forbidden_deps(
            c,
            &[
                "bonder-station-ui",
                "bonder-station",
                "slint",
                "tauri",
                "bonder-runtime",
            ],
        )
    })
    .collect();
    assert_none(rule, v);
}

#[test]
fn e_library_only_crates_do_not_use_anyhow() {
    let rule = "rule e (anyhow only at a binary's edge: a crate without a bin target has no \
                normal dependency on anyhow)";
    let ws = Workspace::get();
    let v = ws
        .members
        .iter()
        .filter(|(_, m)| m.lib_only && m.normal.contains("anyhow"))
        .map(|(name, _)| format!("{name} (no bin target) depends on anyhow"))
        .collect();
    assert_none(rule, v);
}

#[test]
fn f_the_supervisor_side_knows_no_station_internals() {
    let rule = "rule f (the supervisor side knows the gateway contract, not the station's \
                runtime, link, UI, binary or simulator)";
    let ws = Workspace::get();
    let v = ["bonder-fleet", "bonder-supervisor"]
        .iter()
        .flat_map(|c| {
            ws.forbidden_deps(
                c,
                &[
                    "bonder-runtime",
                    "bonder-link",
                    "bonder-station-ui",
                    "bonder-station",
                    "bondersim",
                ],
            )
        })
        .collect();
    assert_none(rule, v);
}

/// Rule g: dependencies point down. Cargo already refuses cycles among normal dependencies,
/// so this pins the shape of the graph as it is (2026-12) instead:
/// * the leaves depend on no crate of ours: `bonder-i18n` (strings), `bonder-camera`
///   (reads frames), `bonder-vision` (takes pixels) and `bonder-credentials` (password and
///   PIN hashes; new in issue 13, so a checkout without it yet skips it: a leaf that is not
///   listed here still fails below, as a crate that does not reach `bonder-core`), and
///   `bonder-testkit` (the fault proxy; test support, see rule h);
/// * every other member reaches `bonder-core`, and all of them directly except
///   `bonder-supervisor`, which reaches it only through `bonder-fleet` and
///   `bonder-gateway` (it has `bonder-core` as a dev-dependency for its tests);
/// * nothing depends on the top: the apps (`bonder-station`, `bonder-supervisor`) and the
///   test crate (`bonder-e2e`). `bondersim` is a library and a binary, and rule b says
///   who may embed it.
///
/// A change to any of these is a change of the architecture: update
/// `docs/ARCHITECTURE.md` and this test together.
#[test]
fn g_dependencies_point_down() {
    let rule = "rule g (dependencies point down: leaves, the core below everything else, \
                apps and tests on top)";
    let ws = Workspace::get();
    let core = "bonder-core";
    let leaves = [
        "bonder-i18n",
        "bonder-camera",
        "bonder-vision",
        "bonder-credentials",
        "bonder-testkit",
        "bonder-secs",
    ];
    let through_others = ["bonder-supervisor"];
    let top = ["bonder-station", "bonder-supervisor", "bonder-e2e"];
    for c in ["bonder-i18n", "bonder-camera", "bonder-vision", core]
        .iter()
        .chain(&through_others)
        .chain(&top)
    {
        ws.member(c);
    }
    let mut v = Vec::new();
    for leaf in leaves.into_iter().filter(|l| ws.members.contains_key(*l)) {
        for d in ws.internal(leaf) {
            v.push(format!(
                "{leaf} is a leaf and must depend on no crate of ours, depends on {d}"
            ));
        }
    }
    for name in ws.members.keys().map(String::as_str) {
        if name == core || leaves.contains(&name) {
            continue;
        }
        let direct = ws.internal(name).contains(core);
        let reached = ws.reaches(name).contains(core);
        if !reached {
            v.push(format!("{name} does not reach {core} at all"));
        } else if !direct && !through_others.contains(&name) {
            v.push(format!(
                "{name} reaches {core} only through other crates (today every \
                 member but bonder-supervisor depends on it directly)"
            ));
        } else if direct && through_others.contains(&name) {
            v.push(format!(
                "{name} now depends on {core} directly (pinned: only through \
                 bonder-fleet and bonder-gateway)"
            ));
        }
    }
    for (name, m) in &ws.members {
        for t in top {
            if m.normal.contains(t) {
                v.push(format!(
                    "{name} depends on {t}, which is an app or the test crate"
                ));
            }
        }
    }
    assert_none(rule, v);
}

/// Rule h: `bonder-testkit` (fault proxy) is test support: a normal dependency of the test
/// crate `bonder-e2e` at most, a dev-dependency of anyone — never shipped in a product.
#[test]
fn h_the_test_kit_is_never_shipped() {
    let rule = "rule h (bonder-testkit is test support only)";
    let ws = Workspace::get();
    ws.member("bonder-testkit");
    let v = ws
        .members
        .iter()
        .filter(|(name, m)| *name != "bonder-e2e" && m.normal.contains("bonder-testkit"))
        .map(|(name, _)| format!("{name} has bonder-testkit as a normal dependency"))
        .collect();
    assert_none(rule, v);
}

/// Rule i: SECS/GEM in two layers. `bonder-secs` is the protocol only (a leaf, rule g);
/// `bonder-gem` talks to the station through its ports: it knows no store, no SQLite, no
/// controller link, no gateway (the station implements the ports).
#[test]
fn i_gem_knows_only_its_ports() {
    let rule = "rule i (bonder-gem reaches the station only through its ports)";
    let ws = Workspace::get();
    ws.member("bonder-secs");
    let v = ws.forbidden_deps(
        "bonder-gem",
        &[
            "bonder-store",
            "rusqlite",
            "bonder-link",
            "bonder-gateway",
            "bonder-runtime",
            "rumqttc",
        ],
    );
    assert_none(rule, v);
}
