//! Secrets (station PINs, supervisor passwords) as argon2id PHC strings.
//!
//! **One parameter set** (argon2id, [`MEMORY_KIB`] 19 MiB, [`PASSES`] 2, [`LANES`] 1 — OWASP's
//! minimum) for every new hash in the product; salts of 16 bytes from the operating
//! system's generator (`OsRng`), never from a clock. Verification reads the cost from
//! the stored PHC string, so hashes made with older parameters still verify.
//!
//! [`verify_user`] takes the stored hash as an `Option`: for an unknown user it verifies
//! against a dummy hash of the same cost, so "no such user" and "wrong PIN" take the same
//! time and cannot be told apart by a stopwatch.
//!
//! Hashing costs tens of milliseconds by design: call it off a UI thread.

pub mod private_files;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::OnceLock;

/// argon2id memory cost (KiB) of new hashes.
pub const MEMORY_KIB: u32 = 19 * 1024;
/// argon2id passes of new hashes.
pub const PASSES: u32 = 2;
/// argon2id lanes of new hashes.
pub const LANES: u32 = 1;

/// Why a secret could not be hashed.
#[derive(Debug, thiserror::Error)]
#[error("cannot hash the secret: {0}")]
pub struct HashError(String);

fn hasher() -> Argon2<'static> {
    // The constants are valid argon2 parameters; a failure here is a programming error
    // caught by the tests, and falls back to argon2's own default (the same values).
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes `secret` into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) with a fresh
/// random salt.
pub fn hash(secret: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Whether `secret` matches the PHC string `phc` (at whatever cost it was made); a
/// string that is not a PHC hash matches nothing.
pub fn verify(secret: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(secret.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash of nothing anybody knows, at the cost of new hashes: what an unknown user's
/// attempt is verified against.
fn dummy() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash("\u{0}no user\u{0}").unwrap_or_default())
}

/// Checks a login attempt against a user's stored hash, or — `None`, no such user —
/// against a dummy hash of the same cost, so both answers take as long. Always `false`
/// for an unknown user.
pub fn verify_user(secret: &str, stored: Option<&str>) -> bool {
    match stored {
        Some(phc) => verify(secret, phc),
        None => {
            let _ = verify(secret, dummy());
            false
        }
    }
}

/// Warms the dummy hash (call at start, off the UI thread), so the first unknown badge
/// is not slower than a known one.
pub fn prepare() {
    let _ = dummy();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_secret_only() {
        let phc = hash("4711").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("4711", &phc));
        assert!(!verify("4712", &phc));
        assert!(!verify("4711", "not a hash"));
        assert!(!verify("", ""));
    }

    #[test]
    fn salts_differ_between_hashes_of_one_secret() {
        let (a, b) = (hash("1234").unwrap(), hash("1234").unwrap());
        assert_ne!(a, b);
        let salt = |p: &str| p.split('$').nth(4).unwrap_or("").to_string();
        assert_ne!(salt(&a), salt(&b));
        // 16 bytes of salt: 22 characters of unpadded base64.
        assert_eq!(salt(&a).len(), 22);
    }

    #[test]
    fn an_unknown_user_never_verifies_and_takes_the_dummy_path() {
        prepare();
        assert!(!verify_user("4711", None));
        assert!(!verify_user("", None));
        let phc = hash("4711").unwrap();
        assert!(verify_user("4711", Some(&phc)));
        // The dummy has the cost of a real hash (same parameters in its PHC string).
        assert!(dummy().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    }

    #[test]
    fn hashes_of_older_cheaper_parameters_still_verify() {
        let cheap = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(256, 1, 1, None).unwrap(),
        );
        let salt = SaltString::generate(&mut OsRng);
        let phc = cheap.hash_password(b"0042", &salt).unwrap().to_string();
        assert!(verify("0042", &phc));
        assert!(!verify("0043", &phc));
    }
}
