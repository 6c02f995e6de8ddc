//! End to end in the real webview: the supervisor binary under Xvfb, driven through
//! `tauri-driver` + `WebKitWebDriver` (W3C WebDriver over plain HTTP), against a real
//! mosquitto fed by a real station with its simulator: the fleet tile of the running
//! station shows, an administrator adds a user through the form, the UI switches to
//! Chinese, a report opens. It starts on a fresh
//! history, so first the "create the administrator" form (no default user) is filled in.
//!
//! Skips (printing why) when `tauri-driver`, `WebKitWebDriver` or `Xvfb` is missing;
//! `scripts/test-supervisor-e2e.sh` installs them. With `SUPERVISOR_SCREENSHOTS=DIR` it
//! also writes X-level screenshots (`import -window root`) of every view in both
//! languages (WebDriver's own screenshot hangs with WebKitWebDriver).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use bonder_e2e::Mosquitto;
use bonder_fleet::synth;
use common::Proc;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const STATION: &str = "sz1/assembly/l1/wb-31";

fn which(name: &str, extra: &[PathBuf]) -> Option<PathBuf> {
    let from_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    extra.iter().cloned().chain(from_path).find(|p| p.is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.1 exchange (Connection: close), JSON both ways. Sent again when the
/// connection closes without a byte of answer: tauri-driver does that when forwarding to
/// WebKitWebDriver failed (a pooled upstream connection closed under it), so the request
/// never got there; otherwise a click or typed keys would now and then be lost.
fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> Value {
    let body = body.map(Value::to_string).unwrap_or_default();
    // One write: `write!` on the socket would send each piece in its own segment.
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut raw = Vec::new();
    for _ in 0..5 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        s.read_to_end(&mut raw).unwrap();
        if !raw.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut r = rest;
        while let Some((size, tail)) = r.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            out.push_str(&tail[..n.min(tail.len())]);
            r = tail.get(n + 2..).unwrap_or("");
        }
        out
    } else {
        rest.to_string()
    };
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

struct Session {
    port: u16,
    id: String,
}

impl Session {
    fn path(&self, p: &str) -> String {
        format!("/session/{}{p}", self.id)
    }
    fn js(&self, script: &str) -> Value {
        http(
            self.port,
            "POST",
            &self.path("/execute/sync"),
            Some(&json!({"script": script, "args": []})),
        )["value"]
            .clone()
    }
    fn wait_js(&self, secs: u64, what: &str, script: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let v = self.js(script);
            if !v.is_null() && v != json!(false) && v != json!("") {
                return v;
            }
            if Instant::now() >= deadline {
                let page = self.js("const d = document.querySelector('dialog[open]'); if (d) return 'dialog: ' + d.innerText + ' inputs: ' + JSON.stringify([...d.querySelectorAll('input')].map((i) => i.value)) + ' focus: ' + (document.activeElement && document.activeElement.id); const v = [...document.querySelectorAll('.view')].find((v) => !v.hidden); return v ? v.innerText.slice(0, 600) : ''");
                panic!("timed out after {secs}s waiting for {what}; the page shows: {page}");
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
    fn find(&self, css: &str) -> String {
        // Retried: an element may be re-rendered between two requests.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let v = http(
                self.port,
                "POST",
                &self.path("/element"),
                Some(&json!({"using": "css selector", "value": css})),
            );
            if let Some(id) = v["value"]
                .as_object()
                .and_then(|o| o.values().next())
                .and_then(Value::as_str)
            {
                return id.to_string();
            }
            assert!(Instant::now() < deadline, "no element {css}: {v}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    /// A click through the page's own `click()` (steady under layout changes).
    fn js_click(&self, css: &str) {
        let css = css.replace('"', "\\\"");
        self.wait_js(10, css.as_str(), &format!("const e = document.querySelector(\"{css}\"); if (!e) return false; e.click(); return true"));
    }
    /// A real WebDriver click.
    fn click(&self, css: &str) {
        let e = self.find(css);
        http(
            self.port,
            "POST",
            &self.path(&format!("/element/{e}/click")),
            Some(&json!({})),
        );
    }
    /// Types into an input (WebDriver "element clear" and "send keys"); typed again
    /// if the input does not hold the text afterwards (WebKitWebDriver now and then
    /// loses the keys of a field typed into right after another).
    fn type_into(&self, css: &str, text: &str) {
        let check = format!(
            "const e = document.querySelector(\"{}\"); return e !== null && e.value === {}",
            css.replace('"', "\\\""),
            json!(text)
        );
        for _ in 0..5 {
            let e = self.find(css);
            for (what, body) in [("clear", json!({})), ("value", json!({ "text": text }))] {
                http(
                    self.port,
                    "POST",
                    &self.path(&format!("/element/{e}/{what}")),
                    Some(&body),
                );
            }
            if self.js(&check) == json!(true) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("could not type into {css}");
    }
    fn text(&self, css: &str) -> String {
        let css = css.replace('"', "\\\"");
        self.wait_js(
            10,
            css.as_str(),
            &format!("const e = document.querySelector(\"{css}\"); return e && e.innerText"),
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
    }
}

fn screenshot(display: &str, dir: Option<&Path>, name: &str) {
    let Some(dir) = dir else { return };
    std::thread::sleep(Duration::from_millis(700));
    let out = dir.join(format!("supervisor-{name}.png"));
    let st = Command::new("import")
        .args(["-display", display, "-window", "root"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success(), "import {name}");
    println!("screenshot {}", out.display());
}

/// More stations for the pictures: some abnormal, changeovers, a second recipe version.
fn synthetic_fleet(port: u16) {
    let mut msgs = Vec::new();
    let mut rng = synth::Rng::new(7);
    let fleet = [
        ("l1/wb-32", "running", 99.4, None),
        ("l1/wb-33", "alarm", 99.1, Some(104u16)),
        ("l1/wb-34", "paused", 99.6, None),
        ("l1/wb-35", "running", 96.8, None),
        ("l2/wb-41", "running", 99.8, None),
        ("l2/wb-42", "idle", 100.0, None),
        ("l2/wb-43", "setup", 99.9, None),
        ("l2/wb-44", "offline", 99.0, None),
        ("l2/wb-45", "estop", 98.9, Some(103u16)),
    ];
    for (i, (id, state, y, alarm)) in fleet.iter().enumerate() {
        let s = format!("sz1/assembly/{id}");
        let st = synth::status(
            state,
            "SOT23-CU20@3",
            Some("OP1042"),
            12_000 + i as u64 * 777,
            if *state == "running" { 590.0 } else { 0.0 },
            *y,
            *alarm,
        );
        msgs.push((
            format!("{s}/status"),
            serde_json::to_vec(&st).unwrap(),
            true,
        ));
        if let Some(c) = alarm {
            msgs.push((
                format!("{s}/alarms"),
                serde_json::to_vec(&synth::alarm(*c, true)).unwrap(),
                false,
            ));
        }
        msgs.push((
            format!("{s}/bonds"),
            serde_json::to_vec(&synth::bonds(&mut rng, 1, 200, 1.0 - y / 100.0)).unwrap(),
            false,
        ));
    }
    for (n, s) in [STATION, "sz1/assembly/l1/wb-32", "sz1/assembly/l2/wb-41"]
        .iter()
        .enumerate()
    {
        for k in 0..4 {
            let steps: Vec<(&str, f64)> = synth::STEPS
                .iter()
                .enumerate()
                .map(|(j, name)| (*name, 2.0 + j as f64 * 1.5 + rng.f() * 4.0))
                .collect();
            let c = synth::changeover(
                &format!("co-{n}-{k}"),
                "SOT23-AU25@7",
                "SOT23-CU20@3",
                30.0 + 50.0 * k as f64,
                &steps,
                3.0 + rng.f() * 2.0,
                10.0 + rng.f() * 4.0,
            );
            msgs.push((
                format!("{s}/changeovers"),
                serde_json::to_vec(&c).unwrap(),
                false,
            ));
        }
    }
    // Process health (`{S}/health`): two stations on the Cu recipe degrading with the
    // lead-frame lot, one with a forecast from its ultrasonic output.
    let ts = bonder_gateway::payload::ts(time::OffsetDateTime::now_utc());
    for (id, kind, feature, eta, cause, en, zh) in [
        (
            "l1/wb-35",
            "drift",
            Some("stitch_deform_um"),
            None,
            "material_lot",
            "Process drift: stitch deformation falling; likeliest cause the material lot (88 %)",
            "工艺漂移：第二焊点变形量下降；最可能原因为材料批次（88%）",
        ),
        (
            "l2/wb-41",
            "drift",
            Some("stitch_impedance_drop_pct"),
            None,
            "material_lot",
            "Process drift: stitch impedance drop falling; likeliest cause the material lot (81 %)",
            "工艺漂移：第二焊点阻抗下降下降；最可能原因为材料批次（81%）",
        ),
        (
            "l1/wb-32",
            "yield_forecast",
            None,
            Some(412_000u64),
            "ultrasonic_output",
            "Yield forecast below 98 % in 412000 wires; likeliest cause the ultrasonic output (93 %)",
            "预测良率将在 412000 根线后低于 98%；最可能原因为超声输出（93%）",
        ),
    ] {
        let h = serde_json::json!({"v": 1, "ts": ts, "kind": kind, "feature": feature,
            "direction": "down", "at_time_us": 1_843_205_117_004u64, "eta_wires": eta,
            "causes": [{"cause": cause, "weight": 0.88}, {"cause": "unknown", "weight": 0.12}],
            "text_en": en, "text_zh": zh});
        msgs.push((
            format!("sz1/assembly/{id}/health"),
            serde_json::to_vec(&h).unwrap(),
            false,
        ));
    }
    common::publish(port, "synthetic-fleet", msgs);
}

/// The library for the pictures: the default Au and Cu recipes and a newer version of
/// the Cu one (for the diff view). Imported into
/// the history before the app starts: since contract v2 the supervisor no longer takes
/// recipes it sees on `{S}/cmd/recipe`.
fn library_recipe_v4(history: &Path) {
    let mut r = bonder_core::Recipe::default_cu();
    r.version = 4;
    r.ball.force_gf.0 = 26.0;
    r.efo.fab_target_um.0 = 39.0;
    r.limits.placement_um.0 = 3.0;
    let mut db = bonder_fleet::history::History::open(history).unwrap();
    for doc in [
        bonder_core::Recipe::default_au().to_json(),
        bonder_core::Recipe::default_cu().to_json(),
        r.to_json(),
    ] {
        bonder_fleet::recipes::import(&mut db, &doc, "e2e setup").unwrap();
    }
}

/// The supervisor app in a real webview: Xvfb, tauri-driver (which starts
/// WebKitWebDriver, which starts the app) and a WebDriver session. Dropping it ends the
/// session, then the driver (and with it the app), then Xvfb.
struct Desktop {
    s: Session,
    display: String,
    driver: Proc,
    _xvfb: Proc,
}

impl Drop for Desktop {
    fn drop(&mut self) {
        let (port, path) = (self.s.port, self.s.path(""));
        // Never a panic while unwinding from a failed test.
        let _ = std::panic::catch_unwind(|| http(port, "DELETE", &path, None));
    }
}

/// Starts the app on the history `db`, connected to `gateway` as `client_id`; `None`
/// (printing why) when tauri-driver, WebKitWebDriver or Xvfb is missing.
fn desktop(db: &Path, gateway: &str, client_id: &str) -> Option<Desktop> {
    let tools = std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cache/bonder-hmi/tools/bin/tauri-driver"));
    let extra: Vec<PathBuf> = std::env::var_os("TAURI_DRIVER")
        .map(PathBuf::from)
        .into_iter()
        .chain(tools)
        .collect();
    let Some(driver) = which("tauri-driver", &extra) else {
        println!(
            "SKIPPED supervisor e2e: tauri-driver not found (PATH, $TAURI_DRIVER, ~/.cache/bonder-hmi/tools/bin); scripts/test-supervisor-e2e.sh installs it with `cargo install tauri-driver --locked`"
        );
        return None;
    };
    for tool in ["WebKitWebDriver", "Xvfb", "import"] {
        if which(tool, &[]).is_none() {
            println!(
                "SKIPPED supervisor e2e: {tool} not found (apt: webkit2gtk-driver xvfb imagemagick; scripts/common.sh need_tauri_deps)"
            );
            return None;
        }
    }
    let app = common::supervisor_bin();
    let n = (90..200)
        .find(|n| {
            !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                && !Path::new(&format!("/tmp/.X{n}-lock")).exists()
        })
        .unwrap();
    let display = format!(":{n}");
    let xvfb = Proc(
        Command::new("Xvfb")
            .args([
                display.as_str(),
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
        assert!(Instant::now() < deadline, "Xvfb {display} did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (port, native) = (free_port(), free_port());
    let driver = Proc(
        Command::new(&driver)
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
            .env("DISPLAY", &display)
            .env("WEBKIT_DISABLE_DMABUF_RENDERER", "1")
            .env("BONDER_SUPERVISOR_DB", db)
            .env("BONDER_SUPERVISOR_GATEWAY", gateway)
            .env("BONDER_SUPERVISOR_CLIENT_ID", client_id)
            .env("BONDER_SUPERVISOR_LANG", "en-US")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "tauri-driver did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "wry", "tauri:options": {"application": app}}}});
    // tauri-driver listens before WebKitWebDriver does: retry until a session opens.
    let deadline = Instant::now() + Duration::from_secs(30);
    let id = loop {
        let v = http(port, "POST", "/session", Some(&caps));
        if let Some(id) = v["value"]["sessionId"].as_str() {
            break id.to_string();
        }
        assert!(Instant::now() < deadline, "no WebDriver session: {v}");
        std::thread::sleep(Duration::from_millis(300));
    };
    Some(Desktop {
        s: Session { port, id },
        display,
        driver,
        _xvfb: xvfb,
    })
}

#[test]
fn supervisor_in_the_real_webview() {
    let shots = std::env::var_os("SUPERVISOR_SCREENSHOTS").map(PathBuf::from);
    if let Some(d) = &shots {
        std::fs::create_dir_all(d).unwrap();
    }
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    library_recipe_v4(&dir.path().join("supervisor.sqlite"));
    let Some(d) = desktop(
        &dir.path().join("supervisor.sqlite"),
        &broker.url(),
        "supervisor-e2e",
    ) else {
        return;
    };
    // Started once the app is: its first statuses are then paint-latency samples.
    let _station = common::start_station(
        STATION,
        &broker.url(),
        &dir.path().join("station.sqlite"),
        dir.path(),
    );
    let (s, display) = (&d.s, d.display.as_str());
    {
        s.wait_js(
            30,
            "the app to start",
            "return document.body.dataset.ready === '1'",
        );
        // First start: no user, so the app asks for the administrator (there is no
        // default password); the form checks the repeated password, then creates the
        // administrator and signs them in.
        s.wait_js(
            10,
            "the first-start form",
            "return document.getElementById('setup-dialog').open",
        );
        assert_eq!(
            s.text("#setup-title"),
            "First start: create the administrator"
        );
        assert_eq!(s.text("#setup-rule"), "At least 10 characters.");
        assert_eq!(
            s.js("return document.getElementById('nav-users').hidden"),
            json!(true),
            "user management is for administrators only"
        );
        s.type_into("#setup-user", "chief");
        s.type_into("#setup-pass", "chief-pass-1");
        s.type_into("#setup-pass2", "chief-pass-2");
        s.click("#setup-btn");
        s.wait_js(
            10,
            "the mismatch message",
            "return document.getElementById('setup-msg').textContent === 'The two passwords differ.'",
        );
        s.type_into("#setup-pass2", "chief-pass-1");
        s.click("#setup-btn");
        s.wait_js(
            20,
            "the administrator signed in",
            "return !document.getElementById('setup-dialog').open && document.getElementById('logout-btn').hidden === false",
        );
        assert_eq!(s.text("#user-line"), "chief (Administrator)");
        // The fleet tile of the running simulated station.
        let sel = format!(".tile[data-station='{STATION}']");
        s.wait_js(90, "the station's tile, running", &format!("const t = document.querySelector(\"{sel}\"); return t && t.querySelector('.state').textContent === 'Running' && t.textContent"));
        let tile = s.text(&sel);
        assert!(tile.contains("wb-31") && tile.contains("Running"), "{tile}");
        // The tile's paint was measured (status time stamp to painted frame).
        s.wait_js(
            30,
            "a fleet paint latency sample",
            "return window.__fleetPaint().n > 0",
        );
        assert_eq!(s.text("#nav-fleet"), "Fleet");
        // User management through the form: the administrator adds a technician, who
        // shows in the list, enabled; every target of the form is touch-sized.
        s.js_click("#nav-users");
        s.wait_js(
            10,
            "the user list",
            "return document.querySelector(\"#user-table tr[data-user='chief']\") !== null",
        );
        s.type_into("#ua-name", "zhou");
        s.js("document.getElementById('ua-role').value = 'technician'; return true");
        s.type_into("#ua-pass", "zhou-pass-1");
        s.click("#ua-add");
        let row = s.wait_js(20, "the new user in the list", "const r = document.querySelector(\"#user-table tr[data-user='zhou']\"); return r && r.innerText");
        let row = row.as_str().unwrap();
        assert!(
            row.contains("Technician") && row.contains("Enabled"),
            "{row}"
        );
        assert_eq!(s.text("#users-msg"), "zhou added.");
        let smallest = s.js("return Math.min(...[...document.querySelectorAll('#view-users button, #view-users input, #view-users select')].map((e) => e.getBoundingClientRect().height))");
        assert!(
            smallest.as_f64().unwrap() >= 48.0,
            "smallest target {smallest} px"
        );
        s.js_click("#nav-fleet");
        let dir = shots.as_deref();
        if dir.is_some() {
            synthetic_fleet(broker.port);
            s.wait_js(
                30,
                "the synthetic fleet",
                "return document.querySelectorAll('.tile').length >= 10",
            );
            pictures(s, display, dir, "en");
        }
        // Switch to Chinese.
        s.click("#lang-toggle");
        s.wait_js(
            10,
            "Chinese strings",
            "return document.getElementById('nav-fleet').textContent === '机群'",
        );
        let tile = s.text(&sel);
        assert!(tile.contains("运行"), "{tile}");
        if dir.is_some() {
            s.js_click("#nav-fleet");
            pictures(s, display, dir, "zh");
        }
        // Open a report.
        s.js_click("#nav-reports");
        s.js("document.getElementById('report-kind').value = 'shift'; document.getElementById('report-scope').value = ''; document.getElementById('report-out').innerHTML = ''; return true");
        s.js_click("#report-run");
        let t = s.wait_js(20, "the shift report", &format!("const t = document.getElementById('report-table'); return t && t.textContent.includes('{STATION}') && t.textContent"));
        assert!(t.as_str().unwrap().contains(STATION), "{t}");
        assert!(t.as_str().unwrap().contains("合计"), "{t}");
        println!("e2e: tile seen, user added, Chinese shown, report opened");
    }
}

/// Every view, for the screenshots.
fn pictures(s: &Session, display: &str, dir: Option<&Path>, lang: &str) {
    s.wait_js(10, "the fleet", "document.getElementById('nav-fleet').click(); return document.querySelectorAll('.tile').length > 0");
    screenshot(display, dir, &format!("fleet-{lang}"));
    s.js_click(&format!(".tile[data-station='{STATION}']"));
    s.wait_js(
        20,
        "the station detail",
        "return document.querySelector('#detail-yield svg') !== null",
    );
    screenshot(display, dir, &format!("station-detail-{lang}"));
    s.js_click("#nav-recipes");
    s.wait_js(
        20,
        "the recipe library",
        "return document.querySelectorAll('#recipe-table tr').length >= 4",
    );
    s.js("const rows = [...document.querySelectorAll('#recipe-table tr')]; for (const r of rows) { const c = r.children; if (c[0].textContent === 'SOT23-CU20' && c[1].textContent === '3') c[5].firstChild.checked = true; if (c[0].textContent === 'SOT23-CU20' && c[1].textContent === '4') c[6].firstChild.checked = true; } return true");
    s.js_click("#diff-btn");
    s.wait_js(
        10,
        "the diff",
        "return document.getElementById('diff-table') !== null",
    );
    screenshot(display, dir, &format!("recipe-diff-{lang}"));
    s.js_click("#nav-spc");
    s.js(&format!("document.getElementById('spc-station').value = '{STATION}'; document.getElementById('spc-measure').value = 'ball_diameter'; return true"));
    s.js_click("#spc-run");
    s.wait_js(
        20,
        "the SPC chart",
        "return document.querySelector('#spc-chart svg') !== null",
    );
    screenshot(display, dir, &format!("spc-{lang}"));
    s.js_click("#nav-excursions");
    s.wait_js(
        20,
        "the excursions",
        "document.getElementById('nav-excursions').click(); return document.querySelectorAll('#exc-common tr.warn').length === 1",
    );
    screenshot(display, dir, &format!("excursions-{lang}"));
    s.js_click("#nav-reports");
    s.js("document.getElementById('report-kind').value = 'shift'; document.getElementById('report-scope').value = ''; return true");
    s.js_click("#report-run");
    s.wait_js(
        20,
        "the shift report",
        "return document.getElementById('report-table') !== null",
    );
    screenshot(display, dir, &format!("report-shift-{lang}"));
    s.js("document.getElementById('report-kind').value = 'changeover'; document.getElementById('report-period').value = '24'; return true");
    s.js_click("#report-run");
    s.wait_js(
        20,
        "the changeover report",
        "return document.getElementById('co-table') !== null",
    );
    screenshot(display, dir, &format!("report-changeover-{lang}"));
    s.js_click("#nav-users");
    s.wait_js(
        10,
        "the user list",
        "return document.querySelectorAll('#user-table tr[data-user]').length >= 2",
    );
    screenshot(display, dir, &format!("users-{lang}"));
    // Settings: the command-signing key the stations are given (contract v2).
    s.js_click("#nav-settings");
    s.wait_js(
        10,
        "the command key",
        "return document.getElementById('key-kid').textContent.startsWith('supervisor-')",
    );
    screenshot(display, dir, &format!("settings-{lang}"));
}

/// Creates the first administrator through the first-start form.
fn create_admin(s: &Session, user: &str, password: &str) {
    s.wait_js(
        30,
        "the first-start form",
        "return document.body.dataset.ready === '1' && document.getElementById('setup-dialog').open",
    );
    s.type_into("#setup-user", user);
    s.type_into("#setup-pass", password);
    s.type_into("#setup-pass2", password);
    s.click("#setup-btn");
    s.wait_js(
        20,
        "the administrator signed in",
        "return !document.getElementById('setup-dialog').open && document.getElementById('logout-btn').hidden === false",
    );
}

/// Resident memory of a process, MiB.
fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Descendants of `root` whose executable is named `name`.
fn descendants_named(root: u32, name: &str) -> Vec<u32> {
    let mut parent = std::collections::HashMap::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        // `pid (comm) state ppid …`: the comm may hold spaces, so split after the ')'.
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        if let Some(ppid) = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok())
        {
            parent.insert(pid, ppid);
        }
    }
    let under = |mut p: u32| {
        while let Some(&pp) = parent.get(&p) {
            if pp == root {
                return true;
            }
            p = pp;
        }
        false
    };
    let mut out: Vec<u32> = parent
        .keys()
        .copied()
        .filter(|&p| {
            under(p)
                && std::fs::read_link(format!("/proc/{p}/exe"))
                    .ok()
                    .and_then(|x| x.file_name().map(|f| f.to_string_lossy().into_owned()))
                    // A rebuild during the run replaces the file: "name (deleted)".
                    .is_some_and(|f| f.trim_end_matches(" (deleted)") == name)
        })
        .collect();
    out.sort_unstable();
    out
}

/// The paint-latency load scenario (`scripts/supervisor-paint-latency.sh [SECONDS]
/// [STATIONS]`, which runs this with `--ignored`): the real app in the webview, signed in
/// on the fleet view, while STATIONS synthetic stations (`bonder_fleet::synth`, ~one
/// status change each per 20 s plus a status every 10 s, 10 wires/s) publish to its own
/// mosquitto for SECONDS; then prints `window.__fleetPaint()` (station status time stamp
/// → tile painted) and the resident memory of the app and of its WebKit web process.
#[test]
#[ignore = "load scenario: scripts/supervisor-paint-latency.sh"]
fn fleet_paint_latency_under_load() {
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let (secs, stations) = (
        env("PAINT_SECONDS", 120),
        env("PAINT_STATIONS", 50) as usize,
    );
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let d = desktop(
        &dir.path().join("supervisor.sqlite"),
        &broker.url(),
        "supervisor-paint",
    )
    .expect("the scenario needs tauri-driver, WebKitWebDriver and Xvfb");
    let s = &d.s;
    create_admin(s, "chief", "chief-pass-1");

    let rt = tokio::runtime::Runtime::new().unwrap();
    let t0 = Instant::now();
    let until = t0 + Duration::from_secs(secs + 5);
    let publishers: Vec<_> = (0..stations)
        .map(|i| {
            rt.spawn(synth::run_station(
                "127.0.0.1".into(),
                broker.port,
                i,
                10,
                until,
            ))
        })
        .collect();
    s.wait_js(
        60,
        "every station's tile",
        &format!("return document.querySelectorAll('.tile').length >= {stations}"),
    );
    println!(
        "{stations} tiles shown {:.1} s after the stations started",
        t0.elapsed().as_secs_f64()
    );
    let driver = d.driver.0.id();
    let (mut app_max, mut web_max) = (0.0_f64, 0.0_f64);
    let mut rss = || {
        let app: f64 = descendants_named(driver, "bonder-supervisor")
            .into_iter()
            .map(rss_mib)
            .sum();
        let web: f64 = descendants_named(driver, "WebKitWebProcess")
            .into_iter()
            .map(rss_mib)
            .sum();
        app_max = app_max.max(app);
        web_max = web_max.max(web);
        (app, web, app_max, web_max)
    };
    while t0.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(
            Duration::from_secs(10).min(Duration::from_secs(secs).saturating_sub(t0.elapsed())),
        );
        let (app, web, _, _) = rss();
        let p = s.js("return window.__fleetPaint()");
        println!(
            "t={:>4} s  rss app {app:.1} MiB  WebKitWebProcess {web:.1} MiB  paint samples {}",
            t0.elapsed().as_secs(),
            p["total"]
        );
    }
    let p = s.js("return window.__fleetPaint()");
    let (app, web, app_max, web_max) = rss();
    println!(
        "fleet paint latency (station status ts -> tile painted), {stations} stations, {secs} s: n {} (of {}), p50 {} ms, p90 {} ms, p99 {} ms, max {} ms",
        p["n"], p["total"], p["p50"], p["p90"], p["p99"], p["max"]
    );
    println!(
        "rss at end: supervisor {app:.1} MiB (max {app_max:.1}), WebKitWebProcess {web:.1} MiB (max {web_max:.1})"
    );
    assert!(
        app > 0.0 && web > 0.0,
        "processes not found under the driver"
    );
    assert!(p["n"].as_u64().unwrap_or(0) > 0, "no paint sample: {p}");
    for h in publishers {
        h.abort();
    }
}
