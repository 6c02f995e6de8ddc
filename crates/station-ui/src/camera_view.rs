//! The camera view: a greyscale frame scaled into the page's image (zoom and pan), with
//! the vision's overlays drawn into the same pixel buffer: crosshair on the bond site,
//! the taught ROI, every found pad, the ball circle and its offset vector.
//!
//! ISA-101: overlays are grey and white; only the bond site's marks of an **abnormal**
//! verdict are drawn in the theme's abnormal colour.

use bonder_camera::Frame;
use bonder_vision::{FrameInspection, Roi, VisionVerdict};
use slint::{Rgb8Pixel, SharedPixelBuffer};

/// The offset vector is drawn this many times longer than it is (a few µm are a few px).
pub const OFFSET_GAIN: f64 = 10.0;

const WHITE: Rgb8Pixel = Rgb8Pixel {
    r: 245,
    g: 245,
    b: 245,
};
const GREY: Rgb8Pixel = Rgb8Pixel {
    r: 175,
    g: 175,
    b: 175,
};
const BLACK: Rgb8Pixel = Rgb8Pixel {
    r: 20,
    g: 20,
    b: 20,
};
/// Theme.abnormal (#d9640b).
pub const ABNORMAL: Rgb8Pixel = Rgb8Pixel {
    r: 0xd9,
    g: 0x64,
    b: 0x0b,
};
/// Outside the frame.
const LETTERBOX: Rgb8Pixel = Rgb8Pixel {
    r: 48,
    g: 48,
    b: 48,
};

/// What part of the frame is shown: `zoom` 1 fits the whole frame, `centre` is the frame
/// point at the middle of the view (frame px).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct View {
    pub zoom: f64,
    pub centre: [f64; 2],
}

/// The frame ↔ screen mapping of one draw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mapping {
    /// Screen px per frame px.
    pub scale: f64,
    pub centre: [f64; 2],
    pub screen: [f64; 2],
}

impl Mapping {
    /// The mapping of `view` of a `fw`×`fh` frame into a `w`×`h` image; the centre is
    /// clamped so the view never leaves the frame.
    pub fn new(view: &View, fw: u32, fh: u32, w: u32, h: u32) -> Mapping {
        let (fw, fh, w, h) = (
            f64::from(fw.max(1)),
            f64::from(fh.max(1)),
            f64::from(w.max(1)),
            f64::from(h.max(1)),
        );
        let scale = (w / fw).min(h / fh) * view.zoom.max(1.0);
        let clamp = |c: f64, size: f64, screen: f64| {
            let half = screen / scale / 2.0;
            let mid = (size - 1.0) / 2.0;
            if half * 2.0 >= size {
                mid
            } else {
                c.clamp(half - 0.5, size - 0.5 - half)
            }
        };
        Mapping {
            scale,
            centre: [clamp(view.centre[0], fw, w), clamp(view.centre[1], fh, h)],
            screen: [w, h],
        }
    }

    /// Frame px → screen px.
    pub fn to_screen(&self, p: [f64; 2]) -> [f64; 2] {
        [
            (p[0] - self.centre[0]) * self.scale + self.screen[0] / 2.0,
            (p[1] - self.centre[1]) * self.scale + self.screen[1] / 2.0,
        ]
    }

    /// Screen px → frame px.
    pub fn to_frame(&self, s: [f64; 2]) -> [f64; 2] {
        [
            (s[0] - self.screen[0] / 2.0) / self.scale + self.centre[0],
            (s[1] - self.screen[1] / 2.0) / self.scale + self.centre[1],
        ]
    }
}

/// What to draw on top of the picture.
#[derive(Debug, Clone, Copy, Default)]
pub struct Overlay<'a> {
    pub inspection: Option<&'a FrameInspection>,
    /// The taught ROI (frame px).
    pub taught: Option<Roi>,
    /// The ROI being drawn in teach mode (frame px).
    pub draft: Option<Roi>,
    /// Thinner marks, no crosshair gap (the production page's tile).
    pub compact: bool,
}

/// A text drawn by the page over the image (pad scores), at screen px.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub x: f64,
    pub y: f64,
    pub text: String,
    pub abnormal: bool,
}

/// Draws `view` of `frame` with `overlay` into a `w`×`h` RGB image; returns it with the
/// labels the page puts over it.
pub fn render(
    frame: &Frame,
    view: &View,
    overlay: &Overlay<'_>,
    w: u32,
    h: u32,
) -> (SharedPixelBuffer<Rgb8Pixel>, Vec<Label>, Mapping) {
    let map = Mapping::new(view, frame.width, frame.height, w, h);
    let mut buf = SharedPixelBuffer::<Rgb8Pixel>::new(w, h);
    let (wu, hu) = (w as usize, h as usize);
    let (fw, fh) = (frame.width as usize, frame.height as usize);
    {
        let px = buf.make_mut_slice();
        // Nearest neighbour: the frame column of every screen column, once.
        let col = |u: usize, len: usize, axis: usize| -> Option<usize> {
            let f = (u as f64 + 0.5 - map.screen[axis] / 2.0) / map.scale + map.centre[axis];
            let i = f.round();
            (i >= 0.0 && (i as usize) < len).then_some(i as usize)
        };
        let xs: Vec<Option<usize>> = (0..wu).map(|u| col(u, fw, 0)).collect();
        for v in 0..hu {
            let row = &mut px[v * wu..(v + 1) * wu];
            match col(v, fh, 1) {
                Some(fy) => {
                    let src = &frame.pixels[fy * fw..(fy + 1) * fw];
                    for (dst, x) in row.iter_mut().zip(&xs) {
                        *dst = match x {
                            Some(x) => {
                                let g = src[*x];
                                Rgb8Pixel { r: g, g, b: g }
                            }
                            None => LETTERBOX,
                        };
                    }
                }
                None => row.fill(LETTERBOX),
            }
        }
    }
    let mut c = Canvas {
        px: buf.make_mut_slice(),
        w: wu as i64,
        h: hu as i64,
    };
    let labels = draw_overlay(&mut c, frame, &map, overlay);
    (buf, labels, map)
}

fn draw_overlay(c: &mut Canvas<'_>, frame: &Frame, map: &Mapping, o: &Overlay<'_>) -> Vec<Label> {
    let thick = if o.compact { 1 } else { 2 };
    // Crosshair on the bond site (the image centre), with a gap so the ball stays visible.
    let site = map.to_screen([
        (f64::from(frame.width) - 1.0) / 2.0,
        (f64::from(frame.height) - 1.0) / 2.0,
    ]);
    let gap = if o.compact {
        6.0
    } else {
        40.0 * map.scale.max(0.3)
    };
    let (sx, sy) = (site[0], site[1]);
    for (a, b) in [
        ([0.0, sy], [sx - gap, sy]),
        ([sx + gap, sy], [map.screen[0], sy]),
        ([sx, 0.0], [sx, sy - gap]),
        ([sx, sy + gap], [sx, map.screen[1]]),
    ] {
        c.dashed(a, b, GREY, 1, 10.0, 6.0);
    }
    let rect = |c: &mut Canvas<'_>, r: Roi, col: Rgb8Pixel, t: i64, dashed: bool| {
        let p0 = map.to_screen([f64::from(r.x) - 0.5, f64::from(r.y) - 0.5]);
        let p1 = map.to_screen([
            f64::from(r.x + r.width) - 0.5,
            f64::from(r.y + r.height) - 0.5,
        ]);
        let corners = [p0, [p1[0], p0[1]], p1, [p0[0], p1[1]], p0];
        for k in 0..4 {
            if dashed {
                c.dashed(corners[k], corners[k + 1], col, t, 8.0, 5.0);
            } else {
                c.line(corners[k], corners[k + 1], col, t);
            }
        }
    };
    if let Some(r) = o.taught {
        rect(c, r, WHITE, 1, true);
    }
    let mut labels = Vec::new();
    if let Some(fi) = o.inspection {
        let site_insp = fi.site.as_ref();
        let abnormal = site_insp.is_some_and(|s| !s.verdict.is_ok());
        let colour = if abnormal { ABNORMAL } else { WHITE };
        let site_pad = site_insp.and_then(|s| s.pad);
        for p in &fi.pads {
            let is_site = site_pad.is_some_and(|s| s.centre == p.centre);
            let r0 = map.to_screen([p.top_left[0] - 0.5, p.top_left[1] - 0.5]);
            let r1 = map.to_screen([
                p.top_left[0] + f64::from(p.width) - 0.5,
                p.top_left[1] + f64::from(p.height) - 0.5,
            ]);
            let (col, t) = if is_site { (colour, thick) } else { (GREY, 1) };
            let corners = [r0, [r1[0], r0[1]], r1, [r0[0], r1[1]], r0];
            for k in 0..4 {
                c.line(corners[k], corners[k + 1], col, t);
            }
            if !o.compact && r0[0] >= 0.0 && r0[1] >= 18.0 && r0[0] < map.screen[0] - 30.0 {
                labels.push(Label {
                    x: r0[0],
                    y: r0[1] - 20.0,
                    text: format!("{:.2}", p.score),
                    abnormal: is_site && abnormal,
                });
            }
        }
        if let Some(s) = site_insp {
            if let Some(b) = s.ball {
                let centre = map.to_screen(b.centre_px);
                c.circle(centre, b.diameter_px / 2.0 * map.scale, colour, thick);
                c.cross(centre, 4.0, colour, 1);
                if let Some(pad) = s.pad {
                    // Offset vector from the pad centre, magnified.
                    let from = map.to_screen(pad.centre);
                    let d = [
                        b.centre_px[0] - pad.centre[0],
                        b.centre_px[1] - pad.centre[1],
                    ];
                    let to = [
                        from[0] + d[0] * OFFSET_GAIN * map.scale,
                        from[1] + d[1] * OFFSET_GAIN * map.scale,
                    ];
                    c.cross(from, 5.0, GREY, 1);
                    c.arrow(from, to, colour, thick);
                }
            } else if s.verdict == VisionVerdict::Missing {
                if let Some(pad) = s.pad {
                    // Where the ball should be.
                    let centre = map.to_screen(pad.centre);
                    let r = f64::from(pad.width.min(pad.height)) * 0.3 * map.scale;
                    c.dashed_circle(centre, r, ABNORMAL, thick);
                }
            }
        }
    }
    if let Some(r) = o.draft {
        rect(c, r, WHITE, 2, false);
        rect(
            c,
            Roi {
                x: r.x.saturating_sub(1),
                y: r.y.saturating_sub(1),
                width: r.width + 2,
                height: r.height + 2,
            },
            BLACK,
            1,
            false,
        );
    }
    labels
}

/// An RGB buffer to draw marks into (clipped).
struct Canvas<'a> {
    px: &'a mut [Rgb8Pixel],
    w: i64,
    h: i64,
}

impl Canvas<'_> {
    fn dot(&mut self, x: i64, y: i64, c: Rgb8Pixel, t: i64) {
        let r0 = -(t - 1) / 2;
        for dy in r0..r0 + t {
            for dx in r0..r0 + t {
                let (px, py) = (x + dx, y + dy);
                if px >= 0 && py >= 0 && px < self.w && py < self.h {
                    self.px[(py * self.w + px) as usize] = c;
                }
            }
        }
    }

    fn line(&mut self, a: [f64; 2], b: [f64; 2], c: Rgb8Pixel, t: i64) {
        self.dashed(a, b, c, t, f64::INFINITY, 0.0);
    }

    /// A line of `on` px dashes with `off` px gaps (`on` infinite: solid).
    fn dashed(&mut self, a: [f64; 2], b: [f64; 2], c: Rgb8Pixel, t: i64, on: f64, off: f64) {
        let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
        let len = dx.hypot(dy);
        if !len.is_finite() {
            return;
        }
        // Clip to a generous box so a far zoom does not walk millions of points.
        let lim = (self.w.max(self.h) * 4) as f64;
        if a[0].abs().max(a[1].abs()).max(b[0].abs()).max(b[1].abs()) > lim {
            return;
        }
        let steps = len.ceil().max(1.0) as usize;
        for i in 0..=steps {
            let s = i as f64;
            if on.is_finite() && s % (on + off) >= on {
                continue;
            }
            let f = s / steps as f64;
            self.dot(
                (a[0] + dx * f).floor() as i64,
                (a[1] + dy * f).floor() as i64,
                c,
                t,
            );
        }
    }

    fn circle(&mut self, centre: [f64; 2], r: f64, c: Rgb8Pixel, t: i64) {
        self.arc(centre, r, c, t, false);
    }

    fn dashed_circle(&mut self, centre: [f64; 2], r: f64, c: Rgb8Pixel, t: i64) {
        self.arc(centre, r, c, t, true);
    }

    fn arc(&mut self, centre: [f64; 2], r: f64, c: Rgb8Pixel, t: i64, dashed: bool) {
        if !(r.is_finite() && r > 0.0) || r > (self.w.max(self.h) * 4) as f64 {
            return;
        }
        let n = ((std::f64::consts::TAU * r).ceil() as usize).max(16);
        for i in 0..n {
            if dashed && (i * 12 / n) % 2 == 1 {
                continue;
            }
            let a = std::f64::consts::TAU * i as f64 / n as f64;
            self.dot(
                (centre[0] + r * a.cos()).floor() as i64,
                (centre[1] + r * a.sin()).floor() as i64,
                c,
                t,
            );
        }
    }

    fn cross(&mut self, p: [f64; 2], r: f64, c: Rgb8Pixel, t: i64) {
        self.line([p[0] - r, p[1]], [p[0] + r, p[1]], c, t);
        self.line([p[0], p[1] - r], [p[0], p[1] + r], c, t);
    }

    fn arrow(&mut self, a: [f64; 2], b: [f64; 2], c: Rgb8Pixel, t: i64) {
        self.line(a, b, c, t);
        let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
        let len = dx.hypot(dy);
        if len < 4.0 {
            return;
        }
        let (ux, uy) = (dx / len, dy / len);
        let head = 8.0_f64.min(len / 2.0);
        for s in [1.0, -1.0] {
            let (px, py) = (-uy * s, ux * s);
            self.line(
                b,
                [
                    b[0] - ux * head + px * head * 0.5,
                    b[1] - uy * head + py * head * 0.5,
                ],
                c,
                t,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn mapping_round_trips_and_fits() {
        let v = View {
            zoom: 1.0,
            centre: [0.0, 0.0],
        };
        let m = Mapping::new(&v, 1024, 768, 512, 512);
        assert!((m.scale - 0.5).abs() < 1e-12);
        // At zoom 1 the whole frame is in view: the centre is the frame's.
        assert_eq!(m.centre, [511.5, 383.5]);
        let p = [100.0, 200.0];
        let q = m.to_frame(m.to_screen(p));
        assert!((q[0] - p[0]).abs() < 1e-9 && (q[1] - p[1]).abs() < 1e-9);
        // Zoomed in, the view may move but not leave the frame.
        let m = Mapping::new(
            &View {
                zoom: 4.0,
                centre: [0.0, 1e6],
            },
            1024,
            768,
            512,
            512,
        );
        let tl = m.to_frame([0.0, 0.0]);
        let br = m.to_frame([512.0, 512.0]);
        assert!(
            tl[0] >= -0.5 - 1e-9 && br[1] <= 767.5 + 1e-9,
            "{tl:?} {br:?}"
        );
    }

    #[test]
    fn renders_the_frame_and_the_crosshair() {
        let mut f = Frame::new(400, 300);
        f.pixels.fill(100);
        let view = View {
            zoom: 1.0,
            centre: [199.5, 149.5],
        };
        let (buf, labels, _) = render(&f, &view, &Overlay::default(), 400, 300);
        assert!(labels.is_empty());
        let px = buf.as_slice();
        assert_eq!(
            px[5 * 400 + 5],
            Rgb8Pixel {
                r: 100,
                g: 100,
                b: 100
            }
        );
        // The crosshair's horizontal line through the centre row, left of the gap.
        let row = 150;
        assert!(px[row * 400..row * 400 + 20].contains(&GREY));
        assert!(!px[5 * 400..5 * 400 + 20].contains(&GREY));
    }
}
