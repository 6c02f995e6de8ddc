//! A station of its own for GEM's tests and benchmarks: an in-memory `Equipment` and
//! `GemStore` (the ports; the station's real ones are tested end to end with python
//! secsgem in `crates/station/tests/secs_gem.rs`), and a host over a `bonder-secs`
//! session that answers what the equipment sends.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use bonder_core::state::MachineState;
use bonder_gem::{
    AlarmInfo, Equipment, GemAudit, GemStore, HostConfig, PortError, PpRefusal, RemoteCommand,
    SpoolPush, Spooled, StationStatus,
};
use bonder_secs::{Event, HsmsConfig, Item, Message, Session, Timers};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Default)]
pub struct Bench {
    pub status: Mutex<StationStatus>,
    pub commands: Mutex<Vec<RemoteCommand>>,
    pub audit: Mutex<Vec<GemAudit>>,
    pub cfg: Mutex<HostConfig>,
    pub spool: Mutex<Vec<(i64, Spooled)>>,
    pub next_id: Mutex<i64>,
}

#[derive(Clone, Default)]
pub struct Station(pub Arc<Bench>);

impl Equipment for Station {
    fn status(&self) -> StationStatus {
        self.0.status.lock().unwrap().clone()
    }
    fn alarms(&self) -> Vec<AlarmInfo> {
        vec![AlarmInfo {
            alid: 101,
            text: "NSOP".into(),
            category: 4,
        }]
    }
    async fn remote_command(&self, cmd: RemoteCommand) -> Result<(), String> {
        let state = match &cmd {
            RemoteCommand::Stop => Some(MachineState::Idle),
            RemoteCommand::Start | RemoteCommand::Resume => Some(MachineState::Running),
            RemoteCommand::Pause => Some(MachineState::Paused),
            RemoteCommand::PpSelect(_) => None,
        };
        if let Some(s) = state {
            self.0.status.lock().unwrap().machine_state = Some(s);
        }
        self.0.commands.lock().unwrap().push(cmd);
        Ok(())
    }
    fn process_programs(&self) -> Vec<String> {
        vec!["AU@1".into()]
    }
    fn process_program(&self, ppid: &str) -> Option<Vec<u8>> {
        (ppid == "AU@1").then(|| b"{}".to_vec())
    }
    fn is_released(&self, ppid: &str) -> bool {
        ppid == "AU@1"
    }
    fn download(&self, ppid: &str, _body: &[u8]) -> Result<(), PpRefusal> {
        Err(PpRefusal::Exists(ppid.into()))
    }
    fn audit(&self, entry: GemAudit) {
        self.0.audit.lock().unwrap().push(entry);
    }
}

impl GemStore for Station {
    fn load(&self) -> Result<HostConfig, PortError> {
        Ok(self.0.cfg.lock().unwrap().clone())
    }
    fn save(&self, cfg: &HostConfig) -> Result<(), PortError> {
        *self.0.cfg.lock().unwrap() = cfg.clone();
        Ok(())
    }
    fn spool_push(&self, m: &Spooled, max: u64, overwrite: bool) -> Result<SpoolPush, PortError> {
        let mut s = self.0.spool.lock().unwrap();
        let mut out = SpoolPush::Stored;
        if s.len() as u64 >= max {
            if !overwrite {
                return Ok(SpoolPush::Discarded);
            }
            s.remove(0);
            out = SpoolPush::StoredDiscardingOldest;
        }
        let mut id = self.0.next_id.lock().unwrap();
        *id += 1;
        s.push((*id, m.clone()));
        Ok(out)
    }
    fn spool_oldest(&self, n: usize) -> Result<Vec<(i64, Spooled)>, PortError> {
        Ok(self
            .0
            .spool
            .lock()
            .unwrap()
            .iter()
            .take(n)
            .cloned()
            .collect())
    }
    fn spool_delete(&self, id: i64) -> Result<(), PortError> {
        self.0.spool.lock().unwrap().retain(|(i, _)| *i != id);
        Ok(())
    }
    fn spool_purge(&self) -> Result<u64, PortError> {
        let mut s = self.0.spool.lock().unwrap();
        let n = s.len() as u64;
        s.clear();
        Ok(n)
    }
    fn spool_len(&self) -> Result<u64, PortError> {
        Ok(self.0.spool.lock().unwrap().len() as u64)
    }
}

pub fn timers() -> Timers {
    Timers {
        t3: Duration::from_millis(800),
        linktest: None,
        ..Timers::default()
    }
}

pub async fn equipment(st: &Station) -> (bonder_gem::GemHandle, std::net::SocketAddr) {
    let mut cfg = HsmsConfig::passive("127.0.0.1:0".parse().unwrap());
    cfg.timers = timers();
    let (session, events) = Session::start(cfg).await.unwrap();
    let addr = session.local_addr().unwrap();
    let gem = bonder_gem::start(
        session,
        events,
        Arc::new(st.clone()),
        Arc::new(st.clone()),
        bonder_gem::GemIdentity::default(),
    )
    .unwrap();
    (gem, addr)
}

/// A host: connects, answers the equipment's S1F13 and every S6F11/S5F1 (recorded).
pub struct Host {
    pub s: Session,
    pub got: mpsc::UnboundedReceiver<Message>,
    pub answer: Arc<Mutex<bool>>,
}

pub async fn host(addr: std::net::SocketAddr) -> Host {
    let mut cfg = HsmsConfig::active(addr);
    cfg.timers = timers();
    let (s, mut ev) = Session::start(cfg).await.unwrap();
    let (tx, got) = mpsc::unbounded_channel();
    let answer = Arc::new(Mutex::new(true));
    let (s2, a2) = (s.clone(), answer.clone());
    tokio::spawn(async move {
        while let Some(e) = ev.recv().await {
            if let Event::Primary(p) = e {
                let m = &p.message;
                match (m.stream, m.function) {
                    (1, 13) => s2.reply(
                        &p.token,
                        Message::reply(1, 14, Item::list([Item::binary(0), Item::list([])])),
                    ),
                    (s, f) => {
                        if *a2.lock().unwrap() {
                            s2.reply(&p.token, Message::reply(s, f + 1, Item::binary(0)));
                        }
                        let _ = tx.send(p.message);
                    }
                }
            }
        }
    });
    // Communicating once the equipment answers our S1F13.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(r) = s.request(Message::request(1, 13, Item::list([]))).await {
            assert_eq!(r.function, 14);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no communication");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Host { s, got, answer }
}

impl Host {
    pub async fn ask(&self, m: Message) -> Item {
        self.s
            .request(m)
            .await
            .unwrap()
            .body
            .unwrap_or(Item::List(vec![]))
    }
    pub async fn next(&mut self, stream: u8) -> Message {
        loop {
            let m = tokio::time::timeout(Duration::from_secs(5), self.got.recv())
                .await
                .unwrap()
                .unwrap();
            if m.stream == stream {
                return m;
            }
        }
    }

    /// The next S6F11 of CEID 106 (UnitCompleted).
    pub async fn next_unit(&mut self) -> Message {
        loop {
            let m = self.next(6).await;
            if m.body.as_ref().and_then(|b| b.at(1)).and_then(Item::as_u32) == Some(106) {
                return m;
            }
        }
    }
}
