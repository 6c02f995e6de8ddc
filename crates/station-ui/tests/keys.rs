//! Every Fluent key the UI uses exists in both languages.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bonder_i18n::{Lang, has_key};
use bonder_station_ui::tr::TR_KEYS;
use std::path::Path;

/// String literals passed to the lookup helpers in the crate's sources.
fn keys_in_sources() -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for pat in [
                ".t(\"",
                ".ta(\"",
                "Message::new(\"",
                "Message::with(\"",
                "Arg::key(\"",
                "=> \"",
            ] {
                for (i, _) in text.match_indices(pat) {
                    let rest = &text[i + pat.len()..];
                    let key = &rest[..rest.find('"').unwrap()];
                    if key.contains('-')
                        && key.chars().all(|c| {
                            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'
                        })
                    {
                        out.push(key.to_string());
                    }
                }
            }
        }
    }
    out
}

#[test]
fn every_key_the_ui_uses_exists_in_both_languages() {
    let used = keys_in_sources();
    assert!(used.len() > 100, "found only {} keys", used.len());
    for key in used
        .iter()
        .map(String::as_str)
        .chain(TR_KEYS.iter().copied())
    {
        for lang in Lang::ALL {
            assert!(has_key(lang, key), "{} has no {key}", lang.code());
        }
    }
}
