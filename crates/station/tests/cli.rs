//! The station binary as a user runs it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::process::Command;

fn station() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bonder-station"));
    // Keep the test's logs and config away from the user's directories.
    let home = tempfile::tempdir().unwrap().keep();
    c.env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"));
    // No --gateway in these tests: the embedded broker on a free port, not on 1883
    // (which parallel tests, or a broker on this machine, would share).
    c.args(["--embedded-broker", "127.0.0.1:0"]);
    c
}

#[test]
fn with_no_flags_it_bonds_against_the_embedded_simulator() {
    let out = station()
        .args(["--headless", "--for-seconds", "3", "--log", "warn"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let status_lines = text.lines().filter(|l| l.starts_with("t=")).count();
    assert!(status_lines >= 2, "one status line a second:\n{text}");
    let summary = text
        .lines()
        .find(|l| l.starts_with("summary:"))
        .expect("summary line");
    assert!(
        summary.contains("link=online") && summary.contains("state=running"),
        "{summary}"
    );
    let wires: u64 = summary
        .split("wires=")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wires >= 15, "about 10 wires/s for 3 s: {summary}");
    assert!(text.contains("lost_frames=0"), "{text}");
}

#[test]
fn an_unknown_config_key_is_refused_naming_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("station.toml");
    std::fs::write(
        &cfg,
        "station_id = \"sz1/assembly/l1/wb-01\"\ngatway = \"mqtt://x\"\n",
    )
    .unwrap();
    let out = station()
        .arg("--config")
        .arg(&cfg)
        .args(["--for-seconds", "1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("station.toml") && err.contains("line 2") && err.contains("gatway"),
        "{err}"
    );
}

#[test]
fn bad_flags_are_explained() {
    for (args, needle) in [
        (vec!["--controller", "nowhere"], "expected HOST:PORT"),
        (vec!["--stream", "udp://1.2.3.4:5"], "tcp://HOST:PORT"),
        (vec!["--station-id", "WB 7"], "site/area/line/station"),
    ] {
        let out = station().args(&args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn a_malformed_recipe_file_lists_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("r.json");
    let mut r = bonder_core::recipe::Recipe::default_cu();
    r.forming_gas_l_min.0 = 12.5;
    r.stitch.force_gf.0 = 1.0;
    std::fs::write(&p, r.to_json()).unwrap();
    let out = station().arg("--recipe").arg(&p).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("forming_gas_l_min 12.5 is outside 0..10"),
        "{err}"
    );
    assert!(err.contains("stitch.force_gf 1 is outside 5..200"), "{err}");
}
