//! Schema migrations: from an empty file, from a fixture of every schema version, and
//! the refusal of a newer file.
//!
//! `tests/fixtures/v<N>.sqlite` is a store written by the build whose schema was N.
//! When a migration is added, first run the generator below with the *old* build
//! (`cargo test -p bonder-store --test migrations -- --ignored`) if the current
//! version has no fixture yet, then add the migration: old fixtures are never
//! regenerated.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use bonder_core::recipe::Recipe;
use bonder_core::{AlarmCode, Verdict};
use bonder_store::gem::{GemRows, GemSpooled, GemValue};
use bonder_store::{
    AlarmAck, AlarmRecord, ChangeoverEnd, ChangeoverStart, ChangeoverStep, E10State, FirstArticle,
    Role, SCHEMA_VERSION, ShiftNote, ShiftStart, StateChange, Store, StoreError, TimelineEvent,
    WriteOp, WriterConfig,
};
use common::{T0, bond, engineer, reject_for};
use rusqlite::Connection;
use std::path::{Path, PathBuf};

/// Bonds written into every fixture; every 5th is rejected (and keeps its curve).
const FIXTURE_BONDS: u64 = 20;
/// Audit rows of every fixture: create, modify, release, alarm ack, changeover.
const FIXTURE_AUDIT_ROWS: u64 = 5;

/// The vision setup of the fixtures from v6 on.
const FIXTURE_VISION: &str =
    r#"{"template":null,"calibration":{"um_per_px_x":0.8,"um_per_px_y":0.8,"angle_rad":0.0}}"#;

/// The GEM configuration of the fixtures from v9 on.
fn fixture_gem() -> GemRows {
    GemRows {
        reports: vec![(1, vec![2001, 2002, 2003]), (2, vec![1003, 1004])],
        links: vec![(101, vec![2]), (106, vec![1])],
        enabled_events: vec![101, 106],
        constants: vec![(3003, GemValue::Bool(true)), (3010, GemValue::F(97.5))],
        disabled_alarms: vec![103],
        spool_streams: Some(vec![5, 6]),
    }
}

fn fixture_spooled() -> GemSpooled {
    GemSpooled {
        id: 0,
        time_ms: 1_700_000_000_000,
        stream: 6,
        function: 11,
        w: true,
        body: vec![0x01, 0x00],
    }
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn pragma_text(c: &Connection, name: &str) -> String {
    c.query_row(&format!("PRAGMA {name}"), [], |r| {
        r.get::<_, rusqlite::types::Value>(0)
    })
    .map(|v| match v {
        rusqlite::types::Value::Integer(i) => i.to_string(),
        rusqlite::types::Value::Text(s) => s,
        other => format!("{other:?}"),
    })
    .unwrap()
}

#[test]
fn a_new_file_gets_the_current_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    drop(Store::open(&path).unwrap());
    let store = Store::open(&path).unwrap(); // reopening is a no-op
    let c = Connection::open(store.path()).unwrap();
    assert_eq!(pragma_text(&c, "user_version"), SCHEMA_VERSION.to_string());
    assert_eq!(pragma_text(&c, "journal_mode"), "wal");
    assert_eq!(pragma_text(&c, "auto_vacuum"), "2", "incremental");
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for t in [
        "alarms",
        "audit",
        "bonds",
        "changeover_steps",
        "changeovers",
        "curves",
        "events",
        "gem_constants",
        "gem_enabled_events",
        "gem_links",
        "gem_reports",
        "gem_spool",
        "login_failures",
        "outbox_cursor",
        "recipe_changes",
        "recipe_labels",
        "recipe_versions",
        "shift_notes",
        "shifts",
        "state_changes",
        "users",
        "vision_inspections",
    ] {
        assert!(tables.iter().any(|x| x == t), "{t} in {tables:?}");
    }
    assert_eq!(Store::verify_audit(&path).unwrap().rows, 0);
}

#[test]
fn every_fixture_migrates_and_keeps_its_data() {
    for version in 1..=SCHEMA_VERSION {
        let fixture = fixtures_dir().join(format!("v{version}.sqlite"));
        assert!(
            fixture.exists(),
            "fixture of schema {version} missing: {}",
            fixture.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("station.db");
        std::fs::copy(&fixture, &path).unwrap();

        let store = Store::open(&path).unwrap();
        let c = Connection::open(&path).unwrap();
        assert_eq!(
            pragma_text(&c, "user_version"),
            SCHEMA_VERSION.to_string(),
            "v{version}"
        );
        assert_eq!(pragma_text(&c, "integrity_check"), "ok");
        // v7: every store, old or new, has an epoch (gateway contract v2).
        assert_eq!(store.epoch().unwrap().len(), 16, "v{version}");
        let r = store.reader().unwrap();
        assert_eq!(r.max_bond_seq().unwrap(), Some(FIXTURE_BONDS), "v{version}");
        assert_eq!(r.bonds_by_seq(1..=FIXTURE_BONDS).unwrap().len(), 20);
        assert_eq!(r.curve(5).unwrap().unwrap(), common::curve(5), "v{version}");
        let repo = store.recipes();
        assert_eq!(repo.versions("SOT23-AU25").unwrap().len(), 2);
        assert!(repo.sendable("SOT23-AU25", 2).is_ok());
        assert_eq!(repo.changes("SOT23-AU25", 2).unwrap().len(), 1);
        assert_eq!(r.shift_notes(1).unwrap()[0].text, "夜班交接：一切正常");
        assert_eq!(
            r.changeovers(T0, T0 + time::Duration::days(1)).unwrap()[0]
                .steps
                .len(),
            1
        );
        assert_eq!(
            Store::verify_audit(&path).unwrap().rows,
            FIXTURE_AUDIT_ROWS + u64::from(version >= 6) + u64::from(version >= 10),
            "v{version}"
        );
        // Files from v6 on carry a recipe's vision setup.
        assert_eq!(
            repo.vision("SOT23-AU25")
                .unwrap()
                .map(|v| v.setup_json)
                .as_deref(),
            (version >= 6).then_some(FIXTURE_VISION),
            "v{version}"
        );
        // Files from v5 on carry the vision's inspection of bond 3.
        let vision = r.vision_inspections(1..=FIXTURE_BONDS).unwrap();
        assert_eq!(vision.len(), usize::from(version >= 5), "v{version}");

        // Files from v9 on carry a GEM host's configuration and spool.
        let gem = store.gem_load().unwrap();
        let spooled = store.gem_spool_oldest(10).unwrap();
        if version >= 9 {
            assert_eq!(gem, fixture_gem(), "v{version}");
            assert_eq!(spooled.len(), 1);
            assert_eq!(spooled[0].body, fixture_spooled().body);
        } else {
            assert_eq!(gem, GemRows::default(), "v{version}");
            assert!(spooled.is_empty());
        }

        // Files from v10 on carry two pull/shear results of unit 1.
        let tests = store.test_results(0, 10).unwrap();
        assert_eq!(tests.len(), if version >= 10 { 2 } else { 0 }, "v{version}");
        if version >= 10 {
            assert_eq!(tests[0].bond_seq, Some(1));
        }
        // v12's predictions table exists and is empty after any migration.
        assert_eq!(
            rusqlite::Connection::open(&path)
                .unwrap()
                .query_row("SELECT COUNT(*) FROM bond_predictions", [], |r| r
                    .get::<_, i64>(0))
                .unwrap(),
            0
        );
        // v13's window-search tables exist and are empty after any migration, and the
        // open-session index holds.
        {
            let c = rusqlite::Connection::open(&path).unwrap();
            for table in ["window_sessions", "window_runs"] {
                let n: i64 = c
                    .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
                    .unwrap();
                assert_eq!(n, 0, "v{version} {table}");
            }
        }
        // Files from v11 on carry no fitted model (the table is new and empty), and a
        // migrated file takes one.
        assert!(
            store
                .latest_strength_model(bonder_core::pull_test::TestKind::Shear)
                .unwrap()
                .is_none(),
            "v{version}"
        );

        // The migrated file takes new records.
        let writer = store.spawn_writer(WriterConfig::default()).unwrap();
        writer
            .send(bond(FIXTURE_BONDS + 1, Verdict::Ok, Some(1), true))
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(
            rt.block_on(writer.flush()).unwrap().max_bond_seq,
            FIXTURE_BONDS + 1
        );
    }
}

#[test]
fn a_newer_file_is_refused_and_left_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    drop(Store::open(&path).unwrap());
    {
        let c = Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    match Store::open(&path) {
        Err(StoreError::NewerSchema { found, supported }) => {
            assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read(&path).unwrap(), before, "byte-identical");
    let message = Store::open(&path).unwrap_err().to_string();
    assert!(message.contains("newer station build"), "{message}");
}

/// Writes `tests/fixtures/v<SCHEMA_VERSION>.sqlite` unless it exists (old fixtures are
/// never regenerated). Run with `--ignored`.
#[test]
#[ignore = "generator: writes the fixture of the current schema version"]
fn generate_fixture() {
    let dest = fixtures_dir().join(format!("v{SCHEMA_VERSION}.sqlite"));
    assert!(
        !dest.exists(),
        "{} exists; fixtures are never regenerated",
        dest.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fixture.db");
    let store = Store::open(&path).unwrap();

    let repo = store.recipes();
    repo.create(&Recipe::default_au(), &engineer(), "fixture")
        .unwrap();
    let mut v2 = repo.get("SOT23-AU25", 1).unwrap();
    v2.ball.force_gf.0 = 31.0;
    repo.edit(1, &v2, &engineer(), "fixture edit").unwrap();
    repo.release("SOT23-AU25", 2, &engineer(), "fixture release")
        .unwrap();
    // Since v6: the vision setup of a recipe (one more audit row).
    repo.save_vision(
        "SOT23-AU25",
        2,
        FIXTURE_VISION,
        "fixture teach",
        &bonder_store::Actor::new("T3", Role::Technician),
    )
    .unwrap();

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let writer = store.spawn_writer(WriterConfig::default()).unwrap();
    let at = |min: i64| T0 + time::Duration::minutes(min);
    writer
        .send(WriteOp::ShiftStart(ShiftStart {
            id: 1,
            time: at(0),
            operator: "OP1042".into(),
            team: "A".into(),
        }))
        .unwrap();
    writer
        .send(WriteOp::StateChange(StateChange {
            time: at(0),
            state: E10State::Productive,
        }))
        .unwrap();
    for seq in 1..=FIXTURE_BONDS {
        let verdict = if seq % 5 == 0 {
            reject_for(seq)
        } else {
            Verdict::Ok
        };
        writer.send(bond(seq, verdict, Some(1), true)).unwrap();
    }
    // Since v5: the vision's inspection of a bond.
    writer
        .send(WriteOp::VisionInspection(bonder_store::VisionInspection {
            seq: 3,
            time: at(0),
            frame_no: 42,
            verdict: "ok".into(),
            confidence: 0.98,
            ball_um: Some(47.6),
            dx_um: Some(0.8),
            dy_um: Some(-1.1),
            pad_score: Some(0.95),
        }))
        .unwrap();
    let alarm = |raised| {
        WriteOp::Alarm(AlarmRecord {
            code: AlarmCode::Nsop,
            raised,
            time: at(1),
        })
    };
    writer.send(alarm(true)).unwrap();
    writer
        .send(WriteOp::AlarmAck(AlarmAck {
            code: AlarmCode::Nsop,
            time: at(2),
            user: "OP1042".into(),
            role: Role::Operator,
        }))
        .unwrap();
    writer.send(alarm(false)).unwrap();
    writer
        .send(WriteOp::ShiftNote(ShiftNote {
            shift_id: 1,
            time: at(3),
            author: "OP1042".into(),
            text: "夜班交接：一切正常".into(),
        }))
        .unwrap();
    writer
        .send(WriteOp::Event(TimelineEvent {
            time: at(4),
            kind: "recipe_applied".into(),
            text: "SOT23-AU25@2".into(),
        }))
        .unwrap();
    writer
        .send(WriteOp::ChangeoverStart(ChangeoverStart {
            id: 1,
            time: at(10),
            from_recipe: None,
            to_recipe: "SOT23-AU25@2".into(),
            user: "T3".into(),
        }))
        .unwrap();
    writer
        .send(WriteOp::ChangeoverStep(ChangeoverStep {
            changeover_id: 1,
            name: "capillary".into(),
            started: at(10),
            ended: at(15),
            by: "T3".into(),
            outcome: "ok".into(),
        }))
        .unwrap();
    writer
        .send(WriteOp::ChangeoverEnd(ChangeoverEnd {
            id: 1,
            time: at(20),
            user: "T3".into(),
            role: Role::Technician,
            first_article: Some(FirstArticle {
                passed: true,
                pull_gf_min: 4.0,
                shear_gf_min: 15.0,
            }),
            abandoned: false,
        }))
        .unwrap();
    writer
        .send(WriteOp::ShiftEnd {
            id: 1,
            time: at(480),
        })
        .unwrap();
    rt.block_on(writer.close()).unwrap();
    store.set_cursor("bonds", 10).unwrap();
    // v9: a host's configuration and one spooled event.
    store.gem_save(&fixture_gem()).unwrap();
    store
        .gem_spool_push(&fixture_spooled(), 100, false)
        .unwrap();
    // v10: two test results of unit 1 (one more audit row).
    let csv = "unit,wire,test,force_gf,mode,time\n1,1,pull,7.3,neck_break,t1\n1,2,shear,21.9,ball_shear,t2\n";
    store
        .import_test_results(
            &bonder_core::pull_test::parse_csv(csv).unwrap(),
            "fixture.csv",
            &bonder_store::tests_results::source_sha(csv.as_bytes()),
            &bonder_store::Actor::new("T3", Role::Technician),
            T0,
        )
        .unwrap();
    drop(store);

    // One self-contained file: everything checkpointed, rollback journal.
    let c = Connection::open(&path).unwrap();
    c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    c.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()))
        .unwrap();
    c.execute_batch("VACUUM").unwrap();
    drop(c);
    std::fs::create_dir_all(fixtures_dir()).unwrap();
    std::fs::copy(&path, &dest).unwrap();
    println!("wrote {}", dest.display());
}
