//! Screenshots without a display: a custom Slint platform whose window is a
//! `MinimalSoftwareWindow`, drawn by the software renderer into a buffer, saved as PNG.

use crate::app::StationUi;
use crate::store::Role;
use crate::ui::Page;
use crate::users::SessionUser;
use crate::{UiError, UiOptions};
use bonder_i18n::Lang;
use bonder_runtime::Station;
use slint::platform::software_renderer::{MinimalSoftwareWindow, RepaintBufferType};
use slint::platform::{Platform, WindowAdapter};
use slint::{ComponentHandle, PhysicalSize};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The pages rendered, with their file name stem (`login` is the locked screen).
pub const SCREENSHOT_PAGES: [(&str, Option<Page>); 11] = [
    ("production", Some(Page::Production)),
    ("curves", Some(Page::Curves)),
    ("alarms", Some(Page::Alarms)),
    ("recipes", Some(Page::Recipes)),
    ("shift", Some(Page::Shift)),
    ("camera", Some(Page::Camera)),
    ("health", Some(Page::Health)),
    ("window", Some(Page::Window)),
    ("gem", Some(Page::Gem)),
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

    let changeover = opts.changeover.clone();
    let camera = opts.camera.clone();
    let ui = StationUi::new(station.clone(), rt.clone(), opts)?;
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
    if let Some(cam) = &camera {
        // Teach the pad template on the bond site as an operator would, so the camera
        // page and the production tile show what the vision finds.
        let end = Instant::now() + Duration::from_secs(5);
        while cam.latest().is_none() && Instant::now() < end {
            pump(Duration::from_millis(50));
        }
        if !ui.teach_camera_centre(54) {
            tracing::warn!("screenshots: the camera template could not be taught");
        }
        pump(Duration::from_millis(400));
    }

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
    // The login page with the on-screen keyboard (passwords).
    for lang in Lang::ALL {
        ui.force_logout(lang);
        ui.window()
            .global::<crate::ui::SessionAdapter>()
            .set_keyboard(true);
        written.push(picture(
            &ui,
            &window,
            (w, h),
            out_dir,
            &format!("login-keyboard-{}", lang.code()),
        )?);
        ui.window()
            .global::<crate::ui::SessionAdapter>()
            .set_keyboard(false);
    }
    // The administrator's user list (the users the store holds), one user selected.
    let admin = SessionUser {
        badge: "A1".into(),
        name: "Zhao Min".into(),
        role: Role::Admin,
    };
    for lang in Lang::ALL {
        ui.force_login(admin.clone(), lang);
        ui.show_page(Page::User);
        ui.window()
            .global::<crate::ui::SessionAdapter>()
            .invoke_select_user(1);
        written.push(picture(
            &ui,
            &window,
            (w, h),
            out_dir,
            &format!("user-admin-{}", lang.code()),
        )?);
    }
    if camera.is_some() {
        // The calibration: the pitch entered, then measured (its message shown).
        for (stem, measure) in [("camera-calibrate", false), ("camera-calibrated", true)] {
            for lang in Lang::ALL {
                ui.force_login(demo.clone(), lang);
                ui.show_page(Page::Camera);
                ui.calibrate_camera("100", measure);
                written.push(picture(
                    &ui,
                    &window,
                    (w, h),
                    out_dir,
                    &format!("{stem}-{}", lang.code()),
                )?);
            }
        }
    }
    if let Some(svc) = changeover {
        let shoot = |stem: &str, written: &mut Vec<PathBuf>| -> Result<(), UiError> {
            for lang in Lang::ALL {
                ui.force_login(demo.clone(), lang);
                ui.show_page(Page::Changeover);
                let name = format!("changeover-{stem}-{}", lang.code());
                written.push(picture(&ui, &window, (w, h), out_dir, &name)?);
            }
            Ok(())
        };
        changeover_walk(&svc, &station, &rt, &pump, &mut |stem| {
            shoot(stem, &mut written)
        })?;
    }
    ui.window().hide()?;
    Ok(written)
}

/// Walks a changeover Au → Cu through every step (with a refused spool and a failing
/// pull on the way), calling `shoot` at each step.
fn changeover_walk(
    svc: &bonder_changeover::ChangeoverService,
    station: &Station,
    rt: &tokio::runtime::Handle,
    pump: &dyn Fn(Duration),
    shoot: &mut dyn FnMut(&str) -> Result<(), UiError>,
) -> Result<(), UiError> {
    use bonder_changeover::model::{KIT, Material};
    let fail = UiError::Changeover;
    // The screenshots above raised an alarm; clear it so the machine can stop and set up.
    let _ = rt.block_on(station.command(bonder_core::state::Command::ResetAlarm));
    let _ = rt.block_on(station.command(bonder_core::state::Command::Start));
    pump(Duration::from_millis(500));
    shoot("0-start")?;
    let (name, version) = svc
        .released()
        .map_err(fail)?
        .into_iter()
        .find(|(n, _)| n.contains("CU"))
        .ok_or_else(|| UiError::Demo("no released Cu recipe".into()))?;
    rt.block_on(svc.start(&name, version, Some("WO-2024-0815".into()), "demo"))
        .map_err(fail)?;
    shoot("1-select")?;
    rt.block_on(svc.confirm_select("demo")).map_err(fail)?;
    shoot("2-setup")?;
    rt.block_on(svc.setup("demo", true)).map_err(fail)?;
    let target = svc
        .view()
        .map(|v| v.target)
        .ok_or_else(|| UiError::Demo("no changeover".into()))?;
    let _ = rt.block_on(svc.scan(
        Material::Capillary,
        &format!("CAP:{}:C88", target.capillary),
    ));
    // A gold spool on the copper recipe: refused, shown.
    let _ = rt.block_on(svc.scan(Material::Wire, "WS:Au:25.4:L7781"));
    shoot("3-materials")?;
    rt.block_on(svc.scan(
        Material::Wire,
        &format!("WS:Cu:{}:L2311-07", target.wire.diameter_um.0),
    ))
    .map_err(fail)?;
    rt.block_on(svc.scan(Material::LeadFrame, &format!("LF:{}:F1203", target.device)))
        .map_err(fail)?;
    rt.block_on(svc.materials_done("demo")).map_err(fail)?;
    rt.block_on(svc.tick_kit(KIT[0].name, true)).map_err(fail)?;
    rt.block_on(svc.tick_kit(KIT[1].name, true)).map_err(fail)?;
    shoot("4-kit")?;
    for k in KIT {
        rt.block_on(svc.tick_kit(k.name, true)).map_err(fail)?;
    }
    rt.block_on(svc.kit_done("demo")).map_err(fail)?;
    shoot("5-download")?;
    rt.block_on(svc.download("demo")).map_err(fail)?;
    pump(Duration::from_millis(300));
    shoot("6-settle")?;
    rt.block_on(svc.settle("demo")).map_err(fail)?;
    shoot("7-pr_teach")?;
    rt.block_on(svc.pr_done("demo", "confirmed"))
        .map_err(fail)?;
    rt.block_on(svc.bond_first_article()).map_err(fail)?;
    let _ = rt.block_on(svc.first_article_results(
        "demo",
        vec![2.9, 2.7, 0.9, 3.0, 2.8],
        vec![14.0, 15.2, 13.8],
    ));
    shoot("8-first_article")?;
    rt.block_on(svc.first_article_results(
        "demo",
        vec![2.9, 2.7, 3.1, 3.0, 2.8],
        vec![14.0, 15.2, 13.8],
    ))
    .map_err(fail)?;
    shoot("9-sign_off")?;
    rt.block_on(svc.sign_off("demo", bonder_store::Role::Engineer))
        .map_err(fail)?;
    shoot("10-report")?;
    Ok(())
}

/// The page as it is now, settled (two frames: the first lays out, the second draws the
/// plots at their size), to `out_dir/<name>.png`.
fn picture(
    ui: &StationUi,
    window: &MinimalSoftwareWindow,
    (w, h): (u32, u32),
    out_dir: &Path,
    name: &str,
) -> Result<PathBuf, UiError> {
    for _ in 0..2 {
        ui.refresh_now();
        draw(window, w, h)?;
    }
    let buffer = draw(window, w, h)?;
    let path = out_dir.join(format!("{name}.png"));
    write_png(&path, &buffer, w, h)?;
    Ok(path)
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

/// Figures of the camera page under load ([`measure_camera_page`]).
#[derive(Debug, Clone, PartialEq)]
pub struct CameraPageFigures {
    /// UI beats run (one every 33 ms).
    pub beats: u64,
    /// Camera frames that arrived and were drawn into the page's image.
    pub frames_drawn: u64,
    /// The adapter's refresh (take the newest frame, draw it and its overlays into the
    /// view's pixel buffer), ms per beat: median and 99th percentile.
    pub refresh_ms: (f64, f64),
    /// Full software repaint of the 1280×800 window, ms: median and 99th percentile.
    pub render_ms: (f64, f64),
    /// CPU of the UI thread, of the camera feed's thread (receive + `inspect_frame`), and
    /// of the whole process (includes the embedded simulator rendering the frames), in %
    /// of one core.
    pub cpu_ui_pct: f64,
    pub cpu_feed_pct: f64,
    pub cpu_process_pct: f64,
    pub seconds: f64,
}

/// CPU time (user + system) of `/proc/<path>/stat`, s (Linux; 0 elsewhere). Assumes the
/// usual 100 clock ticks a second.
fn cpu_seconds(path: &str) -> f64 {
    let Ok(text) = std::fs::read_to_string(path) else {
        return 0.0;
    };
    let Some((_, rest)) = text.rsplit_once(')') else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

/// The thread called `name` of this process (Linux).
fn thread_stat_path(name: &str) -> Option<String> {
    let dir = std::fs::read_dir("/proc/self/task").ok()?;
    dir.filter_map(Result::ok).find_map(|e| {
        let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
        (comm.trim() == name).then(|| format!("{}/stat", e.path().display()))
    })
}

fn median_p99(v: &mut [f64]) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    v.sort_by(f64::total_cmp);
    let at = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    (at(0.5), at(0.99))
}

/// Runs the camera page of a station whose camera `feed` is in `opts` (30 fps, a pad
/// template taught on the bond site) for `seconds`, beating the UI every 33 ms and
/// repainting the whole window with the software renderer on every beat, and measures
/// what it costs. Installs its own Slint platform: call it once per process, before any
/// other window (`cargo run --release -p bonder-station --example camera_page_load`
/// starts a simulator and calls this).
pub fn measure_camera_page(
    size_px: (u32, u32),
    seconds: f64,
    station: Arc<Station>,
    rt: tokio::runtime::Handle,
    opts: UiOptions,
) -> Result<CameraPageFigures, UiError> {
    let (w, h) = size_px;
    let feed = opts
        .camera
        .clone()
        .ok_or_else(|| UiError::Camera("no camera feed".into()))?;
    let window = MinimalSoftwareWindow::new(RepaintBufferType::NewBuffer);
    slint::platform::set_platform(Box::new(HeadlessPlatform {
        window: window.clone(),
        started: Instant::now(),
    }))
    .map_err(|e| UiError::Platform(slint::PlatformError::Other(format!("{e:?}"))))?;
    crate::fonts::register_cjk_fallback();
    let ui = StationUi::new(station, rt, opts)?;
    ui.window().show()?;
    window.set_size(PhysicalSize::new(w, h));
    ui.force_login(
        SessionUser {
            badge: "demo".into(),
            name: "Li Wei".into(),
            role: Role::Engineer,
        },
        Lang::EnUs,
    );
    let end = Instant::now() + Duration::from_secs(10);
    while feed.latest().is_none() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    if !ui.teach_camera_centre(54) {
        return Err(UiError::Camera("no camera frame to teach on".into()));
    }
    ui.show_page(Page::Camera);
    for _ in 0..2 {
        ui.refresh_now();
        draw(&window, w, h)?;
    }
    let feed_stat = thread_stat_path("camera-feed");
    let (ui0, feed0, proc0) = (
        cpu_seconds("/proc/thread-self/stat"),
        feed_stat.as_deref().map_or(0.0, cpu_seconds),
        cpu_seconds("/proc/self/stat"),
    );
    let t0 = Instant::now();
    let frames0 = feed.frames();
    let (mut refresh, mut render) = (Vec::new(), Vec::new());
    let mut beats = 0;
    let mut next = Instant::now();
    while t0.elapsed().as_secs_f64() < seconds {
        next += crate::FRAME_INTERVAL;
        let a = Instant::now();
        slint::platform::update_timers_and_animations();
        ui.tick();
        let b = Instant::now();
        draw(&window, w, h)?;
        refresh.push((b - a).as_secs_f64() * 1e3);
        render.push(b.elapsed().as_secs_f64() * 1e3);
        beats += 1;
        if let Some(d) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(d);
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let pct = |c: f64| 100.0 * c / secs;
    let figures = CameraPageFigures {
        beats,
        frames_drawn: feed.frames() - frames0,
        refresh_ms: median_p99(&mut refresh),
        render_ms: median_p99(&mut render),
        cpu_ui_pct: pct(cpu_seconds("/proc/thread-self/stat") - ui0),
        cpu_feed_pct: pct(feed_stat.as_deref().map_or(0.0, cpu_seconds) - feed0),
        cpu_process_pct: pct(cpu_seconds("/proc/self/stat") - proc0),
        seconds: secs,
    };
    ui.window().hide()?;
    Ok(figures)
}
