//! Wall-clock jumps: the wall clock (which NTP, an operator or a dead RTC battery can
//! set anywhere) measured against the monotonic clock (which only moves forward, at
//! the rate of time). Pure: the caller reads both clocks and hands the readings in, so
//! tests drive it with any readings they like.

/// A jump of the wall clock between two readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockJump {
    /// Wall time at the reading before, ms since the Unix epoch.
    pub wall_before_ms: i64,
    /// Wall time at this reading.
    pub wall_after_ms: i64,
    /// How far the wall clock moved beyond the time that passed (negative: back).
    pub jump_ms: i64,
}

/// Default threshold: a wall clock off by more than a minute against elapsed time.
pub const DEFAULT_THRESHOLD_MS: i64 = 60_000;

/// Compares successive (monotonic, wall) readings.
#[derive(Debug, Clone)]
pub struct ClockWatch {
    threshold_ms: i64,
    last: Option<(u64, i64)>,
}

impl ClockWatch {
    /// Reports jumps larger than `threshold_ms` (either way).
    pub fn new(threshold_ms: i64) -> ClockWatch {
        ClockWatch {
            threshold_ms: threshold_ms.max(1),
            last: None,
        }
    }

    /// Takes a reading: monotonic ms (any origin) and wall ms since the epoch. Returns
    /// the jump since the previous reading, if larger than the threshold. Small drift
    /// (NTP slewing) never adds up to a report: each reading is the new base.
    pub fn observe(&mut self, mono_ms: u64, wall_ms: i64) -> Option<ClockJump> {
        let prev = self.last.replace((mono_ms, wall_ms));
        let (m0, w0) = prev?;
        let elapsed = i64::try_from(mono_ms.saturating_sub(m0)).unwrap_or(i64::MAX);
        let jump_ms = (wall_ms - w0).saturating_sub(elapsed);
        (jump_ms.abs() > self.threshold_ms).then_some(ClockJump {
            wall_before_ms: w0,
            wall_after_ms: wall_ms,
            jump_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_clocks_and_slewing_are_no_jump() {
        let mut w = ClockWatch::new(DEFAULT_THRESHOLD_MS);
        assert_eq!(w.observe(0, 1_000_000), None);
        // A second a second, with 50 ms of drift each time: never a report.
        for i in 1..10_000u64 {
            let wall = 1_000_000 + i as i64 * 1050;
            assert_eq!(w.observe(i * 1000, wall), None);
        }
    }

    #[test]
    fn an_hour_forward_and_back_is_reported_with_its_size() {
        let mut w = ClockWatch::new(DEFAULT_THRESHOLD_MS);
        let h = 3_600_000;
        w.observe(0, 5_000_000);
        let j = w.observe(1000, 5_001_000 + h).unwrap();
        assert_eq!(j.jump_ms, h);
        assert_eq!(
            (j.wall_before_ms, j.wall_after_ms),
            (5_000_000, 5_001_000 + h)
        );
        assert_eq!(
            w.observe(2000, 5_002_000 + h),
            None,
            "the new time is the base"
        );
        let j = w.observe(3000, 5_003_000).unwrap();
        assert_eq!(j.jump_ms, -h);
        // Just over and just under the threshold.
        let mut w = ClockWatch::new(60_000);
        w.observe(0, 0);
        assert!(w.observe(1000, 61_001).is_some());
        assert!(w.observe(2000, 62_001 + 60_000).is_none());
    }
}
