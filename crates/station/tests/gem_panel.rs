//! The GEM page and the host's terminal messages through the real touch UI (Slint's
//! testing backend) over the station's real store and GEM, with a host on a real HSMS
//! connection: the text of an S10F3 shows on every page until an operator acknowledges
//! it (CEID 110 to the host), an operator may not switch LOCAL/REMOTE (refused and
//! audited), a technician may (the host sees ONLINE-LOCAL; audited). The page lists the
//! OPC UA sessions (a real `asyncua` client on the station's real server) to the
//! technician, not to the operator.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use bonder_core::login::LoginPolicy;
use bonder_core::recipe::Recipe;
use bonder_i18n::{Lang, tr};
use bonder_runtime::{RuntimeConfig, Station};
use bonder_secs::{Event, HsmsConfig, Item, Message, Session};
use bonder_station_ui::{
    AppAdapter, GemAdapter, MainWindow, Page, SessionAdapter, StationUi, UiOptions,
};
use bonder_store::{NewUser, Role, Store};
use bondersim::{SimConfig, Simulator};
use i_slint_backend_testing::{AccessibleRole, ElementHandle};
use slint::ComponentHandle;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const TECH: (&str, &str) = ("T3", "135790");
const OPERATOR: (&str, &str) = ("OP7", "246813");

struct Rig {
    ui: StationUi,
    store: Arc<Store>,
    opcua: bonder_opcua::OpcuaConfig,
    host: Session,
    /// Primaries the host received (its S1F13 and S6F11s answered).
    got: mpsc::UnboundedReceiver<Message>,
    _sim: Simulator,
    rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

fn rig() -> Rig {
    i_slint_backend_testing::init_no_event_loop();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sim = rt.block_on(Simulator::start(SimConfig::default())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path().join("station.sqlite")).unwrap());
    let policy = LoginPolicy::default();
    for (badge, secret, role) in [
        (TECH.0, TECH.1, Role::Technician),
        (OPERATOR.0, OPERATOR.1, Role::Operator),
    ] {
        let by = bonder_store::Actor::new("A1", Role::Admin);
        store
            .create_user(
                &NewUser {
                    badge: badge.into(),
                    name: badge.into(),
                    role,
                    lang: "en-US".into(),
                },
                secret,
                &policy,
                Some(&by),
            )
            .unwrap();
    }
    let writer = {
        let _g = rt.enter();
        store
            .spawn_writer(bonder_store::WriterConfig::default())
            .unwrap()
    };
    let station = {
        let _g = rt.enter();
        Arc::new(Station::start(RuntimeConfig::new(sim.modbus_addr)))
    };
    let stores = bonder_station::wiring::ui_stores_over(
        &store,
        &writer,
        &Arc::new(std::sync::atomic::AtomicI64::new(1)),
        policy,
        rt.handle(),
    );
    let mut opts = UiOptions::new(Recipe::default_au(), stores);
    let settings = bonder_station::config::GemInput {
        listen: Some("127.0.0.1:0".into()),
        ..Default::default()
    }
    .settings()
    .unwrap();
    let eq = bonder_station::gem_link::StationEquipment {
        station: station.clone(),
        store: store.clone(),
        writer: writer.clone(),
        operator: opts.operator.clone(),
        next_job: opts.work_order.clone(),
    };
    let gem = rt
        .block_on(bonder_station::gem_link::start(&settings, eq))
        .unwrap();
    let addr = gem.session().local_addr().unwrap();
    // OPC UA beside it, sharing the REMOTE switch; the page lists its sessions.
    let ua_port = bonder_e2e::procs::free_port();
    let cfg = bonder_opcua::OpcuaConfig {
        listen: bonder_opcua::Listen {
            host: "127.0.0.1".into(),
            port: ua_port,
            path: "/".into(),
        },
        pki_dir: dir.path().join("opcua-pki"),
        allow_insecure: false,
        anonymous_read: false,
        station_id: "sz1/assembly/l1/wb-16".into(),
        manufacturer: "test".into(),
        software_revision: "test".into(),
    };
    let slot = {
        let _g = rt.enter();
        bonder_station::opcua_link::spawn(
            cfg.clone(),
            bonder_station::opcua_link::StationPort {
                station: station.clone(),
                store: store.clone(),
                writer: writer.clone(),
                login: policy,
                gem: Some(gem.clone()),
            },
            opts.operator.clone(),
            opts.work_order.clone(),
        )
    };
    opts.host_sessions = Some(bonder_station::opcua_link::host_sessions(&slot));
    opts.gem = Some(gem);
    let (host, got) = rt.block_on(host(addr));
    let ui = StationUi::new(station, rt.handle().clone(), opts).unwrap();
    ui.window().show().unwrap();
    Rig {
        ui,
        store,
        opcua: cfg,
        host,
        got,
        _sim: sim,
        rt,
        _dir: dir,
    }
}

async fn host(addr: std::net::SocketAddr) -> (Session, mpsc::UnboundedReceiver<Message>) {
    let (s, mut ev) = Session::start(HsmsConfig::active(addr)).await.unwrap();
    let (tx, got) = mpsc::unbounded_channel();
    let answer = s.clone();
    tokio::spawn(async move {
        while let Some(e) = ev.recv().await {
            if let Event::Primary(p) = e {
                let (st, f) = (p.message.stream, p.message.function);
                let body = if (st, f) == (1, 13) {
                    Item::list([Item::binary(0), Item::list([])])
                } else {
                    Item::binary(0)
                };
                answer.reply(&p.token, Message::reply(st, f + 1, body));
                let _ = tx.send(p.message);
            }
        }
    });
    let end = Instant::now() + Duration::from_secs(10);
    while s
        .request(Message::request(1, 13, Item::list([])))
        .await
        .is_err()
    {
        assert!(Instant::now() < end, "no communication");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (s, got)
}

impl Rig {
    fn ask(&self, m: Message) -> Item {
        self.rt
            .block_on(self.host.request(m))
            .unwrap()
            .body
            .unwrap_or(Item::List(vec![]))
    }

    /// Beats the UI until `done` holds (at most 10 s).
    fn wait_ui(&self, what: &str, done: impl Fn(&MainWindow) -> bool) {
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            self.ui.refresh_now();
            if done(self.ui.window()) {
                return;
            }
            assert!(Instant::now() < end, "{what}: not within 10 s");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn login(&self, badge: &str, secret: &str) {
        let app = self.ui.window();
        let s = app.global::<SessionAdapter>();
        s.set_badge(badge.into());
        s.set_pin(secret.into());
        click(app, &tr(Lang::EnUs, "login-button"));
        self.wait_ui("signed in", |w| w.global::<AppAdapter>().get_logged_in());
    }

    fn gem_page(&self) {
        self.ui
            .window()
            .global::<AppAdapter>()
            .invoke_navigate(Page::Gem);
        self.wait_ui("GEM page", |w| w.global::<GemAdapter>().get_available());
    }

    /// The next S6F11 of `ceid` the host received.
    fn event(&mut self, ceid: u32) -> Item {
        let _g = self.rt.enter();
        let end = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let m = self
                .rt
                .block_on(tokio::time::timeout_at(end, self.got.recv()))
                .expect("the event within 10 s")
                .unwrap();
            let body = m.body.unwrap_or(Item::List(vec![]));
            if m.stream == 6 && body.at(1).and_then(Item::as_u32) == Some(ceid) {
                return body;
            }
        }
    }
}

fn click(app: &MainWindow, label: &str) {
    let found: Vec<_> = ElementHandle::find_by_accessible_label(app, label)
        .filter(|e| e.accessible_role() == Some(AccessibleRole::Button))
        .collect();
    assert!(!found.is_empty(), "no button labelled {label:?}");
    found[0].invoke_accessible_default_action();
}

#[test]
fn the_host_message_shows_on_every_page_until_acknowledged_and_only_technicians_switch() {
    let mut rig = rig();
    // The host wants CEID 110 with the text.
    let def = Item::list([
        Item::u4(1),
        Item::list([Item::list([Item::u4(5), Item::list([Item::u4(2017)])])]),
    ]);
    assert_eq!(rig.ask(Message::request(2, 33, def)), Item::binary(0));
    let link = Item::list([
        Item::u4(2),
        Item::list([Item::list([Item::u4(110), Item::list([Item::u4(5)])])]),
    ]);
    assert_eq!(rig.ask(Message::request(2, 35, link)), Item::binary(0));
    let en = Item::list([Item::boolean(true), Item::list([Item::u4(110)])]);
    assert_eq!(rig.ask(Message::request(2, 37, en)), Item::binary(0));

    rig.login(OPERATOR.0, OPERATOR.1);
    let text = "换线 SOT23-CU20 at 14:00";
    let s10 = Message::request(10, 3, Item::list([Item::binary(0), Item::ascii(text)]));
    assert_eq!(rig.ask(s10), Item::binary(0));
    // On every page, the production page among them.
    for page in [Page::Production, Page::Alarms, Page::Recipes] {
        rig.ui.window().global::<AppAdapter>().invoke_navigate(page);
        rig.wait_ui("the banner", |w| {
            let a = w.global::<AppAdapter>();
            a.get_terminal_active() && a.get_terminal_text() == text
        });
    }
    // The GEM page: an operator sees the states, may not switch.
    rig.gem_page();
    let g = rig.ui.window().global::<GemAdapter>();
    assert_eq!(g.get_comm_text(), tr(Lang::EnUs, "gem-comm-communicating"));
    assert_eq!(g.get_control_text(), tr(Lang::EnUs, "gem-control-5"));
    assert!(!g.get_may_switch());
    assert!(g.get_traffic().row_count() > 0, "the messages in SML");
    // Who is connected over OPC UA is not shown to an operator.
    assert!(!g.get_sessions_visible());
    let note = g.get_sessions_note().to_string();
    assert!(
        note.contains(&tr(Lang::EnUs, "role-operator")) && note.contains("technician"),
        "{note}"
    );
    g.invoke_set_remote(false);
    rig.wait_ui("refused", |w| {
        !w.global::<GemAdapter>().get_message().is_empty()
    });
    assert_eq!(
        rig.ask(Message::request(1, 3, Item::list([Item::u4(1002)]))),
        Item::list([Item::u1(5)])
    );

    // Acknowledged: the host hears of it (CEID 110 with the text), the banner goes.
    click(rig.ui.window(), &tr(Lang::EnUs, "terminal-ack"));
    let ev = rig.event(110);
    let v = ev
        .at(2)
        .and_then(|r| r.at(0))
        .and_then(|r| r.at(1))
        .and_then(|v| v.at(0))
        .unwrap();
    assert_eq!(v.text().unwrap(), text);
    rig.wait_ui("banner gone", |w| {
        !w.global::<AppAdapter>().get_terminal_active()
    });

    // A technician switches to LOCAL: the host sees ONLINE-LOCAL.
    rig.ui.window().global::<SessionAdapter>().invoke_logout();
    rig.wait_ui("logged out", |w| !w.global::<AppAdapter>().get_logged_in());
    rig.login(TECH.0, TECH.1);
    rig.gem_page();
    assert!(rig.ui.window().global::<GemAdapter>().get_may_switch());
    click(rig.ui.window(), &tr(Lang::EnUs, "gem-local"));
    rig.wait_ui("LOCAL", |w| !w.global::<GemAdapter>().get_remote());
    assert_eq!(
        rig.ask(Message::request(1, 3, Item::list([Item::u4(1002)]))),
        Item::list([Item::u1(4)])
    );

    // The technician sees the OPC UA sessions: none, then an asyncua client signed in
    // as the technician (its certificate trusted first), then none again.
    rig.wait_ui("no OPC UA session", |w| {
        let g = w.global::<GemAdapter>();
        g.get_sessions_visible() && g.get_sessions_note() == tr(Lang::EnUs, "gem-sessions-none")
    });
    let url = rig.opcua.listen.url();
    let client_dir = rig.opcua.pki_dir.with_file_name("client");
    let mut ua = bonder_e2e::procs::JsonPeer::start(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/opcua_client.py"),
        false,
    );
    let connect = serde_json::json!({
        "op": "connect", "url": url, "dir": client_dir,
        "user": TECH.0, "password": TECH.1, "locale": "en-US",
    });
    let first = bonder_e2e::procs::poll("the OPC UA server answers", 60, || {
        let v = ua.call(connect.clone());
        let e = v["error"].as_str().unwrap_or_default().to_string();
        (v["ok"] == true || e.contains("BadCertificateUntrusted")).then_some(v)
    });
    if first["ok"] != true {
        let rejected = std::fs::read_dir(rig.opcua.pki_dir.join("rejected"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        bonder_opcua::pki::trust(&rig.opcua.pki_dir, &rejected).unwrap();
        let v = ua.call(connect.clone());
        assert_eq!(v["ok"], true, "{v}");
    }
    rig.wait_ui("the session listed", |w| {
        let rows = w.global::<GemAdapter>().get_sessions();
        rows.row_count() == 1
            && rows.row_data(0).is_some_and(|r| {
                r.user == TECH.0
                    && r.client == "urn:bonder-hmi:test:asyncua-client"
                    && r.security.contains("Basic256Sha256")
                    && !r.since.is_empty()
            })
    });
    assert_eq!(
        rig.ui.window().global::<GemAdapter>().get_sessions_note(),
        ""
    );
    let v = ua.call(serde_json::json!({"op": "disconnect"}));
    assert_eq!(v["ok"], true, "{v}");
    rig.wait_ui("the session gone", |w| {
        w.global::<GemAdapter>().get_sessions().row_count() == 0
    });

    // Both in the trail: the operator's refusal, the technician's switch (written by the
    // store's writer, so waited for).
    let end = Instant::now() + Duration::from_secs(10);
    let rows = loop {
        let rows = rig.store.reader().unwrap().audit(0, 10_000).unwrap();
        if rows
            .iter()
            .any(|r| r.user == TECH.0 && r.object == "gem:online_substate")
            || Instant::now() > end
        {
            break rows;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        rows.iter()
            .any(|r| r.action == "refused" && r.user == OPERATOR.0 && r.object.contains("gem")),
        "{rows:#?}"
    );
    assert!(
        rows.iter().any(|r| r.action == "command"
            && r.user == TECH.0
            && r.role == "technician"
            && r.object == "gem:online_substate"),
        "{rows:#?}"
    );
}

use slint::Model as _;
