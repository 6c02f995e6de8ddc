//! The station as SECS/GEM equipment: `bonder-gem`'s ports implemented over the runtime
//! and the SQLite store, the HSMS session started from the settings, and the feed that
//! turns what the station already knows (bonds, alarms, machine states) into GEM events.

use crate::config::GemSettings;
use bonder_core::AlarmCode;
use bonder_core::bond::BondKind;
use bonder_core::permissions::Role;
use bonder_core::state::{Command, MachineState};
use bonder_gem::{
    AlarmInfo, EcValue, Equipment, GemAction, GemAudit, GemHandle, GemIdentity, GemStore,
    HostConfig, PortError, PpRefusal, RemoteCommand, SpoolPush, Spooled, StationEvent,
    StationStatus,
};
use bonder_runtime::Station;
use bonder_store::gem::{GemRows, GemSpooled, GemValue, SpoolWrite};
use bonder_store::{AuditAction, AuditRecord, Store, StoreError, WriteOp, WriterHandle};
use std::sync::Arc;
use time::OffsetDateTime;

/// The station's side of GEM.
#[derive(Clone)]
pub struct StationEquipment {
    pub station: Arc<Station>,
    pub store: Arc<Store>,
    pub writer: WriterHandle,
    pub operator: bonder_station_ui::OperatorName,
    pub next_job: crate::gateway_link::NextJob,
}

impl std::fmt::Debug for StationEquipment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StationEquipment").finish_non_exhaustive()
    }
}

/// E5 ALCD category of a station alarm: 2 equipment safety (door), 4 a process error
/// that stops the machine, 6 an equipment status warning (the station's own 9xx).
pub fn alarm_category(a: AlarmCode) -> u8 {
    match a {
        AlarmCode::DoorOpen => 2,
        a if a.stops_machine() => 4,
        _ => 6,
    }
}

fn port(what: &str, e: StoreError) -> PortError {
    PortError::new(format!("{what}: {e}"), e)
}

fn host_actor() -> bonder_store::recipes::Actor {
    bonder_store::recipes::Actor::new("host", Role::System)
}

impl Equipment for StationEquipment {
    fn status(&self) -> StationStatus {
        let f = self.station.snapshot().host_figures();
        StationStatus {
            machine_state: f.machine_state,
            controller_online: f.online,
            recipe_id: f.recipe_id,
            wires_bonded: f.wires_bonded,
            bonds_rejected: f.bonds_rejected,
            yield_pct: f.yield_pct as f32,
            wire_rate_per_min: f.wire_rate_per_min,
            capillary_touchdowns: f.capillary_touchdowns,
            heater_temp_c: f.heater_temp_c,
            alarms_set: f.alarms,
            operator_id: self
                .operator
                .lock()
                .ok()
                .and_then(|o| o.clone())
                .unwrap_or_default(),
            lot_id: String::new(),
            work_order: self.next_job.lock().map(|j| j.clone()).unwrap_or_default(),
        }
    }

    fn alarms(&self) -> Vec<AlarmInfo> {
        AlarmCode::KNOWN
            .into_iter()
            .map(|a| AlarmInfo {
                alid: u32::from(a.code()),
                text: a.text_en().chars().take(120).collect(),
                category: alarm_category(a),
            })
            .collect()
    }

    async fn remote_command(&self, cmd: RemoteCommand) -> Result<(), String> {
        let c = match cmd {
            RemoteCommand::Start | RemoteCommand::Resume => Command::Start,
            RemoteCommand::Stop => Command::Stop,
            RemoteCommand::Pause => Command::Pause,
            RemoteCommand::PpSelect(ppid) => {
                *self.next_job.lock().unwrap_or_else(|p| p.into_inner()) =
                    format!("{ppid} (host PP-SELECT)");
                tracing::info!(ppid, "host selected the next job");
                return Ok(());
            }
        };
        self.station.command(c).await.map_err(|e| e.to_string())
    }

    fn process_programs(&self) -> Vec<String> {
        let repo = self.store.recipes();
        let mut out = Vec::new();
        for name in repo.names().unwrap_or_default() {
            for v in repo.versions(&name).unwrap_or_default() {
                out.push(v.id());
            }
        }
        out
    }

    fn process_program(&self, ppid: &str) -> Option<Vec<u8>> {
        let (name, version) = split_ppid(ppid)?;
        self.store
            .recipes()
            .export_json(name, version)
            .ok()
            .map(String::into_bytes)
    }

    fn is_released(&self, ppid: &str) -> bool {
        split_ppid(ppid).is_some_and(|(n, v)| self.store.recipes().sendable(n, v).is_ok())
    }

    fn download(&self, ppid: &str, body: &[u8]) -> Result<(), PpRefusal> {
        let json = std::str::from_utf8(body)
            .map_err(|_| PpRefusal::Invalid("PPBODY is not UTF-8 / 配方文档不是 UTF-8".into()))?;
        let Some((name, version)) = split_ppid(ppid) else {
            return Err(PpRefusal::Invalid(format!(
                "PPID {ppid:?} is not name@version"
            )));
        };
        // The document must be the version the PPID names.
        let doc = bonder_core::recipe::Recipe::from_json(json)
            .map_err(|e| PpRefusal::Invalid(e.to_string()))?;
        if doc.name != name || doc.version != version {
            return Err(PpRefusal::Invalid(format!(
                "PPID {ppid} but the document is {}@{} / PPID 与文档不符",
                doc.name, doc.version
            )));
        }
        match self.store.recipes().import_json_exact(
            json,
            &host_actor(),
            "SECS/GEM S7F3 process program download",
        ) {
            Ok(v) => {
                tracing::info!("S7F3: {} stored as a draft", v.id());
                Ok(())
            }
            Err(StoreError::RecipeExists(id)) => Err(PpRefusal::Exists(id)),
            Err(e) => Err(PpRefusal::Invalid(e.to_string())),
        }
    }

    fn audit(&self, entry: GemAudit) {
        let action = match entry.action {
            GemAction::Command => AuditAction::Command,
            GemAction::Refused => AuditAction::Refused,
            GemAction::Create => AuditAction::Create,
            GemAction::Delete => AuditAction::Delete,
        };
        let role = entry.role;
        let rec = AuditRecord {
            time: OffsetDateTime::now_utc(),
            user: entry.who,
            role,
            action,
            object: entry.object,
            old_value: (!entry.old.is_empty()).then_some(entry.old),
            new_value: (!entry.new.is_empty()).then_some(entry.new),
            reason: Some("SECS/GEM".into()),
        };
        if let Err(e) = self.writer.send(WriteOp::Audit(rec)) {
            tracing::error!("GEM audit row not written: {e}");
        }
    }
}

fn split_ppid(ppid: &str) -> Option<(&str, u32)> {
    let (n, v) = ppid.rsplit_once('@')?;
    Some((n, v.parse().ok()?))
}

/// The host's configuration and the spool in the station's SQLite file.
#[derive(Debug, Clone)]
pub struct StoreGem(pub Arc<Store>);

fn to_rows(c: &HostConfig) -> GemRows {
    GemRows {
        reports: c.reports.iter().map(|(k, v)| (*k, v.clone())).collect(),
        links: c.links.iter().map(|(k, v)| (*k, v.clone())).collect(),
        enabled_events: c.enabled_events.iter().copied().collect(),
        constants: c
            .constants
            .iter()
            .map(|(k, v)| {
                let g = match *v {
                    EcValue::U(u) => GemValue::U(u),
                    EcValue::F(f) => GemValue::F(f),
                    EcValue::Bool(b) => GemValue::Bool(b),
                };
                (*k, g)
            })
            .collect(),
        disabled_alarms: c.disabled_alarms.iter().copied().collect(),
        spool_streams: Some(c.spool_streams.iter().copied().collect()),
    }
}

fn from_rows(r: GemRows) -> HostConfig {
    let mut c = HostConfig {
        reports: r.reports.into_iter().collect(),
        links: r.links.into_iter().collect(),
        enabled_events: r.enabled_events.into_iter().collect(),
        disabled_alarms: r.disabled_alarms.into_iter().collect(),
        ..HostConfig::default()
    };
    if let Some(s) = r.spool_streams {
        c.spool_streams = s.into_iter().collect();
    }
    c.constants = r
        .constants
        .into_iter()
        .map(|(k, v)| {
            let e = match v {
                GemValue::U(u) => EcValue::U(u),
                GemValue::F(f) => EcValue::F(f),
                GemValue::Bool(b) => EcValue::Bool(b),
            };
            (k, e)
        })
        .collect();
    c
}

impl GemStore for StoreGem {
    fn load(&self) -> Result<HostConfig, PortError> {
        self.0
            .gem_load()
            .map(from_rows)
            .map_err(|e| port("loading the GEM configuration", e))
    }

    fn save(&self, cfg: &HostConfig) -> Result<(), PortError> {
        self.0
            .gem_save(&to_rows(cfg))
            .map_err(|e| port("storing the GEM configuration", e))
    }

    fn spool_push(&self, m: &Spooled, max: u64, overwrite: bool) -> Result<SpoolPush, PortError> {
        let row = GemSpooled {
            id: 0,
            time_ms: m.time_ms,
            stream: m.stream,
            function: m.function,
            w: m.w,
            body: m.body.clone(),
        };
        self.0
            .gem_spool_push(&row, max, overwrite)
            .map(|w| match w {
                SpoolWrite::Stored => SpoolPush::Stored,
                SpoolWrite::StoredDiscardingOldest => SpoolPush::StoredDiscardingOldest,
                SpoolWrite::Discarded => SpoolPush::Discarded,
            })
            .map_err(|e| port("spooling", e))
    }

    fn spool_oldest(&self, n: usize) -> Result<Vec<(i64, Spooled)>, PortError> {
        Ok(self
            .0
            .gem_spool_oldest(n)
            .map_err(|e| port("reading the spool", e))?
            .into_iter()
            .map(|r| {
                (
                    r.id,
                    Spooled {
                        stream: r.stream,
                        function: r.function,
                        w: r.w,
                        body: r.body,
                        time_ms: r.time_ms,
                    },
                )
            })
            .collect())
    }

    fn spool_delete(&self, id: i64) -> Result<(), PortError> {
        self.0
            .gem_spool_delete(id)
            .map_err(|e| port("spool delete", e))
    }

    fn spool_purge(&self) -> Result<u64, PortError> {
        self.0.gem_spool_purge().map_err(|e| port("spool purge", e))
    }

    fn spool_len(&self) -> Result<u64, PortError> {
        self.0.gem_spool_len().map_err(|e| port("spool count", e))
    }
}

/// Starts the HSMS session and GEM on the station, and the feed of station events.
pub async fn start(settings: &GemSettings, eq: StationEquipment) -> anyhow::Result<GemHandle> {
    let hsms = settings.hsms();
    let (session, events) = bonder_secs::Session::start(hsms)
        .await
        .map_err(|e| anyhow::anyhow!("SECS/GEM: {e}"))?;
    if let Some(a) = session.local_addr() {
        tracing::info!(listen = %a, "SECS/GEM (HSMS-SS passive) listening");
    }
    let id = GemIdentity {
        model: "WB-HMI".into(),
        softrev: env!("CARGO_PKG_VERSION").into(),
    };
    let station = eq.station.clone();
    let store = Arc::new(StoreGem(eq.store.clone()));
    let handle = bonder_gem::start(session, events, Arc::new(eq), store, id)
        .map_err(|e| anyhow::anyhow!("SECS/GEM: {e}"))?;
    tokio::spawn(feed(station, handle.clone()));
    Ok(handle)
}

/// What the station already knows, as GEM events: machine states, alarms set and
/// cleared, rejected bonds, completed units (at the stitch of a unit's last wire). A unit
/// whose first wire the station did not see (it connected mid-unit) is not reported as
/// completed: its counts would be wrong.
async fn feed(station: Arc<Station>, gem: GemHandle) {
    let mut rx = station.subscribe();
    let mut watch = station.watch();
    let mut last_state: Option<Option<MachineState>> = None;
    // The unit in progress: number, wires, rejected bonds, seen from its first wire.
    let mut unit: Option<(u32, u32, u32, bool)> = None;
    loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Ok(bonder_runtime::StationEvent::Bond(b)) => {
                    let e = &b.event;
                    let rejected = !b.judgement.verdict.is_ok();
                    let u = match unit {
                        Some(u) if u.0 == e.unit_no => unit.insert(u),
                        _ => unit.insert((e.unit_no, 0, 0, e.wire_no <= 1)),
                    };
                    if rejected {
                        u.2 += 1;
                        gem.notify(StationEvent::BondRejected {
                            seq: b.seq,
                            unit: e.unit_no,
                            verdict: b.judgement.verdict.name().to_string(),
                            ball_um: e.ball_diameter_um.unwrap_or(0.0),
                            dx_um: e.place_dx_um,
                            dy_um: e.place_dy_um,
                        });
                    }
                    if e.kind == BondKind::Stitch {
                        u.1 += 1;
                        let per_unit = station.recipe().wires_per_unit;
                        if per_unit > 0 && e.wire_no >= per_unit {
                            if u.3 {
                                gem.notify(StationEvent::UnitCompleted { unit: u.0, wires: u.1, rejects: u.2 });
                            }
                            unit = None;
                        }
                    }
                }
                Ok(bonder_runtime::StationEvent::Alarm { code, raised, .. }) => {
                    gem.notify(if raised { StationEvent::AlarmSet(u32::from(code)) } else { StationEvent::AlarmCleared(u32::from(code)) });
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("GEM feed lagged: {n} station events missed");
                }
                Err(_) => return,
            },
            r = watch.changed() => {
                if r.is_err() {
                    return;
                }
                let s = watch.borrow_and_update().clone();
                let m = if s.link == bonder_runtime::LinkState::Online { s.machine_state } else { None };
                if last_state != Some(m) {
                    last_state = Some(m);
                    gem.notify(StationEvent::MachineState(m));
                }
            }
        }
    }
}
