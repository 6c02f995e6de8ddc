//! What the app holds: the supervisor core, the signed-in user, the language.

use crate::error::{CmdError, CmdResult};
use bonder_fleet::users::Session;
use bonder_fleet::{GatewaySettings, Supervisor};
use bonder_i18n::Lang;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

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
}

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
        let mut g: Option<GatewaySettings> = saved_gw.and_then(|s| serde_json::from_str(&s).ok());
        if let Some(url) = gateway {
            let mut s = g.unwrap_or_else(|| GatewaySettings::new(url.clone()));
            s.url = url;
            g = Some(s);
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
        Ok(AppState {
            sv,
            session: Mutex::new(None),
            lang: Mutex::new(lang),
            exports_dir,
            initial_gateway: g,
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

    /// The signed-in user, or an error.
    pub fn user(&self) -> CmdResult<Session> {
        lock(&self.session).clone().ok_or_else(CmdError::login)
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
        *lock(&self.session) = s;
    }
}
