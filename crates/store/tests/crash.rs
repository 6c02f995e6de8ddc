//! Crash safety: a child process writes bonds through the writer and prints every seq
//! it saw committed (after `flush`); the test kills it with SIGKILL at a random moment
//! and reopens the file: `integrity_check` is ok and every printed seq is there.
//!
//! The child is this test binary run again with `CRASH_CHILD_DB` set: the same test
//! function then runs the child routine instead.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use bonder_core::Verdict;
use bonder_store::{Store, WriterConfig};
use common::{bond, reject_for};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const CHILD_ENV: &str = "CRASH_CHILD_DB";
const TEST_NAME: &str = "a_killed_writer_keeps_every_committed_bond";
const ROUNDS: usize = 3;

/// Writes batches of bonds forever, printing `committed <seq>` after each flush.
fn child(path: &str) -> ! {
    let store = Store::open(path).unwrap();
    let writer = store.spawn_writer(WriterConfig::default()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut seq = store.reader().unwrap().max_bond_seq().unwrap().unwrap_or(0);
    let mut out = std::io::stdout().lock();
    loop {
        for _ in 0..250 {
            seq += 1;
            let verdict = if seq % 50 == 0 {
                reject_for(seq)
            } else {
                Verdict::Ok
            };
            writer.send(bond(seq, verdict, Some(1), true)).unwrap();
        }
        let info = rt.block_on(writer.flush()).unwrap();
        writeln!(out, "committed {}", info.max_bond_seq).unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn a_killed_writer_keeps_every_committed_bond() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        child(&path);
    }
    // The kill moments: from `TEST_SEED` to replay a failure, else a fresh seed.
    let seed = match std::env::var("TEST_SEED") {
        Ok(s) => s.parse::<u64>().expect("TEST_SEED is a u64"),
        Err(_) => rand::random(),
    };
    println!("seed {seed} (replay with TEST_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("station.db");
    let mut last_printed = 0u64;
    for round in 0..ROUNDS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let lines = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(seq) = line.strip_prefix("committed ") {
                    tx.send(seq.parse::<u64>().unwrap()).unwrap();
                }
            }
        });
        // Let it commit at least once, then kill it at a random moment.
        let first = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("child committed");
        assert!(first > last_printed);
        // Deliberate: the kill lands at a random time into the writing, which is what is
        // tested; there is no state to wait for.
        std::thread::sleep(Duration::from_millis(rng.random_range(50..800)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        lines.join().unwrap();
        let printed: Vec<u64> = std::iter::once(first).chain(rx.try_iter()).collect();
        last_printed = *printed.last().unwrap();

        let c = rusqlite::Connection::open(&path).unwrap();
        let check: String = c
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok", "round {round}");
        drop(c);
        let store = Store::open(&path).unwrap();
        let reader = store.reader().unwrap();
        let max = reader.max_bond_seq().unwrap().unwrap();
        assert!(
            max >= last_printed,
            "round {round}: {max} < printed {last_printed}"
        );
        let present = reader.bonds_by_seq(1..=last_printed).unwrap();
        assert_eq!(
            present.len() as u64,
            last_printed,
            "round {round}: a printed seq is missing"
        );
        assert!(present.iter().zip(1..).all(|(b, seq)| b.seq == seq));
        let fk: i64 = rusqlite::Connection::open(&path)
            .unwrap()
            .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(fk, 0);
        eprintln!("round {round}: killed after seq {last_printed} was printed, {max} stored");
    }
}
