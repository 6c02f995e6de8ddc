//! File size per million bonds: summaries only, with the default curve policy (every
//! reject and 1 in 100 good bonds keep their curve; 1 % rejects), and with every curve
//! kept (measured on 100 000 bonds and scaled). Prints; times nothing.
//!
//! `cargo bench -p bonder-store --bench file_size` (under a minute).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use bonder_core::Verdict;
use bonder_store::{Store, WriterConfig};
use std::time::Instant;

/// Bytes on disk (database + WAL after a full checkpoint) of `bonds` bonds.
fn size(bonds: u64, with_curves: bool, good_curve_every: u32) -> u64 {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("size.db");
    let store = Store::open(&path).unwrap();
    let writer = store
        .spawn_writer(WriterConfig {
            good_curve_every,
            ..WriterConfig::default()
        })
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for seq in 1..=bonds {
        let verdict = if seq % 100 == 37 {
            common::reject_for(seq)
        } else {
            Verdict::Ok
        };
        writer
            .send(common::bond(seq, verdict, Some(1), with_curves))
            .unwrap();
    }
    rt.block_on(writer.close()).unwrap();
    drop(store); // the last connection checkpoints and removes the WAL
    let wal = dir.path().join("size.db-wal");
    std::fs::metadata(&path).unwrap().len() + std::fs::metadata(wal).map_or(0, |m| m.len())
}

fn main() {
    let mb = |bytes: u64, scale: u64| (bytes * scale) as f64 / 1e6;
    for (label, bonds, curves, every) in [
        ("summaries only", 1_000_000, false, 100),
        (
            "default curve policy (1 % rejects + 1/100 good)",
            1_000_000,
            true,
            100,
        ),
        ("every curve kept", 100_000, true, 1),
    ] {
        let started = Instant::now();
        let bytes = size(bonds, curves, every);
        println!(
            "file size per million bonds, {label}: {:.1} MB ({bonds} bonds written in {:.1} s)",
            mb(bytes, 1_000_000 / bonds),
            started.elapsed().as_secs_f64()
        );
    }
}
