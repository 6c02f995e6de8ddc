//! Online backup while the writer keeps committing; the copy is a complete store.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use bonder_core::Verdict;
use bonder_core::recipe::Recipe;
use bonder_store::{Store, WriterConfig};
use common::{bond, engineer};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_bonding_is_a_consistent_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path().join("station.db")).unwrap());
    store
        .recipes()
        .create(&Recipe::default_au(), &engineer(), "before the backup")
        .unwrap();
    let writer = store.spawn_writer(WriterConfig::default()).unwrap();
    for seq in 1..=20_000 {
        writer
            .send(bond(seq, Verdict::Ok, Some(1), seq % 10 == 0))
            .unwrap();
    }
    writer.flush().await.unwrap();

    // Keep bonding during the backup.
    let running = Arc::new(AtomicBool::new(true));
    let bonding = {
        let (writer, running) = (writer.clone(), Arc::clone(&running));
        tokio::spawn(async move {
            let mut seq = 20_000;
            while running.load(Ordering::Relaxed) {
                for _ in 0..100 {
                    seq += 1;
                    writer.send(bond(seq, Verdict::Ok, Some(1), true)).unwrap();
                }
                writer.flush().await.unwrap();
            }
            seq
        })
    };
    let dest = dir.path().join("backup.db");
    let s = Arc::clone(&store);
    let d = dest.clone();
    tokio::task::spawn_blocking(move || s.backup_to(&d))
        .await
        .unwrap()
        .unwrap();
    running.store(false, Ordering::Relaxed);
    let last = bonding.await.unwrap();
    assert_eq!(writer.flush().await.unwrap().max_bond_seq, last);

    let c = rusqlite::Connection::open(&dest).unwrap();
    let check: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    drop(c);
    let copy = Store::open(&dest).unwrap();
    let r = copy.reader().unwrap();
    let max = r.max_bond_seq().unwrap().unwrap();
    assert!((20_000..=last).contains(&max), "{max}");
    assert_eq!(
        r.bonds_by_seq(1..=max).unwrap().len() as u64,
        max,
        "no gap: one moment's copy"
    );
    assert_eq!(copy.recipes().versions("SOT23-AU25").unwrap().len(), 1);
    assert_eq!(Store::verify_audit(&dest).unwrap().rows, 1);
    assert!(!dir.path().join("backup.db.tmp").exists());
}
