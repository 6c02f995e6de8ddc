//! Pull and shear test results: what a bench tester measured on a sample of wires, read
//! from its export file or typed in on the station's keypad. The station stores them per
//! wire, joined to the bond records, and fits its strength prediction on them.
//!
//! The tester's export (`docs/pull-tester-csv.md`): a header
//! `unit,wire,test,force_gf,mode,time` (any column order, names case-insensitive), then
//! one row per tested wire; `test` is `pull` or `shear`, `force_gf` a number of gram-force
//! above 0 and below 1 000, `mode` the failure mode, `time` the bench's time. A file with
//! any bad line is refused whole, naming every bad line.

use std::fmt;

/// Which destructive test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TestKind {
    Pull,
    Shear,
}

impl TestKind {
    pub fn name(self) -> &'static str {
        match self {
            TestKind::Pull => "pull",
            TestKind::Shear => "shear",
        }
    }

    pub fn from_name(s: &str) -> Option<TestKind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "pull" | "wire pull" | "wp" => Some(TestKind::Pull),
            "shear" | "ball shear" | "bs" => Some(TestKind::Shear),
            _ => None,
        }
    }
}

/// The failure modes a tester reports.
pub const MODES: [&str; 7] = [
    "neck_break",
    "ball_lift",
    "heel_break",
    "stitch_lift",
    "cratering",
    "ball_shear",
    "mid_span",
];

/// One tested wire.
#[derive(Debug, Clone, PartialEq)]
pub struct TestResult {
    pub unit: u32,
    pub wire: u16,
    pub test: TestKind,
    pub force_gf: f64,
    pub mode: String,
    /// The bench's time as it wrote it.
    pub time: String,
}

/// Why a line of a tester file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// 1-based line number in the file.
    pub line: usize,
    pub why: BadField,
}

/// What was wrong with a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadField {
    /// The header lacks a column.
    MissingColumn(&'static str),
    /// Fewer fields than the header has.
    Short {
        want: usize,
        got: usize,
    },
    Unit(String),
    Wire(String),
    Test(String),
    Force(String),
    Mode(String),
    /// The file has no result at all.
    Empty,
}

impl BadLine {
    pub fn text_en(&self) -> String {
        self.text(false)
    }

    pub fn text_zh(&self) -> String {
        self.text(true)
    }

    fn text(&self, zh: bool) -> String {
        let l = self.line;
        match &self.why {
            BadField::MissingColumn(c) if zh => format!("第 {l} 行：表头缺少列 {c}"),
            BadField::MissingColumn(c) => format!("line {l}: the header has no column {c}"),
            BadField::Short { want, got } if zh => {
                format!("第 {l} 行：应有 {want} 个字段，只有 {got} 个")
            }
            BadField::Short { want, got } => format!("line {l}: {got} fields, {want} expected"),
            BadField::Unit(v) if zh => format!("第 {l} 行：单元号 “{v}” 不是正整数"),
            BadField::Unit(v) => format!("line {l}: unit “{v}” is not a whole number above 0"),
            BadField::Wire(v) if zh => format!("第 {l} 行：线号 “{v}” 不是 1–65535 的整数"),
            BadField::Wire(v) => format!("line {l}: wire “{v}” is not a whole number 1–65535"),
            BadField::Test(v) if zh => format!("第 {l} 行：测试类型 “{v}” 应为 pull 或 shear"),
            BadField::Test(v) => format!("line {l}: test “{v}” is neither pull nor shear"),
            BadField::Force(v) if zh => format!("第 {l} 行：力值 “{v}” 不在 0–1000 gf 之间"),
            BadField::Force(v) => format!("line {l}: force “{v}” is not a number of gf in 0–1000"),
            BadField::Mode(v) if zh => format!("第 {l} 行：未知的失效模式 “{v}”"),
            BadField::Mode(v) => format!("line {l}: unknown failure mode “{v}”"),
            BadField::Empty if zh => "文件中没有测试结果".to_string(),
            BadField::Empty => "the file holds no test result".to_string(),
        }
    }
}

/// Both languages: `English / 中文`.
impl fmt::Display for BadLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} / {}", self.text_en(), self.text_zh())
    }
}

/// Checks one result (also for keypad entry).
pub fn check(
    unit: &str,
    wire: &str,
    test: &str,
    force: &str,
    mode: &str,
) -> Result<(u32, u16, TestKind, f64, String), BadField> {
    let unit_v = unit
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|&u| u > 0)
        .ok_or_else(|| BadField::Unit(unit.trim().to_string()))?;
    let wire_v = wire
        .trim()
        .parse::<u16>()
        .ok()
        .filter(|&w| w > 0)
        .ok_or_else(|| BadField::Wire(wire.trim().to_string()))?;
    let test_v =
        TestKind::from_name(test).ok_or_else(|| BadField::Test(test.trim().to_string()))?;
    let force_v = force
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite() && *f > 0.0 && *f < 1000.0)
        .ok_or_else(|| BadField::Force(force.trim().to_string()))?;
    let mode_v = mode.trim().to_ascii_lowercase().replace([' ', '-'], "_");
    if !MODES.contains(&mode_v.as_str()) {
        return Err(BadField::Mode(mode.trim().to_string()));
    }
    Ok((unit_v, wire_v, test_v, force_v, mode_v))
}

/// Parses a tester's export; every bad line is named (nothing is taken from a bad file).
pub fn parse_csv(text: &str) -> Result<Vec<TestResult>, Vec<BadLine>> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((hl, header)) = lines.next() else {
        return Err(vec![BadLine {
            line: 1,
            why: BadField::Empty,
        }]);
    };
    let cols: Vec<String> = header
        .trim_start_matches('\u{feff}')
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    let mut idx = [0usize; 6];
    let mut bad = Vec::new();
    for (k, name) in ["unit", "wire", "test", "force_gf", "mode", "time"]
        .into_iter()
        .enumerate()
    {
        match cols.iter().position(|c| c == name) {
            Some(i) => idx[k] = i,
            None => bad.push(BadLine {
                line: hl,
                why: BadField::MissingColumn(name),
            }),
        }
    }
    if !bad.is_empty() {
        return Err(bad);
    }
    let mut out = Vec::new();
    for (n, line) in lines {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() < cols.len() {
            bad.push(BadLine {
                line: n,
                why: BadField::Short {
                    want: cols.len(),
                    got: f.len(),
                },
            });
            continue;
        }
        match check(f[idx[0]], f[idx[1]], f[idx[2]], f[idx[3]], f[idx[4]]) {
            Ok((unit, wire, test, force_gf, mode)) => out.push(TestResult {
                unit,
                wire,
                test,
                force_gf,
                mode,
                time: f[idx[5]].trim().to_string(),
            }),
            Err(why) => bad.push(BadLine { line: n, why }),
        }
    }
    if !bad.is_empty() {
        return Err(bad);
    }
    if out.is_empty() {
        return Err(vec![BadLine {
            line: hl,
            why: BadField::Empty,
        }]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tester_file_is_read_in_any_column_order() {
        let f = "\u{feff}Time,Unit,Wire,Test,Force_gf,Mode\r\n\
                 2026-12-03 10:00:01,380,1,pull,7.31,neck_break\r\n\
                 2026-12-03 10:00:02,380,2,Shear,21.9,Ball Shear\r\n\r\n";
        let r = parse_csv(f).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(r.len(), 2);
        assert_eq!(
            r[1],
            TestResult {
                unit: 380,
                wire: 2,
                test: TestKind::Shear,
                force_gf: 21.9,
                mode: "ball_shear".into(),
                time: "2026-12-03 10:00:02".into(),
            }
        );
    }

    #[test]
    fn every_bad_line_is_named_in_both_languages() {
        let f = "unit,wire,test,force_gf,mode,time\n\
                 1,1,pull,7.3,neck_break,t\n\
                 x,1,pull,7.3,neck_break,t\n\
                 2,1,tensile,7.3,neck_break,t\n\
                 3,1,pull,-2,neck_break,t\n\
                 4,1\n";
        let e = parse_csv(f).err().unwrap_or_default();
        let lines: Vec<usize> = e.iter().map(|b| b.line).collect();
        assert_eq!(lines, [3, 4, 5, 6]);
        assert_eq!(
            e[0].text_en(),
            "line 3: unit “x” is not a whole number above 0"
        );
        assert_eq!(
            e[1].text_zh(),
            "第 4 行：测试类型 “tensile” 应为 pull 或 shear"
        );
        let e = parse_csv("unit,wire,force_gf,mode,time\n1,1,2,neck_break,t\n")
            .err()
            .unwrap_or_default();
        assert_eq!(e[0].why, BadField::MissingColumn("test"));
        assert_eq!(
            parse_csv("").err().unwrap_or_default()[0].why,
            BadField::Empty
        );
    }
}
