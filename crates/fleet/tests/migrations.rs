//! The supervisor history's schema versions: an empty file, a fixture of every version
//! (`tests/fixtures/v<N>.sqlite`), and a file of a newer build (refused, untouched).
//!
//! Adding a migration: run the generator first while the current version has no
//! fixture (`cargo test -p bonder-fleet --test migrations -- --ignored`), commit the
//! fixture, then add `src/schema/v<N+1>.sql`. Fixtures are never regenerated.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bonder_fleet::history::{History, UserRow};
use bonder_fleet::schema::SCHEMA_VERSION;
use bonder_fleet::{FleetError, synth, users};
use std::path::{Path, PathBuf};

const STATION: &str = "sz1/assembly/l1/wb-07";
/// Bonds in every fixture (seq 1..=BONDS).
const BONDS: u64 = 40;
const ADMIN: (&str, &str) = ("chief", "chief-pass-1");

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn user_version(path: &Path) -> u32 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn an_empty_file_gets_the_current_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.sqlite");
    let h = History::open(&path).unwrap();
    assert_eq!(h.user_count().unwrap(), 0);
    drop(h);
    assert_eq!(user_version(&path), SCHEMA_VERSION);
    // Opening again changes nothing.
    History::open(&path).unwrap();
    assert_eq!(user_version(&path), SCHEMA_VERSION);
}

#[test]
fn every_fixture_migrates_and_keeps_its_data() {
    for version in 1..=SCHEMA_VERSION {
        let fixture = fixtures_dir().join(format!("v{version}.sqlite"));
        assert!(fixture.exists(), "fixture of schema {version} missing");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.sqlite");
        std::fs::copy(&fixture, &path).unwrap();
        let mut h = History::open(&path).unwrap();
        let span = h.seq_span(STATION).unwrap().expect("bonds kept");
        assert_eq!(
            (span.first, span.last, span.count),
            (1, BONDS, BONDS),
            "v{version}"
        );
        // The administrator still signs in, enabled (v1 had no `disabled` column).
        let now = bonder_fleet::history::now_ms();
        let s = users::login(&mut h, ADMIN.0, ADMIN.1, now)
            .unwrap()
            .expect("login");
        assert_eq!(s.role, users::Role::Admin, "v{version}");
        assert_eq!(h.setting("lang").unwrap().as_deref(), Some("zh-CN"));
        // And the file works as a current one: a user can be disabled.
        users::set_user(&mut h, "li", "engineer", "secret-pass").unwrap();
        assert!(h.set_user_enabled("li", false).unwrap());
        assert!(
            users::login(&mut h, "li", "secret-pass", now)
                .unwrap()
                .is_err()
        );
        // v4: the supervisor's audit trail, written to by the sign-ins above.
        assert!(h.audit(10).unwrap().iter().any(|r| r.action == "login"));
        drop(h);
        assert_eq!(user_version(&path), SCHEMA_VERSION, "v{version}");
        println!("fixture v{version}: migrated to v{SCHEMA_VERSION}, data kept");
    }
}

#[test]
fn a_history_of_a_newer_build_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.sqlite");
    std::fs::copy(
        fixtures_dir().join(format!("v{SCHEMA_VERSION}.sqlite")),
        &path,
    )
    .unwrap();
    let newer = SCHEMA_VERSION + 1;
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", newer)
        .unwrap();
    let before = std::fs::read(&path).unwrap();
    match History::open(&path) {
        Err(e @ FleetError::NewerSchema { found, supported }) => {
            assert_eq!((found, supported), (newer, SCHEMA_VERSION));
            assert!(e.to_string().contains("not changed"), "{e}");
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the file was changed"
    );
}

/// Writes `tests/fixtures/v<SCHEMA_VERSION>.sqlite` with this build, unless it exists.
/// (v1, the unversioned file of the first release, was written from `src/schema/v1.sql`
/// with `user_version` left at 0, as that release left it.)
#[test]
#[ignore = "generator: writes the fixture of the current schema version"]
fn generate_fixture() {
    let dest = fixtures_dir().join(format!("v{SCHEMA_VERSION}.sqlite"));
    assert!(!dest.exists(), "{} exists", dest.display());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fixture.sqlite");
    {
        let mut h = History::open(&path).unwrap();
        fill(&mut h);
    }
    checkpoint(&path);
    std::fs::create_dir_all(fixtures_dir()).unwrap();
    std::fs::copy(&path, &dest).unwrap();
    println!("wrote {}", dest.display());
}

/// The v1 fixture: the first release's schema, no version number.
#[test]
#[ignore = "generator: writes the v1 (unversioned) fixture"]
fn generate_v1_fixture() {
    let dest = fixtures_dir().join("v1.sqlite");
    assert!(!dest.exists(), "{} exists", dest.display());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fixture.sqlite");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(include_str!("../src/schema/v1.sql"))
            .unwrap();
        let mut rng = synth::Rng::new(1);
        let msg = synth::bonds(&mut rng, 1, BONDS / 2, 0.1);
        for b in &msg.bonds {
            conn.execute(
                "INSERT INTO bond_samples (station, seq, ts_ms, kind, verdict, ball_um, dx_um, dy_um)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                rusqlite::params![
                    STATION,
                    b.seq as i64,
                    bonder_fleet::history::ts_ms(&b.ts),
                    i64::from(b.kind == "stitch"),
                    b.verdict,
                    b.ball_um,
                    b.dx_um,
                    b.dy_um
                ],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO users (name, role, phc) VALUES (?1, 'admin', ?2)",
            rusqlite::params![ADMIN.0, bonder_credentials::hash(ADMIN.1).unwrap()],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO settings (key, value) VALUES ('lang', 'zh-CN')",
            [],
        )
        .unwrap();
    }
    std::fs::create_dir_all(fixtures_dir()).unwrap();
    std::fs::copy(&path, &dest).unwrap();
    println!("wrote {}", dest.display());
}

fn fill(h: &mut History) {
    let mut rng = synth::Rng::new(1);
    let msg = synth::bonds(&mut rng, 1, BONDS / 2, 0.1);
    assert_eq!(msg.bonds.len() as u64, BONDS);
    h.ingest_bonds(STATION, &msg).unwrap();
    h.put_user(&UserRow {
        name: ADMIN.0.into(),
        role: "admin".into(),
        phc: bonder_credentials::hash(ADMIN.1).unwrap(),
    })
    .unwrap();
    h.set_setting("lang", "zh-CN").unwrap();
}

/// Folds the WAL into the file so the fixture is one self-contained file.
fn checkpoint(path: &Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
}
