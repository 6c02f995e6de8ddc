//! The clock guard: reads the wall and the monotonic clock every second; a wall-clock
//! jump of more than a minute against elapsed time raises station alarm 904 "clock
//! jumped" (for [`ALARM_904_FOR`]) and writes an audit row with the old and new time
//! (`bonder_core::clock` does the arithmetic).
//!
//! [`Clocks`] is the seam: the station reads the system's clocks, tests hand in clocks
//! they move themselves.

use bonder_core::clock::{ClockJump, ClockWatch, DEFAULT_THRESHOLD_MS};
use bonder_runtime::Station;
use bonder_store::{AuditAction, AuditRecord, Role, Store};
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// Alarm 904 "clock jumped".
pub const CLOCK_JUMPED: u16 = 904;
/// How long 904 stays up after a jump.
pub const ALARM_904_FOR: Duration = Duration::from_secs(15 * 60);

/// Where the guard reads the time.
pub trait Clocks: Send + Sync + 'static {
    /// Monotonic milliseconds (any origin; never goes back).
    fn mono_ms(&self) -> u64;
    /// Wall-clock milliseconds since the Unix epoch.
    fn wall_ms(&self) -> i64;
}

/// The system's clocks.
#[derive(Debug)]
pub struct SystemClocks {
    origin: Instant,
}

impl Default for SystemClocks {
    fn default() -> Self {
        SystemClocks {
            origin: Instant::now(),
        }
    }
}

impl Clocks for SystemClocks {
    fn mono_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
    fn wall_ms(&self) -> i64 {
        bonder_store::timefmt::unix_ms(OffsetDateTime::now_utc())
    }
}

fn rfc3339(ms: i64) -> String {
    bonder_store::timefmt::rfc3339_ms(bonder_store::timefmt::from_unix_ms(ms))
}

/// The audit row of a jump.
fn audit_row(j: &ClockJump) -> AuditRecord {
    AuditRecord {
        time: OffsetDateTime::now_utc(),
        user: "station".into(),
        role: Some(Role::System),
        action: AuditAction::ClockJump,
        object: "clock".into(),
        old_value: Some(rfc3339(j.wall_before_ms)),
        new_value: Some(rfc3339(j.wall_after_ms)),
        reason: Some(format!(
            "the wall clock moved {:+.1} s beyond the time that passed / 系统时钟跳变 {:+.1} 秒",
            j.jump_ms as f64 / 1000.0,
            j.jump_ms as f64 / 1000.0
        )),
    }
}

/// Runs the guard every `period` until the task is dropped; 904 lasts `alarm_for`.
pub async fn guard(
    station: Arc<Station>,
    store: Arc<Store>,
    clocks: impl Clocks,
    period: Duration,
    alarm_for: Duration,
) {
    let mut watch = ClockWatch::new(DEFAULT_THRESHOLD_MS);
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(j) = watch.observe(clocks.mono_ms(), clocks.wall_ms()) else {
            continue;
        };
        tracing::error!(
            jump_ms = j.jump_ms,
            before = %rfc3339(j.wall_before_ms),
            after = %rfc3339(j.wall_after_ms),
            "wall clock jumped"
        );
        station.station_alarm_for(CLOCK_JUMPED, alarm_for);
        if let Err(e) = store.append_audit(&audit_row(&j)) {
            tracing::error!("audit of the clock jump: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::sync::Mutex;

    /// Clocks the test sets.
    #[derive(Clone, Default)]
    struct FakeClocks(Arc<Mutex<(u64, i64)>>);

    impl FakeClocks {
        fn advance(&self, mono_ms: u64, wall_ms: i64) {
            let mut c = self.0.lock().unwrap();
            c.0 += mono_ms;
            c.1 += wall_ms;
        }
    }

    impl Clocks for FakeClocks {
        fn mono_ms(&self) -> u64 {
            self.0.lock().unwrap().0
        }
        fn wall_ms(&self) -> i64 {
            self.0.lock().unwrap().1
        }
    }

    async fn until(what: &str, f: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn an_hour_forward_and_back_raises_904_and_audits_both() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path().join("s.sqlite")).unwrap());
        // A runtime on a controller that is not there: only its alarms matter here.
        let station = Arc::new(Station::start(bonder_runtime::RuntimeConfig::new(
            "127.0.0.1:9".parse().unwrap(),
        )));
        let clocks = FakeClocks::default();
        clocks.advance(0, 1_800_000_000_000);
        let task = tokio::spawn(guard(
            station.clone(),
            store.clone(),
            clocks.clone(),
            Duration::from_millis(5),
            Duration::from_millis(300),
        ));
        let up = || station.snapshot().active_alarms.contains(&CLOCK_JUMPED);
        let rows = || {
            store
                .reader()
                .unwrap()
                .audit(0, 1000)
                .unwrap()
                .into_iter()
                .filter(|r| r.action == "clock_jump")
                .collect::<Vec<_>>()
        };
        // Seconds pass as they should: nothing.
        for _ in 0..5 {
            clocks.advance(1000, 1000);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(!up() && rows().is_empty());
        clocks.advance(1000, 1000 + 3_600_000);
        until("904 after an hour forward", up).await;
        until("its audit row", || rows().len() == 1).await;
        let r = &rows()[0];
        assert_eq!(r.old_value.as_deref(), Some("2027-01-15T08:00:05.000Z"));
        assert_eq!(r.new_value.as_deref(), Some("2027-01-15T09:00:06.000Z"));
        assert!(r.reason.as_deref().unwrap().contains("+3600.0 s"), "{r:?}");
        until("904 clears after its time", || !up()).await;
        clocks.advance(1000, 1000 - 3_600_000);
        until("904 after an hour back", up).await;
        until("a second row", || rows().len() == 2).await;
        assert!(rows()[1].reason.as_deref().unwrap().contains("-3600.0 s"));
        assert!(
            Store::verify_audit(dir.path().join("s.sqlite")).is_ok(),
            "the chain holds"
        );
        task.abort();
        station.shutdown().await;
    }
}
