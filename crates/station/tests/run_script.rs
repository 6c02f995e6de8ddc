//! The README's run command (`scripts/run-station.sh`) as a new user meets it: with a
//! display it opens the touch UI (a real window under Xvfb, found by its title), without
//! one it runs headless and says so. The script runs the binary this test was built with
//! (`BONDER_STATION_BIN`), so no cargo build happens inside `cargo test`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/run-station.sh")
}

/// The script with its own home (config, data, logs) and a free port for the embedded
/// broker, without the built-in simulator's camera (it costs CPU and is not looked at).
fn run_station(home: &Path) -> Command {
    let mut c = Command::new("bash");
    c.arg(script())
        .env("BONDER_STATION_BIN", env!("CARGO_BIN_EXE_bonder-station"))
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .args(["--camera", "none", "--embedded-broker", "127.0.0.1:0"]);
    c
}

#[test]
fn without_a_display_it_runs_headless_and_says_so() {
    let home = tempfile::tempdir().unwrap();
    let out = run_station(home.path())
        .args(["--for-seconds", "3"])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("no display"), "{stderr}");
    assert!(stdout.contains("summary:"), "{stdout}");
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn which(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A free X display number and an Xvfb on it.
fn xvfb() -> (String, Killed) {
    for tool in ["Xvfb", "xwininfo"] {
        assert!(
            which(tool),
            "{tool} not found: apt-get install xvfb x11-utils (scripts/test-all.sh does)"
        );
    }
    let n = (120..300)
        .find(|n| {
            !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                && !Path::new(&format!("/tmp/.X{n}-lock")).exists()
        })
        .unwrap();
    let display = format!(":{n}");
    let x = Killed(
        Command::new("Xvfb")
            .args([&display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
        assert!(Instant::now() < deadline, "Xvfb {display} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (display, x)
}

#[test]
fn with_a_display_it_opens_the_touch_ui() {
    let (display, _x) = xvfb();
    let home = tempfile::tempdir().unwrap();
    let log = home.path().join("out.txt");
    let mut station = Killed(
        run_station(home.path())
            .env("DISPLAY", &display)
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(home.path().join("err.txt")).unwrap())
            .spawn()
            .unwrap(),
    );
    // The window's title is the en-US app title (the language before anybody logs in).
    let title = bonder_i18n::tr(bonder_i18n::Lang::EnUs, "app-title");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(status) = station.0.try_wait().unwrap() {
            panic!(
                "the station ended ({status}) instead of showing its window:\n{}",
                std::fs::read_to_string(home.path().join("err.txt")).unwrap_or_default()
            );
        }
        let tree = Command::new("xwininfo")
            .args(["-display", &display, "-root", "-tree"])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&tree.stdout).contains(&format!("\"{title}\"")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no window titled {title:?} on {display}:\n{}",
            String::from_utf8_lossy(&tree.stdout)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let err = std::fs::read_to_string(home.path().join("err.txt")).unwrap_or_default();
    assert!(err.contains("opening the touch UI"), "{err}");
    // The headless status line is not printed: the UI runs, not the headless loop.
    let out = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!out.lines().any(|l| l.starts_with("t=")), "{out}");
}
