//! SECS/GEM end to end: python `secsgem` 0.3.0 (PyPI, in the virtual environment that
//! `scripts/test-all.sh` creates) as the fab host, the station binary with its real
//! SQLite store as the equipment, bondersim as the controller. The host establishes
//! communication, reads variables and constants, defines reports and receives them,
//! commands the machine, downloads process programs, sends terminal messages, lists
//! alarms, and gets what it missed while away; the configuration survives `kill -9`.
//!
//! The python side (`tests/peers/secsgem_host.py`) only sends and reports; every
//! expectation is here.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use bonder_e2e::procs::{self, JsonPeer, Proc, free_port};
use bondersim::{SimConfig, Simulator};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

/// The station binary on the simulator with GEM on `gem_port` (T3 5 s).
fn start_station(db: &Path, controller: std::net::SocketAddr, gem_port: u16) -> Proc {
    let home = db.parent().unwrap();
    let mut c = procs::headless_station(
        Path::new(env!("CARGO_BIN_EXE_bonder-station")),
        home,
        db,
        &controller.to_string(),
    );
    c.args(["--gem-listen", &format!("127.0.0.1:{gem_port}")])
        .args(["--gem-t3", "5"])
        .args(["--opcua-listen", "none"]);
    Proc::spawn(c)
}

/// The python host (`tests/peers/secsgem_host.py`), one JSON command per line.
struct Host(JsonPeer);

impl Host {
    fn start() -> Host {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/secsgem_host.py");
        Host(JsonPeer::start(&script, true))
    }

    fn call(&mut self, cmd: Value) -> Value {
        let v = self.0.call(cmd.clone());
        assert!(v.get("error").is_none(), "host failed {cmd}: {v}");
        v
    }

    fn connect(&mut self, port: u16) {
        let v = self.call(json!({"cmd": "connect", "port": port, "timeout": 20}));
        assert_eq!(v["communicating"], true, "communication established");
    }

    /// A primary and its decoded reply.
    fn req(&mut self, s: u8, f: u8, data: Value) -> Value {
        self.req_w(s, f, data, false)
    }

    /// [`Host::req`], with the W bit forced on (secsgem sends S10F3 without it, though
    /// E5 says S10F3 wants a reply).
    fn req_w(&mut self, s: u8, f: u8, data: Value, w: bool) -> Value {
        let v = self.call(json!({"cmd": "req", "s": s, "f": f, "data": data, "w": w}));
        assert_eq!(v["f"], f + 1, "S{s}F{f} answered S{s}F{}: {v}", f + 1);
        v["reply"].clone()
    }

    fn events(&mut self, ceid: u32, n: usize, secs: u64) -> Vec<Value> {
        let v = self.call(json!({"cmd": "events", "ceid": ceid, "n": n, "timeout": secs}));
        let items = v["items"].as_array().unwrap().clone();
        assert!(
            items.len() >= n,
            "{n} S6F11 of CEID {ceid} within {secs} s, got {}",
            items.len()
        );
        items
    }
}

fn u4(v: u32) -> Value {
    json!({"$": "U4", "v": v})
}

/// The values of the first report of an S6F11.
fn report(ev: &Value) -> Vec<Value> {
    ev["RPT"][0]["V"].as_array().unwrap().clone()
}

struct Bench {
    _rt: tokio::runtime::Runtime,
    sim: Simulator,
    dir: tempfile::TempDir,
}

fn bench() -> Bench {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sim = rt
        .block_on(Simulator::start(SimConfig {
            autostart: true,
            ..SimConfig::default()
        }))
        .unwrap();
    Bench {
        _rt: rt,
        sim,
        dir: tempfile::tempdir().unwrap(),
    }
}

#[test]
fn a_secsgem_host_runs_the_bonder() {
    let b = bench();
    let port = free_port();
    let db = b.dir.path().join("station.sqlite");
    let station = start_station(&db, b.sim.modbus_addr, port);
    let mut host = Host::start();
    host.connect(port);

    // Status variables and constants; already online (InitControlState 2) and REMOTE.
    let sv = host.req(1, 3, json!([1002, 1005, 1018]));
    assert_eq!(sv[0], 5, "ONLINE-REMOTE: {sv}");
    assert!(
        sv[1].as_str().unwrap().contains('@'),
        "PPExecName name@version: {sv}"
    );
    assert_eq!(sv[2], true, "controller online");
    assert_eq!(
        host.req(2, 13, json!([3001, 3007, 3008])),
        json!([10, 5, 2])
    );
    assert_eq!(
        host.req(1, 17, json!(null)),
        json!(2),
        "ONLACK 2: already online"
    );
    let names = host.req(1, 11, json!([1006]));
    assert_eq!(names[0]["SVNAME"], "WiresBonded", "{names}");

    // Reports: defined, linked, enabled; every refusal with its code.
    let define = |rptid: u32, vids: &[u32]| json!({"DATAID": 1, "DATA": [{"RPTID": u4(rptid), "VID": vids.iter().map(|&v| u4(v)).collect::<Vec<_>>()}]});
    assert_eq!(
        host.req(2, 33, define(10, &[2001, 2002, 2003, 1006])),
        json!(0)
    );
    assert_eq!(host.req(2, 33, define(11, &[1003, 1004])), json!(0));
    assert_eq!(
        host.req(2, 33, define(10, &[2001])),
        json!(3),
        "RPTID defined already"
    );
    assert_eq!(
        host.req(2, 33, define(12, &[9999])),
        json!(4),
        "VID unknown"
    );
    let link = |ceid: u32, rpts: &[u32]| json!({"DATAID": 2, "DATA": [{"CEID": u4(ceid), "RPTID": rpts.iter().map(|&r| u4(r)).collect::<Vec<_>>()}]});
    assert_eq!(host.req(2, 35, link(106, &[10])), json!(0));
    assert_eq!(host.req(2, 35, link(101, &[11])), json!(0));
    assert_eq!(
        host.req(2, 35, link(106, &[11])),
        json!(3),
        "CEID linked already"
    );
    assert_eq!(host.req(2, 35, link(9999, &[10])), json!(4), "CEID unknown");
    assert_eq!(host.req(2, 35, link(107, &[99])), json!(5), "RPTID unknown");
    assert_eq!(
        host.req(2, 37, json!({"CEED": true, "CEID": [u4(9999)]})),
        json!(1)
    );
    assert_eq!(
        host.req(2, 37, json!({"CEED": true, "CEID": [u4(106), u4(101)]})),
        json!(0)
    );

    // Completed units arrive as S6F11 with the right values.
    let wires_per_unit = bonder_core::recipe::Recipe::default_au().wires_per_unit;
    let units = host.events(106, 2, 60);
    let (a, b2) = (report(&units[0]), report(&units[1]));
    assert_eq!(a[1], wires_per_unit, "UnitWires: {a:?}");
    assert!(
        b2[0].as_u64() > a[0].as_u64(),
        "UnitID increases: {a:?} {b2:?}"
    );
    assert!(
        a[2].as_u64().unwrap() <= 2 * u64::from(wires_per_unit),
        "UnitRejects {a:?}"
    );
    assert!(
        b2[3].as_u64().unwrap() >= a[3].as_u64().unwrap() + u64::from(wires_per_unit),
        "WiresBonded grows: {a:?} {b2:?}"
    );
    assert!(units[1]["DATAID"].as_u64() > units[0]["DATAID"].as_u64());

    // Remote commands, seen as process-state events.
    let rcmd = |host: &mut Host, name: &str, params: Value| {
        let r = host.req(2, 41, json!({"RCMD": name, "PARAMS": params}));
        r["HCACK"].as_u64().unwrap()
    };
    assert_eq!(rcmd(&mut host, "START", json!([])), 5, "already executing");
    host.call(json!({"cmd": "drain"}));
    assert_eq!(rcmd(&mut host, "STOP", json!([])), 0);
    let ev = host.events(101, 1, 20);
    assert_eq!(json!(report(&ev[0])), json!([0, 1]), "IDLE, was EXECUTING");
    assert_eq!(rcmd(&mut host, "PAUSE", json!([])), 2, "not executing");
    assert_eq!(rcmd(&mut host, "START", json!([])), 0);
    let ev = host.events(101, 2, 20);
    assert_eq!(json!(report(&ev[1])), json!([1, 0]), "EXECUTING, was IDLE");
    assert_eq!(rcmd(&mut host, "FLY", json!([])), 1, "no such command");
    let r = host.req(
        2,
        41,
        json!({"RCMD": "PP-SELECT", "PARAMS": [{"CPNAME": "PPID", "CPVAL": "NOPE@1"}]}),
    );
    assert_eq!(r["HCACK"], 3);
    assert_eq!(r["PARAMS"][0]["CPACK"], 2);

    // LOCAL: every remote command refused, nothing happens.
    let ec = |id: u32, val: Value| json!([{"ECID": u4(id), "ECV": val}]);
    assert_eq!(
        host.req(2, 15, ec(3007, json!({"$": "U1", "v": 4}))),
        json!(0)
    );
    assert_eq!(host.req(1, 3, json!([1002])), json!([4]), "ONLINE-LOCAL");
    assert_eq!(rcmd(&mut host, "STOP", json!([])), 2);
    assert_eq!(host.req(1, 3, json!([1003])), json!([1]), "still executing");
    assert_eq!(
        host.req(2, 15, ec(3007, json!({"$": "U1", "v": 5}))),
        json!(0)
    );
    // S2F15 is all or nothing.
    assert_eq!(
        host.req(2, 15, ec(9999, json!({"$": "U1", "v": 1}))),
        json!(1)
    );
    assert_eq!(
        host.req(2, 15, json!([{"ECID": u4(3004), "ECV": u4(7)}, {"ECID": u4(3001), "ECV": json!({"$": "U2", "v": 0})}])),
        json!(3)
    );
    assert_eq!(
        host.req(2, 13, json!([3004, 3001])),
        json!([0, 10]),
        "nothing changed"
    );

    // Process programs: list, upload, download as a draft; refusals write nothing.
    let list = host.req(7, 19, json!(null));
    let pps: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    let ppid = pps[0].clone();
    let got = host.req(7, 5, json!(ppid));
    assert_eq!(got["PPID"], ppid.as_str());
    let body: Vec<u8> = got["PPBODY"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap() as u8)
        .collect();
    let mut doc: Value = serde_json::from_slice(&body).unwrap();
    let (name, version) = ppid.rsplit_once('@').unwrap();
    let latest = pps
        .iter()
        .filter_map(|p| p.strip_prefix(&format!("{name}@")))
        .filter_map(|v| v.parse::<u32>().ok())
        .max()
        .unwrap();
    let _ = version;
    doc["version"] = json!(latest + 1);
    let new_id = format!("{name}@{}", latest + 1);
    let s7f3 =
        |id: &str, doc: &Value| json!({"PPID": id, "PPBODY": {"$": "B", "v": doc.to_string()}});
    assert_eq!(
        host.req(
            7,
            1,
            json!({"PPID": new_id, "LENGTH": u4(body.len() as u32)})
        ),
        json!(0),
        "PPGNT 0"
    );
    assert_eq!(
        host.req(7, 3, s7f3(&new_id, &doc)),
        json!(0),
        "ACKC7 0: a new version, as a draft"
    );
    assert_eq!(
        host.req(7, 1, json!({"PPID": new_id, "LENGTH": u4(10)})),
        json!(1),
        "PPGNT 1: already have"
    );
    assert_eq!(
        host.req(7, 3, s7f3(&new_id, &doc)),
        json!(1),
        "ACKC7 1: versions are never overwritten"
    );
    let mut wild = doc.clone();
    wild["version"] = json!(latest + 2);
    wild["ball"]["force_gf"] = json!(1.0e6);
    let wild_id = format!("{name}@{}", latest + 2);
    assert_eq!(
        host.req(7, 3, s7f3(&wild_id, &wild)),
        json!(6),
        "ACKC7 6: out of range"
    );
    let mut other = doc.clone();
    other["version"] = json!(latest + 2);
    assert_eq!(
        host.req(7, 3, s7f3(&format!("{name}@{}", latest + 7), &other)),
        json!(6),
        "ACKC7 6: PPID is not the document"
    );
    assert_eq!(
        host.req(7, 17, json!([new_id])),
        json!(1),
        "never deleted through SECS"
    );
    let after = host.req(7, 19, json!(null));
    assert_eq!(
        after.as_array().unwrap().len(),
        pps.len() + 1,
        "exactly the one accepted: {after}"
    );
    assert!(
        after
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == new_id.as_str())
    );

    // Terminal services: the text is shown on the station until acknowledged.
    assert_eq!(
        host.req_w(
            10,
            3,
            json!({"TID": 0, "TEXT": {"$": "A", "v": "换线 SOT23 → 14:00"}}),
            true
        ),
        json!(0)
    );
    station.wait_line("terminal message pending", 10, |l| {
        l.contains("terminal=pending")
    });

    // Alarms: all listed and enabled by default; S5F3 disables one.
    let all = host.req(5, 5, json!([]));
    assert_eq!(
        all.as_array().unwrap().len(),
        bonder_core::AlarmCode::KNOWN.len(),
        "{all}"
    );
    assert_eq!(
        host.req_w(5, 3, json!({"ALED": 0, "ALID": u4(103)}), true),
        json!(0)
    );
    let enabled = host.req(5, 7, json!(null));
    assert_eq!(
        enabled.as_array().unwrap().len(),
        bonder_core::AlarmCode::KNOWN.len() - 1
    );
    assert!(enabled.as_array().unwrap().iter().all(|a| a["ALID"] != 103));

    // Clock: the station's time in TimeFormat 1 (S2F31 is in the raw test below).
    assert_eq!(host.req(2, 17, json!(null)).as_str().unwrap().len(), 16);
    drop(station);
}

#[test]
fn spooled_events_are_replayed_in_order_and_the_configuration_survives_kill_9() {
    let b = bench();
    let port = free_port();
    let db = b.dir.path().join("station.sqlite");
    let mut station = start_station(&db, b.sim.modbus_addr, port);
    let mut host = Host::start();
    host.connect(port);
    let vids = [2001, 2002, 2003].map(u4);
    assert_eq!(
        host.req(
            2,
            33,
            json!({"DATAID": 1, "DATA": [{"RPTID": u4(10), "VID": vids}]})
        ),
        json!(0)
    );
    assert_eq!(
        host.req(
            2,
            35,
            json!({"DATAID": 2, "DATA": [{"CEID": u4(106), "RPTID": [u4(10)]}]})
        ),
        json!(0)
    );
    assert_eq!(
        host.req(
            2,
            37,
            json!({"CEED": true, "CEID": [u4(106), u4(111), u4(112)]})
        ),
        json!(0)
    );
    assert_eq!(
        host.req(
            2,
            15,
            json!([{"ECID": u4(3003), "ECV": {"$": "BOOLEAN", "v": true}}])
        ),
        json!(0)
    );
    let live = host.events(106, 1, 60);
    let last_live = report(&live[0])[0].as_u64().unwrap();

    // The host goes away; completed units are spooled.
    host.call(json!({"cmd": "disconnect"}));
    station.wait_line("3 spooled", 90, |l| {
        l.split(" spool=")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .is_some_and(|n| n >= 3)
    });
    host.call(json!({"cmd": "drain"}));
    host.connect(port);
    let spooled = host.req(1, 3, json!([1016]))[0].as_u64().unwrap();
    assert!(spooled >= 3, "SpoolCountActual {spooled}");
    assert_eq!(host.req(6, 23, json!(0)), json!(0), "RSDA 0");
    // Oldest first: SpoolingActivated, then the units in order.
    let units = host.events(106, 3, 30);
    let ids: Vec<u64> = units
        .iter()
        .map(|e| report(e)[0].as_u64().unwrap())
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "units in order: {ids:?}"
    );
    assert!(
        ids[0] > last_live,
        "after the last live one: {ids:?} {last_live}"
    );
    host.events(111, 1, 5);
    let all = host.call(json!({"cmd": "events", "ceid": null, "n": 1, "timeout": 1}));
    let order: Vec<u64> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["CEID"].as_u64().unwrap())
        .collect();
    let at = |c: u64| order.iter().position(|&x| x == c).unwrap();
    assert!(
        at(111) < at(106),
        "CEID 111 (spooling activated) replayed before the units: {order:?}"
    );
    host.events(112, 1, 60);
    station.wait_line("spool emptied", 30, |l| l.contains(" spool=0"));

    // The host goes away again and the station is killed (-9) with messages spooled:
    // the spool and the host's definitions, links, enables and constants are in SQLite.
    host.call(json!({"cmd": "disconnect"}));
    let line = station.wait_line("spooled again", 90, |l| spool_of(l) >= 2);
    let before_kill = spool_of(&line);
    station.kill();
    host.call(json!({"cmd": "drain"}));
    let _station = start_station(&db, b.sim.modbus_addr, port);
    host.connect(port);
    assert_eq!(
        host.req(2, 13, json!([3003])),
        json!([true]),
        "ConfigSpool kept"
    );
    assert_eq!(
        host.req(
            2,
            33,
            json!({"DATAID": 3, "DATA": [{"RPTID": u4(10), "VID": [u4(2001)]}]})
        ),
        json!(3),
        "RPTID 10 still defined"
    );
    let kept = host.req(1, 3, json!([1016]))[0].as_u64().unwrap();
    assert!(
        kept >= before_kill,
        "spool kept across kill -9: {kept} ≥ {before_kill}"
    );
    assert_eq!(host.req(6, 23, json!(0)), json!(0), "RSDA 0");
    let again = host.events(106, 2, 60);
    assert_eq!(report(&again[0]).len(), 3, "report 10 kept: {:?}", again[0]);
}

/// The spool count of a status line (`spool=N`), 0 when absent.
fn spool_of(line: &str) -> u64 {
    line.split(" spool=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

async fn next_s9(ev: &mut tokio::sync::mpsc::Receiver<bonder_secs::Event>) -> bonder_secs::Primary {
    loop {
        let e = tokio::time::timeout(Duration::from_secs(20), ev.recv())
            .await
            .unwrap()
            .unwrap();
        if let bonder_secs::Event::Primary(p) = e {
            if p.message.stream == 9 {
                return p;
            }
        }
    }
}

/// What secsgem cannot send: an unknown stream (S9F3), an unknown function (S9F5), a body
/// that does not match its message (S9F7), a wrong device id (S9F1) — answered by the
/// station with the offending header, the session staying up; and a second host
/// connection while one is selected is refused.
#[test]
fn the_station_answers_what_no_gem_host_should_send() {
    use bonder_secs::{Event, HsmsConfig, Item, Message, Session};
    let b = bench();
    let port = free_port();
    let db = b.dir.path().join("station.sqlite");
    let _station = start_station(&db, b.sim.modbus_addr, port);
    b._rt.block_on(async {
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let (host, mut ev) = Session::start(HsmsConfig::active(addr)).await.unwrap();
        // Selected (the station sends S1F13; answered below when it comes).
        loop {
            match tokio::time::timeout(Duration::from_secs(20), ev.recv())
                .await
                .unwrap()
                .unwrap()
            {
                Event::Primary(p) if (p.message.stream, p.message.function) == (1, 13) => {
                    host.reply(
                        &p.token,
                        Message::reply(1, 14, Item::list([Item::binary(0), Item::list([])])),
                    );
                    break;
                }
                _ => {}
            }
        }
        let s1 = host
            .request(Message::request(1, 13, Item::list([])))
            .await
            .unwrap();
        assert_eq!(s1.function, 14);
        for (m, function) in [
            (Message::request(99, 1, Item::list([])), 3),
            (Message::request(1, 99, Item::list([])), 5),
            (Message::request(1, 3, Item::ascii("not a list")), 7),
            (Message::request(2, 41, Item::u4(1)), 7),
        ] {
            let name = m.name();
            let waiter = {
                let host = host.clone();
                tokio::spawn(async move { host.request(m).await })
            };
            let s9 = next_s9(&mut ev).await;
            assert_eq!(s9.message.function, function, "{name} → S9F{function}");
            let mhead = s9
                .message
                .body
                .as_ref()
                .and_then(Item::bytes)
                .unwrap()
                .to_vec();
            assert_eq!(mhead.len(), 10);
            assert_eq!(
                (mhead[2] & 0x7F, mhead[3]),
                (
                    name[1..].split('F').next().unwrap().parse::<u8>().unwrap(),
                    name.split('F').nth(1).unwrap().parse::<u8>().unwrap()
                ),
                "MHEAD is the offending header"
            );
            // The station sent no reply: the host's own T3 would expire; stop waiting.
            waiter.abort();
        }
        // S2F31 (secsgem has no S2F31): TIACK 1, the clock is the OS's.
        let t = host
            .request(Message::request(2, 31, Item::ascii("2026120112000000")))
            .await
            .unwrap();
        assert_eq!(t.body, Some(Item::binary(1)), "TIACK 1");
        // Still communicating: an S1F1 gets its S1F2.
        let r = host
            .request(Message::header_only(1, 1, true))
            .await
            .unwrap();
        assert_eq!(
            r.body.unwrap().at(0).and_then(Item::text).unwrap(),
            "WB-HMI"
        );

        // A second connection while selected: Select.rsp status 1, then closed.
        let mut second = tokio::net::TcpStream::connect(addr).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let sel = bonder_secs::message::encode_frame(
            &bonder_secs::Header::control(bonder_secs::SType::SelectReq, 1),
            None,
        )
        .unwrap();
        second.write_all(&sel).await.unwrap();
        let mut rsp = [0u8; 14];
        second.read_exact(&mut rsp).await.unwrap();
        assert_eq!(
            (rsp[9], rsp[7]),
            (2, 1),
            "Select.rsp, status 1 (already active)"
        );
        let mut more = [0u8; 1];
        assert_eq!(second.read(&mut more).await.unwrap(), 0, "then closed");
    });
}
