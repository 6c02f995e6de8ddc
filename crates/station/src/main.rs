//! `bonder-station`: the operator station of one wire bonder. Headless for now (the
//! Slint UI comes with issue 5): it connects to the controller, judges every bond,
//! records everything in its SQLite store, publishes to the plant gateway (store and
//! forward) and prints a status line every second.

mod backfill;
mod camera;
mod config;
mod gateway_link;
mod persist;
mod ui_store;

use anyhow::{Context, bail};
use bonder_core::Defect;
use bonder_core::recipe::Recipe;
use bonder_gateway::{Gateway, GatewayConfig, StationId};
use bonder_link::StreamEndpoint;
use bonder_runtime::{RuntimeConfig, Snapshot, Station};
use bonder_store::{ShiftStart, Store, WriterConfig};
use bondersim::{SimConfig, Simulator};
use clap::{Parser, Subcommand};
use config::FileConfig;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tokio::sync::{mpsc, watch};

/// The operator station of a wire bonder.
#[derive(Debug, Parser)]
#[command(name = "bonder-station", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    /// Run without a display: the same core, a status line a second on stdout.
    #[arg(long)]
    headless: bool,
    /// Full screen (panel PCs).
    #[arg(long)]
    fullscreen: bool,
    /// Config file (default: the platform's config dir, bonder-station/station.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Controller Modbus TCP address. Absent everywhere: start the built-in simulator.
    #[arg(long)]
    controller: Option<String>,
    /// Bond event stream: tcp://HOST:PORT or serial:///dev/ttyX?baud=921600. Absent: the
    /// TCP port the controller announces.
    #[arg(long)]
    stream: Option<String>,
    /// ISA-95 station id (site/area/line/station), the gateway's topic prefix.
    #[arg(long)]
    station_id: Option<String>,
    /// SQLite file (default: station.sqlite in the platform's data dir).
    #[arg(long)]
    db: Option<PathBuf>,
    /// Gateway broker URL, mqtt://HOST[:PORT] or mqtts://HOST[:PORT]. Absent: an
    /// embedded broker on 127.0.0.1:1883.
    #[arg(long)]
    gateway: Option<String>,
    /// Gateway user name.
    #[arg(long)]
    gateway_user: Option<String>,
    /// Gateway password.
    #[arg(long)]
    gateway_password: Option<String>,
    /// CA certificate (PEM) for mqtts://.
    #[arg(long)]
    gateway_ca: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS.
    #[arg(long)]
    gateway_cert: Option<PathBuf>,
    /// Client key (PEM) for mutual TLS.
    #[arg(long)]
    gateway_key: Option<PathBuf>,
    /// Recipe document (JSON) to judge against and download.
    #[arg(long)]
    recipe: Option<PathBuf>,
    /// Log filter (e.g. info, debug).
    #[arg(long)]
    log: Option<String>,
    /// Stop after this many seconds and print the summary.
    #[arg(long)]
    for_seconds: Option<u64>,
    /// Camera: tcp://HOST:PORT (bondersim's camera), /dev/videoN (built with the `v4l`
    /// feature) or none. Absent: the built-in simulator's camera.
    #[arg(long)]
    camera: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        action: AuditCmd,
    },
    /// Renders every page in both languages to DIR/<page>-<lang>.png with the software
    /// renderer (no display needed), against a built-in simulator.
    Screenshots {
        #[arg(long)]
        out: PathBuf,
        /// Window size, WIDTHxHEIGHT.
        #[arg(long, default_value = "1280x800")]
        size: String,
        /// Seconds of bonding before the first picture.
        #[arg(long, default_value_t = 4)]
        fill_seconds: u64,
    },
    /// Exports from the store, with headers in the chosen language.
    Export {
        #[command(subcommand)]
        what: ExportCmd,
    },
    /// Copies the store to a file while the station runs (SQLite online backup).
    Backup {
        /// Store file (default: the configured one).
        #[arg(long)]
        db: Option<PathBuf>,
        /// Backup file to write.
        #[arg(long)]
        to: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum ExportCmd {
    /// Bond records (seq range) to CSV.
    Bonds {
        #[arg(long)]
        db: Option<PathBuf>,
        /// First seq (default 1).
        #[arg(long, default_value_t = 1)]
        from: u64,
        /// Last seq (default: the newest).
        #[arg(long)]
        to: Option<u64>,
        /// en-US or zh-CN.
        #[arg(long, default_value = "en-US")]
        lang: String,
        /// Output file (.csv).
        #[arg(long)]
        out: PathBuf,
    },
    /// A shift report to CSV or XLSX (by the output's extension).
    Shift {
        #[arg(long)]
        db: Option<PathBuf>,
        /// Shift id (default: the newest).
        #[arg(long)]
        id: Option<i64>,
        /// en-US or zh-CN.
        #[arg(long, default_value = "en-US")]
        lang: String,
        /// Output file (.csv or .xlsx).
        #[arg(long)]
        out: PathBuf,
    },
    /// The changeover report (per step median and p90 minutes, slowest first) to CSV.
    Changeovers {
        #[arg(long)]
        db: Option<PathBuf>,
        /// Over the last N completed changeovers.
        #[arg(long, default_value_t = 20)]
        last: usize,
        /// en-US or zh-CN.
        #[arg(long, default_value = "en-US")]
        lang: String,
        /// Output file (.csv).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCmd {
    /// Checks the hash chain: exit 0 and the row count when intact, non-zero naming the
    /// first broken row otherwise.
    Verify {
        /// Store file (default: the configured one).
        #[arg(long)]
        db: Option<PathBuf>,
    },
}

struct Settings {
    controller: Option<SocketAddr>,
    stream: Option<StreamEndpoint>,
    station_id: StationId,
    db: PathBuf,
    gateway: Option<String>,
    file: FileConfig,
    recipe: Recipe,
    /// The recipe came from a flag or the config file (else: the last changeover's).
    recipe_explicit: bool,
    log: String,
    /// `--camera` or the config's `camera`.
    camera: Option<String>,
}

fn settings(cli: &Cli) -> anyhow::Result<Settings> {
    let dirs = config::project_dirs();
    let (path, explicit) = match &cli.config {
        Some(p) => (p.clone(), true),
        None => match &dirs {
            Some(d) => (d.config_dir().join("station.toml"), false),
            None => (PathBuf::from("station.toml"), false),
        },
    };
    let file = FileConfig::load(&path, explicit)?;
    let pick = |flag: &Option<String>, file: &Option<String>| flag.clone().or_else(|| file.clone());
    let controller = match pick(&cli.controller, &file.controller) {
        Some(s) => Some(s.parse::<SocketAddr>().with_context(|| {
            format!("controller {s:?}: expected HOST:PORT, e.g. 127.0.0.1:1502")
        })?),
        None => None,
    };
    let stream = match pick(&cli.stream, &file.stream) {
        Some(s) => Some(s.parse::<StreamEndpoint>()?),
        None => None,
    };
    let recipe_explicit = cli.recipe.is_some() || file.recipe.is_some();
    let recipe = match cli.recipe.clone().or(file.recipe.clone()) {
        Some(p) => {
            let text = std::fs::read_to_string(&p)
                .with_context(|| format!("recipe file {}", p.display()))?;
            Recipe::from_json(&text).with_context(|| format!("recipe file {}", p.display()))?
        }
        None => Recipe::default_au(),
    };
    let station_id: StationId = pick(&cli.station_id, &file.station_id)
        .unwrap_or_else(|| "sz1/assembly/l1/wb-01".into())
        .parse()?;
    let db = match cli.db.clone().or(file.db.clone()) {
        Some(p) => p,
        None => {
            let d = dirs
                .as_ref()
                .map(|d| d.data_dir().to_path_buf())
                .unwrap_or_else(|| PathBuf::from("."));
            std::fs::create_dir_all(&d).with_context(|| format!("data dir {}", d.display()))?;
            d.join("station.sqlite")
        }
    };
    let mut file = file;
    // Flags win over the file for the gateway's settings too.
    file.gateway_user = pick(&cli.gateway_user, &file.gateway_user);
    file.gateway_password = pick(&cli.gateway_password, &file.gateway_password);
    file.gateway_ca = cli.gateway_ca.clone().or(file.gateway_ca);
    file.gateway_cert = cli.gateway_cert.clone().or(file.gateway_cert);
    file.gateway_key = cli.gateway_key.clone().or(file.gateway_key);
    Ok(Settings {
        controller,
        stream,
        station_id,
        db,
        gateway: pick(&cli.gateway, &file.gateway),
        recipe,
        recipe_explicit,
        log: pick(&cli.log, &file.log).unwrap_or_else(|| "info".into()),
        camera: pick(&cli.camera, &file.camera),
        file,
    })
}

fn init_logs(filter: &str) -> anyhow::Result<Option<tracing_appender::non_blocking::WorkerGuard>> {
    use tracing_subscriber::prelude::*;
    let env = tracing_subscriber::EnvFilter::try_new(filter)
        .with_context(|| format!("log filter {filter:?}"))?;
    let stderr = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let (file, guard) = match config::project_dirs().map(|d| d.data_dir().join("logs")) {
        Some(dir) if std::fs::create_dir_all(&dir).is_ok() => {
            let appender = tracing_appender::rolling::Builder::new()
                .rotation(tracing_appender::rolling::Rotation::DAILY)
                .filename_prefix("station")
                .filename_suffix("log")
                .max_log_files(14)
                .build(&dir)
                .context("log file")?;
            let (nb, guard) = tracing_appender::non_blocking(appender);
            (
                Some(
                    tracing_subscriber::fmt::layer()
                        .with_ansi(false)
                        .with_writer(nb),
                ),
                Some(guard),
            )
        }
        _ => (None, None),
    };
    tracing_subscriber::registry()
        .with(env)
        .with(stderr)
        .with(file)
        .init();
    Ok(guard)
}

fn status_line(
    s: &Snapshot,
    gw: Option<&bonder_gateway::GatewayState>,
    elapsed: Duration,
) -> String {
    let c = &s.counters;
    let state = s.machine_state.map_or("-", |m| m.name());
    let rejects: Vec<String> = Defect::ALL
        .into_iter()
        .filter(|d| c.rejects[d.index()] > 0)
        .map(|d| format!("{}={}", d.name(), c.rejects[d.index()]))
        .collect();
    let gateway = match gw {
        Some(g) => format!(
            " gateway={} published={} live={} backlog={}",
            if g.connected { "up" } else { "down" },
            g.acked_seq,
            g.live_seq,
            g.backlog
        ),
        None => String::new(),
    };
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|st| {
            st.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .map(|kb| kb.trim().replace(' ', ""))
        })
        .map(|kb| format!(" rss={kb}"))
        .unwrap_or_default();
    format!(
        "t={:>4}s link={} state={} recipe={} wires={} rejected={} yield={:.2}% rate={:.0}/min uph={:.0} bonds={} seq={} lost={} bad_crc={} learned={}/{}{gateway}{rss} rejects=[{}]",
        elapsed.as_secs(),
        s.link.name(),
        state,
        s.recipe_id,
        c.wires,
        c.rejected_wires,
        c.yield_pct,
        c.wire_rate_per_min,
        c.uph,
        s.bonds_received,
        s.last_seq,
        s.decode.lost_frames,
        s.decode.bad_crc,
        s.learned[0],
        s.learned[1],
        rejects.join(" ")
    )
}

/// Bonds/s, CPU and peak memory of this process over the run (Linux: /proc/self).
fn usage_line(s: &Snapshot, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let mut line = format!(
        "load: bonds/s={:.0} frames_ok={} lost_frames={} bad_crc={} bad_length={}",
        s.bonds_received as f64 / secs,
        s.decode.frames_ok,
        s.decode.lost_frames,
        s.decode.bad_crc,
        s.decode.bad_length
    );
    // utime and stime are fields 14 and 15 of /proc/self/stat, in clock ticks (100/s on
    // Linux); VmHWM in /proc/self/status is the peak resident set.
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let tick = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // After the ')' the first field is field 3 (state).
        let cpu_s = (tick(11) + tick(12)) / 100.0;
        line += &format!(" cpu={:.1}%", cpu_s / secs * 100.0);
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        if let Some(kb) = status.lines().find_map(|l| l.strip_prefix("VmHWM:")) {
            line += &format!(" peak_rss={}", kb.trim().replace(' ', ""));
        }
    }
    line
}

fn audit_verify(db: &std::path::Path) -> anyhow::Result<()> {
    match Store::verify_audit(db) {
        Ok(r) => {
            println!("audit trail intact: {} rows", r.rows);
            Ok(())
        }
        Err(bonder_store::StoreError::AuditBroken { row_id, reason }) => {
            bail!(
                "audit trail broken at row {row_id}: {reason} ({})",
                db.display()
            )
        }
        Err(e) => Err(e).with_context(|| format!("store {}", db.display())),
    }
}

fn lang(code: &str) -> anyhow::Result<bonder_i18n::Lang> {
    bonder_i18n::Lang::from_code(code)
        .with_context(|| format!("language {code:?}: expected en-US or zh-CN"))
}

fn export(cmd: &ExportCmd, default_db: &std::path::Path) -> anyhow::Result<()> {
    match cmd {
        ExportCmd::Bonds {
            db,
            from,
            to,
            lang: code,
            out,
        } => {
            let l = lang(code)?;
            let store = Store::open(db.as_deref().unwrap_or(default_db))?;
            let reader = store.reader()?;
            let to = match to {
                Some(t) => *t,
                None => reader.max_bond_seq()?.unwrap_or(0),
            };
            let mut f = std::fs::File::create(out)
                .with_context(|| format!("export file {}", out.display()))?;
            let n = reader.export_bonds_csv(*from..=to, &mut f, &|k| bonder_i18n::tr(l, k))?;
            println!("{n} bonds written to {}", out.display());
        }
        ExportCmd::Shift {
            db,
            id,
            lang: code,
            out,
        } => {
            let l = lang(code)?;
            let store = Store::open(db.as_deref().unwrap_or(default_db))?;
            let reader = store.reader()?;
            let id = match id {
                Some(i) => *i,
                None => reader
                    .max_shift_id()?
                    .context("the store has no shift yet")?,
            };
            let summary = reader.shift_summary(
                id,
                OffsetDateTime::now_utc(),
                bonder_store::DEFAULT_IDEAL_WIRES_PER_HOUR,
            )?;
            let tr = |k: &str| bonder_i18n::tr(l, k);
            if out
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"))
            {
                summary.write_xlsx(out, &tr)?;
            } else {
                let mut f = std::fs::File::create(out)
                    .with_context(|| format!("export file {}", out.display()))?;
                summary.write_csv(&mut f, &tr)?;
            }
            println!("shift {id} report written to {}", out.display());
        }
        ExportCmd::Changeovers {
            db,
            last,
            lang: code,
            out,
        } => {
            let l = lang(code)?;
            let store = Store::open(db.as_deref().unwrap_or(default_db))?;
            let (n, stats) = bonder_changeover::step_report(&store, *last)?;
            let mut f = std::fs::File::create(out)
                .with_context(|| format!("export file {}", out.display()))?;
            bonder_changeover::write_report_csv(&stats, &mut f, &|k| bonder_i18n::tr(l, k))?;
            println!(
                "changeover report over {n} changeovers written to {}",
                out.display()
            );
        }
    }
    Ok(())
}

/// The shift to record bonds under: the newest one if still open, else a new one.
fn current_shift(store: &Store, writer: &bonder_store::WriterHandle) -> anyhow::Result<i64> {
    let reader = store.reader()?;
    if let Some(id) = reader.max_shift_id()? {
        if reader.shift(id)?.is_some_and(|s| s.ended.is_none()) {
            return Ok(id);
        }
    }
    let id = reader.max_shift_id()?.unwrap_or(0) + 1;
    writer.send(bonder_store::WriteOp::ShiftStart(ShiftStart {
        id,
        time: OffsetDateTime::now_utc(),
        operator: "unassigned".into(),
        team: String::new(),
    }))?;
    Ok(id)
}

/// Everything a running station holds.
struct Running {
    station: Arc<Station>,
    next_job: gateway_link::NextJob,
    store: Arc<Store>,
    current_shift: ui_store::CurrentShift,
    gateway: Gateway,
    writer: bonder_store::WriterHandle,
    sim: Option<Simulator>,
    recipe: Recipe,
    changeover: Arc<bonder_changeover::ChangeoverService>,
    operator: bonder_station_ui::OperatorName,
    camera: Option<Arc<bonder_station_ui::camera_feed::CameraFeed>>,
}

async fn start(settings: Settings) -> anyhow::Result<Running> {
    tracing::info!(station = %settings.station_id, db = %settings.db.display(), "starting");

    // The store: everything recorded goes through its batching writer.
    let store = Arc::new(
        Store::open(&settings.db).with_context(|| format!("store {}", settings.db.display()))?,
    );
    let writer = store.spawn_writer(WriterConfig::default())?;
    let last_seq = store.reader()?.max_bond_seq()?.unwrap_or(0);
    let shift_id = current_shift(&store, &writer)?;

    // No controller configured: the embedded default, an in-process simulator.
    let mut sim = None;
    let controller = match settings.controller {
        Some(a) => a,
        None => {
            let s = Simulator::start(SimConfig {
                autostart: true,
                ..SimConfig::default()
            })
            .await
            .context("cannot start the built-in simulator")?;
            tracing::info!(modbus = %s.modbus_addr, "no controller configured: using the built-in simulator");
            let a = s.modbus_addr;
            sim = Some(s);
            a
        }
    };
    // The recipe: a flag or the config file, else the one the last completed changeover
    // went to (so a restart does not download the old recipe back), else the default.
    let mut recipe = settings.recipe.clone();
    if !settings.recipe_explicit {
        if let Some(r) = ui_store::last_changeover_recipe(&store)? {
            tracing::info!(recipe = %r.id(), "recipe of the last changeover");
            recipe = r;
        }
    }
    ui_store::seed_recipe(&store, &recipe)?;
    if let Some(r) = ui_store::library_version(&store, &recipe)? {
        recipe = r;
    }
    if sim.is_some() {
        // The built-in simulator also gets a copper recipe to change over to.
        ui_store::seed_recipe(&store, &Recipe::default_cu())?;
    }
    let recipe_id = recipe.id();
    let mut cfg = RuntimeConfig::new(controller);
    cfg.stream = settings.stream;
    cfg.recipe = recipe.clone();
    cfg.last_seq = last_seq;
    let shift_now: ui_store::CurrentShift = Arc::new(std::sync::atomic::AtomicI64::new(shift_id));
    cfg.sink = Some(persist::sink(writer.clone(), shift_now.clone()));
    let station = Arc::new(Station::start(cfg));
    let camera = camera::start(
        settings.camera.as_deref(),
        sim.as_ref().and_then(Simulator::camera_addr),
        &recipe,
        camera::stored_setup(&store, &recipe),
        &station,
        &writer,
    );

    // The gateway: the configured broker, or an embedded one on 127.0.0.1:1883.
    let url = match &settings.gateway {
        Some(u) => u.clone(),
        None => {
            let addr: SocketAddr = bonder_gateway::broker::DEFAULT_ADDR.parse()?;
            match bonder_gateway::broker::start(addr) {
                Ok(a) => format!("mqtt://{a}"),
                Err(e) => {
                    tracing::warn!("{e}; assuming a broker already listens there");
                    format!("mqtt://{addr}")
                }
            }
        }
    };
    let mut gcfg = GatewayConfig::new(url, settings.station_id.clone());
    gcfg.username = settings.file.gateway_user.clone();
    gcfg.password = settings.file.gateway_password.clone();
    gcfg.ca_file = settings.file.gateway_ca.clone();
    gcfg.client_cert = settings.file.gateway_cert.clone();
    gcfg.client_key = settings.file.gateway_key.clone();
    let (status_tx, status_rx) = watch::channel(gateway_link::status_msg(
        &station.snapshot(),
        &recipe_id,
        None,
    ));
    let (cmd_tx, cmd_rx) = mpsc::channel(16);
    let gateway = Gateway::start(
        gcfg.clone(),
        gateway_link::StoreOutbox::new(store.clone())?,
        status_rx,
        cmd_tx,
    )?;
    tokio::spawn(backfill::serve(gcfg, store.clone()));
    let operator = bonder_station_ui::OperatorName::default();
    tokio::spawn(gateway_link::feed_status(
        station.clone(),
        operator.clone(),
        status_tx,
    ));
    let next_job = gateway_link::NextJob::default();
    tokio::spawn(gateway_link::serve_commands(
        cmd_rx,
        store.clone(),
        writer.clone(),
        next_job.clone(),
    ));

    // E10 time starts with the machine's state as first polled; later changes come from
    // the stream through the sink.
    {
        let (station, writer) = (station.clone(), writer.clone());
        tokio::spawn(async move {
            let mut rx = station.watch();
            loop {
                if let Some(m) = rx.borrow_and_update().machine_state {
                    let _ = writer.send(persist::state_op(m, OffsetDateTime::now_utc()));
                    return;
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        });
    }
    let changeover = Arc::new(bonder_changeover::ChangeoverService::new(
        station.clone(),
        store.clone(),
        writer.clone(),
        bonder_changeover::ServiceConfig::new(settings.station_id.to_string()),
    )?);
    Ok(Running {
        operator,
        camera,
        changeover,
        station,
        store,
        current_shift: shift_now,
        next_job,
        gateway,
        writer,
        sim,
        recipe,
    })
}

/// The headless loop: a status line a second until Ctrl-C or `--for-seconds`.
async fn headless(r: &Running, for_seconds: Option<u64>) {
    let started = Instant::now();
    let deadline = for_seconds.map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => println!("{}", status_line(&r.station.snapshot(), Some(&r.gateway.state()), started.elapsed())),
            _ = tokio::signal::ctrl_c() => break,
            () = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => break,
        }
    }
    let s = r.station.snapshot();
    let elapsed = started.elapsed();
    println!(
        "summary: {}",
        status_line(&s, Some(&r.gateway.state()), elapsed)
    );
    println!("{}", usage_line(&s, elapsed));
}

async fn stop(r: Running) -> anyhow::Result<()> {
    // The link first, so nothing reaches the writer after it closed.
    r.station.shutdown().await;
    let info = r.writer.close().await?;
    tracing::info!(max_seq = info.max_bond_seq, "store closed");
    r.gateway.shutdown().await;
    if let Some(sim) = r.sim {
        sim.shutdown().await;
    }
    Ok(())
}

fn has_display() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
}

fn parse_size(s: &str) -> anyhow::Result<(u32, u32)> {
    let (w, h) = s
        .split_once('x')
        .with_context(|| format!("size {s:?}: expected WIDTHxHEIGHT, e.g. 1280x800"))?;
    Ok((
        w.parse().with_context(|| format!("size {s:?}"))?,
        h.parse().with_context(|| format!("size {s:?}"))?,
    ))
}

fn main() -> anyhow::Result<()> {
    bonder_station_ui::mark_process_start();
    bonder_station_ui::init_local_time();
    let cli = Cli::parse();
    let settings = settings(&cli)?;
    let _guard = init_logs(&settings.log)?;
    match &cli.command {
        Some(Cmd::Audit {
            action: AuditCmd::Verify { db },
        }) => return audit_verify(db.as_ref().unwrap_or(&settings.db)),
        Some(Cmd::Backup { db, to }) => {
            let db = db.as_ref().unwrap_or(&settings.db);
            Store::open(db)?
                .backup_to(to)
                .with_context(|| format!("backup to {}", to.display()))?;
            println!("backup written to {}", to.display());
            return Ok(());
        }
        Some(Cmd::Export { what }) => return export(what, &settings.db),
        Some(Cmd::Screenshots {
            out,
            size,
            fill_seconds,
        }) => {
            std::fs::create_dir_all(out)
                .with_context(|| format!("screenshot dir {}", out.display()))?;
            let run = bonder_station_ui::ScreenshotRun {
                size_px: parse_size(size)?,
                fill: Duration::from_secs(*fill_seconds),
            };
            let files = bonder_station_ui::render_screenshots_with_simulator(out, &run)?;
            for f in files {
                println!("{}", f.display());
            }
            return Ok(());
        }
        None => {}
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let running = rt.block_on(start(settings))?;
    if cli.headless || !has_display() {
        if !cli.headless {
            tracing::info!("no display (DISPLAY/WAYLAND_DISPLAY unset): running headless");
        }
        rt.block_on(headless(&running, cli.for_seconds));
    } else {
        // Slint's event loop runs on the main thread; the core keeps running on the
        // Tokio workers.
        let mut opts = bonder_station_ui::UiOptions::new(running.recipe.clone());
        opts.fullscreen = cli.fullscreen;
        opts.work_order = running.next_job.clone();
        // Users, recipes, the audit trail and shift handovers live in the store.
        opts.changeover = Some(running.changeover.clone());
        opts.operator = running.operator.clone();
        opts.camera = running.camera.clone();
        opts.users = Arc::new(ui_store::StoreUsers {
            store: running.store.clone(),
        });
        opts.recipes = Arc::new(ui_store::StoreRecipes {
            store: running.store.clone(),
            users: opts.users.clone(),
        });
        opts.audit = Arc::new(ui_store::StoreAudit {
            writer: running.writer.clone(),
            users: opts.users.clone(),
        });
        opts.shifts = Arc::new(ui_store::StoreShifts {
            store: running.store.clone(),
            writer: running.writer.clone(),
            current: running.current_shift.clone(),
            rt: rt.handle().clone(),
        });
        bonder_station_ui::run(running.station.clone(), rt.handle().clone(), opts)?;
    }
    rt.block_on(stop(running))
}
