//! Helpers shared by the end-to-end tests.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

pub mod procs;

use bonder_runtime::{Snapshot, Station};
use std::time::Duration;

/// Waits until `pred` holds for the station's snapshot, or panics after `secs` with the
/// last snapshot.
pub async fn wait_for(
    station: &Station,
    secs: u64,
    what: &str,
    pred: impl Fn(&Snapshot) -> bool,
) -> Snapshot {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    let mut rx = station.watch();
    loop {
        {
            let s = rx.borrow_and_update();
            if pred(&s) {
                return s.clone();
            }
        }
        tokio::select! {
            r = rx.changed() => if r.is_err() { panic!("station stopped while waiting for {what}") },
            () = tokio::time::sleep_until(deadline) => panic!("timed out after {secs}s waiting for {what}: {:?}", station.snapshot()),
        }
    }
}

/// Polls `cond` every 100 ms until it holds, or panics after `within` naming `what`.
/// For state that has no watch channel (a gateway's error, counters that must settle).
pub async fn wait_until(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `value` has returned the same thing `polls` times in a row (100 ms
/// apart), or panics after `within`; returns that settled value.
pub async fn wait_settled<T: PartialEq + Clone + std::fmt::Debug>(
    what: &str,
    within: Duration,
    polls: usize,
    mut value: impl FnMut() -> T,
) -> T {
    let mut last: Option<T> = None;
    let mut same = 0;
    wait_until(what, within, || {
        let v = value();
        if last.as_ref() == Some(&v) {
            same += 1;
        } else {
            (last, same) = (Some(v), 1);
        }
        same >= polls
    })
    .await;
    last.expect("polled at least once")
}

/// A real mosquitto broker on a free loopback port, with persistence in a temp dir so
/// persistent sessions survive a restart. Stopped (SIGTERM) on drop.
#[derive(Debug)]
pub struct Mosquitto {
    pub port: u16,
    /// TLS listener, when started with [`Mosquitto::start_with_tls`].
    pub tls_port: Option<u16>,
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
}

/// PEM files of a throw-away CA and a server certificate for 127.0.0.1 (made with the
/// openssl command).
#[derive(Debug, Clone)]
pub struct TestPki {
    pub ca_cert: std::path::PathBuf,
    pub server_cert: std::path::PathBuf,
    pub server_key: std::path::PathBuf,
}

impl TestPki {
    /// Creates the CA and the server certificate in `dir`.
    pub fn create(dir: &std::path::Path) -> TestPki {
        let run = |args: &[&str]| {
            let out = std::process::Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .output()
                .expect("openssl");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=bonder-test-ca",
        ]);
        run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ]);
        std::fs::write(
            dir.join("san.ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap();
        run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "san.ext",
        ]);
        for f in ["ca.pem", "server.pem", "server.key"] {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.join(f), std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        TestPki {
            ca_cert: dir.join("ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
        }
    }
}

fn mosquitto_bin() -> String {
    for p in ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"] {
        if std::path::Path::new(p).exists() {
            return p.into();
        }
    }
    "mosquitto".into()
}

impl Mosquitto {
    /// Starts mosquitto (installed from apt by scripts/test-all.sh).
    pub fn start() -> Mosquitto {
        Self::start_inner(false)
    }

    /// Also listens with TLS (server certificate from a throw-away CA: [`Mosquitto::pki`]).
    pub fn start_with_tls() -> Mosquitto {
        Self::start_inner(true)
    }

    fn start_inner(tls: bool) -> Mosquitto {
        let free = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        };
        let port = free();
        let dir = tempfile::tempdir().unwrap();
        // Started as root, mosquitto drops to its own user: let it write its persistence.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        if tls {
            TestPki::create(dir.path());
        }
        let mut m = Mosquitto {
            port,
            tls_port: tls.then(free),
            dir,
            child: None,
        };
        m.restart();
        m
    }

    /// The CA and server files of the TLS listener.
    pub fn pki(&self) -> TestPki {
        let d = self.dir.path();
        TestPki {
            ca_cert: d.join("ca.pem"),
            server_cert: d.join("server.pem"),
            server_key: d.join("server.key"),
        }
    }

    /// The broker URL.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Starts it again on the same port with the same persistence.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let conf = self.dir.path().join("mosquitto.conf");
        let mut text = format!(
            "per_listener_settings false\nallow_anonymous true\npersistence true\npersistence_location {}/\nautosave_interval 1\nmax_queued_messages 100000\nlog_dest none\nlistener {} 127.0.0.1\n",
            self.dir.path().display(),
            self.port,
        );
        if let Some(tls) = self.tls_port {
            let p = self.pki();
            text += &format!(
                "listener {tls} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\n",
                p.ca_cert.display(),
                p.server_cert.display(),
                p.server_key.display()
            );
        }
        std::fs::write(&conf, text).unwrap();
        let child = std::process::Command::new(mosquitto_bin())
            .arg("-c")
            .arg(&conf)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("mosquitto is not installed: run scripts/test-all.sh (it installs it)");
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("mosquitto did not start on port {}", self.port);
    }

    /// Stops it gracefully (SIGTERM: it saves its persistence file).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = std::process::Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let _ = c.wait();
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What a subscriber received: topic, JSON payload (null if not JSON), retained flag.
pub type Received = (String, serde_json::Value, bool);

/// Subscribes to `filter` with a persistent session (so it also gets what is published
/// while it reconnects after a broker restart); the client lives as long as the receiver.
pub async fn subscribe(
    port: u16,
    client_id: &str,
    filter: &str,
) -> tokio::sync::mpsc::UnboundedReceiver<Received> {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let mut o = MqttOptions::new(client_id, "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(5));
    o.set_clean_session(false);
    o.set_max_packet_size(4 << 20, 4 << 20);
    let (client, mut ev) = AsyncClient::new(o, 100);
    client.subscribe(filter, QoS::AtLeastOnce).await.unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let filter = filter.to_string();
    // Returns once the broker has acknowledged the subscription: a message published
    // after this call is never missed (the first bonds of a test once were).
    let mut first = true;
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match ev.poll().await {
                Ok(Event::Incoming(Packet::SubAck(_))) => return,
                Ok(Event::Incoming(Packet::ConnAck(_))) => first = false,
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let v = serde_json::from_slice(&p.payload).unwrap_or(serde_json::Value::Null);
                    let _ = tx.send((p.topic.clone(), v, p.retain));
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{client_id}: no SUBACK for {filter} within 30 s"));
    tokio::spawn(async move {
        loop {
            match ev.poll().await {
                // Subscribed again on every reconnect: a broker restarted before it saved
                // this session (autosave) has forgotten the subscription.
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    if !first {
                        let _ = client.try_subscribe(filter.clone(), QoS::AtLeastOnce);
                    }
                    first = false;
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let v = serde_json::from_slice(&p.payload).unwrap_or(serde_json::Value::Null);
                    if tx.send((p.topic.clone(), v, p.retain)).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    });
    rx
}

/// Panics unless every seq from 1 to the highest seen was seen.
pub fn assert_no_gap(seen: &std::collections::BTreeSet<u64>) {
    let max = seen.last().copied().unwrap_or(0);
    let missing: Vec<u64> = (1..=max).filter(|s| !seen.contains(s)).collect();
    assert!(
        missing.is_empty(),
        "{} of {max} seqs missing, first {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
}
