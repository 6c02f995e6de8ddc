//! The audit trail: append-only in SQL, and a hash chain that names the first row
//! edited by hand.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use bonder_core::AlarmCode;
use bonder_core::recipe::Recipe;
use bonder_store::{
    AlarmAck, AlarmRecord, AuditAction, AuditRecord, Role, Store, StoreError, WriteOp, WriterConfig,
};
use common::{T0, engineer, operator};
use rusqlite::Connection;
use std::path::Path;

/// A store with 7 audit rows from both writers (recipe repository and batch writer).
async fn audited_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("station.db")).unwrap();
    let writer = store.spawn_writer(WriterConfig::default()).unwrap();
    writer
        .send(WriteOp::Audit(AuditRecord {
            time: T0,
            user: "E7".into(),
            role: Some(Role::Engineer),
            action: AuditAction::Login,
            object: "user:E7".into(),
            old_value: None,
            new_value: None,
            reason: None,
        }))
        .unwrap();
    writer.flush().await.unwrap();
    let repo = store.recipes();
    repo.create(&Recipe::default_au(), &engineer(), "new device")
        .unwrap();
    let mut r = repo.get("SOT23-AU25", 1).unwrap();
    r.ball.us_power_pct.0 = 62.0;
    repo.edit(1, &r, &engineer(), "NSOP trend, +2 % US")
        .unwrap();
    repo.release("SOT23-AU25", 2, &engineer(), "FA passed")
        .unwrap();
    repo.retire("SOT23-AU25", 1, &engineer(), "superseded")
        .unwrap();
    writer
        .send(WriteOp::Alarm(AlarmRecord {
            code: AlarmCode::WireBroken,
            raised: true,
            time: T0,
        }))
        .unwrap();
    writer
        .send(WriteOp::AlarmAck(AlarmAck {
            code: AlarmCode::WireBroken,
            time: T0,
            user: operator().user,
            role: Role::Operator,
        }))
        .unwrap();
    writer
        .send(WriteOp::Audit(AuditRecord {
            time: T0,
            user: "E7".into(),
            role: Some(Role::Engineer),
            action: AuditAction::Logout,
            object: "user:E7".into(),
            old_value: None,
            new_value: None,
            reason: Some("中文理由".into()),
        }))
        .unwrap();
    writer.close().await.unwrap();
    (dir, store)
}

fn without_triggers(path: &Path) -> Connection {
    let c = Connection::open(path).unwrap();
    c.execute_batch("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;")
        .unwrap();
    c
}

#[tokio::test]
async fn an_intact_trail_verifies_with_its_row_count() {
    let (_dir, store) = audited_store().await;
    assert_eq!(Store::verify_audit(store.path()).unwrap().rows, 7);
    let entries = store.reader().unwrap().audit(0, 100).unwrap();
    assert_eq!(entries.len(), 7);
    assert_eq!(entries[0].prev_hash, bonder_store::audit::GENESIS_HASH);
    assert!(entries.windows(2).all(|w| w[1].prev_hash == w[0].hash));
    assert!(
        entries
            .iter()
            .all(|e| e.ts.ends_with('Z') && e.ts.len() == 24),
        "RFC 3339 ms"
    );
}

#[tokio::test]
async fn sql_cannot_update_or_delete_audit_rows() {
    let (_dir, store) = audited_store().await;
    let c = Connection::open(store.path()).unwrap();
    let err = c
        .execute("UPDATE audit SET user = 'X' WHERE id = 2", [])
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    assert!(c.execute("DELETE FROM audit WHERE id = 7", []).is_err());
    assert_eq!(Store::verify_audit(store.path()).unwrap().rows, 7);
}

#[tokio::test]
async fn a_flipped_byte_names_its_row() {
    let (_dir, store) = audited_store().await;
    let c = without_triggers(store.path());
    let reason: String = c
        .query_row("SELECT reason FROM audit WHERE id = 3", [], |r| r.get(0))
        .unwrap();
    let mut bytes = reason.into_bytes();
    bytes[0] ^= 0x01; // 'N' → 'O'
    let edited = String::from_utf8(bytes).unwrap();
    c.execute("UPDATE audit SET reason = ?1 WHERE id = 3", [&edited])
        .unwrap();
    drop(c);
    match Store::verify_audit(store.path()) {
        Err(StoreError::AuditBroken { row_id: 3, reason }) => {
            assert!(reason.contains("hash"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_rehashed_row_breaks_the_next_link() {
    // An editor who also recomputes the row's hash is caught by the next row's prev_hash.
    let (_dir, store) = audited_store().await;
    let c = without_triggers(store.path());
    let e = &store.reader().unwrap().audit(3, 1).unwrap()[0];
    let forged = bonder_store::audit::row_hash(
        &e.prev_hash,
        e.id,
        [
            Some(&e.ts),
            Some("E8"),
            Some(&e.role),
            Some(&e.action),
            Some(&e.object),
            e.old_value.as_deref(),
            e.new_value.as_deref(),
            e.reason.as_deref(),
        ],
    );
    c.execute(
        "UPDATE audit SET user = 'E8', hash = ?1 WHERE id = 4",
        [&forged],
    )
    .unwrap();
    drop(c);
    assert!(matches!(
        Store::verify_audit(store.path()),
        Err(StoreError::AuditBroken { row_id: 5, .. })
    ));
}

#[tokio::test]
async fn a_deleted_row_is_named_by_the_gap() {
    let (_dir, store) = audited_store().await;
    let c = without_triggers(store.path());
    c.execute("DELETE FROM audit WHERE id = 5", []).unwrap();
    drop(c);
    match Store::verify_audit(store.path()) {
        Err(StoreError::AuditBroken { row_id: 6, reason }) => {
            assert!(reason.contains("missing"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_hex_edit_of_the_file_names_its_row() {
    let (_dir, store) = audited_store().await;
    let path = store.path().to_path_buf();
    drop(store); // the last connection checkpoints the WAL into the file
    let mut bytes = std::fs::read(&path).unwrap();
    let needle = b"superseded";
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("the retire reason is in the file");
    assert_eq!(
        bytes[at + 1..]
            .windows(needle.len())
            .position(|w| w == needle),
        None,
        "written once"
    );
    bytes[at] = b'S';
    std::fs::write(&path, bytes).unwrap();
    match Store::verify_audit(&path) {
        Err(StoreError::AuditBroken { row_id: 5, .. }) => {}
        other => panic!("{other:?}"),
    }
}
