//! Pull and shear test results in a real SQLite file: imported once per source, joined to
//! the ball bond of their unit and wire, refused for a role the table does not allow,
//! audited, and kept across a reopen.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use bonder_core::Verdict;
use bonder_core::pull_test::{TestKind, parse_csv};
use bonder_store::tests_results::source_sha;
use bonder_store::{Actor, Role, Store, StoreError, WriterConfig};
use common::bond;

const FILE: &str = "unit,wire,test,force_gf,mode,time\n\
                    3,1,pull,7.31,neck_break,2026-12-03 10:00:01\n\
                    3,2,shear,21.90,ball_shear,2026-12-03 10:00:02\n\
                    900,1,pull,6.00,neck_break,2026-12-03 10:00:03\n";

#[tokio::test]
async fn a_tester_file_is_imported_once_and_joined_to_its_ball_bonds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("station.sqlite");
    let store = Store::open(&path).unwrap();
    // Units 1..=5 bonded (two wires each, ball and stitch), then unit 3 again (a restarted
    // controller counts from 1 again): the newest ball of unit 3 wire 1 is the one tested.
    let writer = store.spawn_writer(WriterConfig::default()).unwrap();
    for seq in 1..=20 {
        writer.send(bond(seq, Verdict::Ok, Some(1), false)).unwrap();
    }
    let mut again = bond(9, Verdict::Ok, Some(1), false);
    again.seq = 21;
    writer.send(again).unwrap();
    writer.flush().await.unwrap();

    let rows = parse_csv(FILE).unwrap();
    let sha = source_sha(FILE.as_bytes());
    let tech = Actor::new("T3", Role::Technician);
    let now = time::OffsetDateTime::now_utc();
    let out = store
        .import_test_results(&rows, "pulltest-000001.csv", &sha, &tech, now)
        .unwrap();
    assert_eq!((out.imported, out.duplicates, out.joined), (3, 0, 2));
    // The same file again: nothing twice.
    let out = store
        .import_test_results(&rows, "copy.csv", &sha, &tech, now)
        .unwrap();
    assert_eq!((out.imported, out.duplicates), (0, 3));
    // A supervisor has no right to record results (the permission table).
    let e = store
        .import_test_results(
            &rows,
            "x.csv",
            "other",
            &Actor::new("S1", Role::Supervisor),
            now,
        )
        .unwrap_err();
    assert!(matches!(e, StoreError::Forbidden(_)), "{e}");

    drop(writer);
    drop(store);
    let store = Store::open(&path).unwrap();
    let got = store.test_results(0, 100).unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(
        got[0].bond_seq,
        Some(21),
        "the newest ball of unit 3 wire 1"
    );
    assert_eq!(got[1].bond_seq, Some(11), "unit 3 wire 2's ball");
    assert_eq!(got[1].test, TestKind::Shear);
    assert!((got[1].force_gf - 21.9).abs() < 1e-9);
    assert_eq!(got[2].bond_seq, None, "unit 900 was never bonded here");
    // Training rows: a result with its ball bond and the stitch right after it. Unit 3
    // wire 2 (ball 11, stitch 12) has both; unit 3 wire 1's newest ball (21) has no
    // stitch yet; unit 900 has no bond.
    let shear = store.strength_training(TestKind::Shear).unwrap();
    assert_eq!(shear.len(), 1);
    assert!((shear[0].gf - 21.9).abs() < 1e-9);
    // Ball impedance drop 33.3 %, deform 6.9 µm, diameter 48.3 µm (common::bond).
    assert!((shear[0].x[0] - 33.3).abs() < 1e-3 && (shear[0].x[2] - 48.3).abs() < 1e-3);
    assert!(store.strength_training(TestKind::Pull).unwrap().is_empty());
    // The summary counts every stored result of a test, joined or not.
    let pulls = got.iter().filter(|r| r.test == TestKind::Pull).count() as u64;
    let (n, mean) = store.test_summary(TestKind::Shear, 20).unwrap();
    assert_eq!(n, 1);
    assert!(mean.is_some_and(|m| (m - 21.9).abs() < 1e-9), "{mean:?}");
    assert_eq!(store.test_summary(TestKind::Pull, 20).unwrap().0, pulls);
    // A fitted model is kept as a version and read back as it was.
    let data: Vec<_> = (0..40)
        .map(|i| {
            let x: [f64; bonder_core::strength::REGRESSORS] =
                std::array::from_fn(|k| ((i * 7 + k * 3) % 11) as f64 + k as f64);
            (x, 20.0 + x[0] - 0.5 * x[4])
        })
        .collect();
    let m = bonder_core::strength::StrengthModel::fit(TestKind::Shear, &data, 1e-3).unwrap();
    assert!(
        store
            .latest_strength_model(TestKind::Shear)
            .unwrap()
            .is_none()
    );
    let v1 = store
        .save_strength_model(&m, shear[0].result_id, now)
        .unwrap();
    let v2 = store
        .save_strength_model(&m, shear[0].result_id, now)
        .unwrap();
    let got = store
        .latest_strength_model(TestKind::Shear)
        .unwrap()
        .unwrap();
    assert_eq!((got.id, v2 > v1), (v2, true));
    // The same model (JSON keeps the numbers to the last digit or so).
    for (x, _) in &data {
        assert!((got.model.predict(x).gf - m.predict(x).gf).abs() < 1e-9);
    }
    assert_eq!(got.model.n, 40);
    assert!(
        store
            .latest_strength_model(TestKind::Pull)
            .unwrap()
            .is_none()
    );

    let audit = store.reader().unwrap().audit(0, 100).unwrap();
    let imports: Vec<_> = audit.iter().filter(|r| r.action == "import").collect();
    assert_eq!(imports.len(), 2, "{audit:#?}");
    assert_eq!(imports[0].user, "T3");
    assert!(imports[0].new_value.as_deref().unwrap_or("").contains(&sha));
}
