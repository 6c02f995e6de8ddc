//! Renders every page in both languages against an in-process simulator:
//! `cargo run -p bonder-station-ui --example screenshots -- OUT_DIR [WIDTHxHEIGHT] [FILL_SECS]`.

use bonder_station_ui::{ScreenshotRun, render_screenshots_with_simulator};
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "docs/screenshots".into());
    let size = args.next().unwrap_or_else(|| "1280x800".into());
    let fill_secs: f64 = args.next().map_or(Ok(4.0), |s| s.parse())?;
    let (w, h) = size
        .split_once('x')
        .ok_or("size: expected WIDTHxHEIGHT, e.g. 1280x800")?;
    let run = ScreenshotRun {
        size_px: (w.parse()?, h.parse()?),
        fill: Duration::from_secs_f64(fill_secs),
    };
    for path in render_screenshots_with_simulator(std::path::Path::new(&out), &run)? {
        println!("{}", path.display());
    }
    Ok(())
}
