//! The broker password out of the history's SQLite file: it is kept in
//! `broker-password` beside the history, owner-only (0600), and never in the gateway
//! settings row, the logs or what the front end is shown. A password in the broker URL
//! (`mqtt://user:pass@host`) is moved there too.

use crate::FleetError;
use crate::service::GatewaySettings;
use std::path::{Path, PathBuf};

/// The file's name, beside the history.
pub const FILE: &str = "broker-password";

/// What the front end sends back for "unchanged" (what it is shown instead of the
/// password).
pub const MASK: &str = "********";

/// Where the password of the history in `dir` is kept.
pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// Takes the password out of `s` (its field, or the URL's user info); the settings are
/// left fit to store. `Some(MASK)` counts as none (unchanged).
pub fn take_password(s: &mut GatewaySettings) -> Option<String> {
    let mut secret = s.password.take().filter(|p| p != MASK);
    // `scheme://user:pass@host…`: the password part goes, the user stays.
    if let Some((scheme, rest)) = s.url.split_once("://") {
        let (authority, tail) = rest.split_once('/').map_or((rest, ""), |(a, t)| (a, t));
        if let Some((userinfo, host)) = authority.rsplit_once('@') {
            if let Some((user, pass)) = userinfo.split_once(':') {
                if secret.is_none() && !pass.is_empty() {
                    secret = Some(pass.to_string());
                }
                if s.username.is_none() && !user.is_empty() {
                    s.username = Some(user.to_string());
                }
                let sep = if tail.is_empty() && !rest.contains('/') {
                    ""
                } else {
                    "/"
                };
                s.url = format!("{scheme}://{user}@{host}{sep}{tail}");
            }
        }
    }
    secret
}

/// Stores the password (0600; the directory is the history's, 0700).
pub fn save(dir: &Path, password: &str) -> Result<(), FleetError> {
    let p = path(dir);
    let io =
        |e: std::io::Error| FleetError::Config(format!("broker password {}: {e}", p.display()));
    bonder_credentials::private_files::private_file(&p).map_err(io)?;
    std::fs::write(&p, password).map_err(io)?;
    Ok(())
}

/// The stored password, if any; refused when others may read the file.
pub fn load(dir: &Path) -> Result<Option<String>, FleetError> {
    let p = path(dir);
    if !p.exists() {
        return Ok(None);
    }
    let io =
        |e: std::io::Error| FleetError::Config(format!("broker password {}: {e}", p.display()));
    if let Some(mode) = bonder_credentials::private_files::loose_mode(&p).map_err(io)? {
        return Err(FleetError::Config(format!(
            "broker password {}: others may read it (mode {mode:o}); chmod 600 it",
            p.display()
        )));
    }
    Ok(Some(std::fs::read_to_string(&p).map_err(io)?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_password_leaves_the_settings_and_the_url() {
        let mut s = GatewaySettings::new("mqtts://sv:s3cret@broker.plant:8883");
        assert_eq!(take_password(&mut s).as_deref(), Some("s3cret"));
        assert_eq!(s.url, "mqtts://sv@broker.plant:8883");
        assert_eq!(s.username.as_deref(), Some("sv"));
        assert!(!serde_json::to_string(&s).unwrap().contains("s3cret"));

        let mut s = GatewaySettings::new("mqtt://broker/");
        s.password = Some(MASK.into());
        assert_eq!(take_password(&mut s), None, "the mask means unchanged");
        s.password = Some("new-one".into());
        assert_eq!(take_password(&mut s).as_deref(), Some("new-one"));
        assert_eq!(
            (s.url.as_str(), s.password.as_deref()),
            ("mqtt://broker/", None)
        );
    }

    #[cfg(unix)]
    #[test]
    fn it_is_kept_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), None);
        save(dir.path(), "s3cret").unwrap();
        let mode = std::fs::metadata(path(dir.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(load(dir.path()).unwrap().as_deref(), Some("s3cret"));
        std::fs::set_permissions(path(dir.path()), std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = load(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("others may read it") && !e.contains("s3cret"),
            "{e}"
        );
    }
}
