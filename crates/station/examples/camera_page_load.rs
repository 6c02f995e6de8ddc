//! The camera page's cost at 30 fps with overlays (issue 6's figure): the page shown
//! against an in-process simulator for 10 s, the window repainted by the software
//! renderer on every beat.
//!
//! `cargo run --release -p bonder-station --example camera_page_load [-- SECONDS]`

fn main() -> anyhow::Result<()> {
    let secs = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10.0);
    let f = bonder_station::demo::measure_camera_page((1280, 800), secs)?;
    println!(
        "camera page 1280x800, {:.1} s: {} beats, {} camera frames ({:.1} fps)",
        f.seconds,
        f.beats,
        f.frames_drawn,
        f.frames_drawn as f64 / f.seconds
    );
    println!(
        "  adapter refresh (newest frame + overlays into the view image): median {:.2} ms, p99 {:.2} ms",
        f.refresh_ms.0, f.refresh_ms.1
    );
    println!(
        "  software repaint of the window: median {:.2} ms, p99 {:.2} ms",
        f.render_ms.0, f.render_ms.1
    );
    println!(
        "  CPU: UI thread {:.1} %, camera feed thread (receive + inspect_frame) {:.1} %, whole process (with the simulator's renderer) {:.1} % of one core",
        f.cpu_ui_pct, f.cpu_feed_pct, f.cpu_process_pct
    );
    Ok(())
}
