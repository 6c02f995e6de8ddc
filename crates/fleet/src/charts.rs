//! Charts as SVG text, drawn by hand (no plotters): the webview renders the text with its
//! own fonts, so Chinese labels need no font files here, the charts scale with the page,
//! print sharply, and SVG strings are easy to pin in tests. Colours follow ISA-101:
//! data in dark grey, limits in mid grey, only violations in colour.

use bonder_core::spc::ImrChart;
use std::fmt::Write as _;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A plot area mapping data to pixels.
struct Area {
    x0: f64,
    y0: f64,
    w: f64,
    h: f64,
    lo: f64,
    hi: f64,
    n: usize,
}

impl Area {
    fn x(&self, i: usize) -> f64 {
        if self.n <= 1 {
            self.x0 + self.w / 2.0
        } else {
            self.x0 + self.w * i as f64 / (self.n - 1) as f64
        }
    }
    fn y(&self, v: f64) -> f64 {
        let span = (self.hi - self.lo).max(1e-9);
        self.y0 + self.h - (v - self.lo) / span * self.h
    }
}

fn hline(s: &mut String, a: &Area, v: f64, label: &str, dash: bool, class: &str) {
    let y = a.y(v);
    let _ = write!(
        s,
        r##"<line class="{class}" x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#8a8a8a" stroke-width="1" {}/><text x="{:.1}" y="{:.1}" font-size="11" fill="#555">{} {}</text>"##,
        a.x0,
        a.x0 + a.w,
        if dash {
            r#"stroke-dasharray="4 3""#
        } else {
            ""
        },
        a.x0 + a.w + 4.0,
        y + 4.0,
        esc(label),
        fmt_num(v)
    );
}

fn fmt_num(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn polyline(s: &mut String, a: &Area, ys: &[f64]) {
    let pts: Vec<String> = ys
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{:.1},{:.1}", a.x(i), a.y(*v)))
        .collect();
    let _ = write!(
        s,
        r##"<polyline fill="none" stroke="#333" stroke-width="1.2" points="{}"/>"##,
        pts.join(" ")
    );
}

/// Labels of an I-MR chart (already translated).
#[derive(Debug, Clone, Default)]
pub struct ImrLabels {
    pub title: String,
    pub individuals: String,
    pub moving_range: String,
    pub lsl: String,
    pub usl: String,
}

/// An I-MR chart: individuals with CL/UCL/LCL and the spec limits, moving ranges below;
/// points that break a Western Electric rule are drawn red and labelled with the rule.
pub fn imr_svg(c: &ImrChart, lsl: Option<f64>, usl: Option<f64>, l: &ImrLabels) -> String {
    let (w, h) = (760.0, 420.0);
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" class="chart imr" font-family="sans-serif"><rect width="{w}" height="{h}" fill="#f4f4f4"/><text x="10" y="18" font-size="14" fill="#222">{}</text>"##,
        esc(&l.title)
    );
    let mut lo = c
        .x_lcl
        .min(c.x.iter().copied().fold(f64::INFINITY, f64::min));
    let mut hi = c
        .x_ucl
        .max(c.x.iter().copied().fold(f64::NEG_INFINITY, f64::max));
    for v in [lsl, usl].into_iter().flatten() {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    let pad = (hi - lo).max(1e-6) * 0.08;
    let a = Area {
        x0: 50.0,
        y0: 36.0,
        w: 620.0,
        h: 220.0,
        lo: lo - pad,
        hi: hi + pad,
        n: c.x.len(),
    };
    let _ = write!(
        s,
        r##"<text x="10" y="{:.1}" font-size="11" fill="#555">{}</text>"##,
        a.y0 - 4.0,
        esc(&l.individuals)
    );
    hline(&mut s, &a, c.x_cl, "CL", false, "cl");
    hline(&mut s, &a, c.x_ucl, "UCL", true, "ucl");
    hline(&mut s, &a, c.x_lcl, "LCL", true, "lcl");
    if let Some(v) = lsl {
        hline(&mut s, &a, v, &l.lsl, false, "lsl");
    }
    if let Some(v) = usl {
        hline(&mut s, &a, v, &l.usl, false, "usl");
    }
    polyline(&mut s, &a, &c.x);
    for (i, v) in c.x.iter().enumerate() {
        let rules: Vec<u8> = c
            .violations
            .iter()
            .filter(|x| x.index == i)
            .map(|x| x.rule.number())
            .collect();
        if rules.is_empty() {
            let _ = write!(
                s,
                r##"<circle cx="{:.1}" cy="{:.1}" r="2" fill="#333"/>"##,
                a.x(i),
                a.y(*v)
            );
        } else {
            let r: Vec<String> = rules.iter().map(u8::to_string).collect();
            let _ = write!(
                s,
                r##"<circle class="we" cx="{:.1}" cy="{:.1}" r="4" fill="#d01c1c"/><text x="{:.1}" y="{:.1}" font-size="10" fill="#d01c1c">{}</text>"##,
                a.x(i),
                a.y(*v),
                a.x(i) + 4.0,
                a.y(*v) - 5.0,
                r.join(",")
            );
        }
    }
    let mr_hi = c.mr_ucl.max(c.mr.iter().copied().fold(0.0, f64::max));
    let b = Area {
        x0: 50.0,
        y0: 296.0,
        w: 620.0,
        h: 100.0,
        lo: 0.0,
        hi: mr_hi * 1.1 + 1e-9,
        n: c.x.len(),
    };
    let _ = write!(
        s,
        r##"<text x="10" y="{:.1}" font-size="11" fill="#555">{}</text>"##,
        b.y0 - 6.0,
        esc(&l.moving_range)
    );
    hline(&mut s, &b, c.mr_cl, "MR̄", false, "mrcl");
    hline(&mut s, &b, c.mr_ucl, "UCL", true, "mrucl");
    // MR[i] belongs to point i+1.
    let mut mr = vec![f64::NAN];
    mr.extend_from_slice(&c.mr);
    let pts: Vec<String> = mr
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, v)| format!("{:.1},{:.1}", b.x(i), b.y(*v)))
        .collect();
    let _ = write!(
        s,
        r##"<polyline fill="none" stroke="#333" stroke-width="1" points="{}"/></svg>"##,
        pts.join(" ")
    );
    s
}

/// A line chart of one series over time buckets (yield trend), with an optional
/// reference line.
pub fn trend_svg(
    title: &str,
    xs: &[String],
    ys: &[f64],
    lo: f64,
    hi: f64,
    reference: Option<(f64, &str)>,
) -> String {
    let (w, h) = (520.0, 220.0);
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" class="chart trend" font-family="sans-serif"><rect width="{w}" height="{h}" fill="#f4f4f4"/><text x="10" y="18" font-size="13" fill="#222">{}</text>"##,
        esc(title)
    );
    let a = Area {
        x0: 46.0,
        y0: 30.0,
        w: 400.0,
        h: 150.0,
        lo,
        hi,
        n: ys.len(),
    };
    for v in [lo, hi] {
        hline(&mut s, &a, v, "", false, "axis");
    }
    if let Some((v, label)) = reference {
        hline(&mut s, &a, v, label, true, "ref");
    }
    if !ys.is_empty() {
        let clamped: Vec<f64> = ys.iter().map(|v| v.clamp(lo, hi)).collect();
        polyline(&mut s, &a, &clamped);
        for (i, v) in clamped.iter().enumerate() {
            let _ = write!(
                s,
                r##"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="#333"/>"##,
                a.x(i),
                a.y(*v)
            );
        }
    }
    if let (Some(f), Some(l)) = (xs.first(), xs.last()) {
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="200" font-size="10" fill="#555">{}</text><text x="{:.1}" y="200" font-size="10" fill="#555" text-anchor="end">{}</text>"##,
            a.x0,
            esc(f),
            a.x0 + a.w,
            esc(l)
        );
    }
    s.push_str("</svg>");
    s
}

/// Horizontal bars (rejects by defect type).
pub fn bars_svg(title: &str, items: &[(String, u64)]) -> String {
    let row = 24.0;
    let h = 34.0 + row * items.len().max(1) as f64;
    let w = 520.0;
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" class="chart bars" font-family="sans-serif"><rect width="{w}" height="{h}" fill="#f4f4f4"/><text x="10" y="18" font-size="13" fill="#222">{}</text>"##,
        esc(title)
    );
    let max = items.iter().map(|(_, n)| *n).max().unwrap_or(1).max(1) as f64;
    for (i, (label, n)) in items.iter().enumerate() {
        let y = 30.0 + row * i as f64;
        let bw = 330.0 * *n as f64 / max;
        let _ = write!(
            s,
            r##"<text x="10" y="{:.1}" font-size="12" fill="#333">{}</text><rect x="140" y="{y:.1}" width="{bw:.1}" height="16" fill="#6b6b6b"/><text x="{:.1}" y="{:.1}" font-size="12" fill="#333">{n}</text>"##,
            y + 12.0,
            esc(label),
            146.0 + bw,
            y + 12.0
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn violations_are_red() {
        let c = bonder_core::spc::imr(&[0.0, 0.1, -0.1, 0.0, 0.1, 5.0]).unwrap();
        let svg = imr_svg(&c, Some(-1.0), Some(1.0), &ImrLabels::default());
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains(r#"class="we""#));
        let b = bars_svg("<x>", &[("nsop".into(), 3)]);
        assert!(b.contains("&lt;x&gt;"));
    }
}
