//! `bonder-station`: the operator station of one wire bonder. Headless for now (the
//! Slint UI comes with issue 5): it connects to the controller, judges every bond and
//! prints a status line every second.

mod config;

use anyhow::{Context, bail};
use bonder_core::Defect;
use bonder_core::recipe::Recipe;
use bonder_link::StreamEndpoint;
use bonder_runtime::{RuntimeConfig, Snapshot, Station};
use bondersim::{SimConfig, Simulator};
use clap::Parser;
use config::FileConfig;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The operator station of a wire bonder.
#[derive(Debug, Parser)]
#[command(name = "bonder-station", version)]
struct Cli {
    /// Run without a display (the only mode until the UI lands).
    #[arg(long)]
    headless: bool,
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
    /// ISA-95 station id.
    #[arg(long)]
    station_id: Option<String>,
    /// SQLite file (the store arrives with issue 3).
    #[arg(long)]
    db: Option<PathBuf>,
    /// Gateway MQTT URL (the gateway link arrives with issue 4).
    #[arg(long)]
    gateway: Option<String>,
    /// Recipe document (JSON) to judge against and download.
    #[arg(long)]
    recipe: Option<PathBuf>,
    /// Log filter (e.g. info, debug).
    #[arg(long)]
    log: Option<String>,
    /// Stop after this many seconds and print the summary.
    #[arg(long)]
    for_seconds: Option<u64>,
}

struct Settings {
    controller: Option<SocketAddr>,
    stream: Option<StreamEndpoint>,
    station_id: String,
    db: Option<PathBuf>,
    gateway: Option<String>,
    recipe: Recipe,
    log: String,
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
    let recipe = match cli.recipe.clone().or(file.recipe.clone()) {
        Some(p) => {
            let text = std::fs::read_to_string(&p)
                .with_context(|| format!("recipe file {}", p.display()))?;
            Recipe::from_json(&text).with_context(|| format!("recipe file {}", p.display()))?
        }
        None => Recipe::default_au(),
    };
    let station_id =
        pick(&cli.station_id, &file.station_id).unwrap_or_else(|| "sz1/assembly/l1/wb-01".into());
    if station_id.split('/').count() != 4
        || !station_id.split('/').all(|l| {
            !l.is_empty()
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
    {
        bail!("station id {station_id:?}: expected site/area/line/station, each [a-z0-9-]+");
    }
    Ok(Settings {
        controller,
        stream,
        station_id,
        db: cli.db.clone().or(file.db),
        gateway: pick(&cli.gateway, &file.gateway),
        recipe,
        log: pick(&cli.log, &file.log).unwrap_or_else(|| "info".into()),
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

fn status_line(s: &Snapshot, elapsed: Duration) -> String {
    let c = &s.counters;
    let state = s.machine_state.map_or("-", |m| m.name());
    let rejects: Vec<String> = Defect::ALL
        .into_iter()
        .filter(|d| c.rejects[d.index()] > 0)
        .map(|d| format!("{}={}", d.name(), c.rejects[d.index()]))
        .collect();
    format!(
        "t={:>4}s link={} state={} recipe={} wires={} rejected={} yield={:.2}% rate={:.0}/min uph={:.0} bonds={} lost={} bad_crc={} learned={}/{} rejects=[{}]",
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = settings(&cli)?;
    let _guard = init_logs(&settings.log)?;
    if !cli.headless {
        tracing::info!("the station UI is not built yet: running headless");
    }
    if settings.db.is_some() || settings.gateway.is_some() {
        tracing::warn!(
            "--db and --gateway are accepted but not used yet (store and gateway are later issues)"
        );
    }
    tracing::info!(station = %settings.station_id, "starting");

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
    let mut cfg = RuntimeConfig::new(controller);
    cfg.stream = settings.stream;
    cfg.recipe = settings.recipe;
    let station = Station::start(cfg);

    let started = Instant::now();
    let deadline = cli
        .for_seconds
        .map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => println!("{}", status_line(&station.snapshot(), started.elapsed())),
            _ = tokio::signal::ctrl_c() => break,
            () = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => break,
        }
    }
    let s = station.snapshot();
    let elapsed = started.elapsed();
    println!("summary: {}", status_line(&s, elapsed));
    println!("{}", usage_line(&s, elapsed));
    station.shutdown().await;
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    Ok(())
}
