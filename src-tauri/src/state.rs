//! What the app holds: the supervisor core, the signed-in user, the language.

use crate::error::{CmdError, CmdResult};
use bonder_fleet::users::Session;
use bonder_fleet::{GatewaySettings, Supervisor};
use bonder_i18n::Lang;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Setting key of the gateway settings (JSON).
pub const GATEWAY_KEY: &str = "gateway";
/// Setting key of the language.
pub const LANG_KEY: &str = "lang";

/// The app's state (managed by Tauri).
#[derive(Debug)]
pub struct AppState {
    pub sv: Supervisor,
    pub session: Mutex<Option<Session>>,
    pub lang: Mutex<Lang>,
    /// Where exports are written.
    pub exports_dir: PathBuf,
    /// Connect to this at start.
    pub initial_gateway: Option<GatewaySettings>,
    /// The history's directory (where the broker password is kept, 0600).
    pub dir: PathBuf,
    /// When the signed-in user last did something (the idle lock).
    pub last_activity: Mutex<Instant>,
    /// Idle time after which the session is closed.
    pub idle_lock: Duration,
}

/// Minutes without a command after which the supervisor signs its user out (override:
/// `BONDER_SUPERVISOR_IDLE_LOCK_S`, seconds, for tests and kiosks).
pub const IDLE_LOCK_MIN: u64 = 15;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl AppState {
    /// Opens the history; the gateway from `gateway` or the saved settings.
    pub fn open(
        db: &Path,
        gateway: Option<String>,
        client_id: Option<String>,
        lang: Option<&str>,
    ) -> Result<AppState, bonder_fleet::FleetError> {
        let sv = Supervisor::open(db)?;
        let (saved_gw, saved_lang) = {
            let mut h = sv.db();
            // No default user: with none, the front end asks for the administrator
            // (`first_admin`).
            if bonder_fleet::users::first_start_needed(&h)? {
                tracing::info!("first start: no user yet, the app asks for the administrator");
            }
            bonder_fleet::recipes::seed(&mut h)?;
            (h.setting(GATEWAY_KEY)?, h.setting(LANG_KEY)?)
        };
        let dir = db
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let mut g: Option<GatewaySettings> = saved_gw.and_then(|s| serde_json::from_str(&s).ok());
        if let Some(url) = gateway {
            let mut s = g.unwrap_or_else(|| GatewaySettings::new(url.clone()));
            s.url = url;
            g = Some(s);
        }
        // The broker password lives in its own 0600 file, never in the history: one left
        // there (or in a URL) by an older build is moved out.
        if let Some(s) = g.as_mut() {
            if let Some(secret) = bonder_fleet::secrets::take_password(s) {
                bonder_fleet::secrets::save(&dir, &secret)?;
                let mut h = sv.db();
                h.set_setting(GATEWAY_KEY, &serde_json::to_string(&*s).unwrap_or_default())?;
                h.checkpoint()?;
                tracing::info!("broker password moved to its own owner-only file");
            }
            s.password = bonder_fleet::secrets::load(&dir)?;
        }
        if let (Some(g), Some(id)) = (g.as_mut(), client_id) {
            g.client_id = id;
        }
        let lang = lang
            .or(saved_lang.as_deref())
            .and_then(Lang::from_code)
            .unwrap_or_default();
        let exports_dir = db
            .parent()
            .map_or_else(|| PathBuf::from("exports"), |p| p.join("exports"));
        let idle_lock = std::env::var("BONDER_SUPERVISOR_IDLE_LOCK_S")
            .ok()
            .and_then(|s| s.parse().ok())
            .map_or(Duration::from_secs(IDLE_LOCK_MIN * 60), Duration::from_secs);
        Ok(AppState {
            sv,
            session: Mutex::new(None),
            lang: Mutex::new(lang),
            exports_dir,
            initial_gateway: g,
            dir,
            last_activity: Mutex::new(Instant::now()),
            idle_lock,
        })
    }

    /// Connects the core to a gateway on Tauri's runtime.
    pub fn connect(&self, g: GatewaySettings) -> Result<(), bonder_fleet::FleetError> {
        let tauri::async_runtime::RuntimeHandle::Tokio(rt) = tauri::async_runtime::handle();
        self.sv.connect(&rt, g)
    }

    /// The current language.
    pub fn lang(&self) -> Lang {
        *lock(&self.lang)
    }

    /// Sets the language (and keeps it).
    pub fn set_lang(&self, l: Lang) -> CmdResult<()> {
        *lock(&self.lang) = l;
        self.sv.db().set_setting(LANG_KEY, l.code())?;
        Ok(())
    }

    /// The signed-in user, or an error. A session idle for longer than the idle lock is
    /// closed first (audited) and answered `login_required`; a live one counts as
    /// activity.
    pub fn user(&self) -> CmdResult<Session> {
        let me = self.session_now().ok_or_else(CmdError::login)?;
        *lock(&self.last_activity) = Instant::now();
        Ok(me)
    }

    /// The session unless the idle lock has closed it (without counting as activity).
    pub fn session_now(&self) -> Option<Session> {
        let mut session = lock(&self.session);
        let idle = lock(&self.last_activity).elapsed() >= self.idle_lock;
        if idle {
            if let Some(s) = session.take() {
                tracing::info!(user = %s.user, "idle lock: signed out");
                let _ = bonder_fleet::users::audit(
                    &mut self.sv.db(),
                    &s.user,
                    Some(s.role),
                    "logout",
                    &format!("user:{}", s.user),
                    Some(format!("idle lock after {} s", self.idle_lock.as_secs())),
                );
            }
        }
        session.clone()
    }

    /// The signed-in user if the permission table lets them do `p`; else
    /// `login_required` or `forbidden` (naming the roles that may).
    pub fn user_may(&self, p: bonder_fleet::users::Permission) -> CmdResult<Session> {
        let me = self.user()?;
        bonder_fleet::users::check(me.role, p).map_err(|f| CmdError::forbidden(&f.to_string()))?;
        Ok(me)
    }

    /// Signs in (or out with `None`).
    pub fn set_session(&self, s: Option<Session>) {
        *lock(&self.last_activity) = Instant::now();
        *lock(&self.session) = s;
    }

    /// Appends to the supervisor's audit trail as the signed-in user (`supervisor`
    /// when nobody is); a trail that cannot be written is logged.
    pub fn audit(&self, action: &str, object: &str, detail: Option<String>) {
        let me = lock(&self.session).clone();
        let (user, role) = match &me {
            Some(s) => (s.user.as_str(), Some(s.role)),
            None => ("supervisor", None),
        };
        if let Err(e) =
            bonder_fleet::users::audit(&mut self.sv.db(), user, role, action, object, detail)
        {
            tracing::error!("supervisor audit trail: {e}");
        }
    }
}
