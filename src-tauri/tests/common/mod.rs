//! Shared by the supervisor's tests: the station binary, started against a broker.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The station binary: `$BONDER_STATION_BIN`, else the one beside this test's target
/// dir, else built there by a nested `cargo build -p bonder-station`.
///
/// Under `cargo test --workspace` (CI, `scripts/test-all.sh`) cargo has built it already:
/// `bonder-station` has integration tests, so its binary is built into
/// `$CARGO_TARGET_DIR/debug` before any test runs. The nested build only happens for
/// `cargo test -p bonder-supervisor` without it, and cannot deadlock: cargo releases the
/// target dir's lock before it runs the test binaries. (Not rebuilt when present: a
/// `-p bonder-station` build resolves features differently from the workspace's and
/// would rebuild it each time; set `BONDER_STATION_BIN` to pick another.)
pub fn station_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("BONDER_STATION_BIN") {
        return p.into();
    }
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap(); // target/debug
    let bin = dir.join("bonder-station");
    if !bin.exists() {
        let target = dir.parent().unwrap();
        let st = Command::new(env!("CARGO"))
            .args(["build", "-p", "bonder-station", "--target-dir"])
            .arg(target)
            .status()
            .unwrap();
        assert!(st.success(), "cargo build -p bonder-station failed");
    }
    bin
}

/// The supervisor binary (cargo builds it for this package's integration tests).
pub fn supervisor_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_bonder-supervisor"))
}

/// A child process killed on drop.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A headless station with its built-in simulator, publishing to `url`, trusting the
/// command key of a supervisor whose history lives in `home` (the key is created there
/// now if the supervisor has not started yet, as it would on its first start).
pub fn start_station(station: &str, url: &str, db: &Path, home: &Path) -> Proc {
    let key = bonder_fleet::signing::InstallationKey::load_or_create(home).unwrap();
    let trusted = key.export_public(home).unwrap();
    Proc(
        Command::new(station_bin())
            .arg("--trusted-key")
            .arg(trusted)
            .args([
                "--headless",
                "--simulate",
                "--log",
                "info",
                "--station-id",
                station,
                "--gateway",
                url,
            ])
            .arg("--db")
            .arg(db)
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(home.join("station.log")).unwrap())
            .spawn()
            .unwrap(),
    )
}

/// Publishes messages `(topic, payload, retained)` to a broker on 127.0.0.1:`port`.
pub fn publish(port: u16, client_id: &str, msgs: Vec<(String, Vec<u8>, bool)>) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut o = rumqttc::MqttOptions::new(client_id, "127.0.0.1", port);
        o.set_keep_alive(std::time::Duration::from_secs(5));
        o.set_max_packet_size(8 << 20, 8 << 20);
        let (client, mut ev) = rumqttc::AsyncClient::new(o, 1024);
        let n = msgs.len();
        let poll = tokio::spawn(async move {
            let mut acked = 0;
            while acked < n {
                match ev.poll().await {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_))) => acked += 1,
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        });
        for (t, p, retain) in msgs {
            client
                .publish(t, rumqttc::QoS::AtLeastOnce, retain, p)
                .await
                .unwrap();
        }
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), poll).await;
    });
}

/// Waits (up to `secs`) until the broker on 127.0.0.1:`port` carries a `{station}/bonds`
/// batch whose `last_seq` exceeds `above`: the station has then *published* those bonds,
/// not only stored them. Panics on the timeout.
pub fn wait_for_published_bonds(port: u16, station: &str, above: u64, secs: u64) -> u64 {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut o = rumqttc::MqttOptions::new("test-bond-watcher", "127.0.0.1", port);
        o.set_keep_alive(std::time::Duration::from_secs(5));
        o.set_max_packet_size(8 << 20, 8 << 20);
        let (client, mut ev) = rumqttc::AsyncClient::new(o, 64);
        client
            .subscribe(format!("{station}/bonds"), rumqttc::QoS::AtMostOnce)
            .await
            .unwrap();
        let watch = async {
            loop {
                match ev.poll().await {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                        let v: serde_json::Value =
                            serde_json::from_slice(&p.payload).unwrap_or_default();
                        if let Some(last) = v["last_seq"].as_u64().filter(|&l| l > above) {
                            return last;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => panic!("the bond watcher lost the broker: {e}"),
                }
            }
        };
        let last = tokio::time::timeout(std::time::Duration::from_secs(secs), watch)
            .await
            .unwrap_or_else(|_| panic!("no {station}/bonds batch above seq {above} in {secs} s"));
        let _ = client.disconnect().await;
        last
    })
}
