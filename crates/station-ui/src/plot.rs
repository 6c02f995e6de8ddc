//! The curve panel: four stacked channels (ultrasonic current, force, Z height, impedance)
//! of one bond over its envelope band, with older bonds faded behind, drawn with
//! `plotters` into a pixel buffer that Slint shows as an image.
//!
//! **Decimation:** every series is kept as a min/max pyramid ([`MinMaxPyramid`], blocks
//! of 8, 64, 512… samples). Each pixel column asks the pyramid for the min and max of its
//! sample range, which costs O(log n) instead of O(n / width): the render cost does not
//! grow with the number of samples in view.

use bonder_core::bond::{ChannelId, Curve};
use bonder_core::envelope::Envelope;
use plotters::coord::Shift;
use plotters::prelude::*;
use slint::{Rgb8Pixel, SharedPixelBuffer};
use std::ops::Range;

/// Block size factor between pyramid levels.
const FANOUT: usize = 8;

/// Min/max of a series at every power-of-8 block size; level 0 is the samples themselves.
#[derive(Debug, Clone, Default)]
pub struct MinMaxPyramid {
    levels: Vec<Vec<(f32, f32)>>,
}

impl MinMaxPyramid {
    /// A pyramid over per-sample (low, high) pairs (equal for a plain series).
    pub fn new(base: Vec<(f32, f32)>) -> MinMaxPyramid {
        let mut levels = vec![base];
        while let Some(last) = levels.last().filter(|l| l.len() > FANOUT) {
            let next = last
                .chunks(FANOUT)
                .map(|c| c.iter().copied().fold((f32::MAX, f32::MIN), merge))
                .collect();
            levels.push(next);
        }
        MinMaxPyramid { levels }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.levels.first().map_or(0, Vec::len)
    }

    /// Whether the series has no sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Lowest and highest value over the samples `range` (clamped to the series).
    pub fn min_max(&self, range: Range<usize>) -> Option<(f32, f32)> {
        let (mut a, mut b) = (range.start.min(self.len()), range.end.min(self.len()));
        let mut acc: Option<(f32, f32)> = None;
        let mut add = |v: (f32, f32)| acc = Some(acc.map_or(v, |x| merge(x, v)));
        for (i, level) in self.levels.iter().enumerate() {
            if a >= b {
                break;
            }
            let top = i + 1 == self.levels.len();
            if top || b - a < 2 * FANOUT {
                level[a..b].iter().copied().for_each(&mut add);
                break;
            }
            while a < b && a % FANOUT != 0 {
                add(level[a]);
                a += 1;
            }
            while b > a && b % FANOUT != 0 {
                b -= 1;
                add(level[b]);
            }
            a /= FANOUT;
            b /= FANOUT;
        }
        acc
    }
}

fn merge(a: (f32, f32), b: (f32, f32)) -> (f32, f32) {
    (a.0.min(b.0), a.1.max(b.1))
}

/// A bond's curve ready to draw: a pyramid per channel, in engineering units.
#[derive(Debug, Clone, Default)]
pub struct CurveSummary {
    pub sample_rate_hz: u32,
    pub channels: [MinMaxPyramid; 4],
}

impl CurveSummary {
    /// Builds the pyramids of a curve (O(n)).
    pub fn new(curve: &Curve) -> CurveSummary {
        let channels =
            ChannelId::ALL.map(|ch| MinMaxPyramid::new(curve.values(ch).map(|v| (v, v)).collect()));
        CurveSummary {
            sample_rate_hz: curve.sample_rate_hz,
            channels,
        }
    }

    /// Samples of the longest channel.
    pub fn len(&self) -> usize {
        self.channels
            .iter()
            .map(MinMaxPyramid::len)
            .max()
            .unwrap_or(0)
    }

    /// Whether no channel has samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An envelope ready to draw: the band's lower and upper edge per channel.
#[derive(Debug, Clone, Default)]
pub struct BandSummary {
    pub channels: [Option<MinMaxPyramid>; 4],
}

impl BandSummary {
    /// The mean ± k·σ band of an envelope, in engineering units.
    pub fn new(envelope: &Envelope) -> BandSummary {
        let k = envelope.k_sigma;
        let channels = ChannelId::ALL.map(|ch| {
            envelope.bands[ch.index()].as_ref().map(|band| {
                let edges = (0..band.mean.len())
                    .filter_map(|i| band.edges(i, k))
                    .map(|(lo, hi)| (lo * ChannelId::SCALE, hi * ChannelId::SCALE))
                    .collect();
                MinMaxPyramid::new(edges)
            })
        });
        BandSummary { channels }
    }
}

/// What to draw.
#[derive(Debug, Clone)]
pub struct PlotInput<'a> {
    /// The bond shown (drawn dark, or in the abnormal colour when rejected).
    pub bond: Option<&'a CurveSummary>,
    pub bond_abnormal: bool,
    /// Older bonds, drawn faded behind.
    pub faded: &'a [&'a CurveSummary],
    pub band: Option<&'a BandSummary>,
    /// Sample range in view; `None`: the whole bond.
    pub view: Option<Range<usize>>,
    /// Fewer labels and a smaller font (the production page's small panel).
    pub compact: bool,
}

/// Why a plot could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("curve plot: {0}")]
pub struct PlotError(String);

fn err<E: std::fmt::Debug>(e: E) -> PlotError {
    PlotError(format!("{e:?}"))
}

const BACKGROUND: RGBColor = RGBColor(0xf7, 0xf7, 0xf7);
const GRID: RGBColor = RGBColor(0xdd, 0xdd, 0xdd);
const AXIS: RGBColor = RGBColor(0x4d, 0x4d, 0x4d);
const BAND: RGBColor = RGBColor(0xc8, 0xd2, 0xdc);
const FADED: RGBColor = RGBColor(0xb4, 0xb4, 0xb4);
const CURVE: RGBColor = RGBColor(0x1b, 0x1b, 0x1b);
const ABNORMAL: RGBColor = RGBColor(0xd9, 0x64, 0x0b);

/// Draws the curve panel into a new `width` × `height` RGB buffer.
///
/// Two passes: `plotters` draws the frame of each channel (background, grid, axes,
/// labels) and reports where its plotting area lies; then the band, the faded bonds and
/// the bond are rasterised straight into the buffer as one vertical span per pixel
/// column (they are decimated per column anyway), which costs a few µs per series
/// instead of going through a drawing backend segment by segment.
pub fn render(
    input: &PlotInput<'_>,
    width: u32,
    height: u32,
) -> Result<SharedPixelBuffer<Rgb8Pixel>, PlotError> {
    let (width, height) = (width.max(64), height.max(64));
    let mut buffer = SharedPixelBuffer::<Rgb8Pixel>::new(width, height);
    let total = input
        .bond
        .map(CurveSummary::len)
        .or_else(|| input.faded.first().map(|f| f.len()))
        .unwrap_or(0);
    let view = match &input.view {
        Some(v) if v.start < v.end => v.start..v.end.min(total.max(v.start + 1)),
        _ => 0..total.max(1),
    };
    let mut geoms = Vec::with_capacity(4);
    {
        let root = BitMapBackend::with_buffer(buffer.make_mut_bytes(), (width, height))
            .into_drawing_area();
        root.fill(&BACKGROUND).map_err(err)?;
        let rate = input.bond.map_or(0, |b| b.sample_rate_hz).max(1);
        let text = crate::fonts::plot_font_available();
        for (row, area) in root.split_evenly((4, 1)).iter().enumerate() {
            geoms.push(draw_frame(input, area, row, view.clone(), rate, text)?);
        }
        root.present().map_err(err)?;
    }
    let mut canvas = Canvas {
        bytes: buffer.make_mut_bytes(),
        width: width as usize,
    };
    for (row, g) in geoms.iter().enumerate() {
        draw_series(input, &mut canvas, g, row, view.clone());
    }
    Ok(buffer)
}

/// Where a channel's plotting area lies and what it shows.
#[derive(Debug, Clone)]
struct Geom {
    /// Pixel columns and rows of the plotting area (end exclusive).
    px_x: Range<i32>,
    px_y: Range<i32>,
    x_range: Range<f64>,
    y_range: Range<f64>,
}

impl Geom {
    fn x_px(&self, x: f64) -> f32 {
        let w = (self.px_x.end - self.px_x.start - 1).max(1) as f64;
        (f64::from(self.px_x.start)
            + (x - self.x_range.start) / (self.x_range.end - self.x_range.start) * w) as f32
    }
    fn y_px(&self, y: f64) -> f32 {
        let h = (self.px_y.end - self.px_y.start - 1).max(1) as f64;
        (f64::from(self.px_y.end - 1)
            - (y - self.y_range.start) / (self.y_range.end - self.y_range.start) * h) as f32
    }
}

/// The RGB buffer, for direct drawing.
struct Canvas<'a> {
    bytes: &'a mut [u8],
    width: usize,
}

impl Canvas<'_> {
    /// Fills column `x` from row `y0` to `y1` (inclusive, any order), clipped to `g`.
    #[inline]
    fn span(&mut self, g: &Geom, x: i32, y0: f32, y1: f32, c: RGBColor) {
        if x < g.px_x.start || x >= g.px_x.end {
            return;
        }
        let (a, b) = if y0 <= y1 { (y0, y1) } else { (y1, y0) };
        let a = ((a + 0.5) as i32).max(g.px_y.start);
        let b = ((b + 0.5) as i32).min(g.px_y.end - 1);
        if a > b {
            return;
        }
        let stride = self.width * 3;
        let start = a as usize * stride + x as usize * 3;
        let end = b as usize * stride + x as usize * 3 + 3;
        let Some(col) = self.bytes.get_mut(start..end) else {
            return;
        };
        for px in col.chunks_mut(stride) {
            px[0] = c.0;
            px[1] = c.1;
            px[2] = c.2;
        }
    }

    /// A 1-px polyline through pixel points, drawn as vertical spans per column: a
    /// segment within one column is one span; a longer one gives each column the part
    /// of it over that column's width.
    fn polyline(&mut self, g: &Geom, pts: &[(f32, f32)], c: RGBColor) {
        let Some(&first) = pts.first() else {
            return;
        };
        let mut prev = (first.0.round() as i32, first.1);
        self.span(g, prev.0, first.1, first.1, c);
        for w in pts.windows(2) {
            let ((xa, ya), (xb, yb)) = (w[0], w[1]);
            let cb = xb.round() as i32;
            let ca = prev.0;
            if cb == ca {
                self.span(g, cb, ya, yb, c);
            } else if (cb - ca).abs() == 1 {
                // The usual case: half of the rise in each column.
                let mid = (ya + yb) * 0.5;
                self.span(g, ca, ya, mid, c);
                self.span(g, cb, mid, yb, c);
            } else {
                let (lo, hi) = if ca < cb { (ca, cb) } else { (cb, ca) };
                let slope = (yb - ya) / (xb - xa);
                let (xl, xr) = (xa.min(xb), xa.max(xb));
                for col in lo..=hi {
                    let l = (col as f32 - 0.5).max(xl);
                    let r = (col as f32 + 0.5).min(xr);
                    self.span(g, col, ya + slope * (l - xa), ya + slope * (r - xa), c);
                }
            }
            prev = (cb, yb);
        }
    }
}

fn draw_series(
    input: &PlotInput<'_>,
    canvas: &mut Canvas<'_>,
    g: &Geom,
    row: usize,
    view: Range<usize>,
) {
    let i = ChannelId::ALL[row].index();
    let columns = (g.px_x.end - g.px_x.start).max(1) as usize;
    if let Some(band) = input.band.and_then(|b| b.channels[i].as_ref()) {
        // Filled between its edges: edges interpolated over the columns between two
        // entries (when there are fewer samples than columns).
        let cols: Vec<(f32, f32, f32)> = decimate(band, view.clone(), columns)
            .iter()
            .map(|&(x, lo, hi)| (g.x_px(x), g.y_px(f64::from(lo)), g.y_px(f64::from(hi))))
            .collect();
        if let Some(&(x, lo, hi)) = cols.first() {
            canvas.span(g, x.round() as i32, lo, hi, BAND);
        }
        for w in cols.windows(2) {
            let ((xa, la, ha), (xb, lb, hb)) = (w[0], w[1]);
            let (ca, cb) = (xa.round() as i32, xb.round() as i32);
            for col in (ca + 1)..=cb {
                let t = if cb > ca {
                    (col - ca) as f32 / (cb - ca) as f32
                } else {
                    1.0
                };
                canvas.span(g, col, la + (lb - la) * t, ha + (hb - ha) * t, BAND);
            }
        }
    }
    for f in input.faded {
        // Background context: one point per column (the middle of its range) is enough.
        // Half the columns: faded context needs no more, and it is 20 series of 4.
        let pts: Vec<(f32, f32)> = decimate(&f.channels[i], view.clone(), columns / 2)
            .iter()
            .map(|&(x, lo, hi)| (g.x_px(x), g.y_px(f64::from((lo + hi) / 2.0))))
            .collect();
        canvas.polyline(g, &pts, FADED);
    }
    if let Some(b) = input.bond {
        let colour = if input.bond_abnormal { ABNORMAL } else { CURVE };
        let pts: Vec<(f32, f32)> = zigzag(&decimate(&b.channels[i], view, columns))
            .iter()
            .map(|&(x, y)| (g.x_px(x), g.y_px(y)))
            .collect();
        canvas.polyline(g, &pts, colour);
    }
}

fn draw_frame(
    input: &PlotInput<'_>,
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    row: usize,
    view: Range<usize>,
    rate_hz: u32,
    text: bool,
) -> Result<Geom, PlotError> {
    let ch = ChannelId::ALL[row];
    let i = ch.index();
    let last_row = row == 3;
    // Y range over everything drawn in view.
    let mut y: Option<(f32, f32)> = None;
    let mut widen = |r: Option<(f32, f32)>| {
        if let Some(r) = r {
            y = Some(y.map_or(r, |acc| merge(acc, r)));
        }
    };
    if let Some(b) = input.bond {
        widen(b.channels[i].min_max(view.clone()));
    }
    if let Some(band) = input.band.and_then(|b| b.channels[i].as_ref()) {
        widen(band.min_max(view.clone()));
    }
    for f in input.faded {
        widen(f.channels[i].min_max(view.clone()));
    }
    let (lo, hi) = y.unwrap_or((0.0, 1.0));
    let pad = ((hi - lo) * 0.08).max(0.5);
    let y_range = f64::from(lo - pad)..f64::from(hi + pad);
    let x_range = view.start as f64..view.end as f64;

    let font_px = if input.compact { 12 } else { 15 };
    let mut builder = ChartBuilder::on(area);
    builder
        .margin_top(4)
        .margin_right(8)
        .margin_bottom(if last_row { 0 } else { 2 })
        .y_label_area_size(if text { 76 } else { 4 })
        .x_label_area_size(if last_row && text { 22 } else { 0 });
    let mut chart = builder.build_cartesian_2d(x_range, y_range).map_err(err)?;
    let ms_per_sample = 1000.0 / f64::from(rate_hz);
    let unit = ch.unit();
    let x_fmt = |x: &f64| format!("{:.1} ms", x * ms_per_sample);
    let y_fmt = |v: &f64| format!("{v:.0} {unit}");
    let mut mesh = chart.configure_mesh();
    mesh.light_line_style(BACKGROUND)
        .bold_line_style(GRID)
        .axis_style(AXIS)
        .x_labels(if last_row && text { 10 } else { 0 })
        .y_labels(if text {
            if input.compact { 2 } else { 4 }
        } else {
            0
        })
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt);
    if text {
        mesh.label_style(("sans-serif", font_px).into_font().color(&AXIS));
    }
    mesh.draw().map_err(err)?;

    let (px_x, px_y) = chart.plotting_area().get_pixel_range();
    Ok(Geom {
        px_x,
        px_y,
        x_range: view.start as f64..view.end as f64,
        y_range: f64::from(lo - pad)..f64::from(hi + pad),
    })
}

/// Per pixel column: (x in samples, min, max) of the series over the column's samples.
/// When there are fewer samples than columns, one entry per sample.
///
/// Each column scans one pyramid level whose blocks are at most an eighth of a column
/// (8 to 64 blocks per column); column edges snap to those blocks, so they move by less
/// than an eighth of a pixel and every sample still falls in exactly one column.
fn decimate(series: &MinMaxPyramid, view: Range<usize>, columns: usize) -> Vec<(f64, f32, f32)> {
    let end = view.end.min(series.len());
    let start = view.start.min(end);
    let n = end - start;
    let Some(base) = series.levels.first() else {
        return Vec::new();
    };
    if n <= columns {
        return base[start..end]
            .iter()
            .enumerate()
            .map(|(i, &(lo, hi))| ((start + i) as f64, lo, hi))
            .collect();
    }
    let per_column = (view.end - view.start) as f64 / columns as f64;
    let mut level = 0;
    let mut block = 1usize;
    while level + 1 < series.levels.len() && ((block * FANOUT * FANOUT) as f64) <= per_column {
        level += 1;
        block *= FANOUT;
    }
    let blocks = &series.levels[level];
    (0..columns)
        .filter_map(|c| {
            let a = (view.start as f64 + c as f64 * per_column) as usize;
            let b = (view.start as f64 + (c + 1) as f64 * per_column) as usize;
            let (a, b) = (a.max(start), b.min(end));
            // Floor both edges (the last column takes the rest): each block once.
            let bb = if c + 1 == columns {
                b.div_ceil(block)
            } else {
                b / block
            };
            let (ba, bb) = (a / block, bb.min(blocks.len()));
            (ba < bb).then(|| {
                let (lo, hi) = blocks[ba..bb]
                    .iter()
                    .fold((f32::MAX, f32::MIN), |acc, &(lo, hi)| {
                        (acc.0.min(lo), acc.1.max(hi))
                    });
                (a as f64, lo, hi)
            })
        })
        .collect()
}

/// A polyline through the columns' min and max: a vertical stroke per column, joined.
fn zigzag(cols: &[(f64, f32, f32)]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(cols.len() * 2);
    for (k, &(x, lo, hi)) in cols.iter().enumerate() {
        // Alternate the order so consecutive columns join at the nearer end.
        if k % 2 == 0 {
            out.push((x, f64::from(lo)));
            if hi != lo {
                out.push((x, f64::from(hi)));
            }
        } else {
            out.push((x, f64::from(hi)));
            if hi != lo {
                out.push((x, f64::from(lo)));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyramid_min_max_equals_a_plain_scan_for_any_range() {
        let values: Vec<f32> = (0..5000)
            .map(|i| ((i * 7919) % 1013) as f32 - 500.0)
            .collect();
        let p = MinMaxPyramid::new(values.iter().map(|&v| (v, v)).collect());
        for (a, b) in [
            (0, 5000),
            (3, 4),
            (7, 4093),
            (100, 117),
            (4999, 5000),
            (8, 64),
        ] {
            let scan = values[a..b]
                .iter()
                .fold((f32::MAX, f32::MIN), |acc, &v| (acc.0.min(v), acc.1.max(v)));
            assert_eq!(p.min_max(a..b), Some(scan), "{a}..{b}");
        }
        assert_eq!(p.min_max(10..10), None);
    }

    #[test]
    fn a_column_holds_the_extremes_of_its_samples() {
        let mut v = vec![(0.0f32, 0.0f32); 10_000];
        v[5_003] = (-9.0, -9.0);
        v[5_004] = (7.0, 7.0);
        let p = MinMaxPyramid::new(v);
        let cols = decimate(&p, 0..10_000, 100);
        assert_eq!(cols.len(), 100);
        assert_eq!((cols[50].1, cols[50].2), (-9.0, 7.0));
        assert_eq!((cols[49].1, cols[49].2), (0.0, 0.0));
    }

    #[test]
    fn the_band_is_filled_and_the_line_is_unbroken_with_few_samples() {
        // 300 samples over ~1000 columns: the band must be filled between samples and
        // the bond's line continuous from column to column.
        let n = 300usize;
        let ramp: Vec<(f32, f32)> = (0..n).map(|i| (i as f32, i as f32)).collect();
        let bond = CurveSummary {
            sample_rate_hz: 20_000,
            channels: std::array::from_fn(|_| MinMaxPyramid::new(ramp.clone())),
        };
        let band = BandSummary {
            channels: std::array::from_fn(|_| {
                Some(MinMaxPyramid::new(
                    (0..n).map(|i| (i as f32 - 30.0, i as f32 + 30.0)).collect(),
                ))
            }),
        };
        let input = PlotInput {
            bond: Some(&bond),
            bond_abnormal: false,
            faded: &[],
            band: Some(&band),
            view: None,
            compact: false,
        };
        let (w, h) = (1100u32, 800u32);
        let buf = render(&input, w, h).expect("render");
        let px = |x: u32, y: u32| {
            let p = buf.as_slice()[(y * w + x) as usize];
            RGBColor(p.r, p.g, p.b)
        };
        // Columns of the first channel (top quarter) that contain the curve colour.
        let with = |c: RGBColor| -> Vec<u32> {
            (0..w)
                .filter(|&x| (0..h / 4).any(|y| px(x, y) == c))
                .collect()
        };
        let curve = with(CURVE);
        assert!(curve.len() > 700, "{} columns with the curve", curve.len());
        let gaps = curve.windows(2).filter(|p| p[1] != p[0] + 1).count();
        assert_eq!(gaps, 0, "the line has gaps");
        let band_cols = with(BAND);
        let band_gaps = band_cols.windows(2).filter(|p| p[1] != p[0] + 1).count();
        assert!(
            band_cols.len() > 700 && band_gaps == 0,
            "band hatched: {band_gaps} gaps"
        );
    }
}
