//! Column encodings of bond rows: kinds, verdicts and fixed-point measurements.

use bonder_core::{BondKind, Defect, Verdict};

/// `bonds.kind`.
pub(crate) fn kind_code(k: BondKind) -> i64 {
    i64::from(k.as_u8())
}

pub(crate) fn kind_from_code(c: i64) -> Option<BondKind> {
    u8::try_from(c).ok().and_then(BondKind::from_u8)
}

/// `bonds.verdict`: 0 ok, else 1 + [`Defect::index`].
pub(crate) fn verdict_code(v: Verdict) -> i64 {
    match v {
        Verdict::Ok => 0,
        Verdict::Reject(d) => 1 + i64::try_from(d.index()).unwrap_or(i64::MAX - 1),
    }
}

pub(crate) fn defect_from_code(c: i64) -> Option<Defect> {
    usize::try_from(c - 1)
        .ok()
        .and_then(|i| Defect::ALL.get(i).copied())
}

pub(crate) fn verdict_from_code(c: i64) -> Option<Verdict> {
    if c == 0 {
        Some(Verdict::Ok)
    } else {
        defect_from_code(c).map(Verdict::Reject)
    }
}

/// Fixed-point steps per unit of the bond columns.
pub(crate) const NM_PER_UM: f64 = 1000.0;
pub(crate) const MGF_PER_GF: f64 = 1000.0;
pub(crate) const UJ_PER_MJ: f64 = 1000.0;
pub(crate) const BP_PER_PCT: f64 = 100.0;

/// A measurement in fixed point; `None` (SQL NULL) when it is not finite.
pub(crate) fn to_fixed(v: f32, steps_per_unit: f64) -> Option<i64> {
    // `as` saturates; a finite f32 times 1000 is far inside i64 anyway.
    v.is_finite()
        .then(|| (f64::from(v) * steps_per_unit).round() as i64)
}

/// A fixed-point measurement back in its unit; NULL reads as NaN.
pub(crate) fn from_fixed(v: Option<i64>, steps_per_unit: f64) -> f32 {
    v.map_or(f32::NAN, |x| (x as f64 / steps_per_unit) as f32)
}

/// `u64` record numbers as SQLite integers (seq never nears 2^63).
pub(crate) fn seq_sql(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for d in Defect::ALL {
            let v = Verdict::Reject(d);
            assert_eq!(verdict_from_code(verdict_code(v)), Some(v));
        }
        assert_eq!(verdict_from_code(0), Some(Verdict::Ok));
        assert_eq!(verdict_from_code(7), None);
        for k in [BondKind::Ball, BondKind::Stitch] {
            assert_eq!(kind_from_code(kind_code(k)), Some(k));
        }
        assert_eq!(kind_from_code(3), None);
    }

    #[test]
    fn fixed_point_is_within_half_a_step() {
        for v in [-0.8f32, 48.3, 0.0, 1234.5678, -3.0e-4] {
            let back = from_fixed(to_fixed(v, NM_PER_UM), NM_PER_UM);
            assert!(
                (back - v).abs() <= 0.0005 + f32::EPSILON * v.abs(),
                "{v} → {back}"
            );
        }
        assert_eq!(to_fixed(f32::NAN, NM_PER_UM), None);
        assert!(from_fixed(None, NM_PER_UM).is_nan());
    }
}
