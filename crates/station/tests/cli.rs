//! The station binary as a user runs it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::process::Command;

fn station() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bonder-station"));
    // OPC UA's default port (4840) is not opened by tests running side by side.
    c.args(["--opcua-listen", "none"]);
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
fn without_a_controller_it_refuses_to_start_a_simulator_of_its_own() {
    let out = station()
        .args(["--headless", "--for-seconds", "3", "--log", "warn"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no controller configured")
            && err.contains("--simulate")
            && err.contains("未配置控制器"),
        "{err}"
    );
    // Both at once is a contradiction, refused before anything starts.
    let out = station()
        .args(["--headless", "--simulate", "--controller", "127.0.0.1:1502"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn with_simulate_it_bonds_against_the_embedded_simulator() {
    let out = station()
        .args([
            "--headless",
            "--simulate",
            "--for-seconds",
            "3",
            "--log",
            "warn",
        ])
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

/// `users add|list|disable|reset|role` for headless deployments (secrets on stdin),
/// and `audit export` for the plant's SIEM: RFC 5424 lines and CSV, the export itself
/// audited.
#[test]
fn users_are_administered_and_the_audit_exported_from_the_command_line() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("station.sqlite");
    let with_stdin = |args: &[&str], input: &str| {
        let mut child = station()
            .args(args)
            .arg("--db")
            .arg(&db)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let ok = |out: std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    // The first user must be an administrator with a password of 10 or more.
    let out = with_stdin(
        &[
            "users", "add", "--badge", "OP1", "--name", "Li", "--role", "operator",
        ],
        "123456\n",
    );
    assert!(!out.status.success());
    let out = with_stdin(
        &[
            "users", "add", "--badge", "A1", "--name", "Zhao", "--role", "admin",
        ],
        "short\n",
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("at least 10 characters") && err.contains("密码"),
        "{err}"
    );
    ok(with_stdin(
        &[
            "users", "add", "--badge", "A1", "--name", "Zhao", "--role", "admin",
        ],
        "admin-password-1\n",
    ));
    ok(with_stdin(
        &[
            "users", "add", "--badge", "OP1", "--name", "Li", "--role", "operator", "--lang",
            "zh-CN",
        ],
        "123456\n",
    ));
    // A PIN is digits.
    let out = with_stdin(&["users", "reset", "--badge", "OP1"], "12345x\n");
    assert!(!out.status.success());
    ok(with_stdin(
        &["users", "reset", "--badge", "OP1"],
        "654321\n",
    ));
    ok(with_stdin(&["users", "disable", "--badge", "OP1"], ""));
    // The last administrator stays.
    let out = with_stdin(
        &["users", "role", "--badge", "A1", "--role", "engineer"],
        "",
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("at least one enabled administrator"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = ok(with_stdin(&["users", "list"], ""));
    let op = list.lines().find(|l| l.starts_with("OP1")).unwrap();
    assert!(op.contains("operator") && op.contains("disabled"), "{list}");
    assert!(
        list.lines()
            .any(|l| l.starts_with("A1") && l.contains("enabled"))
    );

    // The trail as RFC 5424 lines: one per row, the account changes among them.
    let syslog = ok(with_stdin(
        &["audit", "export", "--since", "2000-01-01"],
        "",
    ));
    let lines: Vec<&str> = syslog.lines().collect();
    // Two users created, a secret reset, a disable (refusals changed nothing).
    assert_eq!(lines.len(), 4, "{syslog}");
    for l in &lines {
        assert!(
            l.starts_with("<10") && l.contains(">1 "),
            "PRI and version: {l}"
        );
        assert!(l.contains(" bonder-station - "), "{l}");
        assert!(
            l.contains("[audit@32473 station=\"sz1/assembly/l1/wb-01\""),
            "{l}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains(" modify ") && l.contains("object=\"user:OP1#disable\"")),
        "{syslog}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains(" create ") && l.contains("user=\"cli:")),
        "{syslog}"
    );
    // CSV, to a file: a header, the same rows plus the syslog export's own audit row.
    let csv_out = dir.path().join("audit.csv");
    let mut args = vec![
        "audit",
        "export",
        "--since",
        "2000-01-01",
        "--format",
        "csv",
        "--out",
    ];
    args.push(csv_out.to_str().unwrap());
    ok(with_stdin(&args, ""));
    let csv = std::fs::read_to_string(&csv_out).unwrap();
    let mut rdr = csv::Reader::from_reader(csv.as_bytes());
    let header = rdr.headers().unwrap().clone();
    assert_eq!(&header[0], "id");
    assert_eq!(&header[10], "hash");
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), lines.len() + 1, "{csv}");
    assert!(rows.iter().any(|r| &r[4] == "export" && &r[5] == "audit"));
    // A future --since exports nothing (but is itself audited).
    let none = ok(with_stdin(
        &["audit", "export", "--since", "2999-01-01"],
        "",
    ));
    assert!(none.is_empty(), "{none}");
}

/// A recipe named in the configuration must be a released version of the station's
/// library; the simulator's demo recipes are.
#[test]
fn a_configured_recipe_must_be_a_released_library_version() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = bonder_core::recipe::Recipe::default_cu();
    r.ball.force_gf.0 += 1.0;
    let p = dir.path().join("r.json");
    std::fs::write(&p, r.to_json()).unwrap();
    let db = dir.path().join("s.sqlite");
    let out = station()
        .args([
            "--headless",
            "--for-seconds",
            "1",
            "--controller",
            "127.0.0.1:9",
        ])
        .arg("--recipe")
        .arg(&p)
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("matches no released version") && err.contains(&r.id()),
        "{err}"
    );
    // The same name and block as a released demo recipe: taken.
    let p = dir.path().join("cu.json");
    std::fs::write(&p, bonder_core::recipe::Recipe::default_cu().to_json()).unwrap();
    let out = station()
        .args([
            "--headless",
            "--simulate",
            "--for-seconds",
            "1",
            "--camera",
            "none",
        ])
        .arg("--recipe")
        .arg(&p)
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The recipe line of a headless run's summary.
fn summary_recipe(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let summary = text
        .lines()
        .find(|l| l.starts_with("summary:"))
        .unwrap_or_else(|| panic!("no summary in:\n{text}"));
    summary
        .split("recipe=")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .unwrap()
        .to_string()
}

/// A restart runs the recipe the machine last ran, as recorded — never re-derived from
/// changeover dates, which a wrong clock writes: a changeover dated in the past does not
/// override the record, and (for a store from before the record) the newest changeover
/// by id counts even when a clock running days ahead dated it in the future.
#[test]
fn a_restart_keeps_the_running_recipe_whatever_the_clock_wrote() {
    use bonder_store::{ChangeoverEnd, ChangeoverStart, Role, Store, WriteOp, WriterConfig};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.sqlite");
    let run = || {
        station()
            .args([
                "--headless",
                "--simulate",
                "--for-seconds",
                "1",
                "--camera",
                "none",
            ])
            .arg("--db")
            .arg(&db)
            .output()
            .unwrap()
    };
    let au = summary_recipe(&run());
    assert!(
        au.starts_with("SOT23-AU25@"),
        "the gold default at first: {au}"
    );
    // The copper demo recipe's library id (seeded released with --simulate).
    let cu: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT name || '@' || version FROM recipe_versions
             WHERE name = 'SOT23-CU20' AND state = 'released'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let changeover = |id: i64, to: &str, days: i64| {
        let store = Store::open(&db).unwrap();
        let w = store.spawn_writer(WriterConfig::default()).unwrap();
        let t = time::OffsetDateTime::now_utc() + time::Duration::days(days);
        w.send(WriteOp::ChangeoverStart(ChangeoverStart {
            id,
            time: t,
            from_recipe: None,
            to_recipe: to.into(),
            user: "eng".into(),
        }))
        .unwrap();
        w.send(WriteOp::ChangeoverEnd(ChangeoverEnd {
            id,
            time: t,
            user: "eng".into(),
            role: Role::Engineer,
            first_article: None,
            abandoned: false,
        }))
        .unwrap();
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(w.close())
            .unwrap();
        store
    };
    // The machine runs Cu (recorded as a changeover's download does); an older
    // changeover row, dated yesterday, names Au.
    let store = changeover(1, &au, -1);
    store.set_running_recipe(&cu).unwrap();
    drop(store);
    assert_eq!(summary_recipe(&run()), cu, "the record wins over dates");
    // A store from before the record: the newest changeover by id, dated three days
    // ahead by a clock that was wrong then, still counts.
    let store = changeover(2, &cu, 3);
    drop(store);
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("DELETE FROM store_meta WHERE key = 'running_recipe'", [])
        .unwrap();
    drop(conn);
    assert_eq!(summary_recipe(&run()), cu, "the newest changeover by id");
}
