//! Files only their owner may read: the station's store and the supervisor's history
//! (PIN and password hashes, the audit trail, production data) and the directories that
//! hold them and the logs. Mode 0600 for files, 0700 for directories, on Unix; elsewhere
//! these do nothing (the product ships for Linux).

use std::io;
use std::path::Path;

/// Creates `dir` (with missing parents) and makes it 0700.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Creates `path` empty with mode 0600 if it does not exist, and takes group and other
/// rights away from it (and from SQLite's `-wal` and `-shm` beside it) if it does.
/// SQLite creates its `-wal` and `-shm` files with the mode of the database file, so
/// calling this before opening a database keeps all three private.
pub fn private_file(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if !path.exists() {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
            {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        for p in [
            path.to_path_buf(),
            sibling(path, "-wal"),
            sibling(path, "-shm"),
        ] {
            if let Ok(m) = std::fs::metadata(&p) {
                if m.permissions().mode() & 0o077 != 0 {
                    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))?;
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// The permission bits of `path` when its group or others have any right to it (a
/// secret there is not private), `None` when only its owner has. Always `None` off Unix.
pub fn loose_mode(path: &Path) -> io::Result<Option<u32>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
        Ok((mode & 0o077 != 0).then_some(mode))
    }
    #[cfg(not(unix))]
    {
        std::fs::metadata(path)?;
        Ok(None)
    }
}

#[cfg(unix)]
fn sibling(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    s.into()
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_and_existing_files_become_private() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("data/bonder");
        private_dir(&d).unwrap();
        assert_eq!(mode(&d), 0o700);
        let f = d.join("store.sqlite");
        private_file(&f).unwrap();
        assert_eq!(mode(&f), 0o600);
        let old = d.join("old.sqlite");
        std::fs::write(&old, b"x").unwrap();
        std::fs::write(d.join("old.sqlite-wal"), b"x").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(
            d.join("old.sqlite-wal"),
            std::fs::Permissions::from_mode(0o664),
        )
        .unwrap();
        private_file(&old).unwrap();
        assert_eq!(
            (mode(&old), mode(&d.join("old.sqlite-wal"))),
            (0o600, 0o600)
        );
        assert_eq!(std::fs::read(&old).unwrap(), b"x", "contents kept");
    }
}

/// Makes every file this process creates from now on owner-only (umask 077): log files
/// that a rolling appender opens, exports, temporary files. Returns the previous mask
/// (Unix; a no-op returning 0 elsewhere).
pub fn owner_only_umask() -> u32 {
    #[cfg(unix)]
    {
        use rustix::fs::Mode;
        rustix::process::umask(Mode::from_raw_mode(0o077)).bits()
    }
    #[cfg(not(unix))]
    {
        0
    }
}
