//! Pattern teach and pattern finding: normalised cross-correlation on a 2×2 pyramid,
//! coarse to fine, with a sub-pixel peak.
//!
//! Why our own NCC rather than `imageproc::template_matching`: that computes the full
//! correlation surface at one scale (for a 108 px pad template on 1024×768 about
//! 5·10⁹ multiply-adds), while a pyramid needs a full search only at the coarsest level
//! (1/8 scale) and a 5×5 neighbourhood per candidate below it; and a pad template needs a
//! *don't-care* centre (the ball sits there and moves from bond to bond), which
//! `imageproc` has no mask for. The inner loop here is integer (u8 × i16 → i32), which
//! the compiler vectorises; the denominators come from the same pass.

use crate::VisionError;
use crate::image::{GrayImage, ImageView, Pyramid};
use serde::{Deserialize, Serialize};

/// A rectangle of an image, px.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roi {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// Where a template's reference point (the point a match reports) lies.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Anchor {
    /// The ROI's centre.
    RoiCentre,
    /// The centre of the bright square pad in the ROI, found from its edges (sub-pixel);
    /// the ROI's centre when no pad edges are found.
    PadCentre,
    /// A point in ROI coordinates (pixel centres at integers).
    At([f64; 2]),
}

/// How to teach a template.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TeachOptions {
    pub anchor: Anchor,
    /// Side of the centred don't-care rectangle as a fraction of the ROI's (0: none).
    /// A pad template ignores its centre, where the ball is.
    pub ignore_centre: f64,
    /// Least NCC score of a match.
    pub min_score: f32,
}

impl Default for TeachOptions {
    fn default() -> Self {
        TeachOptions {
            anchor: Anchor::RoiCentre,
            ignore_centre: 0.0,
            min_score: 0.6,
        }
    }
}

impl TeachOptions {
    /// For a bond pad: an ROI around one pad (with a margin of die around it); the
    /// anchor is the pad's centre, the centre 70 % is ignored.
    pub fn pad() -> TeachOptions {
        TeachOptions {
            anchor: Anchor::PadCentre,
            ignore_centre: 0.7,
            min_score: 0.7,
        }
    }
}

/// A taught pattern: an image patch, its reference point and don't-care centre. It is
/// plain data (serde) so a recipe can carry it; [`Template::prepare`] makes the matcher.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    pub width: u32,
    pub height: u32,
    /// The patch, row-major (base64 in JSON).
    #[serde(with = "crate::b64")]
    pub pixels: Vec<u8>,
    /// Reference point in template coordinates (pixel centres at integers).
    pub anchor: [f64; 2],
    /// Don't-care rectangle `[x0, y0, x1, y1)` in template pixels.
    pub ignore: Option<[u32; 4]>,
    /// Where it was taught in the reference image (for the UI's overlay).
    pub roi: Roi,
    pub min_score: f32,
}

/// Templates smaller than this (either side) are refused.
pub const MIN_TEMPLATE: u32 = 12;

impl Template {
    /// Teaches the pattern in `roi` of `img`.
    pub fn teach(
        img: ImageView<'_>,
        roi: Roi,
        opts: &TeachOptions,
    ) -> Result<Template, VisionError> {
        if roi.width < MIN_TEMPLATE || roi.height < MIN_TEMPLATE {
            return Err(VisionError::RoiTooSmall(roi));
        }
        if (roi.x + roi.width) as usize > img.width()
            || (roi.y + roi.height) as usize > img.height()
        {
            return Err(VisionError::RoiOutside {
                roi,
                width: img.width() as u32,
                height: img.height() as u32,
            });
        }
        let patch = img.crop(
            roi.x as usize,
            roi.y as usize,
            roi.width as usize,
            roi.height as usize,
        );
        let (w, h) = (roi.width as f64, roi.height as f64);
        let centre = [(w - 1.0) / 2.0, (h - 1.0) / 2.0];
        let anchor = match opts.anchor {
            Anchor::RoiCentre => centre,
            Anchor::At(a) => a,
            Anchor::PadCentre => pad_centre(patch.view()).unwrap_or(centre),
        };
        let f = opts.ignore_centre.clamp(0.0, 0.9);
        let ignore = (f > 0.0).then(|| {
            let (iw, ih) = (w * f, h * f);
            let x0 = (anchor[0] - iw / 2.0 + 0.5).round().clamp(1.0, w - 1.0) as u32;
            let y0 = (anchor[1] - ih / 2.0 + 0.5).round().clamp(1.0, h - 1.0) as u32;
            let x1 = (anchor[0] + iw / 2.0 + 0.5)
                .round()
                .clamp(x0 as f64, w - 1.0) as u32;
            let y1 = (anchor[1] + ih / 2.0 + 0.5)
                .round()
                .clamp(y0 as f64, h - 1.0) as u32;
            [x0, y0, x1, y1]
        });
        let t = Template {
            width: roi.width,
            height: roi.height,
            pixels: patch.data,
            anchor,
            ignore,
            roi,
            min_score: opts.min_score,
        };
        // Refuse a flat patch now rather than at every match.
        t.prepare()?;
        Ok(t)
    }

    /// The matcher for this template.
    pub fn prepare(&self) -> Result<Matcher, VisionError> {
        let (w, h) = (self.width as usize, self.height as usize);
        if w < MIN_TEMPLATE as usize || h < MIN_TEMPLATE as usize || self.pixels.len() != w * h {
            return Err(VisionError::BadTemplate(format!(
                "{}x{} with {} pixels",
                self.width,
                self.height,
                self.pixels.len()
            )));
        }
        let base = GrayImage {
            width: w,
            height: h,
            data: self.pixels.clone(),
        };
        // Levels while the template keeps at least MIN_TEMPLATE px a side (at most 4 down).
        let mut levels = Vec::new();
        let mut img = base;
        for l in 0..5 {
            let scale = 1usize << l;
            let hole = self.ignore.map(|[x0, y0, x1, y1]| {
                let up = |v: u32| (v as usize).div_ceil(scale);
                let down = |v: u32| v as usize / scale;
                [up(x0), up(y0), down(x1), down(y1)]
            });
            match LevelTemplate::new(&img, hole) {
                Some(lt) => levels.push(lt),
                None if l == 0 => return Err(VisionError::FlatTemplate),
                None => break,
            }
            if img.width / 2 < MIN_TEMPLATE as usize || img.height / 2 < MIN_TEMPLATE as usize {
                break;
            }
            img = GrayImage::half(img.view());
        }
        let sides = match self.ignore {
            Some([x0, y0, x1, y1]) => LevelTemplate::sides(
                &GrayImage {
                    width: w,
                    height: h,
                    data: self.pixels.clone(),
                },
                [x0 as usize, y0 as usize, x1 as usize, y1 as usize],
            ),
            None => Vec::new(),
        };
        Ok(Matcher {
            levels,
            sides,
            anchor: self.anchor,
            min_score: self.min_score,
            width: w,
            height: h,
        })
    }
}

/// The centre of a bright square in a patch from its edges: the strongest rising edge of
/// the column means in the left half and the strongest falling one in the right half (and
/// the same for rows), each to a fraction of a pixel.
fn pad_centre(p: ImageView<'_>) -> Option<[f64; 2]> {
    let (w, h) = (p.width(), p.height());
    let mut cols = vec![0f64; w];
    let mut rows = vec![0f64; h];
    for (y, r) in rows.iter_mut().enumerate() {
        for (x, &v) in p.row(y).iter().enumerate() {
            cols[x] += f64::from(v);
            *r += f64::from(v);
        }
    }
    cols.iter_mut().for_each(|c| *c /= h as f64);
    rows.iter_mut().for_each(|r| *r /= w as f64);
    let cx = profile_centre(&cols)?;
    let cy = profile_centre(&rows)?;
    Some([cx, cy])
}

fn profile_centre(p: &[f64]) -> Option<f64> {
    let n = p.len();
    if n < 8 {
        return None;
    }
    let d: Vec<f64> = (0..n)
        .map(|i| {
            if i == 0 || i + 1 >= n {
                0.0
            } else {
                p[i + 1] - p[i - 1]
            }
        })
        .collect();
    let range =
        p.iter().cloned().fold(f64::MIN, f64::max) - p.iter().cloned().fold(f64::MAX, f64::min);
    let (mut li, mut ri) = (1, n - 2);
    for i in 1..n / 2 {
        if d[i] > d[li] {
            li = i;
        }
    }
    for i in n / 2..n - 1 {
        if d[i] < d[ri] {
            ri = i;
        }
    }
    // Both edges must be real: a fifth of the profile's range over two pixels.
    if d[li] < 0.2 * range || -d[ri] < 0.2 * range {
        return None;
    }
    let sub = |i: usize, s: f64| {
        let (a, b, c) = (s * d[i - 1], s * d[i], s * d[i + 1]);
        parabola(a, b, c) + i as f64
    };
    Some((sub(li, 1.0) + sub(ri, -1.0)) / 2.0)
}

/// Vertex offset of a parabola through (−1, a), (0, b), (1, c), clamped to ±0.5.
pub(crate) fn parabola(a: f64, b: f64, c: f64) -> f64 {
    let den = a - 2.0 * b + c;
    if den >= -1e-12 {
        return 0.0;
    }
    (0.5 * (a - c) / den).clamp(-0.5, 0.5)
}

/// One pyramid level of a prepared template.
#[derive(Debug, Clone)]
struct LevelTemplate {
    w: usize,
    h: usize,
    /// T − round(mean of the cared-for pixels); 0 in the hole.
    t: Vec<i16>,
    /// Cared-for runs: (row, x0, x1).
    spans: Vec<(usize, usize, usize)>,
    n: f64,
    sum_t: f64,
    /// Σ (T − mean)² over the cared-for pixels.
    sst: f64,
}

impl LevelTemplate {
    fn new(img: &GrayImage, hole: Option<[usize; 4]>) -> Option<LevelTemplate> {
        let (w, h) = (img.width, img.height);
        let mut spans = Vec::new();
        for y in 0..h {
            match hole {
                Some([x0, y0, x1, y1]) if y >= y0 && y < y1 && x1 > x0 => {
                    if x0 > 0 {
                        spans.push((y, 0, x0.min(w)));
                    }
                    if x1 < w {
                        spans.push((y, x1, w));
                    }
                }
                _ => spans.push((y, 0, w)),
            }
        }
        Self::from_spans(img, spans)
    }

    /// The four sides of the cared-for frame around a hole (top, bottom, left, right).
    fn sides(img: &GrayImage, hole: [usize; 4]) -> Vec<LevelTemplate> {
        let (w, h) = (img.width, img.height);
        let [x0, y0, x1, y1] = hole;
        let rows = |a: usize, b: usize, c0: usize, c1: usize| -> Vec<(usize, usize, usize)> {
            (a..b.min(h))
                .filter(|_| c1 > c0)
                .map(|y| (y, c0, c1.min(w)))
                .collect()
        };
        [
            rows(0, y0, 0, w),
            rows(y1, h, 0, w),
            rows(y0, y1, 0, x0),
            rows(y0, y1, x1, w),
        ]
        .into_iter()
        .filter_map(|sp| Self::from_spans(img, sp))
        .collect()
    }

    fn from_spans(img: &GrayImage, spans: Vec<(usize, usize, usize)>) -> Option<LevelTemplate> {
        let (w, h) = (img.width, img.height);
        let mut n = 0f64;
        let mut s = 0f64;
        let mut ss = 0f64;
        for &(y, x0, x1) in &spans {
            for &v in &img.data[y * w + x0..y * w + x1] {
                let v = f64::from(v);
                n += 1.0;
                s += v;
                ss += v * v;
            }
        }
        if n < 16.0 {
            return None;
        }
        let mean = s / n;
        let sst = ss - s * s / n;
        if sst < n * 4.0 {
            // Flatter than a standard deviation of 2 DN: nothing to match.
            return None;
        }
        let m = mean.round() as i16;
        let mut t = vec![0i16; w * h];
        let mut sum_t = 0f64;
        for &(y, x0, x1) in &spans {
            for x in x0..x1 {
                let v = i16::from(img.data[y * w + x]) - m;
                t[y * w + x] = v;
                sum_t += f64::from(v);
            }
        }
        Some(LevelTemplate {
            w,
            h,
            t,
            spans,
            n,
            sum_t,
            sst,
        })
    }

    /// NCC with the image at top-left (u, v); the caller keeps the window inside.
    #[inline]
    fn score(&self, img: ImageView<'_>, u: usize, v: usize) -> f32 {
        let mut sti = 0i64;
        let mut si = 0u64;
        let mut sii = 0u64;
        for &(y, x0, x1) in &self.spans {
            let irow = &img.row(v + y)[u + x0..u + x1];
            let trow = &self.t[y * self.w + x0..y * self.w + x1];
            let mut a = 0i32;
            let mut b = 0u32;
            let mut c = 0u32;
            for (&t, &i) in trow.iter().zip(irow) {
                let i32v = i32::from(i);
                a += i32::from(t) * i32v;
                b += u32::from(i);
                c += u32::from(i) * u32::from(i);
            }
            sti += i64::from(a);
            si += u64::from(b);
            sii += u64::from(c);
        }
        let si = si as f64;
        let var_i = sii as f64 - si * si / self.n;
        if var_i <= self.n * 0.25 {
            return 0.0;
        }
        let num = sti as f64 - self.sum_t * si / self.n;
        (num / (self.sst * var_i).sqrt()) as f32
    }
}

/// A prepared template: finds the pattern in images.
#[derive(Debug, Clone)]
pub struct Matcher {
    levels: Vec<LevelTemplate>,
    /// Level 0's four sides around the don't-care centre: each must match on its own.
    sides: Vec<LevelTemplate>,
    anchor: [f64; 2],
    min_score: f32,
    width: usize,
    height: usize,
}

/// A found pattern.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PadMatch {
    /// The template's reference point (the pad centre for a pad template), px.
    pub centre: [f64; 2],
    /// Top-left of the matched template window, px (sub-pixel), for the overlay box.
    pub top_left: [f64; 2],
    pub width: u32,
    pub height: u32,
    /// NCC score, −1..1.
    pub score: f32,
    /// The worst NCC score of the four sides around a don't-care centre (1 without one):
    /// a pad has all four edges, a lead finger's tip only three.
    pub worst_side: f32,
}

/// Candidates kept from the coarsest level.
const MAX_CANDIDATES: usize = 48;
/// Least coarse-level score of a candidate.
const COARSE_MIN: f32 = 0.45;
/// Least score of each side of a template with a don't-care centre.
pub const MIN_SIDE_SCORE: f32 = 0.5;

impl Matcher {
    pub fn width(&self) -> usize {
        self.width
    }
    pub fn height(&self) -> usize {
        self.height
    }
    pub fn anchor(&self) -> [f64; 2] {
        self.anchor
    }
    pub fn min_score(&self) -> f32 {
        self.min_score
    }
    /// Pyramid levels used (1: no pyramid).
    pub fn levels(&self) -> usize {
        self.levels.len()
    }

    /// Every match in the image scoring at least the template's `min_score`, best first.
    pub fn find_all(&self, img: ImageView<'_>) -> Vec<PadMatch> {
        self.find_all_min(img, self.min_score)
    }

    /// Every match scoring at least `min_score`, best first.
    pub fn find_all_min(&self, img: ImageView<'_>, min_score: f32) -> Vec<PadMatch> {
        let pyr = Pyramid::new(img, self.levels.len());
        let mut found = self.search(&pyr, min_score);
        found.sort_by(|a, b| b.score.total_cmp(&a.score));
        found
    }

    /// The best match whose reference point lies within `radius` px of `expected`.
    pub fn find_near(
        &self,
        img: ImageView<'_>,
        expected: [f64; 2],
        radius: f64,
    ) -> Option<PadMatch> {
        let r = radius.max(1.0).ceil() as i64 + 3;
        let x0 = (expected[0] - self.anchor[0]).round() as i64 - r;
        let y0 = (expected[1] - self.anchor[1]).round() as i64 - r;
        let (cx, cy) = (x0.max(0) as usize, y0.max(0) as usize);
        let crop = img.crop(
            cx,
            cy,
            self.width + 2 * r as usize + 1,
            self.height + 2 * r as usize + 1,
        );
        if crop.width < self.width || crop.height < self.height {
            return None;
        }
        let pyr = Pyramid::new(crop.view(), self.levels.len());
        let (ox, oy) = (cx as f64, cy as f64);
        self.search(&pyr, f32::MIN)
            .into_iter()
            .map(|mut m| {
                m.centre = [m.centre[0] + ox, m.centre[1] + oy];
                m.top_left = [m.top_left[0] + ox, m.top_left[1] + oy];
                m
            })
            .filter(|m| (m.centre[0] - expected[0]).hypot(m.centre[1] - expected[1]) <= radius)
            .max_by(|a, b| a.score.total_cmp(&b.score))
    }

    fn search(&self, pyr: &Pyramid<'_>, min_score: f32) -> Vec<PadMatch> {
        let top = self.levels.len().min(pyr.levels()) - 1;
        // Coarse level: the whole surface, its local maxima.
        let lt = &self.levels[top];
        let img = pyr.level(top);
        if img.width() < lt.w || img.height() < lt.h {
            return Vec::new();
        }
        let (nu, nv) = (img.width() - lt.w + 1, img.height() - lt.h + 1);
        let mut surf = vec![0f32; nu * nv];
        for v in 0..nv {
            for u in 0..nu {
                surf[v * nu + u] = lt.score(img, u, v);
            }
        }
        let mut cands: Vec<(f32, usize, usize)> = Vec::new();
        let coarse_min = COARSE_MIN.min(min_score);
        for v in 0..nv {
            for u in 0..nu {
                let s = surf[v * nu + u];
                if s < coarse_min {
                    continue;
                }
                let mut is_max = true;
                'n: for dv in -1i64..=1 {
                    for du in -1i64..=1 {
                        let (uu, vv) = (u as i64 + du, v as i64 + dv);
                        if (du != 0 || dv != 0)
                            && uu >= 0
                            && vv >= 0
                            && (uu as usize) < nu
                            && (vv as usize) < nv
                            && surf[vv as usize * nu + uu as usize] > s
                        {
                            is_max = false;
                            break 'n;
                        }
                    }
                }
                if is_max {
                    cands.push((s, u, v));
                }
            }
        }
        cands.sort_by(|a, b| b.0.total_cmp(&a.0));
        // Non-maximum suppression: half a template apart.
        let sep = (lt.w.min(lt.h) / 2).max(1) as i64;
        let mut kept: Vec<(f32, usize, usize)> = Vec::new();
        for c in cands {
            if kept.len() >= MAX_CANDIDATES {
                break;
            }
            if kept.iter().all(|k| {
                (k.1 as i64 - c.1 as i64).abs() > sep || (k.2 as i64 - c.2 as i64).abs() > sep
            }) {
                kept.push(c);
            }
        }
        // Down the pyramid: a 5×5 neighbourhood at each finer level.
        let mut out: Vec<PadMatch> = Vec::new();
        for (_, u, v) in kept {
            let (mut u, mut v) = (u as i64, v as i64);
            for l in (0..top).rev() {
                let (bu, bv, _) = self.best_near(pyr.level(l), l, 2 * u, 2 * v, 2);
                (u, v) = (bu, bv);
            }
            if let Some(m) = self.refine(pyr.level(0), u, v)
                && m.score >= min_score
                && (min_score == f32::MIN || m.worst_side >= MIN_SIDE_SCORE)
            {
                out.push(m);
            }
        }
        // Candidates that converged on the same match.
        out.sort_by(|a, b| b.score.total_cmp(&a.score));
        let sep = (self.width.min(self.height) / 2) as f64;
        let mut uniq: Vec<PadMatch> = Vec::new();
        for m in out {
            if uniq.iter().all(|k| {
                (k.centre[0] - m.centre[0]).abs() > sep || (k.centre[1] - m.centre[1]).abs() > sep
            }) {
                uniq.push(m);
            }
        }
        uniq
    }

    /// Best integer position within ±`r` of (u, v) at level `l`.
    fn best_near(&self, img: ImageView<'_>, l: usize, u: i64, v: i64, r: i64) -> (i64, i64, f32) {
        let lt = &self.levels[l];
        let (mu, mv) = (
            img.width() as i64 - lt.w as i64,
            img.height() as i64 - lt.h as i64,
        );
        let mut best = (u.clamp(0, mu.max(0)), v.clamp(0, mv.max(0)), f32::MIN);
        for vv in (v - r).max(0)..=(v + r).min(mv) {
            for uu in (u - r).max(0)..=(u + r).min(mu) {
                let s = lt.score(img, uu as usize, vv as usize);
                if s > best.2 {
                    best = (uu, vv, s);
                }
            }
        }
        best
    }

    /// Level 0: the best integer position near (u, v) (following the slope up to twice),
    /// then a parabola through the scores around it in x and in y.
    fn refine(&self, img: ImageView<'_>, u: i64, v: i64) -> Option<PadMatch> {
        let lt = &self.levels[0];
        let (mu, mv) = (
            img.width() as i64 - lt.w as i64,
            img.height() as i64 - lt.h as i64,
        );
        if mu < 0 || mv < 0 {
            return None;
        }
        let at = |uu: i64, vv: i64| -> Option<f32> {
            (uu >= 0 && vv >= 0 && uu <= mu && vv <= mv)
                .then(|| lt.score(img, uu as usize, vv as usize))
        };
        // The cross of scores around (u, v), following the slope up (at most 4 steps).
        let (mut u, mut v) = (u.clamp(0, mu), v.clamp(0, mv));
        let mut s0 = at(u, v).unwrap_or(f32::MIN);
        let mut cross;
        let mut steps = 0;
        loop {
            cross = [at(u - 1, v), at(u + 1, v), at(u, v - 1), at(u, v + 1)];
            let best = cross
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.map(|s| (i, s)))
                .max_by(|a, b| a.1.total_cmp(&b.1));
            match best {
                Some((i, s)) if s > s0 && steps < 4 => {
                    match i {
                        0 => u -= 1,
                        1 => u += 1,
                        2 => v -= 1,
                        _ => v += 1,
                    }
                    s0 = s;
                    steps += 1;
                }
                _ => break,
            }
        }
        let s = f64::from(s0);
        let dx = match (cross[0], cross[1]) {
            (Some(a), Some(c)) => parabola(f64::from(a), s, f64::from(c)),
            _ => 0.0,
        };
        let dy = match (cross[2], cross[3]) {
            (Some(a), Some(c)) => parabola(f64::from(a), s, f64::from(c)),
            _ => 0.0,
        };
        let tl = [u as f64 + dx, v as f64 + dy];
        let worst_side = self
            .sides
            .iter()
            .map(|t| t.score(img, u as usize, v as usize))
            .fold(1.0f32, f32::min);
        Some(PadMatch {
            centre: [tl[0] + self.anchor[0], tl[1] + self.anchor[1]],
            top_left: tl,
            width: self.width as u32,
            height: self.height as u32,
            score: s0,
            worst_side,
        })
    }
}
