//! Report export: CSV, XLSX (rust_xlsxwriter) and print-ready HTML (A4 landscape,
//! `@media print`), column titles in the chosen language.

use crate::FleetError;
use crate::reports::{ChangeoverReport, ShiftReport, StationReport};
use bonder_i18n::{Lang, tr};
use rust_xlsxwriter::Workbook;

/// A table: titles and rows of text or numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub title: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// A table cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Num(f64),
}

impl Cell {
    fn text(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Num(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{v:.0}"),
            Cell::Num(v) => format!("{v:.2}"),
        }
    }

    /// The CSV form: text that could start a formula is kept as text (`'` prefix).
    fn csv_text(&self) -> String {
        match self {
            Cell::Text(s) => bonder_core::text::spreadsheet_safe(s).into_owned(),
            Cell::Num(_) => self.text(),
        }
    }
}

/// Defect names the station uses, in report column order.
pub const DEFECTS: [&str; 6] = [
    "nsop",
    "nsol",
    "short_tail",
    "ball_size",
    "placement",
    "curve",
];

fn station_row(r: &StationReport) -> Vec<Cell> {
    let mut v = vec![
        Cell::Text(r.station.clone()),
        Cell::Num(r.wires as f64),
        Cell::Num(r.yield_pct),
    ];
    for d in DEFECTS {
        v.push(Cell::Num(r.rejects.get(d).copied().unwrap_or(0) as f64));
    }
    let e = &r.e10;
    v.extend(
        [
            e.productive_min,
            e.standby_min,
            e.engineering_min,
            e.scheduled_down_min,
            e.unscheduled_down_min,
            e.non_scheduled_min,
            r.availability_pct,
            r.performance_pct,
            r.quality_pct,
            r.oee_pct,
        ]
        .map(Cell::Num),
    );
    v
}

/// The shift report as a table.
pub fn shift_table(r: &ShiftReport, lang: Lang) -> Table {
    let mut columns: Vec<String> = ["sv-col-station", "sv-col-wires", "sv-col-yield"]
        .iter()
        .map(|k| tr(lang, k))
        .collect();
    for d in DEFECTS {
        columns.push(tr(lang, &format!("defect-{d}")));
    }
    for k in [
        "sv-e10-productive",
        "sv-e10-standby",
        "sv-e10-engineering",
        "sv-e10-scheduled",
        "sv-e10-unscheduled",
        "sv-e10-nonscheduled",
        "sv-col-availability",
        "sv-col-performance",
        "sv-col-quality",
        "sv-col-oee",
    ] {
        columns.push(tr(lang, k));
    }
    let mut rows: Vec<Vec<Cell>> = r.stations.iter().map(station_row).collect();
    let mut total = station_row(&r.total);
    total[0] = Cell::Text(tr(lang, "sv-total"));
    rows.push(total);
    Table {
        title: format!(
            "{} {} · {} – {}",
            tr(lang, "sv-report-shift"),
            if r.scope.is_empty() { "*" } else { &r.scope },
            fmt_ms(r.from_ms),
            fmt_ms(r.to_ms)
        ),
        columns,
        rows,
    }
}

/// The changeover report's step table (slowest first).
pub fn changeover_table(r: &ChangeoverReport, lang: Lang) -> Table {
    let columns = [
        "sv-col-step",
        "sv-col-count",
        "sv-col-median",
        "sv-col-p90",
        "sv-col-max",
    ]
    .iter()
    .map(|k| tr(lang, k))
    .collect();
    let mut rows: Vec<Vec<Cell>> = r
        .steps
        .iter()
        .map(|s| {
            vec![
                Cell::Text(s.name.clone()),
                Cell::Num(s.count as f64),
                Cell::Num(s.median_min),
                Cell::Num(s.p90_min),
                Cell::Num(s.max_min),
            ]
        })
        .collect();
    let t = &r.total;
    rows.push(vec![
        Cell::Text(tr(lang, "sv-total")),
        Cell::Num(t.count as f64),
        Cell::Num(t.median_min),
        Cell::Num(t.p90_min),
        Cell::Num(t.max_min),
    ]);
    Table {
        title: format!(
            "{} {} · {} – {}",
            tr(lang, "sv-report-changeover"),
            if r.scope.is_empty() { "*" } else { &r.scope },
            fmt_ms(r.from_ms),
            fmt_ms(r.to_ms)
        ),
        columns,
        rows,
    }
}

/// `YYYY-MM-DD HH:MM` UTC.
pub fn fmt_ms(ms: i64) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_default()
}

/// CSV (UTF-8 with BOM, so spreadsheet programs read the Chinese titles).
pub fn csv(t: &Table) -> Result<String, FleetError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| FleetError::Export(e.to_string());
    w.write_record(&t.columns).map_err(err)?;
    for r in &t.rows {
        w.write_record(r.iter().map(Cell::csv_text)).map_err(err)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| FleetError::Export(e.to_string()))?;
    Ok(format!("\u{feff}{}", String::from_utf8_lossy(&bytes)))
}

/// XLSX bytes: one sheet per table.
pub fn xlsx(tables: &[Table]) -> Result<Vec<u8>, FleetError> {
    let err = |e: rust_xlsxwriter::XlsxError| FleetError::Export(e.to_string());
    let mut wb = Workbook::new();
    for (i, t) in tables.iter().enumerate() {
        let ws = wb.add_worksheet();
        ws.set_name(format!("{}", i + 1)).map_err(err)?;
        ws.write_string(0, 0, &t.title).map_err(err)?;
        for (c, title) in t.columns.iter().enumerate() {
            ws.write_string(1, c as u16, title).map_err(err)?;
        }
        for (r, row) in t.rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let (r, c) = (r as u32 + 2, c as u16);
                match cell {
                    Cell::Text(s) => ws.write_string(r, c, s).map_err(err)?,
                    Cell::Num(v) => ws.write_number(r, c, *v).map_err(err)?,
                };
            }
        }
    }
    wb.save_to_buffer().map_err(err)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A print-ready HTML page of tables (and SVG charts, inserted as they are).
pub fn html(title: &str, tables: &[Table], charts: &[String], lang: Lang) -> String {
    let mut s = format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title><style>\
@page {{ size: A4 landscape; margin: 12mm }}\
body {{ font-family: 'Noto Sans CJK SC','Noto Sans SC','DejaVu Sans',sans-serif; color:#222; font-size:10pt }}\
h1 {{ font-size:14pt }} h2 {{ font-size:11pt; margin-top:14pt }}\
table {{ border-collapse:collapse; width:100%; page-break-inside:auto }} tr {{ page-break-inside:avoid }}\
th, td {{ border:1px solid #999; padding:2pt 4pt; text-align:right }} th:first-child, td:first-child {{ text-align:left }}\
th {{ background:#e6e6e6 }} tr:last-child td {{ font-weight:bold }}\
.chart {{ max-width:180mm; page-break-inside:avoid }}\
</style></head><body><h1>{}</h1>",
        lang.code(),
        esc(title),
        esc(title)
    );
    for t in tables {
        s += &format!("<h2>{}</h2><table><thead><tr>", esc(&t.title));
        for c in &t.columns {
            s += &format!("<th>{}</th>", esc(c));
        }
        s += "</tr></thead><tbody>";
        for r in &t.rows {
            s += "<tr>";
            for c in r {
                s += &format!("<td>{}</td>", esc(&c.text()));
            }
            s += "</tr>";
        }
        s += "</tbody></table>";
    }
    for c in charts {
        s += &format!("<div class=\"chart\">{c}</div>");
    }
    s += "</body></html>";
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn csv_xlsx_html() {
        let t = Table {
            title: "t".into(),
            columns: vec!["站".into(), "n".into()],
            rows: vec![vec![Cell::Text("a,b".into()), Cell::Num(3.0)]],
        };
        let c = csv(&t).unwrap();
        assert_eq!(c, "\u{feff}站,n\n\"a,b\",3\n");
        let x = xlsx(std::slice::from_ref(&t)).unwrap();
        assert_eq!(&x[..2], b"PK");
        let h = html("R", &[t], &[], Lang::ZhCn);
        assert!(h.contains("<td>a,b</td>") && h.contains("@page"));
    }

    #[test]
    fn csv_cells_that_would_be_formulas_are_text() {
        let t = Table {
            title: "t".into(),
            columns: vec!["operator".into(), "dx".into()],
            rows: vec![
                vec![
                    Cell::Text("=HYPERLINK(\"http://x\")".into()),
                    Cell::Num(-3.0),
                ],
                vec![Cell::Text("@SUM(A1)".into()), Cell::Num(2.5)],
            ],
        };
        let c = csv(&t).unwrap();
        assert_eq!(
            c,
            "\u{feff}operator,dx\n\"'=HYPERLINK(\"\"http://x\"\")\",-3\n'@SUM(A1),2.50\n"
        );
    }
}
