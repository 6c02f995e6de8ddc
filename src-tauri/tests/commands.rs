//! The supervisor's commands through Tauri's mock runtime (`tauri::test::mock_builder`),
//! against a real mosquitto fed by a real station binary with its built-in simulator:
//! the fleet tile appears, a recipe send reaches the station and its answer comes back,
//! a backfill request is served by the station, and SPC numbers match a hand computation.
//! The first start has no user (no default password): the administrator is created
//! through `first_admin`, which works once only.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use bonder_e2e::Mosquitto;
use bonder_supervisor::AppState;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{
    INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder, mock_context, noop_assets,
};
use tauri::webview::InvokeRequest;
use tauri::{Manager, WebviewWindow};

const STATION: &str = "sz1/assembly/l1/wb-21";
const SYNTHETIC: &str = "sz1/assembly/l9/wb-99";

fn call(w: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    get_ipc_response(
        w,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|b| b.deserialize::<Value>().unwrap())
}

fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {secs}s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn answer(w: &WebviewWindow<MockRuntime>, request_id: &str) -> Option<Value> {
    let rows = call(w, "commands_list", json!({"limit": 100})).unwrap();
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["request_id"] == request_id && !r["ok"].is_null())
        .cloned()
}

/// Publishes the synthetic station's status and one bond batch with known ball
/// diameters (returns once the broker has acknowledged both).
fn publish_synthetic(port: u16, balls: &[f64]) {
    let now = bonder_gateway::payload::ts(time::OffsetDateTime::now_utc());
    let status = json!({"v":1,"ts":now,"state":"running","recipe":"SOT23-CU20@3","operator":"OP7",
        "wires_bonded":5,"wire_rate_per_min":300.0,"yield_pct":100.0,"alarm":null});
    let bonds: Vec<Value> = balls
        .iter()
        .enumerate()
        .map(|(i, b)| {
            json!({"seq": i + 1, "ts": now, "unit": 1, "wire": i + 1, "kind": "ball",
                "verdict": "ok", "dx_um": 0.5, "dy_um": -0.5, "ball_um": b,
                "peak_force_gf": 24.0, "us_energy_mj": 1.2, "deform_um": 3.0})
        })
        .collect();
    let batch = json!({"v":1,"ts":now,"first_seq":1,"last_seq":balls.len(),"bonds":bonds});
    let msgs = [("status", status, true), ("bonds", batch, false)]
        .into_iter()
        .map(|(t, p, retain)| {
            (
                format!("{SYNTHETIC}/{t}"),
                serde_json::to_vec(&p).unwrap(),
                retain,
            )
        })
        .collect();
    common::publish(port, "synthetic-station", msgs);
}

#[test]
fn fleet_recipe_backfill_and_spc_through_the_commands() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let _station = common::start_station(
        STATION,
        &broker.url(),
        &dir.path().join("station.sqlite"),
        dir.path(),
    );

    let state = AppState::open(
        &dir.path().join("supervisor.sqlite"),
        Some(broker.url()),
        Some("supervisor-test".into()),
        Some("en-US"),
    )
    .unwrap();
    let app = bonder_supervisor::setup(mock_builder(), state)
        .build(mock_context(noop_assets()))
        .unwrap();
    let w = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();

    // The error shape the front end branches on.
    let e = call(
        &w,
        "recipe_send",
        json!({"name":"SOT23-CU20","version":3,"stations":[STATION]}),
    )
    .unwrap_err();
    assert_eq!(e, json!({"code":"login_required","detail":"sign in first"}));

    // First start: no user at all, so no default `admin`/`admin`.
    assert_eq!(
        call(&w, "first_start", json!({})).unwrap(),
        json!({"needed": true, "password_min": 10, "user_password_min": 10})
    );
    assert_eq!(app.state::<AppState>().sv.db().user_count().unwrap(), 0);
    assert_eq!(
        call(&w, "login", json!({"user":"admin","password":"admin"})).unwrap_err()["code"],
        "login_failed"
    );
    // The password rule (10 characters), then the administrator, signed in at once.
    let e = call(
        &w,
        "first_admin",
        json!({"user":"chief","password":"short"}),
    )
    .unwrap_err();
    assert_eq!(e["code"], "password_too_short", "{e}");
    let e = call(
        &w,
        "first_admin",
        json!({"user":" ","password":"long enough"}),
    )
    .unwrap_err();
    assert_eq!(e["code"], "name_missing", "{e}");
    assert!(call(&w, "first_start", json!({})).unwrap()["needed"] == true);
    let s = call(
        &w,
        "first_admin",
        json!({"user":"chief","password":"chief-pass-1"}),
    )
    .unwrap();
    assert_eq!(s, json!({"user":"chief","role":"admin"}));
    assert_eq!(call(&w, "session", json!({})).unwrap(), s);
    assert_eq!(call(&w, "first_start", json!({})).unwrap()["needed"], false);
    // A second first start is refused, signed in or not, and adds no one.
    let refused =
        json!({"code":"users_exist","detail":"the administrator exists already: sign in"});
    let e = call(
        &w,
        "first_admin",
        json!({"user":"eve","password":"eve-pass-12"}),
    )
    .unwrap_err();
    assert_eq!(e, refused);
    call(&w, "logout", json!({})).unwrap();
    let e = call(
        &w,
        "first_admin",
        json!({"user":"chief","password":"other-pass-1"}),
    )
    .unwrap_err();
    assert_eq!(e, refused);
    assert_eq!(call(&w, "session", json!({})).unwrap(), Value::Null);
    assert_eq!(
        call(&w, "login", json!({"user":"eve","password":"eve-pass-12"})).unwrap_err()["code"],
        "login_failed"
    );
    assert_eq!(app.state::<AppState>().sv.db().user_count().unwrap(), 1);

    // Plant data only for a signed-in user.
    for (cmd, args) in [
        ("fleet_tiles", json!({})),
        ("recipes_list", json!({})),
        ("commands_list", json!({})),
        ("station_detail", json!({"station": STATION})),
        ("gateway_get", json!({})),
    ] {
        assert_eq!(
            call(&w, cmd, args).unwrap_err()["code"],
            "login_required",
            "{cmd}"
        );
    }
    call(
        &w,
        "login",
        json!({"user":"chief","password":"chief-pass-1"}),
    )
    .unwrap();

    // Fleet state appears: the running station's tile.
    let t0 = Instant::now();
    let tile = wait_for(90, "the station's tile running with wires", || {
        let tiles = call(&w, "fleet_tiles", json!({})).unwrap();
        if t0.elapsed() > Duration::from_secs(85) {
            eprintln!(
                "tiles: {tiles}\ngateway: {:?}\nstation log: {}",
                call(&w, "gateway_get", json!({})),
                std::fs::read_to_string(dir.path().join("station.log"))
                    .unwrap_or_default()
                    .lines()
                    .rev()
                    .take(30)
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        tiles
            .as_array()
            .unwrap()
            .iter()
            .find(|t| {
                t["id"] == STATION
                    && t["state"] == "running"
                    && t["wires_bonded"].as_u64().unwrap_or(0) > 0
            })
            .cloned()
    });
    assert_eq!(tile["name"], "wb-21");
    assert_eq!(tile["line"], "sz1/assembly/l1");
    assert!(tile["recipe"].as_str().unwrap().contains('@'), "{tile}");

    // Roles: the administrator adds users; an operator may not send recipes; an
    // engineer may.
    call(
        &w,
        "login",
        json!({"user":"chief","password":"chief-pass-1"}),
    )
    .unwrap();
    for (name, role, password) in [
        ("wang", "operator", "wang-pass-01"),
        ("li", "engineer", "li-pass-0002"),
    ] {
        call(
            &w,
            "user_set",
            json!({"name":name,"role":role,"password":password}),
        )
        .unwrap();
    }
    call(
        &w,
        "login",
        json!({"user":"wang","password":"wang-pass-01"}),
    )
    .unwrap();
    let e = call(
        &w,
        "recipe_send",
        json!({"name":"SOT23-CU20","version":3,"stations":[STATION]}),
    )
    .unwrap_err();
    assert_eq!(e["code"], "forbidden");
    assert_eq!(
        call(&w, "login", json!({"user":"li","password":"bad"})).unwrap_err()["code"],
        "login_failed"
    );
    let s = call(&w, "login", json!({"user":"li","password":"li-pass-0002"})).unwrap();
    assert_eq!(s["role"], "engineer");

    // A new released version, imported from a file, sent to the station.
    let mut r = bonder_core::Recipe::default_cu();
    r.version = 9;
    r.ball.force_gf.0 = 26.0;
    assert_eq!(
        call(&w, "recipe_import", json!({"doc": r.to_json()})).unwrap(),
        "SOT23-CU20@9"
    );
    let d = call(
        &w,
        "recipe_diff",
        json!({"aName":"SOT23-CU20","aVersion":3,"bName":"SOT23-CU20","bVersion":9}),
    )
    .unwrap();
    let keys: Vec<&str> = d
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["key"].as_str().unwrap())
        .collect();
    // The built-in version is released, the import a draft whatever its file said.
    assert_eq!(keys, ["ball.force_gf", "state", "version"]);
    let e = call(
        &w,
        "recipe_send",
        json!({"name":"SOT23-CU20","version":9,"stations":[STATION]}),
    )
    .unwrap_err();
    assert_eq!(e["code"], "not_released", "{e}");
    // A different document under the same version is refused loudly.
    let mut other = r.clone();
    other.ball.force_gf.0 = 27.0;
    let e = call(&w, "recipe_import", json!({"doc": other.to_json()})).unwrap_err();
    assert_eq!(e["code"], "recipe_conflict", "{e}");
    call(
        &w,
        "recipe_release",
        json!({"name":"SOT23-CU20","version":9}),
    )
    .unwrap();
    let sent = call(
        &w,
        "recipe_send",
        json!({"name":"SOT23-CU20","version":9,"stations":[STATION]}),
    )
    .unwrap();
    let rid = sent[0]["request_id"].as_str().unwrap().to_string();
    let a = wait_for(30, "the station's answer to the recipe", || {
        answer(&w, &rid)
    });
    assert_eq!(a["ok"], true, "{a}");
    // It reached the station: a new draft version in the station's store (the station
    // numbers it in its own history), naming our request.
    {
        let store = bonder_store::Store::open(dir.path().join("station.sqlite")).unwrap();
        let v = store.recipes().versions("SOT23-CU20").unwrap();
        assert!(
            v.iter()
                .any(|x| x.state == bonder_core::recipe::RecipeState::Draft
                    && x.reason.contains(&rid)),
            "{v:?}"
        );
    }
    // A work order too.
    let rid = call(&w, "workorder_send", json!({"station":STATION,"workOrder":"WO-1","device":"SOT23-3L","recipe":"SOT23-CU20@9","quantity":500})).unwrap();
    let a = wait_for(30, "the station's answer to the work order", || {
        answer(&w, rid.as_str().unwrap())
    });
    assert_eq!(a["ok"], true, "{a}");

    // Backfill: the station publishes bonds 1..=20 again and answers.
    let rid = call(
        &w,
        "backfill",
        json!({"station":STATION,"fromSeq":1,"toSeq":20}),
    )
    .unwrap();
    let a = wait_for(30, "the station's answer to the backfill", || {
        answer(&w, rid.as_str().unwrap())
    });
    assert_eq!(a["ok"], true, "{a}");

    // Reports over what was received.
    let now = bonder_fleet::history::now_ms();
    let rep = call(
        &w,
        "report_shift",
        json!({"scope":"sz1/assembly/l1/","fromMs":now - 3_600_000,"toMs":now + 60_000}),
    )
    .unwrap();
    assert!(rep["total"]["wires"].as_u64().unwrap() > 0, "{rep}");
    let ex = call(&w, "report_export", json!({"kind":"shift","format":"csv","scope":"","fromMs":now - 3_600_000,"toMs":now + 60_000})).unwrap();
    assert!(
        std::fs::read_to_string(ex["path"].as_str().unwrap())
            .unwrap()
            .contains(STATION)
    );
    let det = call(&w, "station_detail", json!({"station":STATION})).unwrap();
    assert!(det["wires"].as_u64().unwrap() > 0);
    assert!(det["yield_svg"].as_str().unwrap().starts_with("<svg"));

    // SPC against a hand computation: ball diameters 36, 38, 37, 39, 38 µm, spec 35–41
    // (SOT23-CU20@3). mean 37.6; MR̄ 1.5 → σ_within = 1.5/1.128; s = √1.3.
    // Cp = 6/(6·1.329787) = 0.752; Cpk = 2.6·1.128/4.5 = 0.651733;
    // Pp = 1/√1.3 = 0.877058; Ppk = 2.6/(3√1.3) = 0.760117.
    publish_synthetic(broker.port, &[36.0, 38.0, 37.0, 39.0, 38.0]);
    let v = wait_for(20, "the synthetic station's SPC points", || {
        let v = call(
            &w,
            "spc_chart",
            json!({"station":SYNTHETIC,"measure":"ball_diameter","points":100}),
        )
        .unwrap();
        (v["result"]["n"] == 5).then_some(v)
    });
    let r = &v["result"];
    let close = |k: &str, x: f64| {
        let got = r[k].as_f64().unwrap();
        assert!((got - x).abs() < 1e-4, "{k}: {got} vs {x}");
    };
    close("mean", 37.6);
    close("cp", 0.752_000);
    close("cpk", 0.651_733);
    close("pp", 0.877_058);
    close("ppk", 0.760_117);
    assert_eq!(r["lsl"], 35.0);
    assert_eq!(r["usl"], 41.0);
    assert!(v["svg"].as_str().unwrap().starts_with("<svg"));

    // Language switch: the strings come back in Chinese.
    let zh = call(&w, "set_lang", json!({"lang":"zh-CN"})).unwrap();
    assert_eq!(zh["strings"]["sv-nav-fleet"], "机群");
}

/// A supervisor app on `db`, connected to `url` as `client_id`.
fn open_app(
    db: &std::path::Path,
    url: &str,
    client_id: &str,
) -> (tauri::App<MockRuntime>, WebviewWindow<MockRuntime>) {
    let state = AppState::open(
        db,
        Some(url.to_string()),
        Some(client_id.into()),
        Some("en-US"),
    )
    .unwrap();
    let app = bonder_supervisor::setup(mock_builder(), state)
        .build(mock_context(noop_assets()))
        .unwrap();
    let w = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    // Plant data is for signed-in users: the first administrator, or them again.
    let chief = json!({"user":"chief","password":"chief-pass-1"});
    if call(&w, "first_admin", chief.clone()).is_err() {
        call(&w, "login", chief).unwrap();
    }
    (app, w)
}

/// The supervisor is closed while the station keeps bonding, and comes back on the same
/// history under a session the broker does not know (a new client id: what a broker
/// restart without persistence or an expired session amounts to), so the bonds of the
/// pause never reach it live. The first batch after the restart starts above the
/// history's highest seq: the supervisor asks the station for the hole by itself, the
/// station republishes it and answers, and the history ends up without a hole, its
/// report counting every wire once.
#[test]
fn a_gap_after_a_restart_is_backfilled_without_being_asked() {
    const S: &str = "sz1/assembly/l1/wb-22";
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let station_db = dir.path().join("station.sqlite");
    let station = common::start_station(S, &broker.url(), &station_db, dir.path());
    let db = dir.path().join("supervisor.sqlite");

    // First run: bonds arrive.
    let (app, _w) = open_app(&db, &broker.url(), "supervisor-gap-1");
    let sv = app.state::<AppState>().sv.clone();
    let seen = wait_for(90, "the station's first bonds in the history", || {
        sv.flush();
        sv.db().seq_span(S).unwrap().filter(|s| s.count >= 40)
    });
    assert_eq!(seen.missing(), 0, "{seen:?}");
    // Closed: the session ends, what was received is written, the app goes away.
    sv.disconnect();
    sv.flush();
    let before = sv.db().seq_span(S).unwrap().unwrap();
    drop(app);
    drop(sv);
    // The station keeps bonding meanwhile, and publishes 100 bonds at least that nobody
    // keeps for the supervisor (seen on the broker, not only in the station's store: a
    // bond still in the station's next round would reach the second run live).
    common::wait_for_published_bonds(broker.port, S, before.last + 100, 30);

    // Second run on the same history file.
    let (app, w) = open_app(&db, &broker.url(), "supervisor-gap-2");
    let sv = app.state::<AppState>().sv.clone();
    let backfills = || -> Vec<Value> {
        call(&w, "commands_list", json!({"limit": 100}))
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["kind"] == "backfill")
            .cloned()
            .collect()
    };
    // It asked by itself (nobody called `backfill`), for the hole after what it had,
    // and the station answered.
    let asked = wait_for(60, "the automatic backfill, answered", || {
        backfills().into_iter().find(|r| !r["ok"].is_null())
    });
    // Signed as the gap filler (`bonder_fleet::service::auto_backfill`), role supervisor.
    assert_eq!(asked["by_user"], "auto-backfill", "{asked}");
    assert_eq!(asked["station"], S, "{asked}");
    assert_eq!(asked["ok"], true, "{asked}");
    let summary = asked["summary"].as_str().unwrap();
    let (from, to) = summary.split_once("..=").unwrap();
    let (from, to): (u64, u64) = (from.parse().unwrap(), to.parse().unwrap());
    assert_eq!(from, before.last + 1, "{asked}");
    assert!(
        to >= before.last + 100,
        "the hole covers the pause: {asked}"
    );
    assert_eq!(backfills().len(), 1, "one request: {:?}", backfills());

    // Stop the station, let the last messages land, then compare at rest: no hole, and
    // neither the messages received nor the history changed for 5 polls in a row.
    drop(station);
    let link = sv.link_state();
    let mut last = None;
    let mut same = 0;
    let span = wait_for(30, "a history without holes, at rest", || {
        sv.flush();
        let reading = (
            link.borrow().messages,
            sv.db()
                .seq_span(S)
                .unwrap()
                .filter(|s| s.missing() == 0 && s.last > to),
        );
        if reading.1.is_some() && last == Some(reading) {
            same += 1;
        } else {
            (last, same) = (Some(reading), 1);
        }
        if same >= 5 { reading.1 } else { None }
    });
    assert_eq!(span.first, before.first, "{span:?} vs {before:?}");
    // Every seq the station stored in that range is in the history, counted once.
    let stored = bonder_store::Store::open(&station_db)
        .unwrap()
        .reader()
        .unwrap()
        .bonds_by_seq(span.first..=span.last)
        .unwrap();
    assert_eq!(stored.len() as u64, span.count);
    let stitches = stored.iter().filter(|b| b.kind.name() == "stitch").count() as u64;
    let now = bonder_fleet::history::now_ms();
    let rep = call(
        &w,
        "report_shift",
        json!({"scope": S, "fromMs": now - 3_600_000, "toMs": now + 60_000}),
    )
    .unwrap();
    assert_eq!(rep["total"]["bonds"].as_u64().unwrap(), span.count, "{rep}");
    assert_eq!(rep["total"]["wires"].as_u64().unwrap(), stitches, "{rep}");
    // And nothing more was asked for.
    assert_eq!(backfills().len(), 1, "{:?}", backfills());
}

/// User management: only a signed-in administrator lists, adds, changes, resets and
/// disables users (the command refuses everyone else, whatever the front end shows); a
/// disabled user cannot sign in until enabled again; nobody disables or demotes
/// themselves.
#[test]
fn users_are_managed_by_the_administrator_only() {
    let dir = tempfile::tempdir().unwrap();
    let state = AppState::open(
        &dir.path().join("supervisor.sqlite"),
        None,
        None,
        Some("en-US"),
    )
    .unwrap();
    let app = bonder_supervisor::setup(mock_builder(), state)
        .build(mock_context(noop_assets()))
        .unwrap();
    let w = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    let code = |cmd: &str, args: Value| call(&w, cmd, args).unwrap_err()["code"].clone();

    // Signed out: nothing.
    assert_eq!(code("user_list", json!({})), "login_required");
    call(
        &w,
        "first_admin",
        json!({"user":"chief","password":"chief-pass-1"}),
    )
    .unwrap();
    assert_eq!(
        call(&w, "user_list", json!({})).unwrap(),
        json!([{"name":"chief","role":"admin","enabled":true}])
    );

    // Add, with the refusals the form shows.
    call(
        &w,
        "user_add",
        json!({"name":"wang","role":"operator","password":"wang-pass-01"}),
    )
    .unwrap();
    assert_eq!(
        code(
            "user_add",
            json!({"name":"wang","role":"engineer","password":"li-pass-0002"})
        ),
        "user_exists"
    );
    assert_eq!(
        code(
            "user_add",
            json!({"name":" ","role":"operator","password":"li-pass-0002"})
        ),
        "name_missing"
    );
    assert_eq!(
        code(
            "user_add",
            json!({"name":"li","role":"king","password":"li-pass-0002"})
        ),
        "role_unknown"
    );
    assert_eq!(
        code(
            "user_add",
            json!({"name":"li","role":"operator","password":"abc"})
        ),
        "password_too_short"
    );
    assert_eq!(
        call(
            &w,
            "user_add",
            json!({"name":"li","role":"admin","password":"short1234"})
        )
        .unwrap_err(),
        json!({"code":"password_too_short","detail":"the password needs at least 10 characters"})
    );
    call(
        &w,
        "user_add",
        json!({"name":"li","role":"technician","password":"li-pass-0002"}),
    )
    .unwrap();

    // Change role, reset password, disable.
    call(&w, "user_role", json!({"name":"li","role":"engineer"})).unwrap();
    call(
        &w,
        "user_password",
        json!({"name":"wang","password":"new-pass-001"}),
    )
    .unwrap();
    call(&w, "user_enable", json!({"name":"wang","enabled":false})).unwrap();
    assert_eq!(
        code("user_role", json!({"name":"ghost","role":"engineer"})),
        "user_unknown"
    );
    assert_eq!(
        code("user_enable", json!({"name":"chief","enabled":false})),
        "own_account"
    );
    assert_eq!(
        code("user_role", json!({"name":"chief","role":"operator"})),
        "own_account"
    );
    assert_eq!(
        code(
            "user_set",
            json!({"name":"chief","role":"operator","password":"chief-pass-2"})
        ),
        "own_account"
    );
    assert_eq!(
        call(&w, "user_list", json!({})).unwrap(),
        json!([
            {"name":"chief","role":"admin","enabled":true},
            {"name":"li","role":"engineer","enabled":true},
            {"name":"wang","role":"operator","enabled":false}
        ])
    );

    // A disabled user cannot sign in (old or new password; the right one is told the
    // account is disabled); enabled again, they can, with the new password only.
    assert_eq!(
        code("login", json!({"user":"wang","password":"wang-pass-01"})),
        "login_failed"
    );
    assert_eq!(
        code("login", json!({"user":"wang","password":"new-pass-001"})),
        "account_disabled"
    );
    call(
        &w,
        "login",
        json!({"user":"chief","password":"chief-pass-1"}),
    )
    .unwrap();
    call(&w, "user_enable", json!({"name":"wang","enabled":true})).unwrap();
    assert_eq!(
        code("login", json!({"user":"wang","password":"wang-pass-01"})),
        "login_failed"
    );
    let s = call(
        &w,
        "login",
        json!({"user":"wang","password":"new-pass-001"}),
    )
    .unwrap();
    assert_eq!(s, json!({"user":"wang","role":"operator"}));

    // A non-administrator is refused every user command, and changes nothing.
    for (user, password) in [("wang", "new-pass-001"), ("li", "li-pass-0002")] {
        call(&w, "login", json!({"user":user,"password":password})).unwrap();
        assert_eq!(code("user_list", json!({})), "forbidden");
        assert_eq!(
            code(
                "user_add",
                json!({"name":"eve","role":"admin","password":"eve-pass-1"})
            ),
            "forbidden"
        );
        assert_eq!(
            code("user_role", json!({"name":user,"role":"admin"})),
            "forbidden"
        );
        assert_eq!(
            code(
                "user_password",
                json!({"name":"chief","password":"hijacked!"})
            ),
            "forbidden"
        );
        assert_eq!(
            code("user_enable", json!({"name":"chief","enabled":false})),
            "forbidden"
        );
        assert_eq!(
            code(
                "user_set",
                json!({"name":"eve","role":"admin","password":"eve-pass-1"})
            ),
            "forbidden"
        );
    }
    assert_eq!(
        code("login", json!({"user":"eve","password":"eve-pass-1"})),
        "login_failed"
    );
    let s = call(
        &w,
        "login",
        json!({"user":"chief","password":"chief-pass-1"}),
    )
    .unwrap();
    assert_eq!(s["role"], "admin");
    assert_eq!(
        call(&w, "user_list", json!({}))
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // Five failures lock the name (known or not) for five minutes; the right password
    // is refused while locked; every attempt is in the supervisor's audit trail.
    for left in (1..=4).rev() {
        let e = call(&w, "login", json!({"user":"li","password":"guess"})).unwrap_err();
        assert_eq!(
            (e["code"].clone(), e["left"].clone()),
            (json!("login_failed"), json!(left))
        );
    }
    let e = call(&w, "login", json!({"user":"li","password":"guess"})).unwrap_err();
    assert_eq!(e["code"], "login_locked", "{e}");
    let until = e["until_ms"].as_i64().unwrap();
    let now = bonder_fleet::history::now_ms();
    assert!((now + 290_000..=now + 300_000).contains(&until), "{e}");
    assert_eq!(
        code("login", json!({"user":"li","password":"li-pass-0002"})),
        "login_locked"
    );
    let rows = app.state::<AppState>().sv.db().audit(200).unwrap();
    let count = |action: &str, object: &str| {
        rows.iter()
            .filter(|r| r.action == action && r.object == object)
            .count()
    };
    assert_eq!(count("lockout", "user:li"), 1);
    assert!(count("refused", "user:li") >= 5);
    assert!(count("login", "user:chief") >= 2);
    assert_eq!(count("create", "user:wang#added"), 1);
    assert_eq!(count("modify", "user:wang#disabled"), 1);
    assert_eq!(count("modify", "user:li#role_engineer"), 1);
    assert_eq!(count("modify", "user:wang#password_reset"), 1);
    assert!(
        rows.iter()
            .all(|r| !r.detail.as_deref().unwrap_or("").contains("new-pass-001"))
    );
}

/// The idle lock: a session unused for longer than the lock is closed (audited), and
/// every command then answers `login_required`.
#[test]
fn an_idle_session_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = AppState::open(
        &dir.path().join("supervisor.sqlite"),
        None,
        Some("supervisor-idle".into()),
        Some("en-US"),
    )
    .unwrap();
    state.idle_lock = Duration::from_millis(300);
    let app = bonder_supervisor::setup(mock_builder(), state)
        .build(mock_context(noop_assets()))
        .unwrap();
    let w = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    call(
        &w,
        "first_admin",
        json!({"user":"chief","password":"chief-pass-1"}),
    )
    .unwrap();
    assert!(call(&w, "recipes_list", json!({})).is_ok());
    wait_for(10, "the idle lock", || {
        call(&w, "session", json!({}))
            .unwrap()
            .is_null()
            .then_some(())
    });
    assert_eq!(
        call(&w, "recipes_list", json!({})).unwrap_err()["code"],
        "login_required"
    );
    let rows = app.state::<AppState>().sv.db().audit(10).unwrap();
    assert!(
        rows.iter().any(|r| r.action == "logout"
            && r.user == "chief"
            && r.detail.as_deref().unwrap_or("").contains("idle lock")),
        "{rows:?}"
    );
}

/// The broker password never lands in the history: it is moved to its own 0600 file.
#[cfg(unix)]
#[test]
fn the_broker_password_is_kept_out_of_the_history() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("supervisor.sqlite");
    // An older build kept it in the settings row, inside the URL.
    {
        let mut h = bonder_fleet::history::History::open(&db).unwrap();
        h.set_setting(
            "gateway",
            &serde_json::to_string(&bonder_fleet::GatewaySettings::new(
                "mqtt://sv:Pl4nt-s3cret@127.0.0.1:9",
            ))
            .unwrap(),
        )
        .unwrap();
    }
    let state = AppState::open(&db, None, Some("supervisor-secret".into()), Some("en-US")).unwrap();
    assert_eq!(
        state.initial_gateway.as_ref().unwrap().password.as_deref(),
        Some("Pl4nt-s3cret"),
        "still used to connect"
    );
    // Checked while the app still runs: the move scrubs the old bytes at once (a
    // checkpoint with secure_delete), not only when the history is closed.
    let file = dir.path().join(bonder_fleet::secrets::FILE);
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let history = std::fs::read(&db).unwrap();
    let wal = std::fs::read(dir.path().join("supervisor.sqlite-wal")).unwrap_or_default();
    for bytes in [history, wal] {
        assert!(
            !bytes.windows(12).any(|w| w == b"Pl4nt-s3cret"),
            "the password is in the history file"
        );
    }
    drop(state);
}

/// Excursions: two stations on one recipe publish `{S}/health` drifts naming the
/// material lot, a third a yield forecast of another cause, over the real broker; the
/// supervisor lists every open warning (drifts first) and the commonality — the shared
/// recipe and cause point at a lot; a clearing closes one and the commonality with it.
#[test]
fn excursions_across_the_fleet_and_their_commonality() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let (_app, w) = open_app(
        &dir.path().join("supervisor.sqlite"),
        &broker.url(),
        "supervisor-excursions",
    );
    let now = bonder_gateway::payload::ts(time::OffsetDateTime::now_utc());
    let health = |kind: &str, feature: Option<&str>, cause: &str| {
        json!({"v": 1, "ts": now, "kind": kind, "feature": feature, "direction": "down",
            "at_time_us": 1_000_000, "eta_wires": if kind == "drift" { Value::Null } else { json!(420_000) },
            "causes": [{"cause": cause, "weight": 0.86}, {"cause": "unknown", "weight": 0.14}],
            "text_en": format!("{kind} {cause}"), "text_zh": format!("{kind} {cause} 中")})
    };
    let status = |recipe: &str| {
        json!({"v":1,"ts":now,"state":"running","recipe":recipe,"operator":"OP7",
            "wires_bonded":5,"wire_rate_per_min":300.0,"yield_pct":99.0,"alarm":null})
    };
    let stations = [
        (
            "sz1/assembly/l7/wb-71",
            "SOT23-CU20@3",
            "drift",
            Some("stitch_deform_um"),
            "material_lot",
        ),
        (
            "sz1/assembly/l7/wb-72",
            "SOT23-CU20@3",
            "drift",
            Some("stitch_impedance_drop_pct"),
            "material_lot",
        ),
        (
            "sz1/assembly/l8/wb-81",
            "QFN-AU25@1",
            "yield_forecast",
            None,
            "ultrasonic_output",
        ),
    ];
    let mut msgs = Vec::new();
    for (id, recipe, kind, feature, cause) in stations {
        msgs.push((
            format!("{id}/status"),
            serde_json::to_vec(&status(recipe)).unwrap(),
            true,
        ));
        msgs.push((
            format!("{id}/health"),
            serde_json::to_vec(&health(kind, feature, cause)).unwrap(),
            false,
        ));
    }
    // Published until the supervisor has them all (it subscribes once connected).
    let e = wait_for(30, "three open warnings", || {
        common::publish(broker.port, "synthetic-health", msgs.clone());
        let e = call(&w, "fleet_excursions", json!({})).unwrap();
        (e["open"].as_array().unwrap().len() == 3).then_some(e)
    });
    assert_eq!(e["open"][0]["kind"], "drift");
    assert_eq!(e["open"][2]["kind"], "yield_forecast");
    assert_eq!(e["open"][2]["eta_wires"], 420_000);
    assert_eq!(e["common"].as_array().unwrap().len(), 1, "{e}");
    let c = &e["common"][0];
    assert_eq!(c["cause"], "material_lot");
    assert_eq!(
        c["stations"],
        json!(["sz1/assembly/l7/wb-71", "sz1/assembly/l7/wb-72"])
    );
    assert_eq!(c["shared_recipe"], "SOT23-CU20@3");
    assert_eq!(c["points_at_lot"], true);
    // wb-72 clears its drift.
    let cleared = health("cleared", Some("drift"), "unknown");
    let e = wait_for(30, "the clearing", || {
        common::publish(
            broker.port,
            "synthetic-health",
            vec![(
                "sz1/assembly/l7/wb-72/health".into(),
                serde_json::to_vec(&cleared).unwrap(),
                false,
            )],
        );
        let e = call(&w, "fleet_excursions", json!({})).unwrap();
        (e["open"].as_array().unwrap().len() == 2).then_some(e)
    });
    assert!(e["common"].as_array().unwrap().is_empty(), "{e}");
    // Signed out: refused.
    call(&w, "logout", json!({})).unwrap();
    assert_eq!(
        call(&w, "fleet_excursions", json!({})).unwrap_err()["code"],
        "login_required"
    );
}
