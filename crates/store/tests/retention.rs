//! Retention: the file stays under its size while bonds keep coming; curves go before
//! summaries; old records go by age; the audit trail is never touched.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use bonder_core::Verdict;
use bonder_store::{AuditAction, AuditRecord, RetentionPolicy, Role, Store, WriteOp, WriterConfig};
use common::{T0, bond};
use rusqlite::Connection;

const MAX_BYTES: u64 = 1024 * 1024;
/// The `-wal` file: truncated to the journal size limit at checkpoints, it holds at
/// most that plus what was committed since the last one (a batch, a retention run).
const MAX_WAL_BYTES: u64 = bonder_store::JOURNAL_SIZE_LIMIT_BYTES + 2 * 1024 * 1024;

fn login() -> WriteOp {
    WriteOp::Audit(AuditRecord {
        time: T0,
        user: "OP1042".into(),
        role: Some(Role::Operator),
        action: AuditAction::Login,
        object: "user:OP1042".into(),
        old_value: None,
        new_value: None,
        reason: None,
    })
}

fn count(path: &std::path::Path, table: &str) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn the_file_stays_under_its_size_while_bonds_keep_coming() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("station.db")).unwrap();
    let writer = store
        .spawn_writer(WriterConfig {
            good_curve_every: 1, // every curve: the file fills fast
            retention: Some(RetentionPolicy {
                max_age_days: None,
                max_bytes: Some(MAX_BYTES),
            }),
            retention_interval: std::time::Duration::ZERO,
            ..WriterConfig::default()
        })
        .unwrap();
    writer.send(login()).unwrap();
    let mut seq = 0u64;
    let mut curves_went_first = false;
    let mut summaries_went = false;
    let mut prev_bonds = 0;
    let wal_path = dir.path().join("station.db-wal");
    let mut max_wal = 0;
    for round in 0..25 {
        for _ in 0..1000 {
            seq += 1;
            writer.send(bond(seq, Verdict::Ok, Some(1), true)).unwrap();
        }
        writer.flush().await.unwrap();
        let size = std::fs::metadata(store.path()).unwrap().len();
        assert!(
            size <= MAX_BYTES,
            "round {round}: {size} bytes > {MAX_BYTES}"
        );
        let wal = std::fs::metadata(&wal_path).map_or(0, |m| m.len());
        assert!(wal <= MAX_WAL_BYTES, "round {round}: wal {wal} bytes");
        max_wal = max_wal.max(wal);
        let (bonds, curves) = (count(store.path(), "bonds"), count(store.path(), "curves"));
        if curves > 0 && bonds == i64::try_from(seq).unwrap() && curves < bonds {
            curves_went_first = true;
        }
        if bonds < prev_bonds + 1000 {
            // Summaries go only once every curve is gone: what curves remain were
            // committed after that, in this round.
            summaries_went = true;
            let oldest_curve: Option<i64> = Connection::open(store.path())
                .unwrap()
                .query_row("SELECT MIN(seq) FROM curves", [], |r| r.get(0))
                .unwrap();
            let round_start = i64::try_from(seq - 1000).unwrap();
            assert!(
                oldest_curve.is_none_or(|s| s > round_start),
                "round {round}"
            );
        }
        prev_bonds = bonds;
    }
    assert!(
        curves_went_first,
        "curves were deleted while every summary was kept"
    );
    let reader = store.reader().unwrap();
    assert_eq!(
        reader.max_bond_seq().unwrap(),
        Some(seq),
        "the newest bond is kept"
    );
    assert!(summaries_went, "summaries went once no curve was left");
    assert_eq!(
        Store::verify_audit(store.path()).unwrap().rows,
        1,
        "audit kept"
    );
    eprintln!("largest wal: {max_wal} bytes");
}

#[tokio::test]
async fn records_older_than_the_age_limit_go() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("station.db")).unwrap();
    let writer = store.spawn_writer(WriterConfig::default()).unwrap();
    writer.send(login()).unwrap();
    let now = time::OffsetDateTime::now_utc();
    for seq in 1..=20u64 {
        let mut b = bond(seq, common::reject_for(seq), None, true);
        let age_days = if seq <= 10 { 40 } else { 1 };
        b.time = now - time::Duration::days(age_days);
        writer.send(b).unwrap();
    }
    writer.flush().await.unwrap();
    let report = store
        .apply_retention(&RetentionPolicy {
            max_age_days: Some(30),
            max_bytes: None,
        })
        .unwrap();
    assert_eq!((report.bonds_deleted, report.curves_deleted), (10, 10));
    let reader = store.reader().unwrap();
    let left: Vec<u64> = reader
        .bonds_after(0, 100)
        .unwrap()
        .iter()
        .map(|b| b.seq)
        .collect();
    assert_eq!(left, (11..=20).collect::<Vec<_>>());
    assert!(reader.curve(15).unwrap().is_some());
    assert_eq!(Store::verify_audit(store.path()).unwrap().rows, 1);
}
