//! CSV and XLSX exports with localized headers. Every text shown goes through a
//! caller's `tr(key)`; the keys are listed in [`EXPORT_KEYS`] (and, with English and
//! Chinese text, in `i18n/*/export.ftl`). Data cells stay machine-readable:
//! times RFC 3339 UTC, kinds and verdicts by their gateway names.

use crate::StoreError;
use crate::records::{BondRecord, E10State};
use crate::shift::ShiftSummary;
use crate::timefmt::rfc3339_ms;
use bonder_core::Defect;
use rust_xlsxwriter::{Format, Workbook};
use std::io::Write;
use std::path::Path;

/// Every localization key the exports use: bond columns, shift report rows, defect
/// names (`defect-<name>`, as the core names them) and E10 states.
pub const EXPORT_KEYS: &[&str] = &[
    "export-col-seq",
    "export-col-time",
    "export-col-unit",
    "export-col-wire",
    "export-col-kind",
    "export-col-verdict",
    "export-col-ctrl-verdict",
    "export-col-dx-um",
    "export-col-dy-um",
    "export-col-ball-um",
    "export-col-peak-force-gf",
    "export-col-us-energy-mj",
    "export-col-deform-um",
    "export-col-impedance-drop-pct",
    "export-col-tail-um",
    "export-col-recipe",
    "export-col-shift",
    "report-title",
    "report-item",
    "report-value",
    "report-shift",
    "report-operator",
    "report-team",
    "report-started",
    "report-ended",
    "report-bonds",
    "report-wires",
    "report-rejected-wires",
    "report-units",
    "report-yield-pct",
    "report-uph",
    "report-ideal-wires-per-hour",
    "report-availability-pct",
    "report-performance-pct",
    "report-quality-pct",
    "report-oee-pct",
    "report-alarms",
    "report-downtime-min",
    "report-rejects-by-defect",
    "defect-nsop",
    "defect-nsol",
    "defect-short_tail",
    "defect-ball_size",
    "defect-placement",
    "defect-curve",
    "report-minutes-by-e10-state",
    "e10-productive",
    "e10-standby",
    "e10-engineering",
    "e10-scheduled-down",
    "e10-unscheduled-down",
    "e10-non-scheduled",
    "report-note",
];

/// Column keys of the bond export, in column order: the first 17 of [`EXPORT_KEYS`].
const BOND_COLUMNS: &[&str] = EXPORT_KEYS.split_at(17).0;

/// UTF-8 byte order mark: spreadsheet programs read a CSV without it as ANSI.
const BOM: &str = "\u{feff}";

fn num(v: f32, decimals: usize) -> String {
    if v.is_finite() {
        format!("{v:.decimals$}")
    } else {
        String::new()
    }
}

pub(crate) fn bonds_csv(
    rows: impl Iterator<Item = Result<BondRecord, StoreError>>,
    out: &mut dyn Write,
    tr: &dyn Fn(&str) -> String,
) -> Result<u64, StoreError> {
    out.write_all(BOM.as_bytes())?;
    let mut w = csv::Writer::from_writer(out);
    w.write_record(BOND_COLUMNS.iter().map(|k| tr(k)))?;
    let mut n = 0u64;
    for b in rows {
        let b = b?;
        w.write_record([
            b.seq.to_string(),
            rfc3339_ms(b.time),
            b.unit.to_string(),
            b.wire.to_string(),
            b.kind.name().to_owned(),
            b.verdict.name().to_owned(),
            b.ctrl_verdict.to_string(),
            num(b.dx_um, 3),
            num(b.dy_um, 3),
            b.ball_um.map_or_else(String::new, |v| num(v, 3)),
            num(b.peak_force_gf, 3),
            num(b.us_energy_mj, 3),
            num(b.deform_um, 3),
            num(b.impedance_drop_pct, 2),
            b.tail_um.map_or_else(String::new, |v| num(v, 3)),
            b.recipe,
            b.shift_id.map_or_else(String::new, |s| s.to_string()),
        ])?;
        n += 1;
    }
    w.flush()?;
    Ok(n)
}

/// One value of the shift report.
enum Cell {
    /// A heading row without a value.
    None,
    Text(String),
    Count(u64),
    /// A number shown with this many decimals.
    Real(f64, usize),
}

impl Cell {
    fn text(&self) -> String {
        match self {
            Cell::None => String::new(),
            Cell::Text(s) => s.clone(),
            Cell::Count(n) => n.to_string(),
            Cell::Real(v, d) => format!("{v:.d$}"),
        }
    }

    /// The CSV form: text that could start a formula is kept as text.
    fn csv_text(&self) -> String {
        match self {
            Cell::Text(s) => bonder_core::text::spreadsheet_safe(s).into_owned(),
            other => other.text(),
        }
    }
}

fn e10_key(s: E10State) -> String {
    format!("e10-{}", s.name().replace('_', "-"))
}

impl ShiftSummary {
    /// The report as (label, value) rows.
    fn report_rows(&self, tr: &dyn Fn(&str) -> String) -> Vec<(String, Cell)> {
        let s = &self.shift;
        let mut rows = vec![
            (
                tr("report-shift"),
                Cell::Count(u64::try_from(s.id).unwrap_or(0)),
            ),
            (tr("report-operator"), Cell::Text(s.operator.clone())),
            (tr("report-team"), Cell::Text(s.team.clone())),
            (tr("report-started"), Cell::Text(rfc3339_ms(s.started))),
            (tr("report-ended"), Cell::Text(rfc3339_ms(self.until))),
            (tr("report-bonds"), Cell::Count(self.bonds)),
            (tr("report-wires"), Cell::Count(self.wires)),
            (
                tr("report-rejected-wires"),
                Cell::Count(self.rejected_wires),
            ),
            (tr("report-units"), Cell::Count(self.units)),
            (tr("report-yield-pct"), Cell::Real(self.yield_pct, 2)),
            (tr("report-uph"), Cell::Real(self.uph, 0)),
            (
                tr("report-ideal-wires-per-hour"),
                Cell::Real(self.ideal_wires_per_hour, 0),
            ),
            (
                tr("report-availability-pct"),
                Cell::Real(self.availability_pct, 2),
            ),
            (
                tr("report-performance-pct"),
                Cell::Real(self.performance_pct, 2),
            ),
            (tr("report-quality-pct"), Cell::Real(self.quality_pct, 2)),
            (tr("report-oee-pct"), Cell::Real(self.oee_pct, 2)),
            (tr("report-alarms"), Cell::Count(self.alarms)),
            (
                tr("report-downtime-min"),
                Cell::Real(self.minutes.downtime_min(), 1),
            ),
            (tr("report-rejects-by-defect"), Cell::None),
        ];
        rows.extend(Defect::ALL.into_iter().map(|d| {
            (
                tr(&format!("defect-{}", d.name())),
                Cell::Count(self.rejects_of(d)),
            )
        }));
        rows.push((tr("report-minutes-by-e10-state"), Cell::None));
        rows.extend(
            E10State::ALL
                .into_iter()
                .map(|e| (tr(&e10_key(e)), Cell::Real(self.minutes.get(e), 1))),
        );
        rows.extend(self.notes.iter().map(|n| {
            (
                tr("report-note"),
                Cell::Text(format!("{} {}: {}", rfc3339_ms(n.time), n.author, n.text)),
            )
        }));
        rows
    }

    /// Writes the report as two-column CSV (label, value), UTF-8 with a byte order mark.
    pub fn write_csv(
        &self,
        out: &mut dyn Write,
        tr: &dyn Fn(&str) -> String,
    ) -> Result<(), StoreError> {
        out.write_all(BOM.as_bytes())?;
        let mut w = csv::Writer::from_writer(out);
        w.write_record([tr("report-item"), tr("report-value")])?;
        for (label, value) in self.report_rows(tr) {
            w.write_record([label, value.csv_text()])?;
        }
        w.flush()?;
        Ok(())
    }

    /// Writes the report as an XLSX workbook: one sheet named `tr("report-title")`
    /// (Excel allows at most 31 characters, none of `[]:*?/\`), numbers as numbers.
    pub fn write_xlsx(&self, path: &Path, tr: &dyn Fn(&str) -> String) -> Result<(), StoreError> {
        let mut book = Workbook::new();
        let sheet = book.add_worksheet();
        sheet.set_name(tr("report-title"))?;
        let bold = Format::new().set_bold();
        sheet.write_string_with_format(0, 0, tr("report-item"), &bold)?;
        sheet.write_string_with_format(0, 1, tr("report-value"), &bold)?;
        let fixed = |d: usize| {
            Format::new().set_num_format(if d == 0 {
                "0".to_owned()
            } else {
                format!("0.{}", "0".repeat(d))
            })
        };
        for (row, (label, value)) in (1u32..).zip(self.report_rows(tr)) {
            match value {
                Cell::None => sheet.write_string_with_format(row, 0, label, &bold)?,
                Cell::Text(s) => {
                    sheet.write_string(row, 0, label)?;
                    sheet.write_string(row, 1, s)?
                }
                Cell::Count(n) => {
                    sheet.write_string(row, 0, label)?;
                    sheet.write_number(row, 1, n as f64)?
                }
                Cell::Real(v, d) => {
                    sheet.write_string(row, 0, label)?;
                    sheet.write_number_with_format(row, 1, v, &fixed(d))?
                }
            };
        }
        sheet.set_column_width(0, 36)?;
        sheet.set_column_width(1, 48)?;
        book.save(path)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_text_cells_that_would_be_formulas_stay_text() {
        // An operator name typed at the panel; numbers stay numbers.
        assert_eq!(
            Cell::Text("=HYPERLINK(\"x\")".into()).csv_text(),
            "'=HYPERLINK(\"x\")"
        );
        assert_eq!(Cell::Text("Li Wei".into()).csv_text(), "Li Wei");
        assert_eq!(Cell::Real(-1.5, 1).csv_text(), "-1.5");
    }

    #[test]
    fn every_key_used_is_listed() {
        for &k in BOND_COLUMNS {
            assert!(EXPORT_KEYS.contains(&k), "{k}");
        }
        for d in Defect::ALL {
            assert!(EXPORT_KEYS.contains(&format!("defect-{}", d.name()).as_str()));
        }
        for e in E10State::ALL {
            assert!(EXPORT_KEYS.contains(&e10_key(e).as_str()));
        }
        let summary = ShiftSummary {
            shift: crate::Shift {
                id: 1,
                started: time::OffsetDateTime::UNIX_EPOCH,
                ended: None,
                operator: "OP1".into(),
                team: "A".into(),
            },
            until: time::OffsetDateTime::UNIX_EPOCH,
            bonds: 0,
            wires: 0,
            rejected_wires: 0,
            rejects: [0; 6],
            units: 0,
            alarms: 0,
            minutes: crate::E10Minutes::default(),
            ideal_wires_per_hour: 1.0,
            yield_pct: 100.0,
            uph: 0.0,
            availability_pct: 0.0,
            performance_pct: 0.0,
            quality_pct: 100.0,
            oee_pct: 0.0,
            notes: vec![crate::ShiftNote {
                shift_id: 1,
                time: time::OffsetDateTime::UNIX_EPOCH,
                author: "OP1".into(),
                text: "交接".into(),
            }],
        };
        let used = std::cell::RefCell::new(Vec::new());
        let tr = |k: &str| {
            used.borrow_mut().push(k.to_owned());
            k.to_owned()
        };
        summary.write_csv(&mut Vec::new(), &tr).unwrap();
        for k in used.into_inner() {
            assert!(EXPORT_KEYS.contains(&k.as_str()), "{k}");
        }
        let mut sorted = EXPORT_KEYS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), EXPORT_KEYS.len(), "no key twice");
    }
}
