//! The station's OPC UA server (`docs/spec/opcua.md`), on async-opcua.
//!
//! - Security: Basic256Sha256 and Aes256_Sha256_RsaPss, Sign and SignAndEncrypt; `None`
//!   only with `allow_insecure`. The application certificate is created on first start
//!   ([`pki`]); unknown client certificates land in `rejected/` until trusted.
//! - Identity: UserName through the station's users ([`port::Station::sign_in`]);
//!   anonymous only with `anonymous_read`, read-only.
//! - The address space ([`nodes`]) is fed by the station through [`OpcuaHandle`]: values
//!   as they change, the last bond, alarms (as values and as events). The server polls
//!   nothing of the controller.
//! - Methods go through the port, checked against the permission table and the REMOTE
//!   switch, each audited with the user and the client's application URI; so is every
//!   session opened, refused or closed.
//!
//! async-opcua 0.19 is used with a four-function patch (the session's locale ids, the
//! session list, per-item events): see `vendor/async-opcua-server/PATCH.md`.

pub mod config;
pub mod nodes;
pub mod pki;
pub mod port;

mod auth;

pub use config::{Listen, OpcuaConfig};
pub use port::{LastBond, MachineMethod, MachineView, OpcuaAction, OpcuaAudit, SignedIn, Station};

use nodes::{BonderManager, BonderNodes, Identity, Users};
use opcua::crypto::SecurityPolicy;
use opcua::server::node_manager::memory::InMemoryNodeManagerBuilder;
use opcua::server::{ServerBuilder, ServerHandle, SessionLifecycle};
use opcua::types::{DataValue, DateTime, LocalizedText, MessageSecurityMode, StatusCode, Variant};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// The namespace of the station's nodes.
pub const NAMESPACE_URI: &str = "urn:bonder-hmi:opcua";
/// Largest recipe document SubmitRecipe accepts (as the gateway's `cmd/recipe`).
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// Sessions the server holds at most.
pub const MAX_SESSIONS: usize = 32;

/// Why the server could not start, or a PKI action failed.
#[derive(Debug, thiserror::Error)]
pub enum OpcuaError {
    #[error("OPC UA listen address {url:?}: {why}")]
    Listen { url: String, why: String },
    #[error("OPC UA PKI: {what}: {source}")]
    Pki {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("OPC UA certificate: {what}: {why}")]
    Certificate { what: String, why: String },
    #[error("OPC UA server: {0}")]
    Server(String),
}

/// An open session, as the station's panel lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Badge, or `anonymous`.
    pub user: String,
    /// The client's application URI.
    pub client: String,
    /// When the station first saw it activated.
    pub since: SystemTime,
    /// `Basic256Sha256/SignAndEncrypt` …
    pub security: String,
}

/// The subscription tick, and so the shortest publishing interval, ms.
pub const SUBSCRIPTION_TICK_MS: u64 = 50;
/// The most values a monitored item keeps between publishes.
pub const MAX_ITEM_QUEUE: usize = 100;

struct Inner<S: Station> {
    server: ServerHandle,
    manager: Arc<BonderManager<S>>,
    view: Mutex<Option<MachineView>>,
    sessions: Mutex<Vec<SessionInfo>>,
    endpoint: String,
}

/// The running server: the station feeds it, the panel lists its sessions.
pub struct OpcuaHandle<S: Station> {
    inner: Arc<Inner<S>>,
}

impl<S: Station> Clone for OpcuaHandle<S> {
    fn clone(&self) -> Self {
        OpcuaHandle {
            inner: self.inner.clone(),
        }
    }
}

impl<S: Station> std::fmt::Debug for OpcuaHandle<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpcuaHandle")
            .field("endpoint", &self.inner.endpoint)
            .finish_non_exhaustive()
    }
}

impl<S: Station> OpcuaHandle<S> {
    /// The endpoint URL.
    pub fn endpoint(&self) -> &str {
        &self.inner.endpoint
    }

    /// The station's values now: the ones that changed are set and notified.
    pub fn update(&self, v: &MachineView) {
        let Ok(mut last) = self.inner.view.lock() else {
            return;
        };
        let mut changed = nodes::changed(last.as_ref(), v);
        let state_changed = last.as_ref().is_none_or(|o| o.state != v.state);
        // Online ↔ offline: the controller's values change their status, if not their value.
        if last
            .as_ref()
            .is_some_and(|o| o.state.is_some() != v.state.is_some())
        {
            for (name, value) in nodes::changed(None, v) {
                if matches!(name, "HeaterTempC" | "CapillaryTouchdowns")
                    && !changed.iter().any(|(n, _)| *n == name)
                {
                    changed.push((name, value));
                }
            }
        }
        let alarm_changed = last
            .as_ref()
            .is_none_or(|o| o.active_alarm != v.active_alarm);
        *last = Some(v.clone());
        drop(last);
        let m = &self.inner.manager;
        let ids = m.inner().ids();
        let now = DateTime::now();
        let online = v.state.is_some();
        let mut values: Vec<(opcua::types::NodeId, DataValue)> = Vec::new();
        for (name, value) in changed {
            let Some(id) = ids.var(name) else { continue };
            let mut dv = DataValue::new_at(value, now);
            // Read from the controller: only the last usable value while it is away.
            if !online && matches!(name, "HeaterTempC" | "CapillaryTouchdowns") {
                dv.status = Some(StatusCode::UncertainLastUsableValue);
            }
            values.push((id.clone(), dv));
        }
        if state_changed {
            let (item, mode) = nodes::machinery_states(v.state);
            values.push((
                ids.item_state.clone(),
                DataValue::new_at(LocalizedText::new("en-US", item), now),
            ));
            values.push((
                ids.operation_mode.clone(),
                DataValue::new_at(LocalizedText::new("en-US", mode), now),
            ));
        }
        let subs = self.inner.server.subscriptions();
        if let Err(e) = m.set_values(subs, values.iter().map(|(id, dv)| (id, None, dv.clone()))) {
            tracing::error!("OPC UA: values not set: {e}");
        }
        if alarm_changed {
            m.inner()
                .set_alarm_text(m.address_space(), subs, v.active_alarm);
        }
    }

    /// A bond the station recorded: `LastBond` changes (Seq last, so a client that
    /// watches Seq reads a complete bond).
    pub fn bond(&self, b: &LastBond) {
        let m = &self.inner.manager;
        let ids = m.inner().ids();
        let now = ua_time(b.received);
        let vals: [(&str, Variant); 9] = [
            ("Kind", Variant::from(b.kind.as_str())),
            ("Verdict", Variant::from(b.verdict.as_str())),
            ("BallDiameterUm", Variant::from(b.ball_diameter_um)),
            ("PlacementDxUm", Variant::from(b.placement_dx_um)),
            ("PlacementDyUm", Variant::from(b.placement_dy_um)),
            ("PeakForceGf", Variant::from(b.peak_force_gf)),
            ("UsEnergyMj", Variant::from(b.us_energy_mj)),
            ("DeformUm", Variant::from(b.deform_um)),
            ("Seq", Variant::from(b.seq)),
        ];
        let values: Vec<_> = vals
            .into_iter()
            .filter_map(|(n, v)| ids.var(n).map(|id| (id.clone(), DataValue::new_at(v, now))))
            .collect();
        if let Err(e) = m.set_values(
            self.inner.server.subscriptions(),
            values.iter().map(|(id, dv)| (id, None, dv.clone())),
        ) {
            tracing::error!("OPC UA: LastBond not set: {e}");
        }
    }

    /// An alarm raised or cleared: an event on the station object.
    pub fn alarm(&self, code: u32, raised: bool) {
        let m = &self.inner.manager;
        m.inner()
            .alarm_event(self.inner.server.subscriptions(), code, raised);
    }

    /// The open (activated) sessions.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        self.inner
            .sessions
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Stops the server (sessions are closed).
    pub fn stop(&self) {
        self.inner.server.cancel();
    }
}

/// Creates the PKI (and the certificate on first start) and starts the server on the
/// current tokio runtime.
pub async fn start<S: Station>(
    cfg: &OpcuaConfig,
    station: Arc<S>,
) -> Result<OpcuaHandle<S>, OpcuaError> {
    let name = cfg.station_name().to_string();
    let uri = cfg.application_uri();
    let mut hosts = vec![cfg.listen.host.clone(), "localhost".to_string()];
    if let Ok(h) = opcua::crypto::hostname() {
        hosts.push(h);
    }
    hosts.dedup();
    pki::ensure(&cfg.pki_dir, &uri, &name, &hosts)?;
    // A clear error for a taken port, before async-opcua's own.
    std::net::TcpListener::bind((cfg.listen.host.as_str(), cfg.listen.port)).map_err(|e| {
        OpcuaError::Listen {
            url: cfg.listen.url(),
            why: format!("cannot listen: {e} / 无法监听"),
        }
    })?;

    let users: Users = Arc::new(Mutex::new(HashMap::new()));
    let auth = Arc::new(auth::StationAuth {
        station: station.clone(),
        anonymous_read: cfg.anonymous_read,
        users: users.clone(),
    });
    let ident = Identity {
        name: name.clone(),
        station_id: cfg.station_id.clone(),
        manufacturer: cfg.manufacturer.clone(),
        product_instance_uri: uri.clone(),
        software_revision: cfg.software_revision.clone(),
    };
    let st = station.clone();
    let nm = InMemoryNodeManagerBuilder::new(
        move |ctx: opcua::server::node_manager::ServerContext,
              space: &mut opcua::server::address_space::AddressSpace| {
            BonderNodes::new(&ctx, space, st, users, &ident)
        },
    );
    let path = cfg.listen.path.as_str();
    let none: &[&str] = &[];
    let mut b = ServerBuilder::new()
        .application_name(format!("bonder-hmi station {name}"))
        .application_uri(uri.clone())
        .product_uri("urn:bonder-hmi")
        .create_sample_keypair(false)
        .pki_dir(&cfg.pki_dir)
        .certificate_path(pki::OWN_CERT)
        .private_key_path(pki::OWN_KEY)
        .trust_client_certs(false)
        .check_cert_time(true)
        .host(cfg.listen.host.clone())
        .port(cfg.listen.port)
        .discovery_urls(vec![cfg.listen.url()])
        .locale_ids(nodes::LOCALES.iter().map(|s| s.to_string()).collect())
        .max_sessions(MAX_SESSIONS)
        .with_authenticator(auth)
        .with_node_manager(nm);
    for (id, policy, mode) in [
        (
            "basic256sha256_sign",
            SecurityPolicy::Basic256Sha256,
            MessageSecurityMode::Sign,
        ),
        (
            "basic256sha256_sign_encrypt",
            SecurityPolicy::Basic256Sha256,
            MessageSecurityMode::SignAndEncrypt,
        ),
        (
            "aes256sha256rsapss_sign",
            SecurityPolicy::Aes256Sha256RsaPss,
            MessageSecurityMode::Sign,
        ),
        (
            "aes256sha256rsapss_sign_encrypt",
            SecurityPolicy::Aes256Sha256RsaPss,
            MessageSecurityMode::SignAndEncrypt,
        ),
    ] {
        b = b.add_endpoint(id, (path, policy, mode, none));
    }
    if cfg.allow_insecure {
        tracing::warn!(
            "OPC UA: allow_insecure = true — a None endpoint (no signing, no encryption) is \
             offered; for a lab only / 已开启不安全端点，仅限实验室"
        );
        b = b.add_endpoint(
            "none",
            (path, SecurityPolicy::None, MessageSecurityMode::None, none),
        );
    }
    b = b.default_endpoint("basic256sha256_sign_encrypt");
    // Subscriptions tick every 50 ms (the library's 100 ms default would add up to 100 ms
    // to every notification on top of the client's publishing interval); a monitored item
    // may sample every change (interval 0) and queue up to 100 values between two
    // publishes, so a client that asks for it sees every LastBond of a fast machine.
    b = b.subscription_poll_interval_ms(SUBSCRIPTION_TICK_MS);
    {
        let l = &mut b.limits_mut().subscriptions;
        l.min_publishing_interval_ms = SUBSCRIPTION_TICK_MS as f64;
        // 0: a client may ask for every change (the values come from the station's
        // events, nothing is polled, so this costs only the notifications).
        l.min_sampling_interval_ms = 0.0;
        l.max_monitored_item_queue_size = MAX_ITEM_QUEUE;
    }
    let (server, handle) = b.build().map_err(OpcuaError::Server)?;
    let manager = handle
        .node_managers()
        .get_of_type::<BonderManager<S>>()
        .ok_or_else(|| OpcuaError::Server("the station's node manager is missing".into()))?;
    let inner = Arc::new(Inner {
        server: handle.clone(),
        manager,
        view: Mutex::new(None),
        sessions: Mutex::new(Vec::new()),
        endpoint: cfg.listen.url(),
    });
    tokio::spawn(async move {
        if let Err(e) = server.run().await {
            tracing::error!("OPC UA server stopped: {e}");
        }
    });
    tokio::spawn(watch_sessions(Arc::downgrade(&inner), station));
    tracing::info!(endpoint = %cfg.listen.url(), uri, "OPC UA server listening");
    let h = OpcuaHandle { inner };
    h.update(&MachineView::default());
    Ok(h)
}

/// Audits sessions opened and closed (with user, client application URI and security)
/// and keeps the list the panel shows: from the server's session events (the patched
/// library's lifecycle channel), and a full comparison every 250 ms should events be
/// missed.
async fn watch_sessions<S: Station>(inner: std::sync::Weak<Inner<S>>, station: Arc<S>) {
    let mut known: HashMap<u32, SessionInfo> = HashMap::new();
    let Some(mut events) = inner
        .upgrade()
        .map(|i| i.server.session_manager().read().subscribe_lifecycle())
    else {
        return;
    };
    let mut events_open = true;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let audit = |action: OpcuaAction, info: &SessionInfo| {
        tracing::info!(user = %info.user, client = %info.client, "OPC UA {action:?}");
        station.audit(OpcuaAudit {
            user: info.user.clone(),
            role: None,
            action,
            object: "opcua:session".into(),
            client: info.client.clone(),
            detail: info.security.clone(),
        });
    };
    loop {
        let ev = tokio::select! {
            _ = tick.tick() => None,
            e = events.recv(), if events_open => Some(e),
        };
        let Some(inner) = inner.upgrade() else { return };
        if inner.server.token().is_cancelled() {
            return;
        }
        match ev {
            Some(Ok(SessionLifecycle::Activated(s))) => {
                let found = session_info(&s.read());
                if let Some((id, info)) = found {
                    if let std::collections::hash_map::Entry::Vacant(v) = known.entry(id) {
                        audit(OpcuaAction::SessionOpened, &info);
                        v.insert(info);
                    }
                }
            }
            Some(Ok(SessionLifecycle::Removed(id))) => {
                if let Some(info) = known.remove(&id) {
                    audit(OpcuaAction::SessionClosed, &info);
                }
            }
            Some(Err(tokio::sync::broadcast::error::RecvError::Closed)) => events_open = false,
            Some(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) | None => {
                // The manager's lock is released before any session's is taken
                // (async-opcua takes them in the other order too).
                let sessions = inner.server.session_manager().read().sessions();
                let now: HashMap<u32, SessionInfo> = sessions
                    .iter()
                    .filter_map(|s| session_info(&s.read()))
                    .collect();
                for (id, info) in &now {
                    if !known.contains_key(id) {
                        audit(OpcuaAction::SessionOpened, info);
                        known.insert(*id, info.clone());
                    }
                }
                known.retain(|id, info| {
                    let open = now.contains_key(id);
                    if !open {
                        audit(OpcuaAction::SessionClosed, info);
                    }
                    open
                });
            }
        }
        let mut list: Vec<SessionInfo> = known.values().cloned().collect();
        list.sort_by_key(|s| s.since);
        if let Ok(mut s) = inner.sessions.lock() {
            *s = list;
        }
    }
}

/// An activated session's id and what the panel and the audit say of it.
fn session_info(s: &opcua::server::Session) -> Option<(u32, SessionInfo)> {
    if !s.is_activated() {
        return None;
    }
    let user = match s.user_token() {
        Some(t) if t.is_anonymous() => "anonymous".to_string(),
        Some(t) => t.0.clone(),
        None => return None,
    };
    let policy = s
        .security_policy_uri()
        .rsplit('#')
        .next()
        .unwrap_or_default()
        .to_string();
    Some((
        s.session_id_numeric(),
        SessionInfo {
            user,
            client: s
                .application_description()
                .application_uri
                .as_ref()
                .to_string(),
            since: SystemTime::now(),
            security: format!("{policy}/{:?}", s.message_security_mode()),
        },
    ))
}

/// An OPC UA `DateTime` (100 ns ticks since 1601-01-01) of a wall time.
fn ua_time(t: std::time::SystemTime) -> DateTime {
    // 1601-01-01 to 1970-01-01 in ticks.
    const UNIX_EPOCH_TICKS: i64 = 116_444_736_000_000_000;
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => DateTime::from(UNIX_EPOCH_TICKS + (d.as_nanos() / 100) as i64),
        Err(_) => DateTime::now(),
    }
}
