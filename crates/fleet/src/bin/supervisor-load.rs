//! Load scenario of the supervisor core (`scripts/supervisor-load.sh`): N synthetic
//! stations publish gateway traffic to a broker; the supervisor core ingests it into its
//! history and model. Prints the fleet update latency (station status time stamp → tiles
//! ready to push, with the app's 100 ms push coalescing), the process's memory over
//! time, and the time to build a 7-day line report over N stations.
//!
//! `supervisor-load --broker mqtt://127.0.0.1:PORT [--stations 50] [--seconds 120]
//!  [--wires-per-s 10] [--dir DIR]`

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
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        broker: String::new(),
        stations: 50,
        seconds: 120,
        wires_per_s: 10,
        dir: std::env::temp_dir().join(format!("supervisor-load-{}", std::process::id())),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
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

async fn station(
    url: url_parts::Parts,
    i: usize,
    wires_per_s: u64,
    until: Instant,
) -> anyhow::Result<()> {
    let id = format!("sz1/assembly/l{}/wb-{:02}", i / 10 + 1, i % 10 + 1);
    let mut o = rumqttc::MqttOptions::new(format!("load-{i}"), url.host.clone(), url.port);
    o.set_keep_alive(Duration::from_secs(10));
    o.set_max_packet_size(8 << 20, 8 << 20);
    let (client, mut ev) = rumqttc::AsyncClient::new(o, 256);
    tokio::spawn(async move { while ev.poll().await.is_ok() {} });
    let mut rng = synth::Rng::new(i as u64 + 1);
    let mut seq = 1u64;
    let mut wires = 0u64;
    let mut state = "running";
    let mut last_status = Instant::now() - Duration::from_secs(60);
    let qos = rumqttc::QoS::AtLeastOnce;
    // Stagger the stations over the first second.
    tokio::time::sleep(Duration::from_millis((i as u64 * 1000) / 50)).await;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    while Instant::now() < until {
        tick.tick().await;
        // About one state change per station every 20 s: that is the event measured.
        let changed = rng.f() < 0.05;
        if changed {
            state = match state {
                "running" if rng.f() < 0.5 => "alarm",
                "running" => "paused",
                _ => "running",
            };
            if state == "alarm" {
                let a = synth::alarm(104, true);
                client
                    .publish(format!("{id}/alarms"), qos, false, serde_json::to_vec(&a)?)
                    .await?;
            }
        }
        if state == "running" {
            let b = synth::bonds(&mut rng, seq, wires_per_s, 0.01);
            seq = b.last_seq + 1;
            wires += wires_per_s;
            client
                .publish(format!("{id}/bonds"), qos, false, serde_json::to_vec(&b)?)
                .await?;
        }
        if changed || last_status.elapsed() >= Duration::from_secs(10) {
            let s = synth::status(
                state,
                "SOT23-CU20@3",
                Some("OP1"),
                wires,
                (wires_per_s * 60) as f64,
                99.0 + rng.f(),
                (state == "alarm").then_some(104),
            );
            client
                .publish(format!("{id}/status"), qos, true, serde_json::to_vec(&s)?)
                .await?;
            last_status = Instant::now();
        }
    }
    Ok(())
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args()?;
    std::fs::create_dir_all(&a.dir)?;
    let db = a.dir.join("supervisor.sqlite");
    let _ = std::fs::remove_file(&db);
    let sv = Supervisor::open(&db)?;
    let mut g = GatewaySettings::new(a.broker.clone());
    g.client_id = format!("supervisor-load-{}", std::process::id());
    sv.connect(&tokio::runtime::Handle::current(), g)?;
    println!("rss at start: {:.1} MiB", rss_mib());

    let until = Instant::now() + Duration::from_secs(a.seconds);
    let parts = url_parts::parse(&a.broker)?;
    for i in 0..a.stations {
        let p = parts.clone();
        let w = a.wires_per_s;
        tokio::spawn(async move {
            if let Err(e) = station(p, i, w, until).await {
                eprintln!("station {i}: {e}");
            }
        });
    }

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
