//! The `Tr` global: every fixed text of the UI, filled from the Fluent files. Texts with
//! values are formatted where they are used, through [`Texts`].

use crate::ui::{MainWindow, Tr};
use bonder_i18n::Lang;
use slint::ComponentHandle;

/// One `Tr` property per Fluent key (the `.slint` side lists the same properties).
macro_rules! tr_table {
    ($($setter:ident => $key:literal,)*) => {
        /// Fluent keys of the `Tr` global, in its order.
        pub const TR_KEYS: &[&str] = &[$($key,)*];

        /// Fills the `Tr` global in `lang`.
        pub fn apply(window: &MainWindow, lang: Lang) {
            let tr = window.global::<Tr>();
            $(tr.$setter(bonder_i18n::tr(lang, $key).into());)*
        }
    };
}

tr_table! {
    set_app_title => "app-title",
    set_nav_production => "nav-production",
    set_nav_curves => "nav-curves",
    set_nav_alarms => "nav-alarms",
    set_nav_recipes => "nav-recipes",
    set_nav_shift => "nav-shift",
    set_nav_changeover => "nav-changeover",
    set_nav_camera => "nav-camera",
    set_nav_user => "nav-user",
    set_nav_gem => "nav-gem",
    set_nav_health => "nav-health",
    set_health_title => "health-title",
    set_health_warnings => "health-warnings",
    set_health_no_warnings => "health-no-warnings",
    set_health_capillary => "health-capillary-label",
    set_health_yield => "health-yield",
    set_health_strength => "health-strength",
    set_health_tested => "health-tested",
    set_health_charts => "health-charts",
    set_health_charts_note => "health-charts-note",
    set_window_title => "window-title",
    set_window_slice => "window-slice",
    set_window_none => "window-none",
    set_window_legend => "window-legend",
    set_window_recommendation => "window-recommendation",
    set_window_no_estimate => "window-no-estimate",
    set_window_back => "window-back",
    set_window_open => "window-open",
    set_gem_link => "gem-link",
    set_gem_off => "gem-off",
    set_gem_communication => "gem-communication",
    set_gem_control => "gem-control",
    set_gem_host => "gem-host",
    set_gem_online => "gem-online",
    set_gem_offline => "gem-offline",
    set_gem_local => "gem-local",
    set_gem_remote => "gem-remote",
    set_gem_spool => "gem-spool",
    set_gem_purge => "gem-purge",
    set_gem_traffic => "gem-traffic",
    set_gem_traffic_none => "gem-traffic-none",
    set_gem_opcua_sessions => "gem-opcua-sessions",
    set_gem_session_user => "gem-session-user",
    set_gem_session_client => "gem-session-client",
    set_gem_session_security => "gem-session-security",
    set_gem_session_since => "gem-session-since",
    set_terminal_title => "terminal-title",
    set_terminal_ack => "terminal-ack",
    set_lang_switch => "lang-switch",
    set_lang_name_en_us => "lang-name-en-us",
    set_lang_name_zh_cn => "lang-name-zh-cn",
    set_label_recipe => "label-recipe",
    set_label_work_order => "label-work-order",
    set_label_state => "label-state",
    set_cmd_start => "cmd-start",
    set_cmd_pause => "cmd-pause",
    set_cmd_stop => "cmd-stop",
    set_cmd_reset_alarm => "cmd-reset-alarm",
    set_counter_wires => "counter-wires",
    set_counter_rejected_wires => "counter-rejected-wires",
    set_counter_yield => "counter-yield",
    set_counter_wire_rate => "counter-wire-rate",
    set_counter_uph => "counter-uph",
    set_counter_units => "counter-units",
    set_unit_per_min => "unit-per-min",
    set_rejects_title => "rejects-title",
    set_capillary => "capillary",
    set_heater => "heater",
    set_forming_gas => "forming-gas",
    set_live_curve_title => "live-curve-title",
    set_curves_live => "curves-live",
    set_curves_freeze => "curves-freeze",
    set_curves_older => "curves-older",
    set_curves_newer => "curves-newer",
    set_curves_latest => "curves-latest",
    set_curves_zoom_in => "curves-zoom-in",
    set_curves_zoom_out => "curves-zoom-out",
    set_curves_zoom_all => "curves-zoom-all",
    set_curves_pan_left => "curves-pan-left",
    set_curves_pan_right => "curves-pan-right",
    set_curves_frozen => "curves-frozen",
    set_channel_us_current => "channel-us_current",
    set_channel_force => "channel-force",
    set_channel_z_height => "channel-z_height",
    set_channel_impedance => "channel-impedance",
    set_alarms_active => "alarms-active",
    set_alarms_history => "alarms-history",
    set_alarms_none => "alarms-none",
    set_alarms_history_none => "alarms-history-none",
    set_alarm_ack => "alarm-ack",
    set_alarm_first_action => "alarm-first-action",
    set_alarm_open => "alarm-open",
    set_recipes_versions => "recipes-versions",
    set_recipes_param => "recipes-param",
    set_recipes_value => "recipes-value",
    set_recipes_range => "recipes-range",
    set_recipes_release => "recipes-release",
    set_recipes_new_value => "recipes-new-value",
    set_recipes_reason => "recipes-reason",
    set_recipes_save => "recipes-save",
    set_recipes_cancel => "recipes-cancel",
    set_recipes_tap_to_edit => "recipes-tap-to-edit",
    set_recipes_in_use => "recipes-in-use",
    set_shift_current => "shift-current",
    set_shift_notes => "shift-notes",
    set_shift_end => "shift-end",
    set_shift_previous => "shift-previous",
    set_shift_none => "shift-none",
    set_login_title => "login-title",
    set_login_badge => "login-badge",
    set_login_pin => "login-pin",
    set_login_button => "login-button",
    set_login_setup_title => "login-setup-title",
    set_login_setup_badge => "login-setup-badge",
    set_login_setup_name => "login-setup-name",
    set_login_setup_pin_again => "login-setup-pin-again",
    set_login_setup_button => "login-setup-button",
    set_user_logout => "user-logout",
    set_user_language => "user-language",
    set_user_not_logged_in => "user-not-logged-in",
    set_user_add_title => "user-add-title",
    set_user_add_button => "user-add-button",
    set_user_list_title => "user-list-title",
    set_user_new => "user-new",
    set_user_set_role => "user-set-role",
    set_user_reset_secret => "user-reset-secret",
    set_user_disable => "user-disable",
    set_user_enable => "user-enable",
    set_role_operator => "role-operator",
    set_role_technician => "role-technician",
    set_role_engineer => "role-engineer",
    set_role_supervisor => "role-supervisor",
    set_role_admin => "role-admin",
    set_keypad_clear => "keypad-clear",
    set_keypad_delete => "keypad-delete",
    set_keyboard_toggle => "keyboard-toggle",
    set_keyboard_shift => "keyboard-shift",
    set_keyboard_space => "keyboard-space",
    set_keyboard_new_line => "keyboard-new-line",
    set_unit_percent => "unit-percent",
}

/// Looks texts up in one language.
#[derive(Debug, Clone, Copy)]
pub struct Texts(pub Lang);

impl Texts {
    /// The message `key`.
    pub fn t(self, key: &str) -> String {
        bonder_i18n::tr(self.0, key)
    }

    /// The message `key` with arguments.
    pub fn ta(self, key: &str, args: &[(&str, String)]) -> String {
        bonder_i18n::tr_args(self.0, key, args)
    }

    /// "Name, role" of the logged-in user, or "not logged in".
    pub fn user_line(self, user: Option<&crate::users::SessionUser>) -> String {
        match user {
            Some(u) => self.ta(
                "user-current",
                &[
                    ("name", u.name.clone()),
                    ("role", self.t(&format!("role-{}", u.role.name()))),
                ],
            ),
            None => self.t("user-not-logged-in"),
        }
    }
}

/// An argument of a [`Message`]: a value, or a Fluent key translated when shown.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Text(String),
    Key(String),
}

impl From<String> for Arg {
    fn from(s: String) -> Arg {
        Arg::Text(s)
    }
}

impl Arg {
    /// An argument that is itself a message key.
    pub fn key(k: impl Into<String>) -> Arg {
        Arg::Key(k.into())
    }
}

/// A message to show later, kept as key and arguments so it follows a language switch.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub key: &'static str,
    pub args: Vec<(&'static str, Arg)>,
}

impl Message {
    /// A message without arguments.
    pub fn new(key: &'static str) -> Message {
        Message {
            key,
            args: Vec::new(),
        }
    }

    /// A message with arguments.
    pub fn with(key: &'static str, args: Vec<(&'static str, Arg)>) -> Message {
        Message { key, args }
    }

    /// The text in a language.
    pub fn text(&self, t: Texts) -> String {
        let args: Vec<(&str, String)> = self
            .args
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Arg::Text(s) => s.clone(),
                    Arg::Key(key) if key.is_empty() => String::new(),
                    Arg::Key(key) => t.t(key),
                };
                (*k, v)
            })
            .collect();
        t.ta(self.key, &args)
    }
}
