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

    let changeover = opts.changeover.clone();
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
    if let Some(svc) = changeover {
        let shoot = |stem: &str, written: &mut Vec<PathBuf>| -> Result<(), UiError> {
            for lang in Lang::ALL {
                ui.force_login(demo.clone(), lang);
                ui.show_page(Page::Changeover);
                for _ in 0..2 {
                    ui.refresh_now();
                    draw(&window, w, h)?;
                }
                let buffer = draw(&window, w, h)?;
                let path = out_dir.join(format!("changeover-{stem}-{}.png", lang.code()));
                write_png(&path, &buffer, w, h)?;
                written.push(path);
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
    let fail = |e: bonder_changeover::ChangeoverError| UiError::Simulator(e.to_string());
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
        .ok_or_else(|| UiError::Simulator("no released Cu recipe".into()))?;
    rt.block_on(svc.start(&name, version, Some("WO-2024-0815".into()), "demo"))
        .map_err(fail)?;
    shoot("1-select")?;
    rt.block_on(svc.confirm_select("demo")).map_err(fail)?;
    shoot("2-setup")?;
    rt.block_on(svc.setup("demo", true)).map_err(fail)?;
    let target = svc
        .view()
        .map(|v| v.target)
        .ok_or_else(|| UiError::Simulator("no changeover".into()))?;
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
    Ok(())
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
            heater_tau_s: 1.0,
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
    let mut opts = UiOptions::new(recipe.clone());
    opts.changeover = Some(changeover_service(&rt, &station, &recipe)?);
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

/// A changeover service over a fresh SQLite file in the temp dir, with the Au and Cu
/// demo recipes released (for the wizard's screenshots).
fn changeover_service(
    rt: &tokio::runtime::Runtime,
    station: &Arc<Station>,
    au: &bonder_core::recipe::Recipe,
) -> Result<Arc<bonder_changeover::ChangeoverService>, UiError> {
    use bonder_store::{Actor, Role as StoreRole, Store, WriterConfig};
    let err = |e: &dyn std::fmt::Display| UiError::Simulator(e.to_string());
    let path = std::env::temp_dir().join(format!(
        "bonder-screenshots-{}-{}.sqlite",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    ));
    let _ = std::fs::remove_file(&path);
    let store = Arc::new(Store::open(&path).map_err(|e| err(&e))?);
    let engineer = Actor::new("demo", StoreRole::Engineer);
    for r in [au.clone(), bonder_core::recipe::Recipe::default_cu()] {
        let repo = store.recipes();
        repo.create(&r, &engineer, "demo recipe")
            .map_err(|e| err(&e))?;
        repo.release(&r.name, 1, &engineer, "demo recipe")
            .map_err(|e| err(&e))?;
    }
    let writer = {
        let _g = rt.enter();
        store
            .spawn_writer(WriterConfig::default())
            .map_err(|e| err(&e))?
    };
    let mut cfg = bonder_changeover::ServiceConfig::new("sz1/assembly/l1/wb-01");
    cfg.settle_hold = Duration::from_millis(500);
    cfg.settle_timeout = Duration::from_secs(30);
    let svc = bonder_changeover::ChangeoverService::new(station.clone(), store, writer, cfg)
        .map_err(|e| err(&e))?;
    Ok(Arc::new(svc))
}
