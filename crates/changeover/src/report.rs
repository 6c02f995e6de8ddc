//! The changeover report over the store's completed changeovers.

use bonder_store::Store;
use time::OffsetDateTime;

use crate::ChangeoverError;
use crate::model;

/// The changeover report: per-step median and p90 minutes over the last `last` completed
/// changeovers in the store, slowest step first, with how many changeovers it covers.
pub fn step_report(
    store: &Store,
    last: usize,
) -> Result<(usize, Vec<model::StepStat>), ChangeoverError> {
    let all = store.reader()?.changeovers(
        OffsetDateTime::UNIX_EPOCH,
        OffsetDateTime::now_utc() + time::Duration::days(1),
    )?;
    let done: Vec<Vec<(String, f64)>> = all
        .iter()
        .filter(|c| c.outcome.as_deref() == Some("completed"))
        .rev()
        .take(last)
        .map(|c| {
            c.steps
                .iter()
                .map(|s| {
                    let min = (s.ended - s.started).as_seconds_f64() / 60.0;
                    (s.name.clone(), min)
                })
                .collect()
        })
        .collect();
    let stats = model::step_report(done.iter().map(Vec::as_slice));
    Ok((done.len(), stats))
}

/// Writes the report as CSV; `tr` translates the header keys (`co-report-*`) and the step
/// names (`co-step-*`).
pub fn write_report_csv(
    stats: &[model::StepStat],
    out: &mut dyn std::io::Write,
    tr: &dyn Fn(&str) -> String,
) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    let header = [
        "co-report-step",
        "co-report-count",
        "co-report-median",
        "co-report-p90",
        "co-report-standard",
    ]
    .map(tr);
    w.write_record(&header)?;
    for s in stats {
        w.write_record([
            tr(&format!("co-step-{}", s.name)),
            s.count.to_string(),
            format!("{:.2}", s.median_min),
            format!("{:.2}", s.p90_min),
            format!("{:.0}", s.standard_min),
        ])?;
    }
    w.flush()
}
