//! Language (the front end's strings come from here) and gateway settings.

use crate::error::{CmdError, CmdResult};
use crate::state::{AppState, GATEWAY_KEY};
use bonder_fleet::GatewaySettings;
use bonder_i18n::{Lang, keys, tr_args};
use serde::Serialize;
use std::collections::BTreeMap;
use tauri::State;

/// Key prefixes the front end uses: its own and the shared domain names.
const PREFIXES: [&str; 8] = [
    "co-step-",
    "health-cause-",
    "sv-",
    "state-",
    "defect-",
    "role-",
    "recipe-state-",
    "param-",
];

/// Variables used by the front end's messages (`{ $name }` in `supervisor.ftl`).
const VARIABLES: [&str; 13] = [
    "user", "role", "station", "a", "b", "id", "n", "path", "error", "left", "time", "detail",
    "min",
];

/// The front end's strings in one language.
#[derive(Debug, Clone, Serialize)]
pub struct Strings {
    pub lang: String,
    pub strings: BTreeMap<String, String>,
}

/// Every string the front end needs, in `lang`.
pub fn strings(lang: Lang) -> Strings {
    // Messages with variables come with `{$name}` in place, for the front end to fill.
    let placeholders: Vec<(&str, String)> = VARIABLES
        .iter()
        .map(|v| (*v, format!("{{${v}}}")))
        .collect();
    let strings = keys(lang)
        .iter()
        .filter(|k| PREFIXES.iter().any(|p| k.starts_with(p)))
        .map(|k| (k.to_string(), tr_args(lang, k, &placeholders)))
        .collect();
    Strings {
        lang: lang.code().into(),
        strings,
    }
}

/// The strings of the current language.
#[tauri::command]
pub fn i18n_strings(state: State<'_, AppState>) -> Strings {
    strings(state.lang())
}

/// Switches the language; returns its strings.
#[tauri::command]
pub fn set_lang(state: State<'_, AppState>, lang: String) -> CmdResult<Strings> {
    let l = Lang::from_code(&lang)
        .ok_or_else(|| CmdError::new("invalid", format!("unknown language {lang:?}")))?;
    state.set_lang(l)?;
    Ok(strings(l))
}

/// The gateway settings (password left out) and whether the session is up.
#[derive(Debug, Clone, Serialize)]
pub struct GatewayView {
    pub settings: Option<GatewaySettings>,
    pub connected: bool,
    pub last_error: Option<String>,
}

/// The gateway settings and the link's state.
#[tauri::command]
pub fn gateway_get(state: State<'_, AppState>) -> CmdResult<GatewayView> {
    state.user()?;
    let saved = state.sv.db().setting(GATEWAY_KEY)?;
    let mut settings: Option<GatewaySettings> = saved
        .and_then(|s| serde_json::from_str(&s).ok())
        .or_else(|| state.initial_gateway.clone());
    if let Some(s) = settings.as_mut() {
        let stored = bonder_fleet::secrets::load(&state.dir)?;
        s.password = stored
            .or(s.password.take())
            .map(|_| bonder_fleet::secrets::MASK.into());
    }
    let l = state.sv.link_state().borrow().clone();
    Ok(GatewayView {
        settings,
        connected: l.connected,
        last_error: l.last_error,
    })
}

/// Saves the gateway settings and reconnects (supervisors and admins).
#[tauri::command]
pub fn gateway_set(state: State<'_, AppState>, settings: GatewaySettings) -> CmdResult<()> {
    state.user_may(bonder_fleet::users::Permission::ConfigureGateway)?;
    // The password goes to its own 0600 file; the settings row never holds it. No
    // password (or the mask) keeps the stored one.
    let mut stored = settings;
    if let Some(secret) = bonder_fleet::secrets::take_password(&mut stored) {
        bonder_fleet::secrets::save(&state.dir, &secret)?;
    }
    let mut live = stored.clone();
    live.password = bonder_fleet::secrets::load(&state.dir)?;
    state.connect(live)?;
    state.sv.db().set_setting(
        GATEWAY_KEY,
        &serde_json::to_string(&stored).unwrap_or_default(),
    )?;
    state.audit(
        "settings",
        "gateway",
        Some(
            serde_json::json!({
                "url": bonder_gateway::config::redacted(&stored.url),
                "username": stored.username,
                "client_id": stored.client_id,
                "backfill": stored.backfill,
            })
            .to_string(),
        ),
    );
    Ok(())
}

/// The installation's command-signing key, as the stations are given it.
#[derive(Debug, Clone, Serialize)]
pub struct SigningKeyView {
    /// The key id (the name of the exported file without `.pem`).
    pub kid: String,
    /// `SHA256:…`, to compare with what a station logs at start.
    pub fingerprint: String,
    /// The public key, PEM SubjectPublicKeyInfo.
    pub public_pem: String,
}

/// The public half of the command-signing key (any signed-in user; the private key is
/// never shown).
#[tauri::command]
pub fn signing_key_get(state: State<'_, AppState>) -> CmdResult<SigningKeyView> {
    state.user()?;
    let k = state.sv.key();
    Ok(SigningKeyView {
        kid: k.kid().to_string(),
        fingerprint: k.fingerprint(),
        public_pem: k.public_pem(),
    })
}

/// Writes the public key to `dir/<kid>.pem` for the stations' `--trusted-key` (admins,
/// who manage trust); returns the file written.
#[tauri::command]
pub fn signing_key_export(state: State<'_, AppState>, dir: String) -> CmdResult<String> {
    state.user_may(bonder_fleet::users::Permission::ManageTrust)?;
    let dir = std::path::PathBuf::from(dir.trim());
    if !dir.is_dir() {
        return Err(CmdError::new(
            "invalid",
            format!("{} is not a folder", dir.display()),
        ));
    }
    let file = state.sv.key().export_public(&dir)?.display().to_string();
    state.audit("export", "signing_key", Some(file.clone()));
    Ok(file)
}
