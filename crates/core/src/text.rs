//! Text rules shared by the exports.

use std::borrow::Cow;

/// A text cell as a spreadsheet must show it: a cell starting with `=`, `+`, `-`, `@`,
/// a tab or a carriage return would be read as a formula (CSV injection, CWE-1236), so
/// it gets a leading `'` and stays text. Only for text that people or peers wrote
/// (names, notes, recipe ids); numbers the product formats itself are not passed here,
/// so a negative number stays a number.
pub fn spreadsheet_safe(s: &str) -> Cow<'_, str> {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{s}")),
        _ => Cow::Borrowed(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_starts_become_text() {
        for s in [
            "=HYPERLINK(\"http://x\")",
            "+1",
            "-2+3",
            "@SUM(A1)",
            "\tx",
            "\rx",
        ] {
            assert_eq!(spreadsheet_safe(s), format!("'{s}"));
        }
        for s in ["Li Wei", "夜班交接", "", "3-1", "SOT23-CU20@3"] {
            assert_eq!(spreadsheet_safe(s), s);
        }
    }
}
