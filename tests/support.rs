//! Helpers shared by the end-to-end tests.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

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

/// A real mosquitto broker on a free loopback port, with persistence in a temp dir so
/// persistent sessions survive a restart. Stopped (SIGTERM) on drop.
#[derive(Debug)]
pub struct Mosquitto {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
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
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        // Started as root, mosquitto drops to its own user: let it write its persistence.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let mut m = Mosquitto {
            port,
            dir,
            child: None,
        };
        m.restart();
        m
    }

    /// The broker URL.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Starts it again on the same port with the same persistence.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let conf = self.dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\nautosave_interval 1\nmax_queued_messages 100000\nlog_dest none\n",
                self.port,
                self.dir.path().display()
            ),
        )
        .unwrap();
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
