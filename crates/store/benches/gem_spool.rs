//! Load scenario with printed figures: the SECS/GEM spool on a real SQLite file (WAL,
//! `synchronous = NORMAL`, as the station runs it). Writes 20 000 S6F11-sized messages
//! one commit each (the way GEM spools while the host is away), then replays them as
//! S6F23 does: the oldest 1000 read, each deleted once the host answered.
//! `cargo bench -p bonder-store --bench gem_spool`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bonder_store::Store;
use bonder_store::gem::GemSpooled;
use std::time::Instant;

const N: usize = 20_000;

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("spool.db")).unwrap();
    let m = GemSpooled {
        id: 0,
        time_ms: 1_700_000_000_000,
        stream: 6,
        function: 11,
        w: true,
        body: vec![0xA5; 120],
    };
    let t = Instant::now();
    for _ in 0..N {
        store.gem_spool_push(&m, 100_000, false).unwrap();
    }
    let write = N as f64 / t.elapsed().as_secs_f64();
    assert_eq!(store.gem_spool_len().unwrap(), N as u64);
    let t = Instant::now();
    let mut done = 0;
    while done < N {
        let batch = store.gem_spool_oldest(1000).unwrap();
        for s in &batch {
            store.gem_spool_delete(s.id).unwrap();
        }
        done += batch.len();
    }
    let replay = N as f64 / t.elapsed().as_secs_f64();
    assert_eq!(store.gem_spool_len().unwrap(), 0);
    println!("GEM spool on SQLite, {N} messages of 120 bytes, one commit each:");
    println!("  write  {write:>8.0} messages/s");
    println!("  replay {replay:>8.0} messages/s (read oldest 1000, delete each)");
}
