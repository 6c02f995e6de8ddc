//! The store's side of gateway contract v2: the epoch, command nonces that survive a
//! restart, and the audit head, on real SQLite files.
#![allow(clippy::unwrap_used)]

use bonder_store::{AuditAction, AuditRecord, Role, Store};
use time::OffsetDateTime;

#[test]
fn the_epoch_is_drawn_once_per_store_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let a = Store::open(dir.path().join("a.sqlite"))
        .unwrap()
        .epoch()
        .unwrap();
    let b = Store::open(dir.path().join("b.sqlite"))
        .unwrap()
        .epoch()
        .unwrap();
    assert_eq!(a.len(), 16, "{a}");
    assert!(
        a.bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
        "{a}"
    );
    assert_ne!(a, b, "two stores, two epochs");
    let again = Store::open(dir.path().join("a.sqlite"))
        .unwrap()
        .epoch()
        .unwrap();
    assert_eq!(a, again, "reopening keeps the epoch");
}

#[test]
fn the_client_id_suffix_is_drawn_once_per_installation_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.sqlite");
    let a = Store::open(&path).unwrap().client_suffix().unwrap();
    assert_eq!(a.len(), 8, "{a}");
    assert!(a.bytes().all(|c| c.is_ascii_hexdigit()), "{a}");
    assert_eq!(Store::open(&path).unwrap().client_suffix().unwrap(), a);
    let b = Store::open(dir.path().join("b.sqlite"))
        .unwrap()
        .client_suffix()
        .unwrap();
    assert_ne!(a, b);
}

#[test]
fn a_nonce_is_refused_twice_even_after_a_restart_until_it_expires() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let now = 1_800_000_000;
    {
        let s = Store::open(&path).unwrap();
        assert!(s.claim_nonce("00ff", now + 330, now).unwrap());
        assert!(!s.claim_nonce("00ff", now + 330, now).unwrap());
        assert!(s.claim_nonce("01ff", now + 10, now).unwrap());
    }
    let s = Store::open(&path).unwrap();
    assert!(
        !s.claim_nonce("00ff", now + 330, now + 5).unwrap(),
        "kept across reopen"
    );
    // Once expired, a nonce is forgotten (the command itself is refused as expired by
    // then, so this only bounds the table).
    assert!(s.claim_nonce("01ff", now + 400, now + 11).unwrap());
}

#[test]
fn the_audit_head_is_the_newest_rows_hash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let s = Store::open(&path).unwrap();
    assert_eq!(s.reader().unwrap().audit_head().unwrap(), None);
    for object in ["gateway:cmd/recipe#r1", "gateway:cmd/recipe#r2"] {
        s.append_audit(&AuditRecord {
            time: OffsetDateTime::now_utc(),
            user: "E7".into(),
            role: Some(Role::Engineer),
            action: AuditAction::Command,
            object: object.into(),
            old_value: None,
            new_value: None,
            reason: None,
        })
        .unwrap();
    }
    let r = s.reader().unwrap();
    let rows = r.audit(0, 10).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        r.audit_head().unwrap().as_deref(),
        Some(rows[1].hash.as_str())
    );
    assert_eq!(Store::verify_audit(&path).unwrap().rows, 2);
}

#[cfg(unix)]
#[test]
fn the_store_and_its_wal_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let s = Store::open(&path).unwrap();
    s.claim_nonce("00", 1, 0).unwrap(); // a write: the -wal file exists now
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&dir.path().join("s.sqlite-wal")), 0o600);
    assert_eq!(mode(&dir.path().join("s.sqlite-shm")), 0o600);
    // A file an older build left readable by others is tightened on open.
    drop(s);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let _s = Store::open(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
}
