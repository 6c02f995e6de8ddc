//! Lists the message ids of `i18n/<lang>/*.ftl` into `$OUT_DIR/keys.rs`, so the crate can
//! tell which keys exist (the Fluent loader cannot enumerate them).

use std::fmt::Write as _;
use std::path::Path;

const LANGS: [(&str, &str); 2] = [("en-US", "EN_US"), ("zh-CN", "ZH_CN")];

fn main() {
    // Read at run time, not with env!(): a build script compiled in another checkout
    // that shares the target directory would otherwise look in that checkout.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let root = Path::new(&manifest).join("../../i18n");
    let mut out = String::new();
    for (lang, ident) in LANGS {
        let dir = root.join(lang);
        println!("cargo::rerun-if-changed={}", dir.display());
        let mut files: Vec<_> = match std::fs::read_dir(&dir) {
            Ok(rd) => rd
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "ftl"))
                .collect(),
            Err(e) => {
                println!("cargo::error=cannot read {}: {e}", dir.display());
                return;
            }
        };
        files.sort();
        let mut keys = Vec::new();
        for f in &files {
            println!("cargo::rerun-if-changed={}", f.display());
            let text = std::fs::read_to_string(f).unwrap_or_default();
            // A message starts at column 0 with an identifier and ` =`.
            for line in text.lines() {
                let Some((id, _)) = line.split_once('=') else {
                    continue;
                };
                let id = id.trim_end();
                let starts_ok = id.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
                let rest_ok = id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if starts_ok && rest_ok {
                    keys.push(id.to_string());
                }
            }
        }
        keys.sort();
        let _ = writeln!(out, "/// Message ids of {lang}, sorted.");
        let _ = writeln!(out, "pub const KEYS_{ident}: &[&str] = &{keys:?};");
    }
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap_or_default()).join("keys.rs");
    if let Err(e) = std::fs::write(&dest, out) {
        println!("cargo::error=cannot write {}: {e}", dest.display());
    }
}
