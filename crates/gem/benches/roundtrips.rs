//! Load scenario with printed figures (not a timed test):
//!
//! 1. S1F1/S1F2 round trips per second from one host connection (a `bonder-secs`
//!    session, one request at a time), against `bonder-gem` (with the in-memory station
//!    of the tests) and, in the same run, against python secsgem 0.3.0's own
//!    `GemEquipmentHandler` answering the same client.
//! 2. Latency from a station event (a completed unit, 20 wires/s at 8 wires a unit) to
//!    its S6F11 at the host, p50/p99.
//!
//! `cargo bench -p bonder-gem --bench roundtrips` (python from `BONDER_PYTHON` or the
//! virtual environment `scripts/common.sh` creates; without it only bonder-gem runs).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use bonder_gem::StationEvent;
use bonder_secs::{Event, HsmsConfig, Item, Message, Session};
use std::io::BufRead;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const RUN: Duration = Duration::from_secs(5);

fn python() -> Option<PathBuf> {
    std::env::var_os("BONDER_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            let p =
                PathBuf::from(std::env::var_os("HOME")?).join(".cache/bonder-hmi/venv/bin/python");
            p.exists().then_some(p)
        })
}

/// A host that answers the equipment's S1F13, establishes communication itself, then
/// does S1F1 after S1F1 for `RUN`: (round trips per second, p50 µs, p99 µs).
async fn s1f1_rate(addr: std::net::SocketAddr) -> (f64, u128, u128) {
    let (s, mut ev) = Session::start(HsmsConfig::active(addr)).await.unwrap();
    let s2 = s.clone();
    let answers = tokio::spawn(async move {
        while let Some(e) = ev.recv().await {
            if let Event::Primary(p) = e {
                if (p.message.stream, p.message.function) == (1, 13) {
                    s2.reply(
                        &p.token,
                        Message::reply(1, 14, Item::list([Item::binary(0), Item::list([])])),
                    );
                } else if p.message.w {
                    s2.abort(&p.token);
                }
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while s
        .request(Message::request(1, 13, Item::list([])))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "no communication with {addr}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Warm up, then measure.
    for _ in 0..200 {
        s.request(Message::header_only(1, 1, true)).await.unwrap();
    }
    let mut lat = Vec::new();
    let start = Instant::now();
    while start.elapsed() < RUN {
        let t = Instant::now();
        let r = s.request(Message::header_only(1, 1, true)).await.unwrap();
        assert_eq!(r.function, 2);
        lat.push(t.elapsed().as_micros());
    }
    let rate = lat.len() as f64 / start.elapsed().as_secs_f64();
    // Let the connection go (the equipment takes one host at a time).
    answers.abort();
    s.close();
    drop(s);
    lat.sort_unstable();
    (rate, lat[lat.len() / 2], lat[lat.len() * 99 / 100])
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let st = support::Station::default();
        let (gem, addr) = support::equipment(&st).await;
        let ours = s1f1_rate(addr).await;
        println!("S1F1/S1F2 round trips, one connection, one at a time, {} s each:", RUN.as_secs());
        println!("  bonder-gem:                 {:>8.0} /s  p50 {:>5} µs  p99 {:>5} µs", ours.0, ours.1, ours.2);
        match python() {
            Some(py) => {
                let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
                let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/secsgem_equipment.py");
                let mut child = std::process::Command::new(py)
                    .arg(script)
                    .arg(port.to_string())
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .unwrap();
                let mut line = String::new();
                std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
                assert_eq!(line.trim(), "ready");
                let theirs = s1f1_rate(format!("127.0.0.1:{port}").parse().unwrap()).await;
                println!("  secsgem GemEquipmentHandler: {:>7.0} /s  p50 {:>5} µs  p99 {:>5} µs", theirs.0, theirs.1, theirs.2);
                println!("  ratio bonder-gem / secsgem:  {:.1}×", ours.0 / theirs.0);
                drop(child.stdin.take());
                let _ = child.kill();
                let _ = child.wait();
            }
            None => println!("  (python secsgem not found: run scripts/test-all.sh once, or set BONDER_PYTHON)"),
        }

        // Event latency at 20 wires/s, 8 wires a unit: a unit every 400 ms, 100 units.
        let mut h = support::host(addr).await;
        let def = Item::list([Item::u4(1), Item::list([Item::list([Item::u4(7), Item::list([Item::u4(2001)])])])]);
        h.ask(Message::request(2, 33, def)).await;
        let link = Item::list([Item::u4(1), Item::list([Item::list([Item::u4(106), Item::list([Item::u4(7)])])])]);
        h.ask(Message::request(2, 35, link)).await;
        h.ask(Message::request(2, 37, Item::list([Item::boolean(true), Item::list([Item::u4(106)])]))).await;
        let mut lat = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_millis(400));
        for n in 0..100 {
            tick.tick().await;
            let t = Instant::now();
            gem.notify(StationEvent::UnitCompleted { unit: n, wires: 8, rejects: 0 });
            h.next_unit().await;
            lat.push(t.elapsed().as_micros());
        }
        lat.sort_unstable();
        println!(
            "station event → S6F11 at the host (UnitCompleted, 20 wires/s): p50 {} µs, p99 {} µs over {} units",
            lat[lat.len() / 2],
            lat[lat.len() * 99 / 100],
            lat.len()
        );
    });
}
