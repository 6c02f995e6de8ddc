//! Translations of the station UI.
//!
//! The Fluent files `i18n/en-US/*.ftl` and `i18n/zh-CN/*.ftl` (at the workspace root) are
//! embedded at compile time; [`tr`] and [`tr_args`] look a message up. Every language has
//! exactly the same keys (a test checks it). A key that does not exist comes back as the
//! key itself, so a missing translation is visible on screen and in tests, never a panic.

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::static_loader;
use std::borrow::Cow;
use std::collections::HashMap;
use unic_langid::LanguageIdentifier;

static_loader! {
    static LOCALES = {
        // Relative to this crate's CARGO_MANIFEST_DIR.
        locales: "../../i18n",
        fallback_language: "en-US",
        // No Unicode isolation marks around arguments: the UI's fonts draw them as boxes.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

mod generated {
    include!(concat!(env!("OUT_DIR"), "/keys.rs"));
}

/// A language of the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    /// English (United States), the fallback.
    #[default]
    EnUs,
    /// Simplified Chinese (China).
    ZhCn,
}

impl Lang {
    /// Every language, fallback first.
    pub const ALL: [Lang; 2] = [Lang::EnUs, Lang::ZhCn];

    /// BCP 47 tag, also the folder name under `i18n/` (`en-US`, `zh-CN`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::EnUs => "en-US",
            Lang::ZhCn => "zh-CN",
        }
    }

    /// The language of a BCP 47 tag (exact, case-insensitive).
    pub fn from_code(code: &str) -> Option<Lang> {
        Self::ALL
            .into_iter()
            .find(|l| l.code().eq_ignore_ascii_case(code))
    }

    /// The other language (the UI's language toggle).
    pub fn toggled(self) -> Lang {
        match self {
            Lang::EnUs => Lang::ZhCn,
            Lang::ZhCn => Lang::EnUs,
        }
    }

    fn id(self) -> LanguageIdentifier {
        match self {
            Lang::EnUs => unic_langid::langid!("en-US"),
            Lang::ZhCn => unic_langid::langid!("zh-CN"),
        }
    }
}

/// The message `key` in `lang`; the key itself when no such message exists.
pub fn tr(lang: Lang, key: &str) -> String {
    LOCALES
        .lookup_single_language::<&str>(&lang.id(), key, None)
        .unwrap_or_else(|_| key.to_string())
}

/// The message `key` in `lang` with named arguments (`{ $name }` in the .ftl file); the
/// key itself when no such message exists. Values are inserted as given (format numbers
/// before passing them).
pub fn tr_args(lang: Lang, key: &str, args: &[(&str, String)]) -> String {
    let map: HashMap<Cow<'static, str>, FluentValue> = args
        .iter()
        .map(|(k, v)| (Cow::Owned((*k).to_string()), FluentValue::from(v.clone())))
        .collect();
    LOCALES
        .lookup_single_language(&lang.id(), key, Some(&map))
        .unwrap_or_else(|_| key.to_string())
}

/// Whether `lang` has a message `key` (no fallback to another language).
pub fn has_key(lang: Lang, key: &str) -> bool {
    keys(lang).binary_search(&key).is_ok()
}

/// Every message id of a language, sorted.
pub fn keys(lang: Lang) -> &'static [&'static str] {
    match lang {
        Lang::EnUs => generated::KEYS_EN_US,
        Lang::ZhCn => generated::KEYS_ZH_CN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_with_and_without_arguments() {
        assert_eq!(tr(Lang::EnUs, "nav-recipes"), "Recipes");
        assert_eq!(tr(Lang::ZhCn, "nav-recipes"), "配方");
        assert_eq!(
            tr_args(Lang::EnUs, "alarm-code", &[("code", "104".into())]),
            "Alarm 104"
        );
        assert_eq!(tr(Lang::ZhCn, "no-such-key"), "no-such-key");
        assert!(has_key(Lang::ZhCn, "state-idle"));
        assert!(!has_key(Lang::ZhCn, "no-such-key"));
        assert_eq!(Lang::from_code("zh-cn"), Some(Lang::ZhCn));
    }
}
