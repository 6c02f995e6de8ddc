//! The station as an OPC UA server: `bonder-opcua`'s port implemented over the runtime,
//! the store (users, recipes, audit) and GEM's LOCAL/REMOTE switch; the server started
//! from the settings in the background (its first start creates an RSA key); and the feed
//! that hands it what the station already knows (snapshot values, bonds, alarms).

use bonder_core::login::Attempt;
use bonder_core::login::LoginPolicy;
use bonder_core::state::Command;
use bonder_opcua::{
    LastBond, MachineMethod, MachineView, OpcuaAction, OpcuaAudit, OpcuaConfig, OpcuaHandle,
    SignedIn,
};
use bonder_runtime::Station;
use bonder_store::{AuditAction, AuditRecord, Store, WriteOp, WriterHandle};
use std::sync::{Arc, OnceLock};
use time::OffsetDateTime;

/// The station's side of OPC UA.
#[derive(Clone)]
pub struct StationPort {
    pub station: Arc<Station>,
    pub store: Arc<Store>,
    pub writer: WriterHandle,
    pub login: LoginPolicy,
    pub gem: Option<bonder_gem::GemHandle>,
}

impl std::fmt::Debug for StationPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StationPort").finish_non_exhaustive()
    }
}

/// The running server, once started (it starts in the background).
pub type OpcuaSlot = Arc<OnceLock<OpcuaHandle<StationPort>>>;

impl bonder_opcua::Station for StationPort {
    async fn sign_in(&self, badge: &str, secret: &str) -> Result<SignedIn, String> {
        let (store, policy) = (self.store.clone(), self.login);
        let (badge, secret) = (badge.to_string(), secret.to_string());
        let r = tokio::task::spawn_blocking(move || {
            store.sign_in(&badge, &secret, &policy, OffsetDateTime::now_utc(), "opcua")
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
        match (r.attempt, r.user) {
            (Attempt::Accepted, Some(u)) => Ok(SignedIn {
                badge: u.badge,
                role: u.role,
            }),
            (a, _) => Err(format!("{a:?}")),
        }
    }

    fn is_remote(&self) -> bool {
        self.gem
            .as_ref()
            .is_some_and(|g| g.status().borrow().remote)
    }

    async fn run(&self, m: MachineMethod) -> Result<(), String> {
        let c = match m {
            MachineMethod::Start => Command::Start,
            MachineMethod::Stop => Command::Stop,
            MachineMethod::Pause => Command::Pause,
            MachineMethod::ResetAlarm => Command::ResetAlarm,
        };
        self.station.command(c).await.map_err(|e| e.to_string())
    }

    async fn submit_recipe(&self, by: &SignedIn, document: &str) -> Result<String, String> {
        let store = self.store.clone();
        let actor = bonder_store::recipes::Actor::new(by.badge.clone(), by.role);
        let json = document.to_string();
        tokio::task::spawn_blocking(move || {
            store
                .recipes()
                .import_json(&json, &actor, "received over OPC UA (SubmitRecipe)")
                .map(|v| {
                    tracing::info!("OPC UA recipe stored as draft {}", v.id());
                    v.id()
                })
                .map_err(|e| e.to_string())
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()))
    }

    fn alarm_text(&self, code: u32, locale: &str) -> String {
        let lang = bonder_i18n::Lang::from_code(locale).unwrap_or_default();
        let key = format!("alarm-{code}");
        if bonder_i18n::has_key(lang, &key) {
            bonder_i18n::tr(lang, &key)
        } else {
            let a = u16::try_from(code)
                .ok()
                .and_then(bonder_core::AlarmCode::from_code);
            match (a, lang) {
                (Some(a), bonder_i18n::Lang::ZhCn) => a.text_zh().to_string(),
                (Some(a), _) => a.text_en().to_string(),
                (None, bonder_i18n::Lang::ZhCn) => format!("报警 {code}"),
                (None, _) => format!("Alarm {code}"),
            }
        }
    }

    fn audit(&self, e: OpcuaAudit) {
        let action = match e.action {
            OpcuaAction::SessionOpened => AuditAction::Login,
            OpcuaAction::SessionClosed => AuditAction::Logout,
            OpcuaAction::Command => AuditAction::Command,
            OpcuaAction::Refused => AuditAction::Refused,
            OpcuaAction::Create => AuditAction::Create,
        };
        let detail = serde_json::json!({ "client": e.client, "detail": e.detail }).to_string();
        let rec = AuditRecord {
            time: OffsetDateTime::now_utc(),
            user: e.user,
            role: e.role,
            action,
            object: e.object,
            old_value: None,
            new_value: Some(detail),
            reason: Some("OPC UA".into()),
        };
        if let Err(err) = self.writer.send(WriteOp::Audit(rec)) {
            tracing::error!("OPC UA audit row not written: {err}");
        }
    }
}

/// The `Bonder` values of a snapshot.
pub fn view(s: &bonder_runtime::Snapshot, operator: &str, work_order: &str) -> MachineView {
    let f = s.host_figures();
    MachineView {
        state: f.machine_state,
        recipe: f.recipe_id,
        wires_bonded: f.wires_bonded,
        bonds_rejected: f.bonds_rejected,
        yield_pct: f.yield_pct,
        wire_rate_per_min: f.wire_rate_per_min,
        capillary_touchdowns: f.capillary_touchdowns,
        heater_temp_c: f64::from(f.heater_temp_c),
        operator: operator.to_string(),
        work_order: work_order.to_string(),
        active_alarm: f.alarms.first().copied().unwrap_or(0),
    }
}

/// Starts the server in the background (the certificate's first creation takes a
/// moment) and then feeds it. A server that cannot start is an error in the log, not a
/// station that will not start.
pub fn spawn(
    cfg: OpcuaConfig,
    port: StationPort,
    operator: bonder_station_ui::OperatorName,
    next_job: crate::gateway_link::NextJob,
) -> OpcuaSlot {
    let slot: OpcuaSlot = Arc::new(OnceLock::new());
    let out = slot.clone();
    tokio::spawn(async move {
        let station = port.station.clone();
        let port = Arc::new(port);
        let handle = match bonder_opcua::start(&cfg, port).await {
            Ok(h) => h,
            Err(e) => {
                tracing::error!("{e} — the station runs without OPC UA / 未启用 OPC UA");
                return;
            }
        };
        let _ = slot.set(handle.clone());
        feed(station, handle, operator, next_job).await;
    });
    out
}

async fn feed(
    station: Arc<Station>,
    h: OpcuaHandle<StationPort>,
    operator: bonder_station_ui::OperatorName,
    next_job: crate::gateway_link::NextJob,
) {
    let mut rx = station.subscribe();
    let mut watch = station.watch();
    let current = |s: &bonder_runtime::Snapshot| {
        let op = operator
            .lock()
            .ok()
            .and_then(|o| o.clone())
            .unwrap_or_default();
        let wo = next_job.lock().map(|j| j.clone()).unwrap_or_default();
        view(s, &op, &wo)
    };
    h.update(&current(&watch.borrow_and_update()));
    loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Ok(bonder_runtime::StationEvent::Bond(b)) => {
                    let f = &b.judgement.features;
                    h.bond(&LastBond {
                        seq: b.seq,
                        kind: b.event.kind.name().to_string(),
                        verdict: b.judgement.verdict.name().to_string(),
                        ball_diameter_um: f64::from(b.event.ball_diameter_um.unwrap_or(0.0)),
                        placement_dx_um: f64::from(b.event.place_dx_um),
                        placement_dy_um: f64::from(b.event.place_dy_um),
                        peak_force_gf: f64::from(f.peak_force_gf),
                        us_energy_mj: f64::from(f.us_energy_mj),
                        deform_um: f64::from(f.deform_um),
                        received: b.received,
                    });
                }
                Ok(bonder_runtime::StationEvent::Alarm { code, raised, .. }) => {
                    h.alarm(u32::from(code), raised);
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("OPC UA feed lagged: {n} station events missed");
                }
                Err(_) => return,
            },
            r = watch.changed() => {
                if r.is_err() {
                    return;
                }
                let v = current(&watch.borrow_and_update());
                h.update(&v);
            }
        }
    }
}

/// The GEM page's list of OPC UA sessions, read from the running server (`None` while it
/// is not running: still starting, or its port could not be opened).
pub fn host_sessions(slot: &OpcuaSlot) -> bonder_station_ui::HostSessions {
    let slot = slot.clone();
    bonder_station_ui::HostSessions::new(move || {
        slot.get().map(|h| {
            h.sessions()
                .into_iter()
                .map(|s| bonder_station_ui::HostSession {
                    user: s.user,
                    client: s.client,
                    since: s.since,
                    security: s.security,
                })
                .collect()
        })
    })
}
