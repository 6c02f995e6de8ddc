//! Curve compression (format 1).
//!
//! Layout before compression: four little-endian `u32` sample counts (channels in
//! [`ChannelId::ALL`] order), then per channel the wrapping `i16` differences between
//! consecutive samples (the first from 0), zigzag-mapped (0, −1, 1, −2… → 0, 1, 2,
//! 3…) and split into a plane of low bytes followed by a plane of high bytes. Curves
//! are smooth plus noise, so the deltas are small: the high-byte plane is nearly all
//! zero and the low bytes have few distinct values, which zstd then packs tightly.
//! On curves with the simulator's noise (4 × 300 samples, 2400 bytes raw) this gives
//! ≈ 790 bytes; plain deltas ≈ 1050, raw samples ≈ 1440.
//!
//! zstd rather than lz4: curves are the bulk of the file and 30 days must fit a modest
//! disk, so ratio matters more than speed; zstd level 1 compresses one curve in tens of
//! µs (higher levels gain < 1 % here), and only rejected bonds plus a sample of good
//! ones are kept.
//!
//! [`ChannelId::ALL`]: bonder_core::ChannelId::ALL

use crate::StoreError;
use bonder_core::Curve;

/// The `curves.format` value of this encoding.
pub(crate) const FORMAT_DELTA_PLANES_ZSTD: i64 = 1;
const ZSTD_LEVEL: i32 = 1;
const HEADER_BYTES: usize = 16;

fn zigzag(d: i16) -> u16 {
    ((d << 1) ^ (d >> 15)) as u16
}

fn unzigzag(z: u16) -> i16 {
    ((z >> 1) as i16) ^ -((z & 1) as i16)
}

/// Compresses a curve (format 1).
pub(crate) fn encode(curve: &Curve) -> Result<Vec<u8>, StoreError> {
    let samples: usize = curve.channels.iter().map(Vec::len).sum();
    let mut raw = Vec::with_capacity(HEADER_BYTES + 2 * samples);
    for ch in &curve.channels {
        let n = u32::try_from(ch.len())
            .map_err(|_| StoreError::Corrupt(format!("curve channel of {} samples", ch.len())))?;
        raw.extend_from_slice(&n.to_le_bytes());
    }
    let mut highs = Vec::with_capacity(samples);
    for ch in &curve.channels {
        let mut prev = 0i16;
        highs.clear();
        for &s in ch {
            let [lo, hi] = zigzag(s.wrapping_sub(prev)).to_le_bytes();
            raw.push(lo);
            highs.push(hi);
            prev = s;
        }
        raw.extend_from_slice(&highs);
    }
    Ok(zstd::stream::encode_all(raw.as_slice(), ZSTD_LEVEL)?)
}

/// Decompresses a curve stored by [`encode`].
pub(crate) fn decode(format: i64, sample_rate_hz: u32, data: &[u8]) -> Result<Curve, StoreError> {
    if format != FORMAT_DELTA_PLANES_ZSTD {
        return Err(StoreError::Corrupt(format!(
            "unknown curve format {format}"
        )));
    }
    let raw = zstd::stream::decode_all(data)?;
    let damaged = || StoreError::Corrupt("curve data does not match its header".into());
    let (header, mut body) = raw.split_at_checked(HEADER_BYTES).ok_or_else(damaged)?;
    let mut curve = Curve {
        sample_rate_hz,
        ..Curve::default()
    };
    for (i, ch) in curve.channels.iter_mut().enumerate() {
        let len_bytes: [u8; 4] = header[4 * i..4 * i + 4].try_into().map_err(|_| damaged())?;
        let n = usize::try_from(u32::from_le_bytes(len_bytes)).map_err(|_| damaged())?;
        let (planes, rest) = body.split_at_checked(2 * n).ok_or_else(damaged)?;
        let (lows, highs) = planes.split_at(n);
        let mut prev = 0i16;
        ch.extend(lows.iter().zip(highs).map(|(&lo, &hi)| {
            prev = prev.wrapping_add(unzigzag(u16::from_le_bytes([lo, hi])));
            prev
        }));
        body = rest;
    }
    if !body.is_empty() {
        return Err(damaged());
    }
    Ok(curve)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_extremes_and_empty_channels() {
        let curve = Curve {
            sample_rate_hz: 20_000,
            channels: [
                vec![0, i16::MAX, i16::MIN, -1, 1, i16::MIN, i16::MAX],
                vec![],
                (0..300).map(|i| (i * 7 % 113) as i16 - 50).collect(),
                vec![42],
            ],
        };
        let data = encode(&curve).unwrap();
        assert_eq!(decode(1, 20_000, &data).unwrap(), curve);
        assert_eq!(
            decode(1, 1, &encode(&Curve::default()).unwrap()).unwrap(),
            Curve {
                sample_rate_hz: 1,
                ..Curve::default()
            }
        );
    }

    #[test]
    fn zigzag_round_trips_every_value() {
        for d in i16::MIN..=i16::MAX {
            assert_eq!(unzigzag(zigzag(d)), d);
        }
        assert_eq!([zigzag(0), zigzag(-1), zigzag(1), zigzag(-2)], [0, 1, 2, 3]);
    }

    #[test]
    fn damaged_data_is_an_error_not_a_panic() {
        let data = encode(&Curve {
            sample_rate_hz: 1,
            channels: [vec![1, 2, 3], vec![], vec![], vec![]],
        })
        .unwrap();
        assert!(decode(2, 1, &data).is_err());
        assert!(decode(1, 1, &data[..data.len() / 2]).is_err());
        let truncated = zstd::stream::encode_all(&[3u8, 0, 0, 0][..], 3).unwrap();
        assert!(decode(1, 1, &truncated).is_err());
    }

    #[test]
    fn a_smooth_curve_compresses_well() {
        let ramp = |k: i32| -> Vec<i16> { (0..300).map(|t: i32| (k * t.min(40)) as i16).collect() };
        let curve = Curve {
            sample_rate_hz: 20_000,
            channels: [ramp(37), ramp(7), ramp(-3), ramp(2)],
        };
        let data = encode(&curve).unwrap();
        assert!(data.len() < 2400 / 10, "{} bytes", data.len());
    }
}
