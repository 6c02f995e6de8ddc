//! Wiring of a running station: store, runtime, camera, gateway, changeover; the
//! headless loop; the UI's options over the store.

use crate::cli::Settings;
use crate::{backfill, camera, gateway_link, persist, status, ui_store};
use anyhow::Context;
use bonder_core::recipe::Recipe;
use bonder_gateway::{Gateway, GatewayConfig};
use bonder_runtime::{RuntimeConfig, Station};
use bonder_store::{ShiftStart, Store, WriterConfig};
use bondersim::{SimConfig, Simulator};
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tokio::sync::{mpsc, watch};

/// The shift to record bonds under: the newest one if still open, else a new one.
pub(crate) fn current_shift(
    store: &Store,
    writer: &bonder_store::WriterHandle,
) -> Result<i64, bonder_store::StoreError> {
    let reader = store.reader()?;
    if let Some(id) = reader.max_shift_id()? {
        if reader.shift(id)?.is_some_and(|s| s.ended.is_none()) {
            return Ok(id);
        }
    }
    let id = reader.max_shift_id()?.unwrap_or(0) + 1;
    writer.send(bonder_store::WriteOp::ShiftStart(ShiftStart {
        id,
        time: OffsetDateTime::now_utc(),
        operator: "unassigned".into(),
        team: String::new(),
    }))?;
    Ok(id)
}

/// Everything a running station holds.
#[allow(missing_debug_implementations)] // handles of tasks and services; nothing to print
pub struct Running {
    pub station: Arc<Station>,
    pub next_job: gateway_link::NextJob,
    pub store: Arc<Store>,
    pub current_shift: ui_store::CurrentShift,
    pub gateway: Gateway,
    pub writer: bonder_store::WriterHandle,
    pub sim: Option<Simulator>,
    pub recipe: Recipe,
    pub changeover: Arc<bonder_changeover::ChangeoverService>,
    pub operator: bonder_station_ui::OperatorName,
    pub camera: Option<Arc<bonder_runtime::camera_feed::CameraFeed>>,
    /// PIN/password rules and lockout.
    pub login: bonder_core::login::LoginPolicy,
    /// The SECS/GEM equipment (`None`: off, or its port could not be opened).
    pub gem: Option<bonder_gem::GemHandle>,
    /// The OPC UA server once started (empty: off, starting, or it could not start).
    pub opcua: crate::opcua_link::OpcuaSlot,
    /// The process-health analytics (Process health page, alarms 910–912).
    pub health: Arc<crate::health::Analytics>,
}

pub async fn start(settings: Settings) -> anyhow::Result<Running> {
    tracing::info!(station = %settings.station_id, db = %settings.db.display(), "starting");

    // The store: everything recorded goes through its batching writer.
    let store = Arc::new(
        Store::open(&settings.db).with_context(|| format!("store {}", settings.db.display()))?,
    );
    let storage = &settings.storage;
    tracing::info!(
        retention_days = ?storage.retention.max_age_days,
        max_bytes = ?storage.retention.max_bytes,
        min_free_bytes = storage.min_free_bytes,
        on_failure = ?storage.on_failure,
        "storage policy"
    );
    let writer = store.spawn_writer(WriterConfig {
        retention: Some(storage.retention),
        min_free_bytes: storage.min_free_bytes,
        max_queued: storage.max_queued,
        ..WriterConfig::default()
    })?;
    let last_seq = store.reader()?.max_bond_seq()?.unwrap_or(0);
    let shift_id = current_shift(&store, &writer)?;

    // The controller, or with --simulate an in-process simulator; never a simulator by
    // default (its production would reach the plant as real).
    let mut sim = None;
    let controller = match settings.controller {
        Some(a) => a,
        None if !settings.simulate => anyhow::bail!(
            "no controller configured: give --controller HOST:PORT (or `controller` in \
             station.toml), or --simulate to run against the built-in simulator / \
             未配置控制器：请指定 --controller 主机:端口，或使用 --simulate 运行内置模拟器"
        ),
        None => {
            let s = Simulator::start(SimConfig {
                autostart: true,
                ..SimConfig::default()
            })
            .await
            .context("cannot start the built-in simulator")?;
            tracing::warn!(modbus = %s.modbus_addr, "--simulate: bonding against the built-in simulator (status says simulated)");
            let a = s.modbus_addr;
            sim = Some(s);
            a
        }
    };
    // The recipe: a flag or the config file, else the one recorded as running (so a
    // restart does not download the old recipe back after a changeover), else the default.
    let mut recipe = settings.recipe.clone();
    if !settings.recipe_explicit {
        if let Some(r) = ui_store::running_recipe(&store)? {
            tracing::info!(recipe = %r.id(), "the recipe the machine last ran");
            recipe = r;
        }
    }
    if sim.is_some() {
        // The built-in simulator's library: the gold and copper demo recipes.
        ui_store::seed_recipe(&store, &Recipe::default_au())?;
        ui_store::seed_recipe(&store, &Recipe::default_cu())?;
    }
    if settings.recipe_explicit {
        // A recipe named in the configuration must be a released library version: a
        // config file is no way to put an unreleased recipe on the machine.
        recipe = ui_store::library_version(&store, &recipe)?.with_context(|| {
            format!(
                "the configured recipe {} matches no released version in the station's \
                 library: import and release it there first (recipe page, or a signed \
                 cmd/recipe), or name the released file / 配置的配方与库中任何已发布版本都不符：\
                 请先导入并发布",
                recipe.id()
            )
        })?;
    } else {
        ui_store::seed_recipe(&store, &recipe)?;
        if let Some(r) = ui_store::library_version(&store, &recipe)? {
            recipe = r;
        }
    }
    let recipe_id = recipe.id();
    store.set_running_recipe(&recipe_id)?;
    // The gateway: the configured broker, or an embedded one on 127.0.0.1:1883.
    let url = match &settings.gateway {
        Some(u) => u.clone(),
        None => {
            let addr = settings.embedded_broker;
            match bonder_gateway::broker::start(addr) {
                Ok(a) => {
                    tracing::info!(broker = %a, "embedded MQTT broker");
                    format!("mqtt://{a}")
                }
                Err(e) => {
                    tracing::warn!("{e}; assuming a broker already listens there");
                    format!("mqtt://{addr}")
                }
            }
        }
    };
    let mut gcfg = GatewayConfig::new(url, settings.station_id.clone());
    gcfg.client_suffix = store.client_suffix()?;
    gcfg.username = settings.file.gateway_user.clone();
    gcfg.password = settings.file.gateway_password.clone();
    gcfg.ca_file = settings.file.gateway_ca.clone();
    gcfg.client_cert = settings.file.gateway_cert.clone();
    gcfg.client_key = settings.file.gateway_key.clone();
    // The start's row comes before anything of this run: the runtime's rows (an
    // automatic download) and what reaches the plant.
    audit_start(&store, &settings, &gcfg.url, &recipe_id, sim.is_some())?;
    let mut cfg = RuntimeConfig::new(controller);
    cfg.stream = settings.stream.clone();
    cfg.recipe = recipe.clone();
    cfg.last_seq = last_seq;
    cfg.stream_deadline = settings.stream_deadline;
    let shift_now: ui_store::CurrentShift = Arc::new(std::sync::atomic::AtomicI64::new(shift_id));
    // Predicted strength from the newest stored models (reloaded after every refit and
    // every minute, for fits made by another process: `strength fit`).
    let predictor = Arc::new(crate::strength::Predictor::default());
    if let Err(e) = predictor.reload(&store) {
        tracing::error!("strength models not read: {e}");
    }
    {
        let (p, s) = (predictor.clone(), store.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            tick.tick().await;
            loop {
                tick.tick().await;
                let (p, s) = (p.clone(), s.clone());
                let _ = tokio::task::spawn_blocking(move || p.reload(&s)).await;
            }
        });
    }
    let (health, health_events) = crate::health::Analytics::new(&recipe, settings.yield_limit_pct);
    cfg.sink = Some(persist::sink(
        writer.clone(),
        shift_now.clone(),
        Some(predictor.clone()),
        Some(health.clone()),
    ));
    let station = Arc::new(Station::start(cfg));
    tokio::spawn(crate::health::run(
        health.clone(),
        health_events,
        station.clone(),
        writer.clone(),
        store.clone(),
    ));
    // Every recipe change (a changeover, a rollback) is recorded as the running one.
    {
        let (mut rx, store) = (station.watch(), store.clone());
        let mut last = recipe_id.clone();
        tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let id = rx.borrow_and_update().recipe_id.clone();
                if id != last {
                    if let Err(e) = store.set_running_recipe(&id) {
                        tracing::error!("recording the running recipe {id}: {e}");
                    }
                    last = id;
                }
            }
        });
    }
    tokio::spawn(crate::clock::guard(
        station.clone(),
        store.clone(),
        crate::clock::SystemClocks::default(),
        Duration::from_secs(1),
        crate::clock::ALARM_904_FOR,
    ));
    tokio::spawn(guard_storage(
        station.clone(),
        writer.health(),
        settings.storage.on_failure,
    ));
    let camera = camera::start(
        settings.camera.as_deref(),
        sim.as_ref().and_then(Simulator::camera_addr),
        &recipe,
        camera::stored_setup(&store, &recipe),
        &station,
        &writer,
    );

    // The first status already carries what the feed adds every second (epoch, audit
    // head, simulated): it is what the broker sees first.
    let mut first_status = gateway_link::status_msg(&station.snapshot(), &recipe_id, None);
    first_status.epoch = Some(store.epoch()?);
    first_status.audit_head = store.reader()?.audit_head()?;
    first_status.simulated = sim.is_some();
    let (status_tx, status_rx) = watch::channel(first_status);
    let (cmd_tx, cmd_rx) = mpsc::channel(16);
    for (kid, fp) in settings.commands.trust.list() {
        tracing::info!(kid, fingerprint = fp, "trusting gateway command key");
    }
    if settings.commands.trust.is_empty() && !settings.commands.accept_unsigned {
        tracing::warn!(
            "no --trusted-key configured: every gateway command will be refused (unknown_key)"
        );
    }
    let guard = bonder_gateway::CommandGuard::new(
        settings.commands.clone(),
        Arc::new(gateway_link::StoreLedger::new(store.clone())),
    );
    let gateway = Gateway::start(
        gcfg.clone(),
        gateway_link::StoreOutbox::new(store.clone())?,
        status_rx,
        cmd_tx,
        guard,
    )?;
    let backfiller = backfill::Backfiller::start(&gcfg, store.clone())?;
    let operator = bonder_station_ui::OperatorName::default();
    let next_job = gateway_link::NextJob::default();
    // SECS/GEM: the fab host's interface. A port that cannot be opened is an error in
    // the log and on the status line, not a station that will not start.
    let gem = if settings.gem.enabled {
        let eq = crate::gem_link::StationEquipment {
            station: station.clone(),
            store: store.clone(),
            writer: writer.clone(),
            operator: operator.clone(),
            next_job: next_job.clone(),
        };
        match crate::gem_link::start(&settings.gem, eq).await {
            Ok(g) => Some(g),
            Err(e) => {
                tracing::error!("{e:#} — the station runs without SECS/GEM / 未启用 SECS/GEM");
                None
            }
        }
    } else {
        tracing::info!("SECS/GEM off (gem_enabled = false)");
        None
    };
    // OPC UA: the MES/SCADA interface, started in the background (the first start
    // creates its RSA key); like GEM, a port that cannot be opened is an error in the log.
    let opcua = match &settings.opcua {
        Some(cfg) => crate::opcua_link::spawn(
            cfg.clone(),
            crate::opcua_link::StationPort {
                station: station.clone(),
                store: store.clone(),
                writer: writer.clone(),
                login: settings.login,
                gem: gem.clone(),
            },
            operator.clone(),
            next_job.clone(),
        ),
        None => {
            tracing::info!("OPC UA off (opcua_listen = none)");
            Default::default()
        }
    };
    if let Some(dir) = settings.pull_tests_dir.clone() {
        tokio::spawn(crate::pull_tests::watch_folder(
            store.clone(),
            dir,
            predictor.clone(),
        ));
    }
    tokio::spawn(gateway_link::feed_status(
        station.clone(),
        operator.clone(),
        status_tx,
        Some(store.clone()),
        sim.is_some(),
        gem.clone(),
    ));
    tokio::spawn(gateway_link::serve_commands(
        cmd_rx,
        store.clone(),
        writer.clone(),
        next_job.clone(),
        Some(backfiller),
    ));

    // E10 time starts with the machine's state as first polled; later changes come from
    // the stream through the sink.
    {
        let (station, writer) = (station.clone(), writer.clone());
        tokio::spawn(async move {
            let mut rx = station.watch();
            loop {
                if let Some(m) = rx.borrow_and_update().machine_state {
                    let _ = writer.send(persist::state_op(m, OffsetDateTime::now_utc()));
                    return;
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        });
    }
    let changeover = Arc::new(bonder_changeover::ChangeoverService::new(
        station.clone(),
        store.clone(),
        writer.clone(),
        bonder_changeover::ServiceConfig::new(settings.station_id.to_string()),
    )?);
    Ok(Running {
        health,
        opcua,
        gem,
        login: settings.login,
        operator,
        camera,
        changeover,
        station,
        store,
        current_shift: shift_now,
        next_job,
        gateway,
        writer,
        sim,
        recipe,
    })
}

/// Alarm 902 "data storage failing".
const STORAGE_FAILING: u16 = 902;

/// The disk guard: while the store is failing (a commit failed, free space under the
/// floor, records refused), alarm 902 is up and — unless `[storage] on_failure =
/// "warn"` — production is interlocked: the machine is stopped and start refused, so
/// no bond is made that cannot be recorded. Both end when the store works again.
async fn guard_storage(
    station: Arc<Station>,
    mut health: watch::Receiver<bonder_store::StoreHealth>,
    on_failure: crate::config::OnStorageFailure,
) {
    // Acts when the store starts or stops failing (the health also changes with every
    // free-space reading and refused record).
    let mut was_failing = None;
    loop {
        let failing = health.borrow_and_update().failing.clone();
        if was_failing != Some(failing.is_some()) {
            was_failing = Some(failing.is_some());
            station.station_alarm(STORAGE_FAILING, failing.is_some());
            if on_failure == crate::config::OnStorageFailure::Interlock {
                station.set_interlock(
                    failing.map(|f| format!("data storage failing (alarm 902): {f}")),
                );
            }
        }
        if health.changed().await.is_err() {
            return;
        }
    }
}

/// The headless loop: a status line a second until Ctrl-C or `--for-seconds`.
pub async fn headless(r: &Running, for_seconds: Option<u64>) {
    let started = Instant::now();
    let deadline = for_seconds.map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => println!(
                "{}{}",
                status::status_line(&r.station.snapshot(), Some(&r.gateway.state()), started.elapsed()),
                status::gem_part(r.gem.as_ref())
            ),
            _ = tokio::signal::ctrl_c() => break,
            () = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => break,
        }
    }
    let s = r.station.snapshot();
    let elapsed = started.elapsed();
    println!(
        "summary: {}{}",
        status::status_line(&s, Some(&r.gateway.state()), elapsed),
        status::gem_part(r.gem.as_ref())
    );
    println!("{}", status::usage_line(&s, elapsed));
}

/// The start's audit row: the effective configuration (no secrets) and its SHA-256,
/// and the config file's own hash, so a changed configuration shows in the trail.
fn audit_start(
    store: &Store,
    settings: &Settings,
    gateway_url: &str,
    recipe_id: &str,
    simulated: bool,
) -> anyhow::Result<()> {
    let login = settings.login;
    let effective = serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "station_id": settings.station_id.to_string(),
        "controller": settings.controller.map(|c| c.to_string()),
        "simulated": simulated,
        "db": settings.db.display().to_string(),
        "gateway": bonder_gateway::config::redacted(gateway_url),
        "gateway_user": settings.file.gateway_user,
        "trusted_keys": settings.commands.trust.list().into_iter()
            .map(|(kid, fingerprint)| serde_json::json!({"kid": kid, "fingerprint": fingerprint}))
            .collect::<Vec<_>>(),
        "accept_unsigned": settings.commands.accept_unsigned,
        "recipe": recipe_id,
        "camera": settings.camera,
        "login": {
            "pin_min": login.pin_min,
            "password_min": login.password_min,
            "max_failures": login.max_failures,
            "lockout_s": login.lockout_ms / 1000,
        },
    });
    let hash = bonder_store::audit::sha256_hex(effective.to_string().as_bytes());
    let (file, file_hash) = match &settings.config_file {
        Some((p, h)) => (Some(p.display().to_string()), Some(h.clone())),
        None => (None, None),
    };
    tracing::info!(settings_sha256 = %hash, "configuration loaded");
    store.append_audit(&bonder_store::AuditRecord {
        time: OffsetDateTime::now_utc(),
        user: "station".into(),
        role: Some(bonder_store::Role::System),
        action: bonder_store::AuditAction::Start,
        object: format!("station:{}", settings.station_id),
        old_value: None,
        new_value: Some(
            serde_json::json!({
                "settings": effective,
                "settings_sha256": hash,
                "config_file": file,
                "config_file_sha256": file_hash,
            })
            .to_string(),
        ),
        reason: None,
    })?;
    Ok(())
}

pub async fn stop(r: Running) -> anyhow::Result<()> {
    if let Err(e) = r.store.append_audit(&bonder_store::AuditRecord {
        time: OffsetDateTime::now_utc(),
        user: "station".into(),
        role: Some(bonder_store::Role::System),
        action: bonder_store::AuditAction::Stop,
        object: "station".into(),
        old_value: None,
        new_value: None,
        reason: None,
    }) {
        tracing::error!("audit of the stop: {e}");
    }
    // The link first, so nothing reaches the writer after it closed.
    r.station.shutdown().await;
    let info = r.writer.close().await?;
    tracing::info!(max_seq = info.max_bond_seq, "store closed");
    r.gateway.shutdown().await;
    if let Some(sim) = r.sim {
        sim.shutdown().await;
    }
    Ok(())
}

/// Whether a display is there (X11 or Wayland).
pub fn has_display() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
}

/// The UI's stores over the station's SQLite file.
pub fn ui_stores(r: &Running, rt: &tokio::runtime::Handle) -> bonder_station_ui::UiStores {
    ui_stores_over(&r.store, &r.writer, &r.current_shift, r.login, rt)
}

/// The UI's stores over a store, its writer and the current shift.
pub fn ui_stores_over(
    store: &Arc<Store>,
    writer: &bonder_store::WriterHandle,
    current_shift: &ui_store::CurrentShift,
    login: bonder_core::login::LoginPolicy,
    rt: &tokio::runtime::Handle,
) -> bonder_station_ui::UiStores {
    bonder_station_ui::UiStores {
        users: Arc::new(ui_store::StoreUsers {
            store: store.clone(),
            policy: login,
        }),
        recipes: Arc::new(ui_store::StoreRecipes {
            store: store.clone(),
        }),
        audit: Arc::new(ui_store::StoreAudit {
            writer: writer.clone(),
        }),
        shifts: Arc::new(ui_store::StoreShifts {
            store: store.clone(),
            writer: writer.clone(),
            current: current_shift.clone(),
            rt: rt.clone(),
        }),
    }
}
