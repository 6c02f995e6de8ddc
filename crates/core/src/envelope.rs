//! Curve envelopes: a mean ± k·σ band per channel and sample, learned from good bonds
//! (Welford's algorithm) or set explicitly.

use crate::bond::{ChannelId, Curve};
use serde::{Deserialize, Serialize};

/// Smallest σ per channel, in raw counts (0.1 unit): the band never gets narrower than
/// the sensors' resolution, whatever the learned spread.
const SIGMA_FLOOR_COUNTS: [f32; 4] = [10.0, 5.0, 3.0, 5.0];
/// Smallest σ as a fraction of the channel's peak |mean|.
const SIGMA_FLOOR_REL: f32 = 0.02;

/// The band of one channel: per-sample mean and σ, raw counts.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Band {
    pub mean: Vec<f32>,
    pub sigma: Vec<f32>,
}

impl Band {
    /// Lower and upper edge at sample `i` for a band width of `k` σ.
    pub fn edges(&self, i: usize, k: f32) -> Option<(f32, f32)> {
        let m = *self.mean.get(i)?;
        let s = *self.sigma.get(i)?;
        Some((m - k * s, m + k * s))
    }
}

/// Envelope of one bond kind: a band per channel.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Envelope {
    pub k_sigma: f32,
    /// Indexed by [`ChannelId::index`]; `None` for a channel that is not checked.
    pub bands: [Option<Band>; 4],
}

/// How a curve compares with an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct EnvelopeCheck {
    /// Per channel, the fraction of samples outside the band (0..1).
    pub outside: [f32; 4],
    /// Whether the curve's length differs from the envelope's by more than 5 %.
    pub length_mismatch: bool,
}

impl EnvelopeCheck {
    /// The largest fraction outside over all channels (1 for a length mismatch).
    pub fn worst(&self) -> f32 {
        if self.length_mismatch {
            return 1.0;
        }
        self.outside.iter().copied().fold(0.0, f32::max)
    }
}

impl Envelope {
    /// Compares a curve with the band, sample by sample.
    pub fn check(&self, curve: &Curve) -> EnvelopeCheck {
        let mut out = EnvelopeCheck::default();
        for ch in ChannelId::ALL {
            let Some(band) = &self.bands[ch.index()] else {
                continue;
            };
            let raw = curve.raw(ch);
            let n_env = band.mean.len();
            if n_env == 0 {
                continue;
            }
            if raw.len().abs_diff(n_env) * 20 > n_env {
                out.length_mismatch = true;
            }
            let n = raw.len().min(n_env);
            let mut outside = 0usize;
            for (i, &s) in raw.iter().take(n).enumerate() {
                let (m, sd) = (band.mean[i], band.sigma[i]);
                if (f32::from(s) - m).abs() > self.k_sigma * sd {
                    outside += 1;
                }
            }
            out.outside[ch.index()] = if n == 0 {
                1.0
            } else {
                outside as f32 / n as f32
            };
        }
        out
    }
}

/// Accumulates good curves of one bond kind until an envelope can be built.
#[derive(Debug, Clone, Default)]
pub struct EnvelopeLearner {
    count: u32,
    len: usize,
    present: [bool; 4],
    mean: [Vec<f64>; 4],
    m2: [Vec<f64>; 4],
}

impl EnvelopeLearner {
    /// Number of curves learned so far.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Adds a curve. Curves whose length differs from the first by more than 5 % are
    /// ignored (returns `false`): they belong to another program.
    pub fn add(&mut self, curve: &Curve) -> bool {
        let n = curve.len();
        if n == 0 {
            return false;
        }
        if self.count == 0 {
            self.len = n;
            for ch in ChannelId::ALL {
                self.present[ch.index()] = !curve.raw(ch).is_empty();
            }
            for ch in 0..4 {
                self.mean[ch] = vec![0.0; n];
                self.m2[ch] = vec![0.0; n];
            }
        } else if n.abs_diff(self.len) * 20 > self.len {
            return false;
        }
        self.count += 1;
        let k = f64::from(self.count);
        for ch in ChannelId::ALL {
            let raw = curve.raw(ch);
            let (mean, m2) = (&mut self.mean[ch.index()], &mut self.m2[ch.index()]);
            // Missing samples at the end repeat the last one.
            let last = raw.last().copied().unwrap_or(0);
            for i in 0..self.len {
                let x = f64::from(raw.get(i).copied().unwrap_or(last));
                let d = x - mean[i];
                mean[i] += d / k;
                m2[i] += d * (x - mean[i]);
            }
        }
        true
    }

    /// The envelope learned so far (`None` before the first curve).
    pub fn envelope(&self, k_sigma: f32) -> Option<Envelope> {
        if self.count == 0 {
            return None;
        }
        let mut bands: [Option<Band>; 4] = Default::default();
        for ch in ChannelId::ALL {
            let i = ch.index();
            if !self.present[i] {
                continue;
            }
            let mean: Vec<f32> = self.mean[i].iter().map(|&m| m as f32).collect();
            let peak = mean.iter().fold(0.0f32, |a, m| a.max(m.abs()));
            let floor = SIGMA_FLOOR_COUNTS[i].max(peak * SIGMA_FLOOR_REL);
            let var_div = f64::from(self.count.saturating_sub(1).max(1));
            let sigma = self.m2[i]
                .iter()
                .map(|&m2| ((m2 / var_div).sqrt() as f32).max(floor))
                .collect();
            bands[i] = Some(Band { mean, sigma });
        }
        Some(Envelope { k_sigma, bands })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(f: impl Fn(usize) -> i16) -> Curve {
        let ch: Vec<i16> = (0..100).map(f).collect();
        Curve {
            sample_rate_hz: 20_000,
            channels: [ch.clone(), ch.clone(), ch, vec![]],
        }
    }

    #[test]
    fn learned_band_accepts_its_own_spread_and_rejects_a_distorted_curve() {
        let mut l = EnvelopeLearner::default();
        for k in 0..50i16 {
            assert!(l.add(&curve(|i| 500 + (i as i16) + (k % 5) - 2)));
        }
        let env = l.envelope(4.0).unwrap();
        assert!(
            env.bands[3].is_none(),
            "a channel never sent is not checked"
        );
        assert_eq!(env.check(&curve(|i| 501 + i as i16)).worst(), 0.0);
        let distorted = curve(|i| {
            if (40..60).contains(&i) {
                300
            } else {
                500 + i as i16
            }
        });
        let c = env.check(&distorted);
        assert!((c.outside[0] - 0.2).abs() < 1e-6, "{c:?}");
        // Another program (length differs by more than 5 %) is refused by the learner
        // and flagged by the check.
        let short = Curve {
            sample_rate_hz: 20_000,
            channels: [vec![500; 80], vec![500; 80], vec![500; 80], vec![]],
        };
        assert!(!l.add(&short));
        assert!(env.check(&short).length_mismatch);
    }
}
