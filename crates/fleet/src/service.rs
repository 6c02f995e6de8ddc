//! The running supervisor core: the MQTT session to the gateway, ingest into the fleet
//! model (at once) and into the history (on a writer thread), commands to stations, and
//! backfill of gaps.

use crate::FleetError;
use crate::history::{CommandRow, History, now_ms};
use crate::model::{Fleet, Tile};
use crate::signing::InstallationKey;
use crate::users::Session;
use bonder_core::permissions::{Permission, Role, check};
use bonder_gateway::payload::{
    AlarmMsg, BackfillCmd, BondsMsg, CMD_BACKFILL, ChangeoverMsg, CmdResult, ShiftMsg, StatusMsg,
    V, WorkOrderCmd,
};
use bonder_gateway::{GatewayConfig, StationId, Topic};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// Largest gap asked for in one backfill request.
pub const MAX_BACKFILL: u64 = 200_000;

/// The most bonds a station could record per second (a fast ball bonder makes about 25
/// wires, 50 bonds, a second): a larger seq jump than this allows for the time since
/// the station was last heard is implausible.
pub const MAX_BONDS_PER_S: u64 = 100;

/// Seq jumps up to this many bonds are always plausible (a station's outbox after a
/// short outage, clocks that disagree).
pub const SEQ_JUMP_SLACK: u64 = 10_000;

/// Whether bonds up to `first_seq` can follow `known` after `elapsed_ms`: a forged
/// `{S}/bonds` with a huge seq is logged and ignored for gap detection instead of
/// triggering thousands of backfill requests.
pub fn plausible_jump(known: u64, first_seq: u64, elapsed_ms: i64) -> bool {
    let jump = first_seq.saturating_sub(known);
    let secs = u64::try_from(elapsed_ms.max(0)).unwrap_or(0).div_ceil(1000);
    jump <= SEQ_JUMP_SLACK.saturating_add(secs.saturating_mul(MAX_BONDS_PER_S))
}

/// How to reach the gateway (kept in the history's settings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewaySettings {
    /// `mqtt://host[:port]` or `mqtts://host[:port]`.
    pub url: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    #[serde(default)]
    pub client_key: Option<PathBuf>,
    /// MQTT client id; a persistent session under this id keeps QoS 1 messages for the
    /// supervisor while it is closed (as long as the broker keeps them).
    pub client_id: String,
    /// Ask stations to backfill gaps in `seq`.
    #[serde(default = "yes")]
    pub backfill: bool,
}

fn yes() -> bool {
    true
}

impl GatewaySettings {
    /// Defaults for a URL.
    pub fn new(url: impl Into<String>) -> GatewaySettings {
        GatewaySettings {
            url: url.into(),
            username: None,
            password: None,
            ca_file: None,
            client_cert: None,
            client_key: None,
            client_id: "bonder-supervisor".into(),
            backfill: true,
        }
    }

    fn options(&self) -> Result<MqttOptions, FleetError> {
        // Parse the URL and TLS files the way the station does.
        let station: StationId = "supervisor/x/x/x"
            .parse()
            .map_err(|e| FleetError::Config(format!("{e}")))?;
        let mut g = GatewayConfig::new(self.url.clone(), station);
        g.username = self.username.clone();
        g.password = self.password.clone();
        g.ca_file = self.ca_file.clone();
        g.client_cert = self.client_cert.clone();
        g.client_key = self.client_key.clone();
        g.keep_alive = Duration::from_secs(5);
        bonder_gateway::config::mqtt_options(&g, self.client_id.clone(), false, 8 << 20)
            .map_err(|e| FleetError::Config(e.to_string()))
    }
}

/// The gateway session's state.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LinkState {
    pub connected: bool,
    pub url: String,
    pub last_error: Option<String>,
    pub messages: u64,
}

/// A station's answer to a command.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResultEvent {
    pub station: String,
    pub request_id: Option<String>,
    pub ok: bool,
    pub error: Option<String>,
}

enum Write {
    Status(String, StatusMsg),
    Bonds(String, BondsMsg),
    Alarm(String, AlarmMsg),
    Changeover(String, ChangeoverMsg),
    Shift(String, ShiftMsg),
    Result(String, CmdResult),
    Flush(std::sync::mpsc::Sender<()>),
}

struct Inner {
    fleet: RwLock<Fleet>,
    version: watch::Sender<u64>,
    writer: Mutex<std::sync::mpsc::Sender<Write>>,
    db: Mutex<History>,
    client: Mutex<Option<AsyncClient>>,
    link: watch::Sender<LinkState>,
    results: broadcast::Sender<ResultEvent>,
    /// Highest seq seen per (station, store epoch).
    /// Per (station, epoch): the highest seq seen and when its bond was made (Unix ms,
    /// the station's clock bounded by ours).
    max_seq: Mutex<HashMap<(String, String), (u64, i64)>>,
    backfill: std::sync::atomic::AtomicBool,
    counter: AtomicU64,
    ingested_bonds: AtomicU64,
    /// Signs every command (gateway contract v2).
    key: InstallationKey,
}

/// Handle on the supervisor core (cheap to clone).
#[derive(Clone)]
pub struct Supervisor {
    inner: Arc<Inner>,
    task: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Supervisor {
    /// Opens the history at `db` (creating it) and starts the writer thread. Not yet
    /// connected: see [`Supervisor::connect`].
    /// The installation's command key lives beside it (created on first open).
    pub fn open(db: &Path) -> Result<Supervisor, FleetError> {
        let key_dir = match db.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let key = InstallationKey::load_or_create(&key_dir)?;
        let mut writer_db = History::open(db)?;
        let reader = History::open(db)?;
        let (tx, rx) = std::sync::mpsc::channel::<Write>();
        std::thread::Builder::new()
            .name("supervisor-history".into())
            .spawn(move || {
                while let Ok(w) = rx.recv() {
                    let r = match w {
                        Write::Status(s, m) => writer_db.record_status(&s, &m),
                        Write::Bonds(s, m) => writer_db.ingest_bonds(&s, &m).map(|_| ()),
                        Write::Alarm(s, m) => writer_db.record_alarm(&s, &m),
                        Write::Changeover(s, m) => writer_db.record_changeover(&s, &m),
                        Write::Shift(s, m) => writer_db.record_shift(&s, &m),
                        Write::Result(s, m) => writer_db.record_result(&s, &m).map(|_| ()),
                        Write::Flush(done) => {
                            let _ = done.send(());
                            Ok(())
                        }
                    };
                    if let Err(e) = r {
                        tracing::warn!("history: {e}");
                    }
                }
            })
            .map_err(|e| FleetError::Config(format!("history thread: {e}")))?;
        let mut fleet = Fleet::default();
        // Known stations come back as tiles (offline until they speak).
        for (id, st) in reader.stations()? {
            if let Some(st) = st {
                fleet.apply_status(&id, st, 0);
            }
        }
        let (version, _) = watch::channel(0);
        let (link, _) = watch::channel(LinkState::default());
        let (results, _) = broadcast::channel(256);
        Ok(Supervisor {
            inner: Arc::new(Inner {
                fleet: RwLock::new(fleet),
                version,
                writer: Mutex::new(tx),
                db: Mutex::new(reader),
                client: Mutex::new(None),
                link,
                results,
                max_seq: Mutex::new(HashMap::new()),
                backfill: std::sync::atomic::AtomicBool::new(true),
                counter: AtomicU64::new(0),
                ingested_bonds: AtomicU64::new(0),
                key,
            }),
            task: Arc::new(Mutex::new(None)),
        })
    }

    /// (Re)connects to the gateway; the session runs on `rt` until
    /// [`Supervisor::disconnect`] or the next `connect`.
    pub fn connect(
        &self,
        rt: &tokio::runtime::Handle,
        settings: GatewaySettings,
    ) -> Result<(), FleetError> {
        let options = settings.options()?;
        self.disconnect();
        self.inner
            .backfill
            .store(settings.backfill, Ordering::Relaxed);
        let inner = self.inner.clone();
        let url = bonder_gateway::config::redacted(&settings.url);
        let handle = rt.spawn(run_link(inner, options, url));
        *lock(&self.task) = Some(handle);
        Ok(())
    }

    /// Ends the gateway session.
    pub fn disconnect(&self) {
        if let Some(t) = lock(&self.task).take() {
            t.abort();
        }
        *lock(&self.inner.client) = None;
        self.inner.link.send_modify(|l| l.connected = false);
    }

    /// The history's query connection.
    pub fn db(&self) -> std::sync::MutexGuard<'_, History> {
        lock(&self.inner.db)
    }

    /// Waits until everything received so far is in the history.
    pub fn flush(&self) {
        let (tx, rx) = std::sync::mpsc::channel();
        if lock(&self.inner.writer).send(Write::Flush(tx)).is_ok() {
            let _ = rx.recv_timeout(Duration::from_secs(10));
        }
    }

    /// Every open process-health warning of the fleet and their commonality.
    pub fn excursions(&self) -> crate::model::Excursions {
        self.inner
            .fleet
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .excursions()
    }

    /// Every tile, worst first.
    pub fn tiles(&self) -> Vec<Tile> {
        self.inner
            .fleet
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .tiles(now_ms())
    }

    /// One tile.
    pub fn tile(&self, station: &str) -> Option<Tile> {
        self.inner
            .fleet
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .tile(station, now_ms())
    }

    /// Bumped on every change of a tile.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.inner.version.subscribe()
    }

    /// The session's state.
    pub fn link_state(&self) -> watch::Receiver<LinkState> {
        self.inner.link.subscribe()
    }

    /// Stations' command answers.
    pub fn results(&self) -> broadcast::Receiver<ResultEvent> {
        self.inner.results.subscribe()
    }

    /// Bonds received (new and duplicate) since start.
    pub fn bonds_received(&self) -> u64 {
        self.inner.ingested_bonds.load(Ordering::Relaxed)
    }

    /// Republishes the tiles when a station went quiet (call every few seconds).
    pub fn tick(&self) {
        let now = now_ms();
        let f = self.inner.fleet.read().unwrap_or_else(|p| p.into_inner());
        let stale = f.stale(now);
        drop(f);
        let n = stale.len() as u64;
        // A cheap fingerprint of the stale set: its size and the sum of id lengths.
        let fp = n << 32 | stale.iter().map(|s| s.len() as u64).sum::<u64>();
        static LAST: AtomicU64 = AtomicU64::new(0);
        if LAST.swap(fp, Ordering::Relaxed) != fp {
            self.inner.version.send_modify(|v| *v += 1);
        }
    }

    fn next_request_id(&self, kind: &str) -> String {
        let n = self.inner.counter.fetch_add(1, Ordering::Relaxed);
        format!("sv-{kind}-{}-{n}", now_ms())
    }

    fn publish(&self, topic: String, payload: Vec<u8>) -> Result<(), FleetError> {
        let client = lock(&self.inner.client)
            .clone()
            .ok_or(FleetError::NotConnected)?;
        client
            .try_publish(topic, QoS::AtLeastOnce, false, payload)
            .map_err(|e| FleetError::Mqtt(e.to_string()))
    }

    /// The installation's command-signing key.
    pub fn key(&self) -> &InstallationKey {
        &self.inner.key
    }

    /// Checks `who` against the permission table, records the command, signs it as
    /// `who` and publishes it.
    #[allow(clippy::too_many_arguments)]
    fn command(
        &self,
        who: &Session,
        permission: Permission,
        station: &str,
        kind: &str,
        topic: String,
        payload: serde_json::Value,
        summary: String,
    ) -> Result<String, FleetError> {
        if let Err(f) = check(who.role, permission) {
            crate::users::audit(
                &mut self.db(),
                &who.user,
                Some(who.role),
                "refused",
                &format!("{station}/cmd/{kind}"),
                Some(f.to_string()),
            )?;
            return Err(f.into());
        }
        let request_id = payload["request_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let signed = self.inner.key.sign(payload, &who.user, who.role);
        {
            let mut db = self.db();
            db.record_command(&CommandRow {
                request_id: request_id.clone(),
                station: station.to_string(),
                kind: kind.into(),
                sent_ms: now_ms(),
                summary: summary.clone(),
                by_user: who.user.clone(),
                ok: None,
                error: None,
                answered_ms: None,
            })?;
            crate::users::audit(
                &mut db,
                &who.user,
                Some(who.role),
                "command",
                &format!("{station}/cmd/{kind}#{request_id}"),
                Some(format!("{summary} (signed by {})", self.inner.key.kid())),
            )?;
        }
        self.publish(topic, signed.into_bytes())?;
        Ok(request_id)
    }

    /// Sends a recipe document to a station (`{S}/cmd/recipe`); returns the request id.
    pub fn send_recipe(
        &self,
        station: &str,
        recipe_doc: &str,
        who: &Session,
    ) -> Result<String, FleetError> {
        let sid: StationId = station
            .parse()
            .map_err(|e| FleetError::Invalid(format!("{e}")))?;
        let recipe: serde_json::Value =
            serde_json::from_str(recipe_doc).map_err(|e| FleetError::Invalid(e.to_string()))?;
        let summary = format!(
            "{}@{}",
            recipe["name"].as_str().unwrap_or("?"),
            recipe["version"]
        );
        let payload = serde_json::json!({
            "request_id": self.next_request_id("recipe"),
            "recipe": recipe,
        });
        self.command(
            who,
            Permission::SendRecipe,
            station,
            "recipe",
            sid.topic(Topic::CmdRecipe),
            payload,
            summary,
        )
    }

    /// Sends a work order (`{S}/cmd/workorder`); returns the request id.
    pub fn send_work_order(
        &self,
        station: &str,
        work_order: &str,
        device: &str,
        recipe: &str,
        quantity: u64,
        who: &Session,
    ) -> Result<String, FleetError> {
        let sid: StationId = station
            .parse()
            .map_err(|e| FleetError::Invalid(format!("{e}")))?;
        let cmd = WorkOrderCmd {
            v: V,
            request_id: self.next_request_id("wo"),
            work_order: work_order.into(),
            device: device.into(),
            recipe: recipe.into(),
            quantity,
        };
        let payload = serde_json::to_value(&cmd).unwrap_or_default();
        self.command(
            who,
            Permission::SendWorkOrder,
            station,
            "workorder",
            sid.topic(Topic::CmdWorkorder),
            payload,
            format!("{work_order} {device} {recipe} x{quantity}"),
        )
    }

    /// Asks a station to publish again its bonds `from..=to` (`{S}/cmd/backfill`).
    pub fn request_backfill(
        &self,
        station: &str,
        from_seq: u64,
        to_seq: u64,
        who: &Session,
    ) -> Result<String, FleetError> {
        let sid: StationId = station
            .parse()
            .map_err(|e| FleetError::Invalid(format!("{e}")))?;
        let to_seq = to_seq.min(from_seq.saturating_add(MAX_BACKFILL - 1));
        let cmd = BackfillCmd {
            v: V,
            request_id: self.next_request_id("backfill"),
            from_seq,
            to_seq,
        };
        let payload = serde_json::to_value(&cmd).unwrap_or_default();
        self.command(
            who,
            Permission::RequestBackfill,
            station,
            "backfill",
            format!("{sid}/{CMD_BACKFILL}"),
            payload,
            format!("{from_seq}..={to_seq}"),
        )
    }

    fn write(&self, w: Write) {
        let _ = lock(&self.inner.writer).send(w);
    }

    fn bump(&self) {
        self.inner.version.send_modify(|v| *v += 1);
    }

    /// Handles one message from the broker (public for tests and the load scenario).
    pub fn on_message(&self, topic: &str, payload: &[u8]) {
        let mut parts = topic.splitn(5, '/');
        let levels: Vec<&str> = parts.by_ref().take(4).collect();
        let Some(suffix) = parts.next() else {
            return;
        };
        let station = levels.join("/");
        if station.parse::<StationId>().is_err() {
            return;
        }
        let now = now_ms();
        let fleet = || self.inner.fleet.write().unwrap_or_else(|p| p.into_inner());
        match Topic::from_suffix(suffix) {
            Some(Topic::Status) => {
                let Ok(m) = serde_json::from_slice::<StatusMsg>(payload) else {
                    return;
                };
                fleet().apply_status(&station, m.clone(), now);
                self.bump();
                self.write(Write::Status(station, m));
            }
            Some(Topic::Alarms) => {
                let Ok(m) = serde_json::from_slice::<AlarmMsg>(payload) else {
                    return;
                };
                fleet().apply_alarm(&station, &m, now);
                self.bump();
                self.write(Write::Alarm(station, m));
            }
            Some(Topic::Health) => {
                let Ok(m) = serde_json::from_slice::<bonder_gateway::payload::HealthMsg>(payload)
                else {
                    return;
                };
                fleet().apply_health(&station, &m, now);
                self.bump();
            }
            Some(Topic::Bonds) => {
                let Ok(m) = serde_json::from_slice::<BondsMsg>(payload) else {
                    return;
                };
                self.inner
                    .ingested_bonds
                    .fetch_add(m.bonds.len() as u64, Ordering::Relaxed);
                self.check_gap(&station, &m);
                fleet().seen(&station, now);
                self.write(Write::Bonds(station, m));
            }
            Some(Topic::Changeovers) => {
                if let Ok(m) = serde_json::from_slice::<ChangeoverMsg>(payload) {
                    self.write(Write::Changeover(station, m));
                }
            }
            Some(Topic::Shift) => {
                if let Ok(m) = serde_json::from_slice::<ShiftMsg>(payload) {
                    self.write(Write::Shift(station, m));
                }
            }
            Some(Topic::CmdResult) => {
                if let Ok(m) = serde_json::from_slice::<CmdResult>(payload) {
                    let _ = self.inner.results.send(ResultEvent {
                        station: station.clone(),
                        request_id: m.request_id.clone(),
                        ok: m.ok,
                        error: m.error.clone(),
                    });
                    self.write(Write::Result(station, m));
                }
            }
            _ => {}
        }
    }

    fn check_gap(&self, station: &str, m: &BondsMsg) {
        // Gaps are looked for within one store epoch: a replaced station store starts
        // again at seq 1 under a new epoch, which is not a gap.
        let epoch = m.epoch.clone().unwrap_or_default();
        let key = (station.to_string(), epoch);
        let now = crate::history::now_ms();
        let known = {
            let mut seqs = lock(&self.inner.max_seq);
            let (prev, seen_ms) = match seqs.get(&key) {
                Some(&p) => p,
                None => {
                    let db = self.db();
                    let seq = db.max_seq(station, &key.1).ok().flatten().unwrap_or(0);
                    let at = db
                        .last_bond_ms(station, &key.1)
                        .ok()
                        .flatten()
                        .unwrap_or(now);
                    (seq, at)
                }
            };
            if prev > 0 && !plausible_jump(prev, m.first_seq, now - seen_ms) {
                tracing::warn!(
                    station,
                    known = prev,
                    first_seq = m.first_seq,
                    "implausible seq jump (more bonds than the station could have made): ignored for gap detection"
                );
                seqs.insert(key, (prev, seen_ms));
                return;
            }
            // When the station made its newest bond, by its own clock but never later
            // than ours: what bounds the next plausible jump.
            let newest = m
                .bonds
                .iter()
                .map(|b| crate::history::ts_ms(&b.ts))
                .max()
                .unwrap_or(now)
                .min(now);
            let when = if m.last_seq > prev { newest } else { seen_ms };
            seqs.insert(key, (prev.max(m.last_seq), when));
            prev
        };
        if known > 0 && m.first_seq > known + 1 && self.inner.backfill.load(Ordering::Relaxed) {
            // The whole hole, in requests of at most MAX_BACKFILL bonds (one request
            // would leave the rest of a long hole missing for good).
            let (mut from, to) = (known + 1, m.first_seq - 1);
            while from <= to {
                let upto = to.min(from.saturating_add(MAX_BACKFILL - 1));
                match self.request_backfill(station, from, upto, &auto_backfill()) {
                    Ok(id) => tracing::info!(station, from, to = upto, id, "asked for a backfill"),
                    Err(e) => {
                        tracing::warn!(station, "backfill request: {e}");
                        break;
                    }
                }
                from = upto + 1;
            }
        }
    }
}

/// Who the supervisor's own gap filler signs as: the contract's roles are people's, so
/// it takes the supervisor role under a name no person has (`docs/security.md`).
pub fn auto_backfill() -> Session {
    Session {
        user: "auto-backfill".into(),
        role: Role::Supervisor,
    }
}

/// `cmd/*` traffic is not read: a recipe seen on the broker is not a library entry
/// (anyone who can publish could plant one); recipes enter only by a role-checked import.
const SUBSCRIPTIONS: [&str; 7] = [
    "+/+/+/+/status",
    "+/+/+/+/health",
    "+/+/+/+/bonds",
    "+/+/+/+/alarms",
    "+/+/+/+/changeovers",
    "+/+/+/+/shift",
    "+/+/+/+/cmd/result",
];

async fn run_link(inner: Arc<Inner>, options: MqttOptions, url: String) {
    let sv = Supervisor {
        inner: inner.clone(),
        task: Arc::new(Mutex::new(None)),
    };
    let mut backoff = Duration::from_millis(100);
    inner.link.send_modify(|l| l.url = url.clone());
    loop {
        let (client, mut ev) = AsyncClient::new(options.clone(), 4096);
        *lock(&inner.client) = Some(client.clone());
        let err = loop {
            match ev.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    backoff = Duration::from_millis(100);
                    for s in SUBSCRIPTIONS {
                        if let Err(e) = client.try_subscribe(s, QoS::AtLeastOnce) {
                            tracing::warn!("subscribe {s}: {e}");
                        }
                    }
                    tracing::info!(%url, "supervisor connected to the gateway");
                    inner.link.send_modify(|l| {
                        l.connected = true;
                        l.last_error = None;
                    });
                    sv.bump();
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    inner.link.send_modify(|l| l.messages += 1);
                    sv.on_message(&p.topic, &p.payload);
                }
                Ok(_) => {}
                Err(e) => break e.to_string(),
            }
        };
        inner.link.send_modify(|l| {
            l.connected = false;
            l.last_error = Some(err.clone());
        });
        tracing::warn!(%url, "gateway: {err}; reconnecting in {backoff:?}");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}
