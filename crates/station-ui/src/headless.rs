//! Screenshots without a display: a custom Slint platform whose window is a
//! `MinimalSoftwareWindow`, drawn by the software renderer into a buffer, saved as PNG.

use crate::app::StationUi;
use crate::store::Role;
use crate::ui::Page;
use crate::users::SessionUser;
use crate::{UiError, UiOptions};
use bonder_core::AlarmCode;
use bonder_i18n::Lang;
use bonder_runtime::{RuntimeConfig, Station};
use bondersim::{SimConfig, Simulator, WireRate};
use slint::platform::software_renderer::{MinimalSoftwareWindow, RepaintBufferType};
use slint::platform::{Platform, WindowAdapter};
use slint::{ComponentHandle, PhysicalSize};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The pages rendered, with their file name stem (`login` is the locked screen).
pub const SCREENSHOT_PAGES: [(&str, Option<Page>); 7] = [
    ("production", Some(Page::Production)),
    ("curves", Some(Page::Curves)),
    ("alarms", Some(Page::Alarms)),
    ("recipes", Some(Page::Recipes)),
    ("shift", Some(Page::Shift)),
    ("user", Some(Page::User)),
    ("login", None),
];

struct HeadlessPlatform {
    window: Rc<MinimalSoftwareWindow>,
    started: Instant,
}

impl Platform for HeadlessPlatform {
    fn create_window_adapter(&self) -> Result<Rc<dyn WindowAdapter>, slint::PlatformError> {
        Ok(self.window.clone())
    }
    fn duration_since_start(&self) -> Duration {
        self.started.elapsed()
    }
}

/// How long to let the station fill its counters and curves, and what to show.
#[derive(Debug, Clone)]
pub struct ScreenshotRun {
    /// Window size, physical pixels.
    pub size_px: (u32, u32),
    /// How long bonds flow into the UI before the first picture.
    pub fill: Duration,
}

/// Renders every page of [`SCREENSHOT_PAGES`] in both languages to
/// `out_dir/<page>-<lang>.png` (lang `en-US` / `zh-CN`), against a running station.
///
/// Installs its own Slint platform: call it once per process, before any other window.
/// A demo engineer is logged in (without touching `opts.users`); the login page is
/// rendered logged out.
pub fn render_screenshots(
    out_dir: &Path,
    run: &ScreenshotRun,
    station: Arc<Station>,
    rt: tokio::runtime::Handle,
    opts: UiOptions,
) -> Result<Vec<PathBuf>, UiError> {
    let (w, h) = run.size_px;
    let window = MinimalSoftwareWindow::new(RepaintBufferType::NewBuffer);
    slint::platform::set_platform(Box::new(HeadlessPlatform {
        window: window.clone(),
        started: Instant::now(),
    }))
    .map_err(|e| UiError::Platform(slint::PlatformError::Other(format!("{e:?}"))))?;
    crate::fonts::register_cjk_fallback();
    std::fs::create_dir_all(out_dir).map_err(|source| UiError::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;

    let ui = StationUi::new(station, rt, opts)?;
    ui.window().show()?;
    window.set_size(PhysicalSize::new(w, h));
    let demo = SessionUser {
        badge: "demo".into(),
        name: "Li Wei".into(),
        role: Role::Engineer,
    };
    let pump = |d: Duration| {
        let end = Instant::now() + d;
        while Instant::now() < end {
            std::thread::sleep(Duration::from_millis(20));
            slint::platform::update_timers_and_animations();
            ui.tick();
        }
    };
    ui.force_login(demo.clone(), Lang::EnUs);
    pump(run.fill);

    let mut written = Vec::new();
    for lang in Lang::ALL {
        for (stem, page) in SCREENSHOT_PAGES {
            match page {
                Some(p) => {
                    ui.force_login(demo.clone(), lang);
                    ui.show_page(p);
                }
                None => {
                    ui.force_logout(lang);
                }
            }
            // Two frames: the first lays out (the plots learn their size), the second
            // draws the plots at that size.
            for _ in 0..2 {
                ui.refresh_now();
                draw(&window, w, h)?;
            }
            // Timed: the adapters' refresh (curve plotting included) and a full software
            // repaint of the page, as the figures of issue 5 ask.
            let t0 = std::time::Instant::now();
            ui.refresh_now();
            let t1 = std::time::Instant::now();
            let buffer = draw(&window, w, h)?;
            tracing::info!(
                page = stem,
                lang = lang.code(),
                refresh_ms = (t1 - t0).as_secs_f64() * 1e3,
                render_ms = t1.elapsed().as_secs_f64() * 1e3,
                "page rendered ({w}x{h}, software)"
            );
            let path = out_dir.join(format!("{stem}-{}.png", lang.code()));
            write_png(&path, &buffer, w, h)?;
            written.push(path);
        }
    }
    ui.window().hide()?;
    Ok(written)
}

fn draw(window: &MinimalSoftwareWindow, w: u32, h: u32) -> Result<Vec<slint::Rgb8Pixel>, UiError> {
    let mut buffer = vec![slint::Rgb8Pixel::default(); (w * h) as usize];
    slint::platform::update_timers_and_animations();
    // A full repaint every time (RepaintBufferType::NewBuffer).
    window.request_redraw();
    let drawn = window.draw_if_needed(|renderer| {
        renderer.render(&mut buffer, w as usize);
    });
    if drawn {
        Ok(buffer)
    } else {
        Err(UiError::NothingRendered("window".into()))
    }
}

fn write_png(path: &Path, buffer: &[slint::Rgb8Pixel], w: u32, h: u32) -> Result<(), UiError> {
    let io = |source| UiError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::create(path).map_err(io)?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header()?;
    let bytes: Vec<u8> = buffer.iter().flat_map(|p| [p.r, p.g, p.b]).collect();
    writer.write_image_data(&bytes)?;
    Ok(())
}

/// Starts an in-process simulator (200 wires/s, 2 % defects) and a station against it,
/// lets them run for `run.fill`, raises a wire-break alarm so the banner and the alarm
/// page have something to show, and renders the screenshots
/// (`bonder-station screenshots --out DIR`).
pub fn render_screenshots_with_simulator(
    out_dir: &Path,
    run: &ScreenshotRun,
) -> Result<Vec<PathBuf>, UiError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| UiError::Simulator(e.to_string()))?;
    let sim = rt
        .block_on(Simulator::start(SimConfig {
            autostart: true,
            wire_rate: WireRate::PerSecond(200.0),
            defect_rate: 0.02,
            ..SimConfig::default()
        }))
        .map_err(|e| UiError::Simulator(e.to_string()))?;
    let recipe = bonder_core::recipe::Recipe::default_au();
    let mut cfg = RuntimeConfig::new(sim.modbus_addr);
    cfg.recipe = recipe.clone();
    let station = {
        let _guard = rt.enter();
        Arc::new(Station::start(cfg))
    };
    let opts = UiOptions::new(recipe);
    *opts.work_order.lock().unwrap_or_else(|p| p.into_inner()) = "WO-2024-0815".into();
    // Raise the alarm shortly before the pictures are taken.
    let alarm_after = run.fill.saturating_sub(Duration::from_millis(800));
    let sim = Arc::new(sim);
    let sim_for_alarm = sim.clone();
    rt.spawn(async move {
        tokio::time::sleep(alarm_after).await;
        sim_for_alarm.raise_alarm(AlarmCode::WireBroken);
    });
    let result = render_screenshots(out_dir, run, station, rt.handle().clone(), opts);
    if let Ok(sim) = Arc::try_unwrap(sim) {
        rt.block_on(sim.shutdown());
    }
    result
}
