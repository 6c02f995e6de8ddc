//! The installation's command-signing key (gateway contract v2): one Ed25519 key pair per
//! supervisor installation, created on first start beside the history file, private key
//! in `command-key.pem` (PKCS#8 PEM, mode 0600, never shown or exported), public key
//! shown on the settings page and exported as `<kid>.pem` (SubjectPublicKeyInfo PEM) for
//! the stations' `--trusted-key`. The key id is `supervisor-` and the first 8 hex digits
//! of the public key's SHA-256, so the exported file's name is the `kid` the station
//! derives from it.

use crate::FleetError;
use bonder_gateway::signed;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use std::path::{Path, PathBuf};

/// The private key's file name (in the history's directory).
pub const KEY_FILE: &str = "command-key.pem";

/// The installation's signing key.
pub struct InstallationKey {
    key: SigningKey,
    kid: String,
    path: PathBuf,
}

impl std::fmt::Debug for InstallationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstallationKey")
            .field("kid", &self.kid)
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

fn kid_of(key: &SigningKey) -> String {
    // "SHA256:" + hex; the first 8 digits name the key.
    let fp = signed::fingerprint(&key.verifying_key());
    format!("supervisor-{}", &fp[7..15])
}

impl InstallationKey {
    /// Loads `dir/command-key.pem`, creating it (from the OS's randomness) when missing.
    /// A key file that others may read is refused: the key would no longer vouch for
    /// who sent a command.
    pub fn load_or_create(dir: &Path) -> Result<InstallationKey, FleetError> {
        let path = dir.join(KEY_FILE);
        let err = |what: &str, e: &dyn std::fmt::Display| {
            FleetError::Config(format!(
                "command key {}: {what}: {e} / 命令签名密钥 {}：{what}",
                path.display(),
                path.display()
            ))
        };
        if !path.exists() {
            let mut seed = [0u8; 32];
            rand::TryRngCore::try_fill_bytes(&mut rand::rngs::OsRng, &mut seed)
                .map_err(|e| err("no randomness from the OS", &e))?;
            let key = SigningKey::from_bytes(&seed);
            let pem = key
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| err("cannot encode", &e))?;
            bonder_credentials::private_files::private_file(&path)
                .and_then(|()| std::fs::write(&path, pem.as_bytes()))
                .map_err(|e| err("cannot create", &e))?;
            tracing::info!(path = %path.display(), kid = kid_of(&key), "created the installation's command key");
        }
        if let Some(mode) = bonder_credentials::private_files::loose_mode(&path)
            .map_err(|e| err("cannot read", &e))?
        {
            return Err(err(
                "others may read it",
                &format!("mode {mode:o}; chmod 600 it"),
            ));
        }
        let pem = std::fs::read_to_string(&path).map_err(|e| err("cannot read", &e))?;
        let key = SigningKey::from_pkcs8_pem(&pem).map_err(|e| err("not an Ed25519 key", &e))?;
        Ok(InstallationKey {
            kid: kid_of(&key),
            key,
            path,
        })
    }

    /// The key id stations know it by.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Where the private key is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The public key as PEM SubjectPublicKeyInfo (what `--trusted-key` reads).
    pub fn public_pem(&self) -> String {
        self.key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_default()
    }

    /// `SHA256:…` of the public key (to compare over the phone).
    pub fn fingerprint(&self) -> String {
        signed::fingerprint(&self.key.verifying_key())
    }

    /// Writes the public key to `dir/<kid>.pem`; returns the file.
    pub fn export_public(&self, dir: &Path) -> Result<PathBuf, FleetError> {
        let dest = dir.join(format!("{}.pem", self.kid));
        std::fs::write(&dest, self.public_pem())
            .map_err(|e| FleetError::Export(format!("{}: {e}", dest.display())))?;
        Ok(dest)
    }

    /// Signs a version-1 command object for `by` in `role`: adds the claims (`v` 2,
    /// `iat`/`exp` now + [`signed::DEFAULT_LIFETIME_S`], a fresh nonce) and wraps it in
    /// the JWS envelope.
    pub fn sign(
        &self,
        command: serde_json::Value,
        by: &str,
        role: bonder_core::permissions::Role,
    ) -> String {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = signed::with_claims(command, by, role, now, signed::DEFAULT_LIFETIME_S);
        signed::sign(&self.key, &self.kid, &claims)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use bonder_core::permissions::Role;

    #[test]
    fn created_once_private_and_verifiable_by_a_station() {
        let dir = tempfile::tempdir().unwrap();
        let k = InstallationKey::load_or_create(dir.path()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(k.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = InstallationKey::load_or_create(dir.path()).unwrap();
        assert_eq!(k.kid(), again.kid(), "the same key on the next start");
        let exported = k.export_public(dir.path()).unwrap();
        let trust = signed::TrustStore::load(&[exported]).unwrap();
        let jws = k.sign(serde_json::json!({"request_id": "r"}), "E7", Role::Engineer);
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let opened = signed::verify(&trust, false, jws.as_bytes(), now).unwrap();
        assert_eq!(opened.signer.unwrap().kid, k.kid());
    }

    #[cfg(unix)]
    #[test]
    fn a_key_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let k = InstallationKey::load_or_create(dir.path()).unwrap();
        std::fs::set_permissions(k.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = InstallationKey::load_or_create(dir.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("others may read it"), "{e}");
    }
}
