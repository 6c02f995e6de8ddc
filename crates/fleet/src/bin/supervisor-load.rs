//! Load scenario of the supervisor core (`scripts/supervisor-load.sh`): N synthetic
//! stations publish gateway traffic to a broker; the supervisor core ingests it into its
//! history and model. Prints the fleet update latency (station status time stamp → tiles
//! ready to push, with the app's 100 ms push coalescing), the process's memory over
//! time, and the time to build a 7-day line report over N stations.
//!
//! `supervisor-load --broker mqtt://127.0.0.1:PORT [--stations 50] [--seconds 120]
//!  [--wires-per-s 10] [--dir DIR] [--publish-only]`
//!
//! `--publish-only`: only the synthetic stations publish (for SECONDS), no supervisor
//! core and no report: traffic for a real supervisor app (the paint-latency scenario).

use anyhow::Context;
use bonder_fleet::history::{History, now_ms};
use bonder_fleet::{GatewaySettings, Supervisor, synth};
use std::collections::HashMap;
use std::time::{Duration, Instant};

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn pct(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let r = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[r.clamp(1, sorted.len()) - 1]
}

struct Args {
    broker: String,
    stations: usize,
    seconds: u64,
    wires_per_s: u64,
    dir: std::path::PathBuf,
    publish_only: bool,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        broker: String::new(),
        stations: 50,
        seconds: 120,
        wires_per_s: 10,
        dir: std::env::temp_dir().join(format!("supervisor-load-{}", std::process::id())),
        publish_only: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        if k == "--publish-only" {
            a.publish_only = true;
            continue;
        }
        let v = it.next().with_context(|| format!("{k} needs a value"))?;
        match k.as_str() {
            "--broker" => a.broker = v,
            "--stations" => a.stations = v.parse()?,
            "--seconds" => a.seconds = v.parse()?,
            "--wires-per-s" => a.wires_per_s = v.parse()?,
            "--dir" => a.dir = v.into(),
            _ => anyhow::bail!("unknown flag {k}"),
        }
    }
    anyhow::ensure!(!a.broker.is_empty(), "--broker mqtt://HOST:PORT is needed");
    Ok(a)
}

mod url_parts {
    #[derive(Clone)]
    pub struct Parts {
        pub host: String,
        pub port: u16,
    }
    pub fn parse(u: &str) -> anyhow::Result<Parts> {
        let rest = u.strip_prefix("mqtt://").unwrap_or(u);
        let (host, port) = rest.rsplit_once(':').unwrap_or((rest, "1883"));
        Ok(Parts {
            host: host.into(),
            port: port.parse()?,
        })
    }
}

fn report_7_days(dir: &std::path::Path, stations: usize) -> anyhow::Result<()> {
    let path = dir.join("seven-days.sqlite");
    let _ = std::fs::remove_file(&path);
    let mut h = History::open(&path)?;
    let now = now_ms();
    let now = now - now.rem_euclid(60_000);
    let from = now - 7 * 86_400_000;
    let t = Instant::now();
    let mut rng = synth::Rng::new(99);
    for i in 0..stations {
        let id = format!("sz1/assembly/l1/wb-{i:02}");
        h.in_transaction(|h| {
            let mut m = from;
            let mut state_until = from;
            while m < now {
                if m >= state_until {
                    let s = if rng.f() < 0.85 {
                        "running"
                    } else if rng.f() < 0.5 {
                        "alarm"
                    } else {
                        "setup"
                    };
                    h.add_status_change(&id, m, s)?;
                    state_until = m + ((5.0 + rng.f() * 55.0) as i64) * 60_000;
                }
                let rej = (rng.f() * 8.0) as u64;
                h.add_counts(
                    &id,
                    m,
                    &[
                        (0, "ok", 600),
                        (1, "ok", 600 - rej),
                        (1, "nsop", rej / 2),
                        (1, "placement", rej - rej / 2),
                    ],
                )?;
                m += 60_000;
            }
            Ok(())
        })?;
    }
    println!(
        "7-day history of {stations} stations synthesised in {:.1} s ({} minutes each)",
        t.elapsed().as_secs_f64(),
        (now - from) / 60_000
    );
    let mut times = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let r = bonder_fleet::reports::shift_report(&h, "sz1/assembly/l1/", from, now, now, 600.0)?;
        times.push(t.elapsed().as_secs_f64());
        anyhow::ensure!(
            r.stations.len() == stations,
            "report has {} stations",
            r.stations.len()
        );
        if times.len() == 1 {
            println!(
                "7-day line report: {} stations, {} wires, yield {:.2} %, OEE {:.1} %",
                r.stations.len(),
                r.total.wires,
                r.total.yield_pct,
                r.total.oee_pct
            );
        }
    }
    println!(
        "7-day line report over {stations} stations built in {:.3} s (first), {:.3} s / {:.3} s (again); target < 2 s",
        times[0], times[1], times[2]
    );
    Ok(())
}

/// Starts the synthetic stations (each ends at `until`).
fn spawn_stations(a: &Args, until: Instant) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let parts = url_parts::parse(&a.broker)?;
    Ok((0..a.stations)
        .map(|i| {
            let (host, port, w) = (parts.host.clone(), parts.port, a.wires_per_s);
            tokio::spawn(async move {
                if let Err(e) = synth::run_station(host, port, i, w, until).await {
                    eprintln!("station {i}: {e}");
                }
            })
        })
        .collect())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args()?;
    if a.publish_only {
        let until = Instant::now() + Duration::from_secs(a.seconds);
        println!(
            "publishing: {} synthetic stations to {} for {} s",
            a.stations, a.broker, a.seconds
        );
        for h in spawn_stations(&a, until)? {
            h.await?;
        }
        return Ok(());
    }
    std::fs::create_dir_all(&a.dir)?;
    let db = a.dir.join("supervisor.sqlite");
    let _ = std::fs::remove_file(&db);
    let sv = Supervisor::open(&db)?;
    let mut g = GatewaySettings::new(a.broker.clone());
    g.client_id = format!("supervisor-load-{}", std::process::id());
    sv.connect(&tokio::runtime::Handle::current(), g)?;
    println!("rss at start: {:.1} MiB", rss_mib());

    let until = Instant::now() + Duration::from_secs(a.seconds);
    spawn_stations(&a, until)?;

    // The app's push path: on a change, tiles are taken and sent, then 100 ms of
    // coalescing. Latency = push time − the status's own time stamp.
    let watcher = {
        let sv = sv.clone();
        tokio::spawn(async move {
            let mut changes = sv.changes();
            let mut seen: HashMap<String, i64> = HashMap::new();
            let mut lat = Vec::new();
            while Instant::now() < until {
                if tokio::time::timeout(Duration::from_secs(1), changes.changed())
                    .await
                    .is_err()
                {
                    continue;
                }
                let tiles = sv.tiles();
                let now = now_ms();
                for t in &tiles {
                    let prev = seen.insert(t.id.clone(), t.status_ts_ms);
                    if prev.is_some_and(|p| p != t.status_ts_ms) && t.status_ts_ms > 0 {
                        lat.push(now - t.status_ts_ms);
                    }
                }
                tokio::time::sleep(bonder_fleet_push_every()).await;
            }
            lat
        })
    };
    let start = Instant::now();
    let mut mem = Vec::new();
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_secs(10)).await;
        let r = rss_mib();
        mem.push((start.elapsed().as_secs(), r));
        println!(
            "t={:>4} s  rss {:.1} MiB  bonds received {}  tiles {}",
            start.elapsed().as_secs(),
            r,
            sv.bonds_received(),
            sv.tiles().len()
        );
    }
    let mut lat = watcher.await?;
    lat.sort_unstable();
    println!(
        "fleet update latency (status ts -> tiles pushed), {} stations, {} events: p50 {} ms, p90 {} ms, p99 {} ms, max {} ms",
        a.stations,
        lat.len(),
        pct(&lat, 50.0),
        pct(&lat, 90.0),
        pct(&lat, 99.0),
        lat.last().copied().unwrap_or(0)
    );
    sv.flush();
    println!(
        "bonds received {}; rss at end {:.1} MiB",
        sv.bonds_received(),
        rss_mib()
    );
    sv.disconnect();
    report_7_days(&a.dir, a.stations)?;
    Ok(())
}

fn bonder_fleet_push_every() -> Duration {
    Duration::from_millis(100)
}
