//! The PKI directory: the application certificate created on first start (self-signed,
//! RSA 2048, SHA-256, the station's application URI; private key 0600), and the trust
//! list — a client certificate the server saw but does not trust lands in `rejected/`
//! until an administrator trusts it ([`trust`]).

use crate::OpcuaError;
use opcua::crypto::{CertificateStore, X509, X509Data};
use std::path::{Path, PathBuf};

/// The file names under the PKI directory (async-opcua's defaults).
pub const OWN_CERT: &str = "own/cert.der";
pub const OWN_KEY: &str = "private/private.pem";

/// A certificate in the trust list or the rejected list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    pub file: PathBuf,
    pub subject: String,
    /// SHA-1 thumbprint, hex (what OPC UA tools show).
    pub thumbprint: String,
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> OpcuaError {
    move |source| OpcuaError::Pki { what, source }
}

/// Creates own/, private/, trusted/, rejected/ and, when there is none, the application
/// certificate. Tightens the private key to 0600 (and says so) when it is looser.
/// Returns whether a certificate was created.
pub fn ensure(
    dir: &Path,
    application_uri: &str,
    common_name: &str,
    hosts: &[String],
) -> Result<bool, OpcuaError> {
    for sub in ["own", "private", "trusted", "rejected"] {
        let p = dir.join(sub);
        std::fs::create_dir_all(&p).map_err(io(format!("creating {}", p.display())))?;
    }
    restrict(&dir.join("private"), 0o700)?;
    let cert = dir.join(OWN_CERT);
    let key = dir.join(OWN_KEY);
    let created = if cert.exists() && key.exists() {
        false
    } else {
        let mut names = vec![application_uri.to_string()];
        names.extend(hosts.iter().cloned());
        let data = X509Data {
            key_size: 2048,
            common_name: common_name.to_string(),
            organization: "bonder-hmi".into(),
            organizational_unit: "station".into(),
            country: String::new(),
            state: String::new(),
            alt_host_names: names.into(),
            certificate_duration_days: 3650,
        };
        CertificateStore::create_certificate_and_key(&data, true, &cert, &key).map_err(|why| {
            OpcuaError::Certificate {
                what: format!("creating the application certificate in {}", dir.display()),
                why,
            }
        })?;
        tracing::info!(
            cert = %cert.display(),
            uri = application_uri,
            "OPC UA: application certificate created (RSA 2048, SHA-256)"
        );
        true
    };
    restrict(&key, 0o600)?;
    Ok(created)
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> Result<(), OpcuaError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(io(format!("reading {}", path.display())))?;
    if meta.permissions().mode() & 0o777 != mode {
        if meta.is_file() {
            tracing::warn!(
                file = %path.display(),
                "OPC UA: the private key was readable by others; now {mode:o}"
            );
        }
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(io(format!("restricting {}", path.display())))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) -> Result<(), OpcuaError> {
    Ok(())
}

fn read_cert(file: &Path) -> Result<X509, OpcuaError> {
    let bytes = std::fs::read(file).map_err(io(format!("reading {}", file.display())))?;
    X509::from_der(&bytes)
        .or_else(|_| X509::from_pem(&bytes))
        .map_err(|e| OpcuaError::Certificate {
            what: format!(
                "{} is not an X.509 certificate (DER or PEM)",
                file.display()
            ),
            why: e.to_string(),
        })
}

fn info(file: PathBuf, c: &X509) -> CertInfo {
    CertInfo {
        file,
        subject: c.subject_name(),
        thumbprint: c.thumbprint().as_hex_string(),
    }
}

/// Trusts the client certificate in `file` (DER or PEM): copies it into `trusted/` under
/// the name async-opcua looks for and removes it from `rejected/` (a rejected copy would
/// keep refusing it). Idempotent.
pub fn trust(dir: &Path, file: &Path) -> Result<CertInfo, OpcuaError> {
    let cert = read_cert(file)?;
    let name = CertificateStore::cert_file_name(&cert);
    let trusted = dir.join("trusted");
    std::fs::create_dir_all(&trusted).map_err(io(format!("creating {}", trusted.display())))?;
    let der = cert.to_der().map_err(|e| OpcuaError::Certificate {
        what: format!("encoding {}", file.display()),
        why: e.to_string(),
    })?;
    let target = trusted.join(&name);
    std::fs::write(&target, der).map_err(io(format!("writing {}", target.display())))?;
    let thumb = cert.thumbprint();
    for c in list(&dir.join("rejected"))? {
        if c.thumbprint == thumb.as_hex_string() {
            std::fs::remove_file(&c.file).map_err(io(format!("removing {}", c.file.display())))?;
        }
    }
    Ok(info(target, &cert))
}

/// The certificates in `trusted/` or `rejected/` (files that are not certificates are
/// skipped with a warning).
pub fn list(sub_dir: &Path) -> Result<Vec<CertInfo>, OpcuaError> {
    let mut out = Vec::new();
    let rd = match std::fs::read_dir(sub_dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io(format!("reading {}", sub_dir.display()))(e)),
    };
    for entry in rd {
        let path = entry
            .map_err(io(format!("reading {}", sub_dir.display())))?
            .path();
        if !path.is_file() {
            continue;
        }
        match read_cert(&path) {
            Ok(c) => out.push(info(path, &c)),
            Err(e) => tracing::warn!("OPC UA PKI: skipping {}: {e}", path.display()),
        }
    }
    out.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_start_creates_a_certificate_with_the_uri_and_a_0600_key() {
        let Ok(tmp) = tempfile::tempdir() else {
            panic!("tempdir")
        };
        let dir = tmp.path().join("pki");
        let uri = "urn:bonder-hmi:station:p/l/wb-07";
        assert!(matches!(
            ensure(&dir, uri, "wb-07", &["localhost".into()]),
            Ok(true)
        ));
        assert!(
            matches!(ensure(&dir, uri, "wb-07", &[]), Ok(false)),
            "created once"
        );
        let own = list(&dir.join("own")).unwrap_or_default();
        assert_eq!(own.len(), 1);
        let cert = read_cert(&dir.join(OWN_CERT));
        assert!(cert.is_ok_and(|c| c.is_application_uri_valid(uri).is_ok()));
        assert!(own[0].subject.contains("wb-07"), "{}", own[0].subject);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(OWN_KEY))
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or(0);
            assert_eq!(mode, 0o600);
        }
        // Trusting moves a rejected certificate out of rejected/.
        let rejected = dir.join("rejected").join("client.der");
        let _ = std::fs::copy(dir.join(OWN_CERT), &rejected);
        let t = trust(&dir, &rejected);
        assert!(t.is_ok(), "{t:?}");
        assert!(!rejected.exists());
        assert_eq!(list(&dir.join("trusted")).unwrap_or_default().len(), 1);
        // Not a certificate: a clear error.
        let junk = tmp.path().join("junk.der");
        let _ = std::fs::write(&junk, b"not a cert");
        let e = trust(&dir, &junk)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("not an X.509 certificate"), "{e}");
    }
}
