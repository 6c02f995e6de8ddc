//! The logged-in session and the texts of the login policy. Secrets are checked and
//! hashed by the user directory (`bonder-credentials`, `bonder_core::login`), never by
//! the UI.

use crate::store::{Role, SecretProblem, UserRecord};
use crate::tr::{Arg, Message};

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

/// The bilingual text of a secret the policy refuses.
pub(crate) fn secret_problem(p: SecretProblem) -> Message {
    match p {
        SecretProblem::PinTooShort { min } => {
            Message::with("secret-pin-short", vec![("n", Arg::from(min.to_string()))])
        }
        SecretProblem::PinNotDigits => Message::new("secret-pin-digits"),
        SecretProblem::PasswordTooShort { min } => Message::with(
            "secret-password-short",
            vec![("n", Arg::from(min.to_string()))],
        ),
    }
}
