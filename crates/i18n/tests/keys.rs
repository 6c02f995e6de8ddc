//! The .ftl files of both languages parse, have the same keys, and cover the domain.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bonder_core::bond::{BondKind, ChannelId, Defect};
use bonder_core::recipe::Param;
use bonder_core::{AlarmCode, MachineState};
use bonder_i18n::{Lang, has_key, keys, tr};
use std::collections::BTreeSet;
use std::path::Path;

/// Message ids of one language, parsed with the reference Fluent parser.
fn parsed_keys(lang: Lang) -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../i18n")
        .join(lang.code());
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "ftl") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let res = fluent_syntax::parser::parse(text.as_str())
            .unwrap_or_else(|(_, errs)| panic!("{}: {errs:?}", path.display()));
        for entry in res.body {
            if let fluent_syntax::ast::Entry::Message(m) = entry {
                assert!(
                    out.insert(m.id.name.to_string()),
                    "{}: duplicate key {}",
                    path.display(),
                    m.id.name
                );
            }
        }
    }
    out
}

#[test]
fn both_languages_have_exactly_the_same_keys() {
    let en = parsed_keys(Lang::EnUs);
    let zh = parsed_keys(Lang::ZhCn);
    let only_en: Vec<_> = en.difference(&zh).collect();
    let only_zh: Vec<_> = zh.difference(&en).collect();
    assert!(
        only_en.is_empty() && only_zh.is_empty(),
        "only in en-US: {only_en:?}; only in zh-CN: {only_zh:?}"
    );
    // The crate's own key list (from its build script) agrees with the parser.
    for lang in Lang::ALL {
        let listed: BTreeSet<String> = keys(lang).iter().map(|k| k.to_string()).collect();
        assert_eq!(listed, parsed_keys(lang), "{}", lang.code());
    }
}

#[test]
fn every_domain_name_has_a_message() {
    let mut wanted: Vec<String> = Vec::new();
    wanted.extend(
        MachineState::ALL
            .iter()
            .map(|s| format!("state-{}", s.name())),
    );
    wanted.extend(Defect::ALL.iter().map(|d| format!("defect-{}", d.name())));
    wanted.extend(
        ChannelId::ALL
            .iter()
            .map(|c| format!("channel-{}", c.name())),
    );
    wanted.extend(
        [BondKind::Ball, BondKind::Stitch]
            .iter()
            .map(|k| format!("bond-kind-{}", k.name())),
    );
    wanted.extend(
        Param::ALL
            .iter()
            .map(|p| format!("param-{}", p.spec().key.replace('.', "-"))),
    );
    for a in AlarmCode::KNOWN {
        wanted.push(format!("alarm-{}", a.code()));
        wanted.push(format!("alarm-{}-action", a.code()));
    }
    for lang in Lang::ALL {
        let missing: Vec<_> = wanted.iter().filter(|k| !has_key(lang, k)).collect();
        assert!(missing.is_empty(), "{}: missing {missing:?}", lang.code());
    }
}

#[test]
fn alarm_texts_are_the_core_alarm_table() {
    let mut codes: Vec<AlarmCode> = AlarmCode::KNOWN.to_vec();
    codes.push(AlarmCode::Other(999));
    for a in codes {
        let key = match a {
            AlarmCode::Other(_) => "alarm-unknown".to_string(),
            _ => format!("alarm-{}", a.code()),
        };
        assert_eq!(tr(Lang::EnUs, &key), a.text_en(), "{key}");
        assert_eq!(tr(Lang::ZhCn, &key), a.text_zh(), "{key}");
        assert_eq!(tr(Lang::EnUs, &format!("{key}-action")), a.action_en());
        assert_eq!(tr(Lang::ZhCn, &format!("{key}-action")), a.action_zh());
    }
}
