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
/// diameters.
fn publish_synthetic(port: u16, balls: &[f64]) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut o = rumqttc::MqttOptions::new("synthetic-station", "127.0.0.1", port);
        o.set_keep_alive(Duration::from_secs(5));
        let (client, mut ev) = rumqttc::AsyncClient::new(o, 64);
        let poll = tokio::spawn(async move { while ev.poll().await.is_ok() {} });
        let now = bonder_gateway::payload::ts(time::OffsetDateTime::now_utc());
        let status = json!({"v":1,"ts":now,"state":"running","recipe":"SOT23-CU20@3","operator":"OP7",
            "wires_bonded":5,"wire_rate_per_min":300.0,"yield_pct":100.0,"alarm":null});
        let bonds: Vec<Value> = balls.iter().enumerate().map(|(i, b)| json!({"seq": i + 1, "ts": now,
            "unit": 1, "wire": i + 1, "kind": "ball", "verdict": "ok", "dx_um": 0.5, "dy_um": -0.5,
            "ball_um": b, "peak_force_gf": 24.0, "us_energy_mj": 1.2, "deform_um": 3.0})).collect();
        let batch = json!({"v":1,"ts":now,"first_seq":1,"last_seq":balls.len(),"bonds":bonds});
        for (t, p, retain) in [("status", status, true), ("bonds", batch, false)] {
            client
                .publish(format!("{SYNTHETIC}/{t}"), rumqttc::QoS::AtLeastOnce, retain, serde_json::to_vec(&p).unwrap())
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        poll.abort();
    });
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
        json!({"needed": true, "password_min": 8})
    );
    assert_eq!(app.state::<AppState>().sv.db().user_count().unwrap(), 0);
    assert_eq!(
        call(&w, "login", json!({"user":"admin","password":"admin"})).unwrap_err()["code"],
        "login_failed"
    );
    // The password rule (8 characters), then the administrator, signed in at once.
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
    for (name, role, password) in [("wang", "operator", "pass1"), ("li", "engineer", "pass2")] {
        call(
            &w,
            "user_set",
            json!({"name":name,"role":role,"password":password}),
        )
        .unwrap();
    }
    call(&w, "login", json!({"user":"wang","password":"pass1"})).unwrap();
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
    let s = call(&w, "login", json!({"user":"li","password":"pass2"})).unwrap();
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
    assert_eq!(keys, ["ball.force_gf", "version"]);
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
