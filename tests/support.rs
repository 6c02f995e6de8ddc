//! Helpers shared by the end-to-end tests.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use bonder_runtime::{Snapshot, Station};
use std::time::Duration;

/// Waits until `pred` holds for the station's snapshot, or panics after `secs` with the
/// last snapshot.
pub async fn wait_for(
    station: &Station,
    secs: u64,
    what: &str,
    pred: impl Fn(&Snapshot) -> bool,
) -> Snapshot {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    let mut rx = station.watch();
    loop {
        {
            let s = rx.borrow_and_update();
            if pred(&s) {
                return s.clone();
            }
        }
        tokio::select! {
            r = rx.changed() => if r.is_err() { panic!("station stopped while waiting for {what}") },
            () = tokio::time::sleep_until(deadline) => panic!("timed out after {secs}s waiting for {what}: {:?}", station.snapshot()),
        }
    }
}
