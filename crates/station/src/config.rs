//! Station configuration: a TOML file in the platform's config directory, every key
//! overridable by a command-line flag. Unknown keys and malformed files are refused with
//! the file, line and key named.

use bonder_core::login::LoginPolicy;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The config file's contents. Every key is optional; a flag of the same name wins.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Controller Modbus address, e.g. "127.0.0.1:1502". One of it and `simulate` is
    /// required.
    pub controller: Option<String>,
    /// Run against the built-in simulator (demos, training; `{S}/status` says so).
    pub simulate: Option<bool>,
    /// Stream endpoint, "tcp://HOST:PORT" or "serial:///dev/ttyX?baud=921600".
    pub stream: Option<String>,
    /// ISA-95 station id, e.g. "sz1/assembly/l1/wb-01".
    pub station_id: Option<String>,
    /// SQLite file. Absent: `station.sqlite` in the platform's data dir.
    pub db: Option<PathBuf>,
    /// Gateway MQTT URL, `mqtt://HOST[:PORT]` or `mqtts://…`. Absent: the embedded
    /// broker on 127.0.0.1:1883.
    pub gateway: Option<String>,
    /// Gateway user name.
    pub gateway_user: Option<String>,
    /// Gateway password, in the config file (keep the file 0600), or better:
    pub gateway_password: Option<String>,
    /// a file holding the gateway password (first line; must be mode 0600).
    pub gateway_password_file: Option<PathBuf>,
    /// CA certificate (PEM) for `mqtts://`.
    pub gateway_ca: Option<PathBuf>,
    /// Client certificate and key (PEM) for mutual TLS.
    pub gateway_cert: Option<PathBuf>,
    pub gateway_key: Option<PathBuf>,
    /// Ed25519 public keys (PEM SubjectPublicKeyInfo files) whose signed gateway
    /// commands this station takes; each key's id is its file name without extension.
    pub trusted_keys: Option<Vec<PathBuf>>,
    /// Takes unsigned version-1 gateway commands too (a migration aid; default false).
    pub accept_unsigned: Option<bool>,
    /// Recipe document (JSON) to judge against and download.
    pub recipe: Option<PathBuf>,
    /// Log filter, e.g. "info" or "bonder_runtime=debug".
    pub log: Option<String>,
    /// Camera: "tcp://HOST:PORT" (bondersim's camera), "/dev/videoN" (built with the
    /// `v4l` feature) or "none". Absent: the built-in simulator's camera.
    pub camera: Option<String>,
    /// The login policy (`[login]` table, at the end of the file): only stricter than
    /// the defaults.
    pub login: Option<LoginConfig>,
    /// Retention, the free-space floor and what a failing store does (`[storage]`).
    pub storage: Option<StorageConfig>,
    /// The controller link's watchdog (`[link]`).
    pub link: Option<LinkConfig>,
    /// SECS/GEM on (default true): the station is the bonder's GEM equipment.
    pub gem_enabled: Option<bool>,
    /// HSMS listen address in passive mode (default 127.0.0.1:5000).
    pub gem_listen: Option<String>,
    /// "passive" (default: the host connects) or "active" (the station connects).
    pub gem_mode: Option<String>,
    /// The host's address in active mode.
    pub gem_connect: Option<String>,
    /// HSMS device (session) id (default 0).
    pub gem_device_id: Option<u16>,
    /// Host IPs allowed to connect; empty or absent: any.
    pub gem_allowed_hosts: Option<Vec<String>>,
    /// HSMS timers in seconds (defaults 45, 10, 5, 10, 5; linktest 60, 0 = off).
    pub gem_t3: Option<u64>,
    pub gem_t5: Option<u64>,
    pub gem_t6: Option<u64>,
    pub gem_t7: Option<u64>,
    pub gem_t8: Option<u64>,
    pub gem_linktest: Option<u64>,
    /// Largest HSMS message in bytes (default 16 MiB); longer ones get S9F11.
    pub gem_max_message: Option<usize>,
    /// OPC UA listen URL (default opc.tcp://127.0.0.1:4840/); "none" turns it off.
    pub opcua_listen: Option<String>,
    /// OPC UA PKI directory (default <data dir>/opcua-pki).
    pub opcua_pki: Option<PathBuf>,
    /// OPC UA: also offer a None endpoint (a lab only; warned at every start).
    pub allow_insecure: Option<bool>,
    /// OPC UA: accept anonymous sessions, read-only (default false).
    pub anonymous_read: Option<bool>,
    /// The folder a pull/shear tester exports to (imported every 2 s).
    pub pull_tests_dir: Option<PathBuf>,
    /// The yield limit the process-health forecast holds the line to, % (default 98).
    pub yield_limit_pct: Option<f64>,
}

/// The SECS/GEM interface's settings (keys `gem_…`, flags `--gem-…`).
#[derive(Debug, Clone, PartialEq)]
pub struct GemSettings {
    pub enabled: bool,
    pub mode: bonder_secs::Mode,
    pub device_id: u16,
    pub allowed_hosts: Vec<std::net::IpAddr>,
    pub timers: bonder_secs::Timers,
    pub max_message: usize,
}

/// The `gem_…` values before checking (flags over the file).
#[derive(Debug, Clone, Default)]
pub struct GemInput {
    pub enabled: Option<bool>,
    pub listen: Option<String>,
    pub mode: Option<String>,
    pub connect: Option<String>,
    pub device_id: Option<u16>,
    pub allowed_hosts: Option<Vec<String>>,
    pub t3: Option<u64>,
    pub t5: Option<u64>,
    pub t6: Option<u64>,
    pub t7: Option<u64>,
    pub t8: Option<u64>,
    pub linktest: Option<u64>,
    pub max_message: Option<usize>,
}

impl GemInput {
    /// The settings, every value checked: addresses parse, timers are > 0 and ≤ 240 s.
    pub fn settings(&self) -> Result<GemSettings, String> {
        use std::time::Duration;
        let addr = |key: &str, v: &str| {
            v.parse::<std::net::SocketAddr>().map_err(|_| {
                format!("{key} = {v:?}: expected IP:PORT, e.g. 127.0.0.1:5000 / 应为 IP:端口")
            })
        };
        let listen = addr(
            "gem_listen",
            self.listen.as_deref().unwrap_or("127.0.0.1:5000"),
        )?;
        let mode = match self.mode.as_deref().unwrap_or("passive") {
            "passive" => bonder_secs::Mode::Passive { listen },
            "active" => {
                let c = self.connect.as_deref().ok_or(
                    "gem_mode = \"active\" needs gem_connect (the host's IP:PORT) / 主动模式需要 gem_connect",
                )?;
                bonder_secs::Mode::Active {
                    connect: addr("gem_connect", c)?,
                }
            }
            other => {
                return Err(format!(
                    "gem_mode = {other:?}: \"passive\" or \"active\" / 应为 passive 或 active"
                ));
            }
        };
        let allowed_hosts = self
            .allowed_hosts
            .iter()
            .flatten()
            .filter(|h| !h.trim().is_empty())
            .map(|h| {
                h.trim().parse().map_err(|_| {
                    format!("gem_allowed_hosts: {h:?} is not an IP address / 不是 IP 地址")
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let d = bonder_secs::Timers::default();
        let secs = |v: Option<u64>, def: Duration| v.map_or(def, Duration::from_secs);
        let timers = bonder_secs::Timers {
            t3: secs(self.t3, d.t3),
            t5: secs(self.t5, d.t5),
            t6: secs(self.t6, d.t6),
            t7: secs(self.t7, d.t7),
            t8: secs(self.t8, d.t8),
            linktest: match self.linktest {
                Some(0) => None,
                Some(s) => Some(Duration::from_secs(s)),
                None => d.linktest,
            },
        };
        timers.validate().map_err(|e| e.to_string())?;
        let max_message = self.max_message.unwrap_or(16 * 1024 * 1024);
        if max_message < 1024 {
            return Err(format!(
                "gem_max_message = {max_message}: at least 1024 bytes / 至少 1024 字节"
            ));
        }
        Ok(GemSettings {
            enabled: self.enabled.unwrap_or(true),
            mode,
            device_id: self.device_id.unwrap_or(0),
            allowed_hosts,
            timers,
            max_message,
        })
    }
}

impl GemSettings {
    /// The HSMS session's configuration.
    pub fn hsms(&self) -> bonder_secs::HsmsConfig {
        let mut c = match &self.mode {
            bonder_secs::Mode::Passive { listen } => bonder_secs::HsmsConfig::passive(*listen),
            bonder_secs::Mode::Active { connect } => bonder_secs::HsmsConfig::active(*connect),
        };
        c.device_id = self.device_id;
        c.timers = self.timers;
        c.max_message = self.max_message;
        c.allowed_hosts = self.allowed_hosts.clone();
        c
    }
}

/// `[storage]`: what the station keeps and what it does when it cannot keep more.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// Bond records older than this many days are deleted (default 180; 0 keeps all).
    pub retention_days: Option<u32>,
    /// The file is kept under this many GB, oldest curves first (default 40, for a
    /// 64 GB panel SSD; 0: no limit).
    pub max_gb: Option<f64>,
    /// Free space (MB) under which the store counts as failing (default 1024).
    pub min_free_mb: Option<u64>,
    /// What a failing store does: "interlock" (default: stop the machine, refuse
    /// start, alarm 902) or "warn" (alarm 902 only).
    pub on_failure: Option<OnStorageFailure>,
    /// Records held in memory at most while the disk stalls (default 50000).
    pub max_queued: Option<usize>,
}

/// See [`StorageConfig::on_failure`].
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OnStorageFailure {
    #[default]
    Interlock,
    Warn,
}

/// `[link]`: the controller link's watchdog.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LinkConfig {
    /// No stream frame for this long (ms) and the stream is reopened, alarm 901 raised
    /// (default 3000; the controller sends a heartbeat at least once a second).
    pub stream_deadline_ms: Option<u64>,
}

/// What the station does about storage, from `[storage]`.
#[derive(Debug, Clone, PartialEq)]
pub struct StoragePolicy {
    pub retention: bonder_store::RetentionPolicy,
    pub min_free_bytes: u64,
    pub max_queued: usize,
    pub on_failure: OnStorageFailure,
}

/// Default retention: 180 days.
pub const DEFAULT_RETENTION_DAYS: u32 = 180;
/// Default size limit: 40 GB.
pub const DEFAULT_MAX_GB: f64 = 40.0;

impl StorageConfig {
    /// The policy (defaults for the absent keys); refuses nonsense values.
    pub fn policy(&self) -> Result<StoragePolicy, String> {
        let days = self.retention_days.unwrap_or(DEFAULT_RETENTION_DAYS);
        let gb = self.max_gb.unwrap_or(DEFAULT_MAX_GB);
        if !gb.is_finite() || gb < 0.0 {
            return Err(format!(
                "max_gb = {gb}: give a size in GB, 0 for no limit / max_gb 必须为非负数"
            ));
        }
        let min_free_mb = self
            .min_free_mb
            .unwrap_or(bonder_store::DEFAULT_MIN_FREE_BYTES >> 20);
        let max_queued = self.max_queued.unwrap_or(bonder_store::DEFAULT_MAX_QUEUED);
        if max_queued < 1000 {
            return Err(format!(
                "max_queued = {max_queued}: at least 1000 / max_queued 至少为 1000"
            ));
        }
        Ok(StoragePolicy {
            retention: bonder_store::RetentionPolicy {
                max_age_days: (days > 0).then_some(days),
                max_bytes: (gb > 0.0).then_some((gb * 1e9) as u64),
            },
            min_free_bytes: min_free_mb.saturating_mul(1 << 20),
            max_queued,
            on_failure: self.on_failure.unwrap_or_default(),
        })
    }
}

/// `[login]`: PIN and password lengths and the lockout (`bonder_core::login`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LoginConfig {
    /// Shortest PIN of operators and technicians (default 6).
    pub pin_min: Option<usize>,
    /// Shortest password of engineers, supervisors and administrators (default 10).
    pub password_min: Option<usize>,
    /// Failed sign-ins in a row that lock a badge (default 5, at most 5).
    pub max_failures: Option<u32>,
    /// How long a lock lasts, minutes (default 5, at least 5).
    pub lockout_minutes: Option<u32>,
}

impl LoginConfig {
    /// The policy these values make (defaults for the absent ones).
    pub fn policy(&self) -> Result<LoginPolicy, bonder_core::login::PolicyError> {
        let d = LoginPolicy::default();
        LoginPolicy::configured(
            self.pin_min.unwrap_or(d.pin_min),
            self.password_min.unwrap_or(d.password_min),
            self.max_failures.unwrap_or(d.max_failures),
            self.lockout_minutes
                .map_or(d.lockout_ms, |m| i64::from(m) * 60_000),
        )
    }
}

/// A config file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// toml's message names the line, the column and the key.
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
}

impl FileConfig {
    /// Parses TOML text; `path` is only for the message.
    pub fn parse(text: &str, path: &Path) -> Result<FileConfig, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Loads a config file. A missing file at the default location is an empty config;
    /// a missing file that was asked for explicitly is an error.
    pub fn load(path: &Path, explicit: bool) -> Result<FileConfig, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
                Ok(FileConfig::default())
            }
            Err(source) => Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }
}

/// The platform's directories for the station (config, data, logs).
pub fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("org", "bonder-hmi", "bonder-station")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let text = "controller = \"127.0.0.1:1502\"\n\ncontroler_port = 5\n";
        let err = FileConfig::parse(text, Path::new("station.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("station.toml"), "{err}");
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("controler_port"), "{err}");
    }

    #[test]
    fn malformed_file_is_refused_with_its_line() {
        let err = FileConfig::parse(
            "station_id = \"a\"\ngateway = mqtt://x\n",
            Path::new("s.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("s.toml") && err.contains("line 2"), "{err}");
    }

    #[test]
    fn every_key_parses() {
        let text = r#"
controller = "10.0.0.5:502"
stream = "serial:///dev/ttyS1?baud=921600"
station_id = "sz1/assembly/l1/wb-01"
db = "station.sqlite"
gateway = "mqtt://127.0.0.1:1883"
recipe = "r.json"
log = "debug"

[login]
pin_min = 8
lockout_minutes = 15
"#;
        let c = FileConfig::parse(text, Path::new("x")).unwrap();
        assert_eq!(c.controller.as_deref(), Some("10.0.0.5:502"));
        assert_eq!(c.log.as_deref(), Some("debug"));
        let p = c.login.unwrap().policy().unwrap();
        assert_eq!((p.pin_min, p.password_min, p.lockout_ms), (8, 10, 900_000));
    }

    #[test]
    fn a_looser_login_policy_is_refused() {
        let c = FileConfig::parse("[login]\npin_min = 4\n", Path::new("x")).unwrap();
        let e = c.login.unwrap().policy().unwrap_err().to_string();
        assert!(e.contains("pin_min 4"), "{e}");
    }

    #[test]
    fn missing_default_file_is_empty_but_missing_explicit_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("none.toml");
        assert_eq!(FileConfig::load(&p, false).unwrap(), FileConfig::default());
        assert!(
            FileConfig::load(&p, true)
                .unwrap_err()
                .to_string()
                .contains("none.toml")
        );
    }
}
