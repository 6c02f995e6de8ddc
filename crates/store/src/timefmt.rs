//! Times: stored as Unix milliseconds (UTC), shown as RFC 3339 UTC with milliseconds
//! (`2026-11-23T08:15:02.230Z`), as the gateway contract writes them.

use time::format_description::FormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

const RFC3339_MS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// RFC 3339 in UTC with exactly three fraction digits, e.g. `2026-11-23T08:15:02.230Z`.
pub fn rfc3339_ms(t: OffsetDateTime) -> String {
    // Every UTC time of years 0..=9999 formats; the format has no fallible component.
    t.to_offset(UtcOffset::UTC)
        .format(RFC3339_MS)
        .unwrap_or_default()
}

/// Milliseconds since the Unix epoch (truncated toward negative infinity).
pub fn unix_ms(t: OffsetDateTime) -> i64 {
    let ms = t.unix_timestamp_nanos().div_euclid(1_000_000);
    i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX })
}

/// The UTC time of a Unix millisecond count (clamped to the range `time` supports).
pub fn from_unix_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap_or(if ms < 0 {
        OffsetDateTime::UNIX_EPOCH
    } else {
        time::PrimitiveDateTime::MAX.assume_utc()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn formats_utc_with_milliseconds() {
        let t = datetime!(2026-11-23 16:15:02.2304 +08:00);
        assert_eq!(rfc3339_ms(t), "2026-11-23T08:15:02.230Z");
        assert_eq!(
            from_unix_ms(unix_ms(t)),
            datetime!(2026-11-23 08:15:02.230 UTC)
        );
    }

    #[test]
    fn negative_times_round_down() {
        let t = datetime!(1969-12-31 23:59:59.9995 UTC);
        assert_eq!(unix_ms(t), -1);
    }
}
