//! The PIN rule and the logged-in session. PINs are checked and hashed by the user
//! directory (`bonder-credentials`), never by the UI.

use crate::store::{Role, UserRecord};

/// Shortest PIN accepted.
pub const PIN_MIN_DIGITS: usize = 4;

/// Whether a PIN is acceptable: digits only, at least [`PIN_MIN_DIGITS`].
pub fn pin_acceptable(pin: &str) -> bool {
    pin.chars().count() >= PIN_MIN_DIGITS && pin.chars().all(|c| c.is_ascii_digit())
}

/// A user as the UI needs it once logged in (no hash kept).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionUser {
    pub badge: String,
    pub name: String,
    pub role: Role,
}

impl From<&UserRecord> for SessionUser {
    fn from(u: &UserRecord) -> SessionUser {
        SessionUser {
            badge: u.badge.clone(),
            name: u.name.clone(),
            role: u.role,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_are_four_digits_or_more() {
        assert!(pin_acceptable("0042") && !pin_acceptable("42") && !pin_acceptable("12a4"));
    }
}
