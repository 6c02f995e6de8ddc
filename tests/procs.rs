//! Processes the end-to-end tests drive: the station binary (started by the test with
//! its own `HOME`), and the independent python peers (`secsgem`, `asyncua`, paho) that
//! speak one JSON object per line on stdin/stdout.

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The virtual environment's python with the peers: `BONDER_PYTHON`, else the one
/// `scripts/common.sh` (`need_python_peers`) creates.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("BONDER_PYTHON") {
        return p.into();
    }
    let home = std::env::var_os("HOME").unwrap_or_default();
    let p = Path::new(&home).join(".cache/bonder-hmi/venv/bin/python");
    assert!(
        p.exists(),
        "no python with the peers (secsgem, asyncua): run scripts/test-all.sh (it creates {}) \
         or set BONDER_PYTHON",
        p.display()
    );
    p
}

/// A loopback port free at the time of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// A command for the station binary `bin` with `home` as its `HOME` and XDG directories
/// (nothing of the user running the tests is read or written).
pub fn station_command(bin: &Path, home: &Path) -> Command {
    let mut c = Command::new(bin);
    c.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"));
    c
}

/// A headless station on a controller, without the camera, with its own embedded broker
/// and the test log filter: the start every end-to-end station test shares (add the
/// interfaces under test).
pub fn headless_station(bin: &Path, home: &Path, db: &Path, controller: &str) -> Command {
    let mut c = station_command(bin, home);
    c.args(["--headless", "--camera", "none", "--log", &test_log()])
        .args(["--station-id", "sz1/assembly/l1/wb-16"])
        .args(["--embedded-broker", "127.0.0.1:0"])
        .args(["--controller", controller])
        .arg("--db")
        .arg(db);
    c
}

/// The log filter for stations under test: `BONDER_TEST_LOG`, else `warn`.
pub fn test_log() -> String {
    std::env::var("BONDER_TEST_LOG").unwrap_or_else(|_| "warn".into())
}

/// `bonder-station users add`, the secret on stdin; panics with the station's stderr if
/// it fails.
pub fn add_user(bin: &Path, home: &Path, db: &Path, badge: &str, role: &str, secret: &str) {
    let mut child = station_command(bin, home)
        .args([
            "users", "add", "--badge", badge, "--name", badge, "--role", role,
        ])
        .arg("--db")
        .arg(db)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    if let Some(mut stdin) = child.stdin.take() {
        let _ = writeln!(stdin, "{secret}");
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("users add {badge}: {e}"));
    assert!(
        out.status.success(),
        "users add {badge}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A station (or any) process; killed (SIGKILL) when dropped. With stdout piped, its
/// lines are kept for [`Proc::wait_line`].
#[derive(Debug)]
pub struct Proc {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    /// Spawns `cmd` (stderr inherited, so its log shows with the test's output).
    pub fn spawn(mut cmd: Command) -> Proc {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        if let Some(out) = child.stdout.take() {
            let keep = lines.clone();
            std::thread::spawn(move || {
                for l in BufReader::new(out).lines().map_while(Result::ok) {
                    keep.lock().unwrap_or_else(|p| p.into_inner()).push(l);
                }
            });
        }
        Proc { child, lines }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits for a line on stdout that satisfies `f` (the newest such line).
    pub fn wait_line(&self, what: &str, secs: u64, f: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            {
                let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(l) = lines.iter().rev().find(|l| f(l)) {
                    return l.clone();
                }
                assert!(
                    Instant::now() < deadline,
                    "{what}: no such line within {secs} s; last: {:?}",
                    lines.last()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Resident memory now, KiB (0 once it has exited).
    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.child.id())
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Resident memory of a process, KiB, from `/proc` (0 if unknown).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// CPU time a process has used so far (user + system), seconds, from `/proc` (0 if
/// unknown). Clock ticks are taken as 100 per second (`USER_HZ` on every Linux ABI the
/// station ships to).
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state): utime is field 14, stime field 15.
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    (tick(11) + tick(12)) as f64 / 100.0
}

/// A python peer: one JSON command per line in, one JSON answer per line out (lines that
/// are not JSON, such as library warnings, are skipped). Killed when dropped.
#[derive(Debug)]
pub struct JsonPeer {
    child: Child,
    stdin: ChildStdin,
    out: BufReader<ChildStdout>,
}

impl JsonPeer {
    /// Starts `script` with [`python`]; with `show_stderr` its stderr is shown with the
    /// test's output (else dropped: some libraries warn on every message).
    pub fn start(script: &Path, show_stderr: bool) -> JsonPeer {
        let mut child = Command::new(python())
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(if show_stderr {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", script.display()));
        let (Some(stdin), Some(out)) = (child.stdin.take(), child.stdout.take()) else {
            panic!("{}: no pipes", script.display());
        };
        JsonPeer {
            child,
            stdin,
            out: BufReader::new(out),
        }
    }

    /// The answer to `cmd`.
    pub fn call(&mut self, cmd: Value) -> Value {
        writeln!(self.stdin, "{cmd}").unwrap_or_else(|e| panic!("peer gone on {cmd}: {e}"));
        loop {
            let mut line = String::new();
            let n = self
                .out
                .read_line(&mut line)
                .unwrap_or_else(|e| panic!("peer gone on {cmd}: {e}"));
            assert!(n > 0, "the peer exited on {cmd}");
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                return v;
            }
        }
    }
}

impl Drop for JsonPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `p`-quantile (0..=1) of `v` by nearest rank (sorts `v`; NaN when empty).
pub fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// Polls `f` every 100 ms until it gives `Some` (panics naming `what` after `secs`).
pub fn poll<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {secs} s");
        std::thread::sleep(Duration::from_millis(100));
    }
}
