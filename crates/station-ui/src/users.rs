//! PIN hashing (argon2id) and the logged-in session.

use crate::store::{Role, UserRecord};
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};

/// Shortest PIN accepted.
pub const PIN_MIN_DIGITS: usize = 4;

/// The argon2id cost used for new PINs (OWASP's minimum: 19 MiB, 2 passes).
pub fn default_pin_params() -> argon2::Params {
    argon2::Params::new(19 * 1024, 2, 1, None).unwrap_or_default()
}

/// Hashes a PIN into a PHC string (`$argon2id$v=19$m=…`), with a random salt.
pub fn hash_pin(
    pin: &str,
    params: &argon2::Params,
) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    let hasher = Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        params.clone(),
    );
    Ok(hasher.hash_password(pin.as_bytes(), &salt)?.to_string())
}

/// Whether a PIN matches a PHC string (whatever cost it was hashed with).
pub fn verify_pin(pin: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(pin.as_bytes(), &h)
            .is_ok()
    })
}

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
    fn a_hashed_pin_verifies_and_a_wrong_one_does_not() {
        let fast = argon2::Params::new(256, 1, 1, None).unwrap_or_default();
        let phc = hash_pin("4711", &fast).unwrap_or_default();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_pin("4711", &phc));
        assert!(!verify_pin("4712", &phc));
        assert!(!verify_pin("4711", "not a hash"));
        assert!(pin_acceptable("0042") && !pin_acceptable("42") && !pin_acceptable("12a4"));
    }
}
