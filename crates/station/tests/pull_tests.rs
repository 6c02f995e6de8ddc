//! Pull and shear test results into the station's real store: bondersim's bench tester
//! exports into the watched `pull_tests_dir` while the station bonds against it, and the
//! results land joined to their ball bonds; `bonder-station import tests FILE` takes a
//! good file (a technician signed in on stdin, audited) and refuses a malformed one whole,
//! naming its bad lines in both languages. The station fits its strength models as the
//! results arrive; `strength fit` fits anew and reports cross-validated scores.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use bonder_e2e::procs::{self, Proc, poll, station_command};
use bondersim::{SimConfig, Simulator, WireRate};
use rusqlite::Connection;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;

const BIN: &str = env!("CARGO_BIN_EXE_bonder-station");

fn count(db: &Path, sql: &str) -> i64 {
    Connection::open(db)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap_or(0)
}

/// `import tests FILE` as `badge` (badge and PIN on stdin).
fn import(home: &Path, db: &Path, file: &Path, badge: &str, pin: &str) -> std::process::Output {
    let mut child = station_command(Path::new(BIN), home)
        .args(["--opcua-listen", "none", "import", "tests", "--db"])
        .arg(db)
        .arg(file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{badge}\n{pin}").unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn tester_files_from_the_watched_folder_join_their_bonds_and_bad_files_import_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let db = home.join("station.sqlite");
    let watched = home.join("pull-tests");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // The tester tests the last unit of every 5 (two wires: one pull, one shear).
    let sim = rt
        .block_on(Simulator::start(SimConfig {
            autostart: true,
            wire_rate: WireRate::PerSecond(200.0),
            camera: None,
            pull_tests: Some(bondersim::pull_tester::PullTests {
                dir: watched.clone(),
                every_units: 5,
            }),
            ..SimConfig::default()
        }))
        .unwrap();
    procs::add_user(Path::new(BIN), home, &db, "A1", "admin", "admin-password-1");
    procs::add_user(Path::new(BIN), home, &db, "TE1", "technician", "246810");
    procs::add_user(
        Path::new(BIN),
        home,
        &db,
        "SV1",
        "supervisor",
        "supervisor-pass-1",
    );
    let mut c = procs::headless_station(Path::new(BIN), home, &db, &sim.modbus_addr.to_string());
    c.args(["--opcua-listen", "none"])
        .arg("--pull-tests-dir")
        .arg(&watched);
    let mut station = Proc::spawn(c);

    // Results arrive, joined to the ball bond of their unit and wire; the files move on.
    poll("four joined results", 60, || {
        (count(
            &db,
            "SELECT COUNT(*) FROM test_results t JOIN bonds b ON b.seq = t.bond_seq \
             WHERE b.unit = t.unit AND b.wire = t.wire AND b.kind = 1",
        ) >= 4)
            .then_some(())
    });
    assert!(
        count(
            &db,
            "SELECT COUNT(*) FROM test_results WHERE test = 'shear'"
        ) >= 2
    );
    assert!(
        count(
            &db,
            "SELECT COUNT(*) FROM audit WHERE action = 'import' AND user = 'station'"
        ) >= 2
    );
    let imported = std::fs::read_dir(watched.join("imported")).unwrap().count();
    assert!(imported >= 2, "{imported} files in imported/");
    // As results come in, the station fits its strength models and keeps each version.
    poll("a fitted shear model", 60, || {
        (count(
            &db,
            "SELECT COUNT(*) FROM strength_models WHERE test = 'shear'",
        ) >= 1)
            .then_some(())
    });
    // From then on each wire gets its predicted strength, keyed by its ball bond, in the
    // neighbourhood of what the tester measures.
    poll("predicted wires", 60, || {
        (count(
            &db,
            "SELECT COUNT(*) FROM bond_predictions p JOIN bonds b ON b.seq = p.seq \
             WHERE b.kind = 1 AND p.shear_mgf > 0 AND p.pull_mgf > 0 AND p.shear_sd_mgf > 0",
        ) >= 20)
            .then_some(())
    });
    let predicted = count(
        &db,
        "SELECT CAST(AVG(shear_mgf) AS INTEGER) FROM bond_predictions",
    );
    let measured = count(
        &db,
        "SELECT CAST(AVG(force_mgf) AS INTEGER) FROM test_results WHERE test = 'shear'",
    );
    assert!(
        (predicted - measured).abs() < measured / 5,
        "predicted shear {predicted} mgf against measured {measured} mgf"
    );

    // A malformed file dropped into the folder: refused whole, the reason beside it.
    let before = count(&db, "SELECT COUNT(*) FROM test_results");
    let bad = "unit,wire,test,force_gf,mode,time\n7,1,pull,7.1,neck_break,t\n7,2,pull,lots,neck_break,t\n";
    std::fs::write(watched.join("zz-bad.csv"), bad).unwrap();
    let why = watched.join("refused/zz-bad.csv.why.txt");
    let text = poll("the refusal written", 30, || {
        std::fs::read_to_string(&why).ok()
    });
    assert!(
        text.contains("line 3") && text.contains("第 3 行"),
        "{text}"
    );
    station.kill();
    rt.block_on(sim.shutdown());
    let after = count(&db, "SELECT COUNT(*) FROM test_results");
    assert!(after >= before, "nothing of the bad file, nothing lost");
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM test_results WHERE source = 'zz-bad.csv'"
        ),
        0
    );

    // From the command line: a technician imports a good file (audited with the badge);
    // the same file again adds nothing; a malformed one names its line, imports nothing;
    // a supervisor may not record results.
    let good = home.join("bench-42.csv");
    std::fs::write(
        &good,
        "unit,wire,test,force_gf,mode,time\n25,1,pull,6.8,neck_break,t\n25,2,shear,20.4,ball_shear,t\n",
    )
    .unwrap();
    let out = import(home, &db, &good, "TE1", "246810");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 imported"));
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM audit WHERE action = 'import' AND user = 'TE1'"
        ),
        1
    );
    let out = import(home, &db, &good, "TE1", "246810");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("0 imported"),
        "again"
    );
    let n = count(&db, "SELECT COUNT(*) FROM test_results");
    let broken = home.join("broken.csv");
    std::fs::write(&broken, bad).unwrap();
    let out = import(home, &db, &broken, "TE1", "246810");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("line 3: force “lots”") && err.contains("第 3 行"),
        "{err}"
    );
    let out = import(home, &db, &good, "SV1", "supervisor-pass-1");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("supervisor may not record_test_results")
    );
    let out = import(home, &db, &good, "TE1", "000000");
    assert!(!out.status.success(), "a wrong PIN");
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM test_results"),
        n,
        "nothing more"
    );

    // `strength fit`: a new version of each model, scored by cross-validation.
    let before = count(&db, "SELECT COUNT(*) FROM strength_models");
    let out = station_command(Path::new(BIN), home)
        .args(["--opcua-listen", "none", "strength", "fit", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reports: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    println!("strength fit: {reports:#}");
    let shear = &reports[0];
    assert_eq!(shear["test"], "shear");
    assert!(shear["version"].as_i64().is_some() && shear["results"].as_u64() >= Some(30));
    assert!(
        shear["cv_mae_gf"]
            .as_f64()
            .is_some_and(|m| m > 0.0 && m < 5.0),
        "{shear}"
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM strength_models"),
        before + 2
    );
}
